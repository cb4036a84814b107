"""numba-cuda specifics: the dimension mapping of the generated source, and what happens with no GPU."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk

pytest.importorskip("numba")
ROOT = Path(__file__).resolve().parents[2]


@pk.kernel
def ids_2d(out):
    out[pk.global_id(0), pk.global_id(1)] = pk.local_id(1) + 100 * pk.group_id(0)


def test_last_ndrange_dimension_is_cuda_x():
    src = ids_2d.source("numba-cuda", np.zeros((4, 6), np.int64))
    assert "_pk_l1 = np.int64(cuda.threadIdx.x)" in src
    assert "_pk_l0 = np.int64(cuda.threadIdx.y)" in src
    assert "_pk_r0 = np.int64(cuda.blockIdx.y)" in src


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM", "0") in ("0", ""), reason="needs the CUDA simulator")
def test_2d_ids_in_the_simulator_follow_numpy_order():
    out = np.zeros((4, 6), np.int64)
    ids_2d.on("numba-cuda")[(4, 6), (2, 3)](out)
    rows, cols = np.indices((4, 6))
    np.testing.assert_array_equal(out, cols % 3 + 100 * (rows // 2))


@pk.kernel
def products(x, y, out):
    i = pk.global_id(0)
    out[i] = x[i] * y[i] + out[i]


def test_float_products_are_never_contracted_into_fma():
    src = products.source("numba-cuda", *(np.zeros(4, np.float32),) * 3)
    assert "mul_f32(" in src and "fastmath=False" in src


def test_no_gpu_and_no_simulator_is_backend_unavailable_naming_the_cause(tmp_path):
    script = tmp_path / "nogpu.py"
    script.write_text(
        "import numpy as np, portakern as pk\n"
        "@pk.kernel\n"
        "def k(x):\n"
        "    x[pk.global_id(0)] = 1.0\n"
        "from portakern.runtime import registry\n"
        "b = registry.get_backend('numba-cuda')\n"
        "if b.is_available():\n"
        "    print('HAS-GPU')\n"
        "    raise SystemExit(0)\n"
        "assert 'numba-cuda' not in pk.available_backends()\n"
        "try:\n"
        "    k.on('numba-cuda')[4](np.zeros(4, np.float32))\n"
        "except pk.BackendUnavailable as e:\n"
        "    assert isinstance(e, RuntimeError)\n"
        "    print('UNAVAILABLE', e)\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "backends")])
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    if "HAS-GPU" in proc.stdout:
        pytest.skip("a CUDA GPU is present")
    assert "UNAVAILABLE" in proc.stdout
    assert "CudaSupportError" in proc.stdout and "NUMBA_ENABLE_CUDASIM" in proc.stdout
