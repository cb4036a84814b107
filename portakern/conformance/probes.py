"""Directed probes: one hand-built program per contract point a backend most easily gets wrong.

They run before the random programs, so the suite catches these defects whatever Hypothesis
happens to draw (the mutant backends showed that a random draw of a few hundred programs may miss
an FMA contraction or C's truncating division when the machine is loaded or the Hypothesis
version changes). Each probe's values make the wrong behaviour visible in the result's bits.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .program import Batch, Case, Expr, Stmt
from .values import HALF_DTYPES

__all__ = ["probes", "repeated_launch_mismatch"]


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
    for t in ("float32", "float64"):
        if t == "float64" and not fp64:
            continue
        out += _rewrite_probes(t)
    out += tree_reduction_probes() + signed_zero_probes() + double_rounding_probes() + domain_probes() + pow_half_probes()
    out += cast_product_probes(fp64) + nan_sign_probes(fp64) + half_probes()
    if not fp64:
        out = [b for b in out if not any("float64" in (t for _, t in c.inputs + c.outputs) for c in b.programs)]
    return out


# ---- probes for the classes of disagreement found so far (each self-contained) -----------------------
def _copy_probe(src: str, dst: str, values: np.ndarray) -> Batch:
    """``o0[i] = x0[i]`` from ``src`` to ``dst`` (a half element loads as a float32)."""
    n = len(values)
    loaded = "float32" if src in HALF_DTYPES else src
    case = Case((("x0", src),), (("o0", dst),), (Stmt("store", "o0", dst, _v("a0", loaded)),), n=n,
                values={"x0": values, "o0": np.zeros(n, dtype=dst)})
    return Batch((case,), n, None)


def half_probes() -> list[Batch]:
    """float16/bfloat16: the format's denormals, signed zero and largest value survive a load and a
    store; float32 stores round to nearest even (ties both ways, the tie with zero, the overflow tie)."""
    out = []
    for t in HALF_DTYPES:
        mant, emin = (10, -14) if t == "float16" else (7, -126)
        top = (1 << (15 - mant)) - 1
        edges = np.array([1, (1 << mant) - 1, 0x8001, 1 << mant, 0x8000, (top << mant) - 1], np.uint16)
        out.append(_copy_probe(t, t, edges.view(np.dtype(t))))
        half_ulp = 2.0 ** (-mant - 1)
        ties = [1 + half_ulp, 1 + 3 * half_ulp, -(1 + half_ulp), 2.0 ** (emin - mant - 1),
                3 * 2.0 ** (emin - mant - 1), (2 - half_ulp) * 2.0 ** (top >> 1)]
        out.append(_copy_probe("float32", t, np.array(ties, np.float32)))
    return out


def tree_reduction_probes() -> list[Batch]:
    """The numba documentation's shared-memory ``array_sum`` shape: a ``while h < pk.local_size(0)`` tree
    with a barrier in the loop, once under ``if lid < pk.local_size(0):``. PoCL once miscompiled exactly
    this loop (the work-group query re-read after the barrier), and a numba-cuda report said 0 for it.
    The last one's tile is sized at launch (19 elements) and its input is a ``pk.constant`` array."""
    from .program import LocalStage

    out = []
    for dtype, op, guarded, col, size in (("int32", "+", True, [float(k) for k in range(32)], 0),
                                          ("float32", "+", False, [0.1 * k - 1.0 for k in range(32)], 0),
                                          ("int64", "max", True, [(-1) ** k * k * 1000003 for k in range(32)], 0),
                                          ("uint32", "^", False, [k * 2654435761 % 2 ** 32 for k in range(32)], 19)):
        a0 = _v("a0", dtype)
        values = {"x0": np.array(col, dtype=dtype), "o0": np.zeros(32, dtype=dtype)}
        case = Case((("x0", dtype),), (("o0", dtype),), (Stmt("store", "o0", dtype, _v("w", dtype)),),
                    local=LocalStage(a0, dtype, 15, op, guarded, size), n=32, wg=16, values=values,
                    constant=frozenset({"x0"} if size else ()))
        out.append(Batch((case,), 32, 16))
    return out


def signed_zero_probes() -> list[Batch]:
    """-0.0 and +0.0 differ in tier 0: x - x, -0.0 + -0.0, and min/max/copysign of zeros (jax once gave
    -0.0 for 0.0 through min and copysign)."""
    out = []
    for t in ("float32", "float64"):
        a, b = _v("a0", t), _v("a1", t)
        zeros = ([-0.0, -0.0, 0.0, 0.0, 1.5, -1.5], [-0.0, 0.0, -0.0, 0.0, 1.5, -1.5])
        for expr in (Expr("bin", "+", (a, b), t), Expr("bin", "-", (a, b), t),
                     Expr("call", "min", (a, b), t), Expr("call", "max", (a, b), t),
                     Expr("call", "copysign", (Expr("call", "min", (a, b), t), b), t)):
            out.append(_probe(t, expr, *zeros))
    return out


def nan_sign_probes(fp64: bool = True) -> list[Batch]:
    """A NaN's sign is not portable, so ``copysign(x, NaN) == |x|``: for a NaN made by an invalid
    operation (``x % 0.0``: negative on x86, positive on PoCL) and for NaNs of either sign loaded from
    memory (PoCL once gave +3.0 for ``copysign(3.0, 1.0 % 0.0)`` where NumPy gave -3.0)."""
    out = []
    for t in ("float32", "float64") if fp64 else ("float32",):
        a, b, c = _v("a0", t), _v("a1", t), _v("a2", t)
        mags = [3.0, -3.0, 0.0, -0.0, 1.5, -2.5]
        invalid = Expr("call", "copysign", (a, Expr("bin", "%", (c, b), t)), t)
        out.append(_probe(t, invalid, mags, [0.0] * 6, [1.0, -1.0, 2.0, -0.0, float("inf"), 5.0]))
        nans = [float("nan"), -float("nan")] * 3
        out.append(_probe(t, Expr("call", "copysign", (a, b), t), mags, nans))
    return out


def double_rounding_probes() -> list[Batch]:
    """int64/uint64 -> float32 rounds once, to nearest even: a detour through float64 rounds twice and
    gives another float32 (2**61 + 2**37 + 1 is just above a float32 tie, but rounds onto it in float64)."""
    out = []
    for src in ("int64", "uint64"):
        vals = [2 ** 61 + 2 ** 37 + 1, 2 ** 61 + 2 ** 37, 2 ** 62 + 2 ** 38 - 1, 2 ** 53 + 1, 1, 0]
        if src == "int64":
            vals += [-(2 ** 61 + 2 ** 37 + 1), -(2 ** 53 + 1)]
        a0 = _v("a0", src)
        case = Case((("x0", src),), (("o0", "float32"), ("o1", "float64")),
                    (Stmt("store", "o0", "float32", Expr("cast", "", (a0,), "float32")),
                     Stmt("store", "o1", "float64", Expr("cast", "", (a0,), "float64"))),
                    n=len(vals), values={"x0": np.array(vals, dtype=src), "o0": np.zeros(len(vals), "float32"),
                                         "o1": np.zeros(len(vals), "float64")})
        out.append(Batch((case,), len(vals), None))
    return out


def domain_probes() -> list[Batch]:
    """Tier-1 functions outside their domain give NaN (or +-inf at a pole), never an exception: the
    numba-cuda simulator once raised Python's ``math domain error`` for ``acos(-2)``."""
    from .program import Tier1

    out = []
    for op, col in (("acos", [-2.0, 2.0, 0.5]), ("asin", [-2.0, 3.0, -0.5]), ("log", [-1.0, 0.0, -0.0]),
                    ("log1p", [-2.0, -1.0, 0.0]), ("exp", [1000.0, -1000.0, 0.0])):
        a0 = _v("a0", "float32")
        case = Case((("x0", "float32"),), (("o0", "float32"),), (Stmt("store", "o0", "float32", a0),),
                    tier1=(Tier1(op, (a0,), ("r0_0",), "f0", "float32"),), n=3,
                    values={"x0": np.array(col, dtype="float32"), "o0": np.zeros(3, "float32"),
                            "r0_0": np.zeros(3, "float32"), "f0": np.zeros(3, "float32")})
        out.append(Batch((case,), 3, None))
    return out


def pow_half_probes() -> list[Batch]:
    """``pow(x, 0.5)`` with a constant exponent is not ``sqrt(x)``: C99 Annex F gives ``pow(-0.0, 0.5) = +0.0``
    and ``pow(-inf, 0.5) = +inf`` (sqrt gives -0.0 and NaN). NumPy takes that shortcut for a scalar
    exponent; the --long run found it in the numpy reference and the numba-cuda simulator."""
    from .program import Tier1

    out = []
    for t in ("float32", "float64"):
        col = [-0.0, 0.0, -np.inf, np.inf, 4.0, -1.0]
        a0 = _v("a0", t)
        case = Case((("x0", t),), (("o0", t),), (Stmt("store", "o0", t, a0),),
                    tier1=(Tier1("pow", (a0, Expr("lit", "", (), t, 0.5)), ("r0_0", "r0_1"), "f0", t),),
                    n=len(col), values={"x0": np.array(col, dtype=t), "o0": np.zeros(len(col), t),
                                        "r0_0": np.zeros(len(col), t), "r0_1": np.zeros(len(col), t),
                                        "f0": np.zeros(len(col), t)})
        out.append(Batch((case,), len(col), None))
    return out


def cast_product_probes(fp64: bool = True) -> list[Batch]:
    """``0.1 * float(i) - 10.0``: a product whose operands a compiler can prove are never NaN
    (an int converted to float, a constant). LLVM dropped jax's float-compare guard for it and
    fused the product into the subtraction (found by a --long run: 1 ulp off in float64)."""
    out = []
    ints = list(range(-40, 41, 3)) + [12345, -98765, 2**24 + 1]
    for t in ("float32", "float64") if fp64 else ("float32",):
        prod = Expr("bin", "*", (_lit(0.1, t), Expr("cast", "", (_v("a0", "int32"),), t)), t)
        expr = Expr("bin", "-", (prod, _lit(10.0, t)), t)
        values = {"x0": np.array(ints, dtype="int32"), "o0": np.zeros(len(ints), dtype=t)}
        case = Case((("x0", "int32"),), (("o0", t),), (Stmt("store", "o0", t, expr),), n=len(ints), values=values)
        out.append(Batch((case,), len(ints), None))
    return out


def _lit(value: float, dtype: str) -> Expr:
    return Expr("lit", "", (), dtype, value)


def _rewrite_probes(t: str) -> list[Batch]:
    """Algebraic rewrites a compiler may apply to floats (XLA does, docs/backends/jax.md), each
    off by an ulp or more on some of these inputs (32 fixed pseudo-random lanes)."""
    r = np.random.default_rng(2027)
    wide = list(10.0 ** r.uniform(-30, 30, 32))                # exponents across the range
    near = list(r.uniform(1, 8, 32))
    eps = float(np.finfo(t).eps)
    below_one = [1 - k * eps / 2 for k in range(1, 33)]        # where (a - 1) + c needs its order
    c = 2.0 ** (-26 if t == "float32" else -55)
    a0, a1, a2 = _v("a0", t), _v("a1", t), _v("a2", t)
    sqrt = Expr("call", "sqrt", (a0,), t)
    root = Expr("call", "sqrt", (Expr("call", "abs", (a0,), t, "builtin"),), t)
    return [
        # 1 / sqrt(x) -> rsqrt(x), an approximation (XLA:CPU: 2 ulp)
        _probe(t, Expr("bin", "/", (_lit(1.0, t), sqrt), t), wide),
        # x / c -> x * (1 / c)
        _probe(t, Expr("bin", "/", (a0, _lit(10.0, t)), t), near),
        # (a / b) / c -> a / (b * c), and a / (b / c) -> (a * c) / b
        _probe(t, Expr("bin", "/", (Expr("bin", "/", (a0, a1), t), a2), t), near, near[::-1], near[5:] + near[:5]),
        _probe(t, Expr("bin", "/", (a0, Expr("bin", "/", (a1, a2), t)), t), near, near[::-1], near[5:] + near[:5]),
        # (a - 1) + c -> a + (c - 1): reassociated constants
        _probe(t, Expr("bin", "+", (Expr("bin", "-", (a0, _lit(1.0, t)), t), _lit(c, t)), t), below_one),
        # s = sqrt(|x|); s * s -> |x| (one value used twice, as XLA sees it after a variable)
        _probe_after(t, (Stmt("assign", "v0", t, root),), Expr("bin", "*", (_v("v0", t), _v("v0", t)), t), near),
    ]


def _probe_after(dtype: str, before: tuple[Stmt, ...], expr: Expr, *columns: list[float]) -> Batch:
    """A probe whose stored expression follows the statements ``before``."""
    batch = _probe(dtype, expr, *columns)
    case = batch.programs[0]
    case.body = before + case.body
    return batch


def repeated_launch_mismatch(launch: Callable[[], Sequence[Any]], times: int = 4) -> str | None:
    """Run ``launch`` (a zero-argument call of one compiled launch, returning its output arrays)
    ``times`` times; None when every launch gave the bits of the first, else which output of
    which launch differs (a backend that recompiles a launch after a few calls must not change a
    bit: jax once tiered tiny grids up to optimised code on their third launch)."""
    def bits(a: Any) -> np.ndarray:
        a = np.array(a)             # a copy: the next launch may reuse the buffer
        return a.view(f"u{a.itemsize}") if a.dtype.kind == "f" else a

    first = [bits(o) for o in launch()]
    for k in range(2, times + 1):
        for j, (a, b) in enumerate(zip(first, (bits(o) for o in launch()))):
            if a.shape != b.shape or not np.array_equal(a, b):
                n = int(np.sum(a != b)) if a.shape == b.shape else a.size
                return f"output {j} of launch {k} differs from launch 1 in {n} elements"
    return None
