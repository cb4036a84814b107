"""Compatibility layers: kernels written for other GPU-in-Python APIs, run by portakern unchanged.

``from portakern.compat import cuda`` in place of ``from numba import cuda`` (see docs/porting.md).
"""
