"""``portakern compile FILE.py:KERNEL --backend B --signature ...``: prints the generated source or
writes build()'s bytes; bad usage exits 2 with a clear message."""
from __future__ import annotations

import textwrap

import pytest

from portakern.cli.compile import example_argument, split_signature
from portakern.cli.main import UsageError, main

KERNELS = textwrap.dedent("""
    import portakern as pk

    @pk.kernel
    def saxpy(a, x, y, out):
        i = pk.global_id(0)
        if i < out.shape[0]:
            out[i] = a * x[i] + y[i]

    @pk.kernel
    def blur(img, out, r: pk.constexpr):
        i, j = pk.global_id(0), pk.global_id(1)
        out[i, j] = img[i, j] * r

    def plain(x):
        x[pk.global_id(0)] = 1
""")


@pytest.fixture
def kfile(tmp_path, fake_backend):
    path = tmp_path / "kernels.py"
    path.write_text(KERNELS)
    return path


def test_signature_items_split_at_top_level_commas():
    assert split_signature("float32[:, :], int64, 3") == ["float32[:, :]", "int64", "3"]


def test_signature_items_become_example_arguments():
    a = example_argument("float32[:, :]")
    assert a.dtype == "float32" and a.ndim == 2
    assert type(example_argument("uint16")).__name__ == "uint16"
    assert example_argument("16") == 16 and example_argument("True") is True


@pytest.mark.parametrize("item", ["float128[:]", "float32[1:2]", "banana", "[:]"])
def test_bad_signature_items_are_usage_errors(item):
    with pytest.raises(UsageError):
        example_argument(item)


def test_compile_prints_the_generated_source(kfile, capsys):
    rc = main(["compile", f"{kfile}:saxpy", "--backend", "fake", "--signature",
               "float32, float32[:], float32[:], float32[:]"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "fake source of saxpy" in out and "float32" in out


def test_compile_accepts_2d_arrays_constexpr_literals_and_ndim(kfile, capsys):
    rc = main(["compile", f"{kfile}:blur", "-b", "fake", "-s", "float64[:, :], float64[:, :], 3", "--ndim", "2"])
    assert rc == 0
    assert "fake source of blur" in capsys.readouterr().out


def test_compile_with_output_writes_the_build_bytes(kfile, tmp_path, fake_backend):
    out = tmp_path / "saxpy.bin"
    rc = main(["compile", f"{kfile}:saxpy", "--backend", "fake", "--signature",
               "float32, float32[:], float32[:], float32[:]", "-o", str(out)])
    assert rc == 0
    assert out.read_bytes().startswith(b"# fake source of saxpy")
    assert ("build", "saxpy") in fake_backend.calls


def test_a_plain_function_is_compiled_as_a_kernel(kfile, capsys):
    assert main(["compile", f"{kfile}:plain", "-b", "fake", "-s", "int32[:]"]) == 0


@pytest.mark.parametrize("argv, message", [
    (["compile", "nofile.py:k", "-b", "fake", "-s", "int32"], "no such file"),
    (["compile", "{kfile}", "-b", "fake", "-s", "int32"], "expected FILE.py:KERNEL"),
    (["compile", "{kfile}:missing", "-b", "fake", "-s", "int32"], "no kernel named 'missing'"),
    (["compile", "{kfile}:saxpy", "-b", "fake", "-s", "float32"], "does not fit the kernel"),
    (["compile", "{kfile}:saxpy", "-b", "fake", "-s", "float32,,int32"], "empty item"),
    (["compile", "{kfile}:saxpy", "-b", "fake", "-s", "float32", "--ndim", "4"], "--ndim"),
    (["compile", "{kfile}:saxpy", "-b", "fake"], "--signature"),
])
def test_bad_usage_exits_2_with_a_clear_message(kfile, capsys, argv, message):
    argv = [a.format(kfile=kfile) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_an_unknown_backend_exits_1_naming_it(kfile, capsys):
    assert main(["compile", f"{kfile}:saxpy", "-b", "nope", "-s", "float32, float32[:], float32[:], float32[:]"]) == 1
    assert "unknown backend 'nope'" in capsys.readouterr().err


def test_a_kernel_file_that_fails_to_import_exits_1_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('boom')\n")
    assert main(["compile", f"{bad}:k", "-b", "numpy", "-s", "int32"]) == 1
    err = capsys.readouterr().err
    assert "boom" in err and "Traceback" not in err
