"""numba-cuda's own example kernels (tests/compat/numba_cuda_examples.py, BSD-2-Clause, each naming its
source file), with only the import lines changed, run on portakern's backends and match what
numba-cuda's simulator computes for the original (NUMBA_ENABLE_CUDASIM=1)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk

from . import numba_cuda_examples as ex

HERE = Path(__file__).parent
BACKENDS = ["numpy", "numba", "opencl", "jax", "numba-cuda"]

_REFERENCE_RUNNER = """
import runpy, sys, numpy as np
text = open(sys.argv[1]).read()
text = text.replace("from portakern.compat import cuda", "from numba import cuda")
text = text.replace("from portakern.compat.cuda import", "from numba.cuda import")
ns = {"__name__": "numba_cuda_examples_original"}
exec(compile(text, sys.argv[1], "exec"), ns)
out = {}
for name, case in ns["CASES"].items():
    for key, value in case().items():
        out[name + "/" + key] = value
np.savez(sys.argv[2], **out)
"""


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    pytest.importorskip("numba.cuda")
    out = tmp_path_factory.mktemp("sim") / "reference.npz"
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    subprocess.run([sys.executable, "-c", _REFERENCE_RUNNER, str(HERE / "numba_cuda_examples.py"), str(out)],
                   check=True, env=env, timeout=600, cwd=str(HERE))
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


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
    from portakern.compat.port import port_source

    text = (HERE / "numba_cuda_examples.py").read_text()
    text = text.replace("from portakern.compat import cuda", "from numba import cuda")
    text = text.replace("from portakern.compat.cuda import", "from numba.cuda import")
    result = port_source(text, "numba_cuda_examples.py")
    path = tmp_path_factory.mktemp("port") / "numba_cuda_examples_ported.py"
    path.write_text(result.text)
    ns: dict = {"__name__": "numba_cuda_examples_ported", "__file__": str(path)}
    exec(compile(result.text, str(path), "exec"), ns)
    return ns


def test_port_translates_dynamic_shared_memory_into_a_constexpr_size(ported: dict) -> None:
    from portakern.compat.port import port_source

    text = (HERE / "numba_cuda_examples.py").read_text().replace(
        "from portakern.compat import cuda", "from numba import cuda")
    result = port_source(text, "numba_cuda_examples.py")
    assert not any("shared" in line for line in result.untranslated), result.untranslated
    assert "def dyn_shared_memory(ary, pk_shared_bytes: pk.constexpr):" in result.text
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
