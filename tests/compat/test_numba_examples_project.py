"""numba.cuda kernels from a public project other than numba-cuda (numba-examples, BSD-2-Clause, see
tests/compat/numba_examples_project.py) run unchanged through ``portakern.compat.cuda``, and through
``portakern port``'s rewrite, on every CPU backend, and match numba-cuda's simulator."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import portakern as pk

from . import numba_examples_project as ex
from .kit import ported_namespace, simulator_reference

HERE = Path(__file__).parent
MODULE = HERE / "numba_examples_project.py"
BACKENDS = ["numpy", "numba", "opencl", "jax"]

@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    pytest.importorskip("numba.cuda")
    return simulator_reference(MODULE, tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="module")
def ported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    ns, untranslated = ported_namespace(MODULE, tmp_path_factory.mktemp("port"))
    assert untranslated == []
    return ns


def _compare(got: dict, reference: dict, case: str, where: str) -> None:
    for key, value in got.items():
        want = reference[f"{case}/{key}"]
        assert value.dtype == want.dtype and value.shape == want.shape, key
        if value.dtype.kind == "f":
            # exp and log are tier 1 (a few ulp, docs/semantics.md); the call and put prices subtract
            # products of about 1e2, so a few ulp of those is ~1e-13 absolute: 1e-10 catches any
            # wrong formula, index or argument order while allowing every backend's libm.
            np.testing.assert_allclose(value, want, rtol=1e-12, atol=1e-10, err_msg=f"{case}/{key} {where}")
        else:
            np.testing.assert_array_equal(value, want, err_msg=f"{case}/{key} {where}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(ex.CASES))
def test_project_kernel_unchanged_matches_the_simulator(case: str, backend: str, reference: dict) -> None:
    with pk.use(backend):
        got = ex.CASES[case]()
    _compare(got, reference, case, f"on {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(ex.CASES))
def test_project_kernel_ported_matches_the_simulator(case: str, backend: str, ported: dict,
                                                     reference: dict) -> None:
    with pk.use(backend):
        got = ported["CASES"][case]()
    _compare(got, reference, case, f"ported, on {backend}")


def test_a_ported_launch_drops_trailing_axes_of_one_beyond_the_kernels_dimensions() -> None:
    from portakern.compat.cuda import launch_geometry

    # black_scholes launches [(4, 1), (64, 1)] a kernel that indexes only x: a 2-D ndrange made
    # its x the second dimension and the ported kernel wrote only element 0
    assert launch_geometry((4, 1), (64, 1), ndim=1) == ((256,), (64,))
    assert launch_geometry((4,), (64,), ndim=2) == ((1, 256), (1, 64))
    with pytest.raises(pk.LaunchError, match="more than the 1 dimension"):
        launch_geometry((4, 2), (64, 1), ndim=1)


@pytest.mark.parametrize("case", sorted(ex.CASES))
def test_project_kernels_compile_for_sm_90(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every launch of the case compiles for sm_90 (CUDA C through NVRTC; no GPU needed) instead of running."""
    pytest.importorskip("cupy")
    from portakern.runtime.kernel import Kernel

    built: list[int] = []

    def compile_instead(self: Kernel, grid: tuple) -> object:
        nd, _ = grid
        return lambda *args: built.append(len(self.compile("cuda", *args, target="sm_90", ndrange=nd)))

    monkeypatch.setattr(Kernel, "__getitem__", compile_instead)
    ex.CASES[case]()
    assert built and all(n > 0 for n in built)
