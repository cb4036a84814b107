"""Directed probes: one hand-built program per contract point a backend most easily gets wrong.

They run before the random programs, so the suite catches these defects whatever Hypothesis
happens to draw (the mutant backends showed that a random draw of a few hundred programs may miss
an FMA contraction or C's truncating division when the machine is loaded or the Hypothesis
version changes). Each probe's values make the wrong behaviour visible in the result's bits.
"""
from __future__ import annotations

import numpy as np

from .program import Batch, Case, Expr, Stmt

__all__ = ["probes"]


def _v(name: str, dtype: str) -> Expr:
    return Expr("var", "", (), dtype, name)


def _probe(dtype: str, expr: Expr, *columns: list[float]) -> Batch:
    n = len(columns[0])
    inputs = tuple((f"x{k}", dtype) for k in range(len(columns)))
    values = {f"x{k}": np.array(col, dtype=dtype) for k, col in enumerate(columns)}
    values["o0"] = np.zeros(n, dtype=dtype)
    case = Case(inputs, (("o0", dtype),), (Stmt("store", "o0", dtype, expr),), n=n, values=values)
    return Batch((case,), n, None)


def probes(fp64: bool = True) -> list[Batch]:
    """The probe programs (float64 ones only when the backend has float64)."""
    out = []
    for t, e in (("float32", 12), ("float64", 27)):
        if t == "float64" and not fp64:
            continue
        # a*b + c rounds the product first: (1 + 2^-e)^2 - (1 + 2^(1-e)) is 0, fused 2^-2e
        prod = Expr("bin", "*", (_v("a0", t), _v("a1", t)), t)
        one = 1.0 + 2.0 ** -e
        out.append(_probe(t, Expr("bin", "+", (prod, _v("a2", t)), t),
                          [one, one, -one, 3.0], [one, -one, one, 0.5], [-(1 + 2.0 ** (1 - e))] * 2 + [1 + 2.0 ** (1 - e), 1.0]))
    # integer // floors (Python), C truncates
    out.append(_probe("int32", Expr("bin", "//", (_v("a0", "int32"), _v("a1", "int32")), "int32"),
                      [-7, 7, -8, 5, -1], [2, -2, 3, -3, 7]))
    # min/max propagate NaN (C's fmin/fmax return the number)
    for op in ("min", "max"):
        out.append(_probe("float32", Expr("call", op, (_v("a0", "float32"), _v("a1", "float32")), "float32", "builtin"),
                          [np.nan, 1.0, np.nan, -0.0], [1.0, np.nan, np.nan, 0.0]))
    # subnormals survive a load and a store (a flushing backend declares it and these are skipped)
    tiny = float(np.nextafter(np.float32(0), np.float32(1)))
    out.append(_probe("float32", Expr("bin", "+", (_v("a0", "float32"), _v("a1", "float32")), "float32"),
                      [tiny, -tiny, 3 * tiny, 1e-39], [0.0, -0.0, tiny, 0.0]))
    return out
