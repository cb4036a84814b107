"""Runtime helpers imported by generated ``numba-cuda`` kernels (``from portakern_numba_cuda.prelude import *``).

The numbers-contract helpers of ``portakern.codegen.pyprelude`` compiled as CUDA device functions
(plain Python under the CUDA simulator), plus ``mul_f32``/``mul_f64``: float products NVVM never
contracts into an FMA (libdevice ``fmul_rn``/``dmul_rn``; ordinary ``*`` in the simulator).
``CACHE`` turns Numba's on-disk cache on for real devices (the simulator has none).
"""
from __future__ import annotations

import math

import numpy as np
from numba import config as _numba_config
from numba import cuda

from portakern.codegen import pyprelude as _generic

SIMULATOR = bool(getattr(_numba_config, "ENABLE_CUDASIM", False))
CACHE = not SIMULATOR

__all__ = ["np", "math", "cuda", "CACHE", "fma", "mul_f32", "mul_f64", *sorted(_generic.HELPERS)]

# inline="always" inlines at Numba-IR level: besides saving calls, it is what lets compile_ptx work
# with no GPU (an out-of-line device function asks the driver for the current device's compute capability).
_device = cuda.jit(device=True, inline="always")
globals().update(_generic.compile_helpers(_device, math.fmod))

if SIMULATOR:
    @cuda.jit(device=True)
    def mul_f32(a, b):
        """float32 product (the simulator computes in NumPy float32)."""
        return np.float32(a * b)

    @cuda.jit(device=True)
    def mul_f64(a, b):
        """float64 product."""
        return np.float64(a * b)

    def _fma_exact(a, b, c):
        """a * b + c rounded once (the simulator's ``cuda.fma`` rounds twice)."""
        from fractions import Fraction

        t = type(a)
        if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
            return t(a * b + c)
        exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
        if exact == 0:
            return t(a * b + c)  # the sign of an exact zero follows IEEE addition
        r = t(float(exact))
        if t is np.float64 or not math.isfinite(r):
            return r
        best = r
        for cand in (np.nextafter(r, t(-np.inf)), np.nextafter(r, t(np.inf))):
            d_c, d_b = abs(Fraction(float(cand)) - exact), abs(Fraction(float(best)) - exact)
            if d_c < d_b or (d_c == d_b and int(cand.view(np.uint32)) % 2 == 0):
                best = cand
        return best

    fma = cuda.jit(device=True)(_fma_exact)
else:
    @cuda.jit(device=True, inline="always")
    def fma(a, b, c):
        """a * b + c with one rounding (``fma.rn``)."""
        return cuda.fma(a, b, c)


    from numba.cuda import libdevice as _libdevice

    mul_f32 = _libdevice.fmul_rn
    mul_f64 = _libdevice.dmul_rn
