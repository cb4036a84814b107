"""numba-cuda's own example kernels (tests/compat/numba_cuda_examples.py, BSD-2-Clause, each naming its
source file), with only the import lines changed, run on portakern's backends and match what
numba-cuda's simulator computes for the original (NUMBA_ENABLE_CUDASIM=1)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import portakern as pk

from . import numba_cuda_examples as ex
from .kit import original_source, ported_namespace, simulator_reference

HERE = Path(__file__).parent
MODULE = HERE / "numba_cuda_examples.py"
BACKENDS = ["numpy", "numba", "opencl", "jax", "numba-cuda"]

@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    pytest.importorskip("numba.cuda")
    return simulator_reference(MODULE, tmp_path_factory.mktemp("sim"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(ex.CASES))
def test_example_matches_numba_cuda_simulator(case: str, backend: str, reference: dict[str, np.ndarray]) -> None:
    try:
        with pk.use(backend):
            got = ex.CASES[case]()
    except pk.BackendUnavailable as exc:
        pytest.skip(f"{backend}: {exc}")
    for key, value in got.items():
        want = reference[f"{case}/{key}"]
        assert value.shape == want.shape, key
        assert value.dtype == want.dtype, key
        # exact, floats included: these kernels add and multiply in one order everywhere
        np.testing.assert_array_equal(value, want, err_msg=f"{case}/{key} on {backend}")


@pytest.mark.parametrize("case", sorted(ex.CASES))
def test_example_kernels_compile_for_sm_90(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every launch of the case compiles for sm_90 (CUDA C through NVRTC; no GPU needed) instead of running."""
    backend = "cuda"
    pytest.importorskip("cupy")
    from portakern.runtime.kernel import Kernel

    built: list[int] = []

    def compile_instead(self: Kernel, grid: tuple) -> object:
        nd, _ = grid
        return lambda *args: built.append(len(self.compile(backend, *args, target="sm_90", ndrange=nd)))

    monkeypatch.setattr(Kernel, "__getitem__", compile_instead)
    try:
        ex.CASES[case]()
    except pk.BackendUnavailable as exc:
        pytest.skip(f"{backend}: {exc}")
    assert built and all(n > 0 for n in built)


@pytest.fixture(scope="module")
def ported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The examples module as numba.cuda wrote it, rewritten by ``portakern port`` and loaded from a file."""
    return ported_namespace(MODULE, tmp_path_factory.mktemp("port"))[0]


def test_port_translates_dynamic_shared_memory_into_a_local_array_sized_at_launch(ported: dict) -> None:
    from portakern.compat.port import port_source

    result = port_source(original_source(MODULE), MODULE.name)
    assert not any("shared" in line for line in result.untranslated), result.untranslated
    assert "def dyn_shared_memory(ary, pk_shared_bytes: pk.int64):" in result.text
    assert "pk.local_array(pk_shared_bytes // 4, float32)" in result.text
    assert "dyn_shared_memory[launch_geometry(1, 20, ndim=2)](ary, (20 * 4))" in result.text


@pytest.mark.parametrize("backend", ["numpy", "numba", "opencl", "jax"])
@pytest.mark.parametrize("case", sorted(ex.CASES))
def test_ported_example_matches_numba_cuda_simulator(case: str, backend: str, ported: dict,
                                                     reference: dict[str, np.ndarray]) -> None:
    try:
        with pk.use(backend):
            got = ported["CASES"][case]()
    except pk.BackendUnavailable as exc:
        pytest.skip(f"{backend}: {exc}")
    for key, value in got.items():
        want = reference[f"{case}/{key}"]
        assert value.dtype == want.dtype and value.shape == want.shape, key
        np.testing.assert_array_equal(value, want, err_msg=f"ported {case}/{key} on {backend}")
