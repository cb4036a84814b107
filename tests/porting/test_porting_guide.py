"""docs/porting.md, run: every fenced code block of the porting guide is compiled or executed here, the
originals (CUDA C through NVRTC for sm_90, OpenCL C on the OpenCL driver) and the ports, and the ports'
results are compared across backends, so the guide cannot drift from the code."""
from __future__ import annotations

import difflib
import re
import runpy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import portakern as pk
from portakern.compat.port import port_source

DOC = Path(__file__).parents[2] / "docs" / "porting.md"
BACKENDS = ["numpy", "numba", "opencl", "jax"]
# <!-- example: NAME --> on the line before a fence names the block for this module.
_NAMED = re.compile(r"^<!-- example: ([\w-]+) -->\n```(\w+)\n(.*?)\n```$", re.S | re.M)
TESTED = {"cuda-transpose", "pk-transpose", "pk-c-division", "check-cuda-original", "opencl-histogram",
          "pk-histogram", "check-opencl-original", "numba-sums", "numba-sums-compat", "numba-sums-port"}


def _blocks() -> dict[str, tuple[str, str]]:
    found: dict[str, tuple[str, str]] = {}
    for name, lang, body in _NAMED.findall(DOC.read_text()):
        assert name not in found, f"two blocks named {name!r} in {DOC}"
        found[name] = (lang, body + "\n")
    return found


BLOCKS = _blocks()


def _run(tmp: Path, name: str, text: str, prelude: dict[str, Any] | None = None) -> dict[str, Any]:
    """Execute a block as a file (portakern reads kernel source from files) and return its globals."""
    path = tmp / f"{name.replace('-', '_')}.py"
    path.write_text(text)
    return runpy.run_path(str(path), init_globals=prelude)


def _on(backend: str, fn: Any, *args: Any) -> Any:
    try:
        with pk.use(backend):
            return fn(*args)
    except pk.BackendUnavailable as exc:
        pytest.skip(f"{backend}: {exc}")


def test_every_code_block_is_named_and_tested() -> None:
    fences = re.findall(r"^```", DOC.read_text(), re.M)     # openings and closings, tagged or not
    assert len(fences) == 2 * len(BLOCKS), "a code block in docs/porting.md lacks its <!-- example: NAME --> line"
    assert set(BLOCKS) == TESTED


# --- CUDA C: tiled transpose ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cuda_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("cuda_example")
    ns = _run(tmp, "pk-transpose", BLOCKS["pk-transpose"][1])          # its own assert runs on numpy
    ns.update(_run(tmp, "pk-c-division", BLOCKS["pk-c-division"][1], {"np": np, "pk": pk}))
    return ns


def test_cuda_original_compiles_with_nvrtc_for_sm_90(tmp_path: Path) -> None:
    """The guide's own check: its NVRTC helper compiles the CUDA C original (and asserts a cubin)."""
    pytest.importorskip("cupy")
    lang, source = BLOCKS["cuda-transpose"]
    assert lang == "cuda"
    ns = _run(tmp_path, "check-cuda-original", BLOCKS["check-cuda-original"][1], {"cuda_source": source})
    with pytest.raises(Exception, match="NVRTC_ERROR_COMPILATION"):     # the helper is no rubber stamp
        ns["nvrtc_compile"](source + "\nthis is not CUDA;\n")


@pytest.mark.parametrize("backend", BACKENDS)
def test_transpose_port_is_exact_on_every_backend(cuda_example: dict[str, Any], backend: str) -> None:
    launch = cuda_example["launch_transpose"]
    rng = np.random.default_rng(1)
    for shape in [(37, 50), (16, 16), (1, 33), (64, 3)]:       # partial tiles on either axis
        inp = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_array_equal(_on(backend, launch, inp), inp.T, err_msg=f"{shape} on {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_c_division_matches_c_truncation(cuda_example: dict[str, Any], backend: str) -> None:
    a = np.array([-7, 7, -7, 7, -8, 0, -1, 1, -2147483647, 5], np.int32)
    b = np.array([2, -2, -2, 2, 2, 3, 2, -2, 10, 7], np.int32)
    quot, rem = np.zeros_like(a), np.zeros_like(a)
    _on(backend, lambda: cuda_example["c_div_mod"][a.size](a, b, quot, rem))
    # C's quotient, written independently: sign times the quotient of the magnitudes
    want = np.sign(a) * np.sign(b) * (np.abs(a.astype(np.int64)) // np.abs(b.astype(np.int64)))
    np.testing.assert_array_equal(quot, want)
    np.testing.assert_array_equal(rem, a - want * b)


def test_cuda_example_ports_compile_for_sm_90(cuda_example: dict[str, Any]) -> None:
    pytest.importorskip("cupy")
    inp = np.zeros((37, 50), np.float32)
    out = np.zeros((50, 37), np.float32)
    assert cuda_example["transpose"].compile("cuda", out, inp, target="sm_90", ndrange=(48, 64))[:4] == b"\x7fELF"
    a = np.zeros(5, np.int32)
    assert cuda_example["c_div_mod"].compile("cuda", a, a, a, a, target="sm_90", ndrange=5)[:4] == b"\x7fELF"


# --- OpenCL C: local-memory histogram ---------------------------------------------------------------

@pytest.fixture(scope="module")
def opencl_example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run(tmp_path_factory.mktemp("opencl_example"), "pk-histogram", BLOCKS["pk-histogram"][1])


def _run_opencl_original(tmp: Path, data: np.ndarray, hist: np.ndarray) -> np.ndarray:
    """The guide's own check block: runs the OpenCL C original and asserts it equals ``hist``."""
    pytest.importorskip("pyopencl")
    from portakern_opencl.launch import resolve  # the device portakern builds on (PoCL here)
    try:
        queue = resolve(None).handle.queue
    except pk.BackendUnavailable as exc:
        pytest.skip(f"opencl: {exc}")
    lang, source = BLOCKS["opencl-histogram"]
    assert lang == "c"
    ns = _run(tmp, "check-opencl-original", BLOCKS["check-opencl-original"][1],
              {"np": np, "opencl_source": source, "data": data, "hist": hist, "queue": queue})
    return ns["run_opencl_histogram"](source, data, queue)


@pytest.mark.parametrize("backend", BACKENDS)
def test_histogram_port_equals_the_opencl_original_bit_for_bit(opencl_example: dict[str, Any], backend: str,
                                                                tmp_path: Path) -> None:
    data = np.random.default_rng(2).integers(0, 256, 30011, dtype=np.uint8)
    data[:1000] = 7                                   # a hot bin: many atomics on one address
    hist = np.zeros(256, np.uint32)
    _on(backend, lambda: opencl_example["histogram"][512, 64](data, hist))
    want = _run_opencl_original(tmp_path, data, hist)  # the block itself asserts equality too
    assert want.sum() == data.size
    np.testing.assert_array_equal(hist, want)


def test_histogram_port_compiles_for_sm_90(opencl_example: dict[str, Any]) -> None:
    pytest.importorskip("cupy")
    data, hist = np.zeros(10, np.uint8), np.zeros(256, np.uint32)
    assert opencl_example["histogram"].compile("cuda", data, hist, target="sm_90", ndrange=512)[:4] == b"\x7fELF"


# --- numba.cuda: block sums, through the compat layer and through `portakern port` ------------------

def _apply(diff: str, text: str) -> str:
    """Apply a context diff without headers (' ', '-', '+' lines) to text."""
    lines = diff.splitlines()
    old = "\n".join(line[1:] for line in lines if line[:1] in " -") + "\n"
    new = "\n".join(line[1:] for line in lines if line[:1] in " +") + "\n"
    assert text.count(old) == 1, "the guide's diff does not apply to its original"
    return text.replace(old, new)


def _block_sums_expected(x: np.ndarray, threads: int) -> np.ndarray:
    # integers below 2**24: float32 sums are exact in any order
    return np.add.reduceat(x.astype(np.float64), np.arange(0, x.size, threads)).astype(np.float32)


def test_port_produces_the_diff_shown_in_the_guide() -> None:
    original = BLOCKS["numba-sums"][1]
    ported = port_source(original)
    assert ported.untranslated == []                  # the guide says stderr stays empty
    diff = "".join(difflib.unified_diff(original.splitlines(True), ported.text.splitlines(True),
                                        "sums.py", "sums_pk.py"))
    assert diff == BLOCKS["numba-sums-port"][1]


@pytest.mark.parametrize("route", ["compat", "port"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_numba_cuda_example_runs_on_every_backend(tmp_path: Path, route: str, backend: str) -> None:
    original = BLOCKS["numba-sums"][1]
    if route == "compat":
        text = _apply(BLOCKS["numba-sums-compat"][1], original)
        assert "from numba" not in text
    else:
        text = port_source(original).text
    ns = _on(backend, _run, tmp_path, f"sums-{route}", text)
    np.testing.assert_array_equal(ns["partial"], _block_sums_expected(ns["x"], ns["THREADS"]))
