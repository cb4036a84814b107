"""The Kernel object: decorating, compiling without launching (source, compile, ir), and options."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel(debug=True)
def checked(x, out):
    out[pk.global_id(0)] = x[pk.global_id(0)]


@pk.kernel
def image(img, out):
    out[pk.global_id(0), pk.global_id(1)] = img[pk.global_id(0), pk.global_id(1)]


def _args():
    x = np.zeros(4, np.float32)
    return np.float32(2), x, x, x


def test_kernel_keeps_the_function_name_and_doc():
    assert saxpy.__name__ == "saxpy" and "saxpy" in repr(saxpy)


def test_decorator_with_options_sets_debug():
    assert checked.debug is True and saxpy.debug is False


def test_decorating_something_that_is_not_a_function_is_a_compile_error():
    with pytest.raises(pk.CompileError, match="decorates a Python function"):
        pk.kernel(42)


def test_source_renders_for_the_example_arguments_without_launching(fake_backend):
    text = saxpy.source("fake", *_args())
    assert "fake source of saxpy" in text and "float32" in text
    assert not any(c[0] == "launch" for c in fake_backend.calls)


def test_compile_returns_the_build_bytes_and_stores_them_on_disk(fake_backend, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    data = saxpy.compile("fake", *_args())
    assert data.startswith(b"# fake source of saxpy")
    assert len(list(tmp_path.rglob("*.bin"))) == 1
    assert saxpy.compile("fake", *_args()) == data           # the second time from disk
    assert ("build", "saxpy") in fake_backend.calls


def test_source_uses_the_kernel_index_dims_by_default(fake_backend):
    seen = []
    orig = fake_backend.render

    def render(self, kernel):
        seen.append(kernel.grid_ndim)
        return orig(self, kernel)

    fake_backend.render = render
    img = np.zeros((2, 2), np.float32)
    image.source("fake", img, img)
    image.source("fake", img, img, ndrange=(2, 2, 2))
    assert seen == [2, 3]


def test_ir_shows_the_typed_kernel():
    text = saxpy.ir(*_args())
    assert "saxpy" in text and "float32" in text


def test_debug_is_part_of_the_kernel_handed_to_the_backend(fake_backend):
    seen = []
    orig = fake_backend.render

    def render(self, kernel):
        seen.append(kernel.debug)
        return orig(self, kernel)

    fake_backend.render = render
    x = np.zeros(4, np.float32)
    checked.source("fake", x, x)
    saxpy.source("fake", *_args())
    assert seen == [True, False]


def test_source_with_wrong_arguments_is_a_launch_error(fake_backend):
    with pytest.raises(pk.LaunchError, match="takes 4 argument"):
        saxpy.source("fake", np.zeros(3))


def test_compile_for_cuda_needs_no_gpu():
    try:
        backend = pk.get_backend("cuda")
    except pk.BackendUnavailable:
        pytest.skip("the cuda backend's packages are not installed")
    if backend.is_available():
        pytest.skip("a GPU is present: the no-device path is not exercised")
    cubin = saxpy.compile("cuda", *_args(), target="sm_90")
    assert cubin[:4] == b"\x7fELF"
