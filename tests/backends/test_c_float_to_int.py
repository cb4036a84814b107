"""The C prelude's float->int conversion saturates (NaN -> 0) whatever the C compiler assumes.

opencl once stored ``int8(1.0 / sqrt(min(-0.0, 3.0)))``, i.e. ``int8(-inf)``, as 0 where every other
backend gives -128: x86's raw conversion turns -inf into INT_MIN, whose low byte is 0, so the helper's
guard had not run. The helper now decides on the bit pattern with integer comparisons only, which no
floating-point assumption can remove. Checked here on the CUDA C compiled for the host by g++ (no GPU
needed), once as IEEE code and once under ``-ffinite-math-only``, the assumption that drops float guards.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from portakern.ir import nodes as ir
from portakern.types import ArrayType, float32, float64, int8, int32, int64, uint8, uint64

sys.path.insert(0, str(Path(__file__).parent))
from test_cuda_host_numerics import SHIM  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[2] / "backends"))
from portakern_cuda.render import CudaRenderer  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to run CUDA C on the host")
DSTS = (int8, int32, int64, uint8, uint64)


def _convert_kernel(src_t):
    """out<k>[i] = dst_k(x[i]) for every destination type."""
    I = int64
    x = ir.ArrayRef("x", ArrayType(src_t, 1))
    outs = [ir.ArrayRef(f"out{k}", ArrayType(t, 1)) for k, t in enumerate(DSTS)]
    i = ir.Var("i", I)
    body = (ir.Assign(i, ir.IndexQuery(ir.Op.GLOBAL_ID, 0, I)),) + tuple(
        ir.Store(o, (i,), ir.Cast(ir.Load(x, (i,), src_t), t)) for o, t in zip(outs, DSTS))
    params = (ir.Param("x", x.type),) + tuple(ir.Param(o.name, o.type) for o in outs)
    return ir.Kernel("convert", params, body, (i,), tuple(o.name for o in outs), False, False)


def _expected(v: float, t) -> int:
    if np.isnan(v):
        return 0
    info = np.iinfo(t.dtype)
    return int(max(info.min, min(info.max, np.trunc(v)))) if np.isfinite(v) else (info.max if v > 0 else info.min)


@pytest.mark.parametrize("flags", [["-fno-fast-math"], ["-ffinite-math-only"]], ids=["ieee", "finite-math"])
@pytest.mark.parametrize("src_t", [float32, float64], ids=str)
def test_float_to_int_saturates_infinities_and_maps_nan_to_zero(src_t, flags, tmp_path):
    x = np.array([-np.inf, np.inf, np.nan, -np.nan, -0.0, 0.0, -0.5, 0.5, -128.5, 127.9, -1e30, 1e30,
                  255.5, 2.0 ** 31, -(2.0 ** 63), 2.0 ** 64], src_t.dtype)
    n = len(x)
    cu = tmp_path / "k.cpp"
    r, kernel = CudaRenderer(), _convert_kernel(src_t)
    cu.write_text(SHIM + "\n" + r.render(kernel))
    lib = tmp_path / "k.so"
    subprocess.run(["g++", "-std=c++17", "-O2", "-ffp-contract=off", *flags, "-shared", "-fPIC", "-w",
                    "-o", str(lib), str(cu)], check=True, capture_output=True, text=True)
    dll = ctypes.CDLL(str(lib))
    outs = [np.full(n, 99, t.dtype) for t in DSTS]
    args: list[object] = []
    for arr in (x, *outs):
        args += [arr.ctypes.data_as(ctypes.c_void_p), ctypes.c_longlong(n)]
    args.append(ctypes.c_longlong(n))
    for tid in range(n):
        dll.pk_set_thread(tid, 0, n, 1)
        getattr(dll, r.entry_name(kernel))(*args)
    for t, out in zip(DSTS, outs):
        want = [_expected(float(v), t) for v in x]
        assert out.tolist() == want, (t.name, x.tolist())
