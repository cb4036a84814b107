"""Tier-1 functions for the jax backend where XLA's own are outside docs/semantics.md's bounds.

Measured on XLA:CPU (3000 samples each, ulp against mpmath; docs/backends/jax.md): exp2 65/73 ulp
(float32/float64), sinh and cosh 24/17, erfc 57/484, log1p 2.2/91, expm1 3.8/2. So:

- float32 arguments are computed in float64 and rounded once (every float64 function below is
  accurate to a few float64 ulp, far below half a float32 ulp);
- float64 exp2, sinh, cosh and log1p are rebuilt from accurate primitives (exp, expm1, log) with
  exact argument reductions; erfc corrects the rounding of ``x*x`` in XLA's ``exp(-x*x)`` factor.

Measured after (float32 / float64 ulp): exp2 0.5/1.3, sinh 0.5/2.9, cosh 0.5/2.5, erfc 0.5/8.4,
log1p 0.5/1.9, expm1 0.5/2.1. cbrt (XLA's: 2.6 ulp in float64) takes one Newton step with an exact
residual: 0.5/0.5.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from portakern.codegen.pyprelude import prod_err  # operators only: works on jax arrays too

_LN2 = np.float64(np.log(2.0))

#: tier-1 functions whose XLA float32 version is used as is. Only exp, the one that decides the
#: speed of softmax-like kernels: several others measured inside the ceiling on one sample set but
#: above it on another (XLA float32 atan(0.5) is 2.2 ulp), so they go through float64 (0.5 ulp).
NATIVE_F32: frozenset[str] = frozenset({"exp"})


_EM2_F32 = np.float32(np.exp(-2.0))


def exp_f32(x: Any) -> Any:
    """XLA's float32 exp: 1 ulp below x = 88.6, but up to 5.4 ulp on (88.6, 88.72) next to overflow.
    There exp(x) = exp(x - 2) / RN(e**-2) (``x - 2`` is exact on [88, 89]): 1.7 ulp measured.
    Written as one expression, ``exp(x - d) / g`` with (d, g) = (2, RN(e**-2)) or (0, 1) (exact
    when d = 0): XLA keeps a division after exp in exp's fusion (a product or select it would
    copy into every consumer, which then rereads the input), and a quotient never contracts
    into an FMA."""
    big = x > 88.0
    return jnp.exp(x - jnp.where(big, np.float32(2.0), np.float32(0.0))) / jnp.where(big, _EM2_F32, np.float32(1.0))


#: float32 versions that differ from the float64 function of the same name.
FLOAT32_NATIVE: dict[str, Callable[..., Any]] = {"exp": exp_f32, "tanh": jnp.tanh}


def expm1(x: Any) -> Any:
    """XLA's float64 expm1 is off by up to 3.8 ulp for 1e-8 < |x| < 0.5. There Kahan's
    (u - 1) * x / log(u) with u = exp(x) (2.0 ulp measured): the quotient cancels the rounding
    of u. ``u`` goes through an optimization barrier, else XLA folds log(exp(x)) to x."""
    u = jax.lax.optimization_barrier(jnp.exp(x))
    um = u - 1.0
    small = jnp.where(um == 0.0, x, um * x / jnp.log(u))
    return jnp.where(jnp.abs(x) < 0.5, small, jnp.expm1(x))


def tanh(x: Any) -> Any:
    """XLA's float64 tanh is off by up to 5.7 ulp for 2 < |x| < 10 (results just below 1). There
    1 - 2/(exp(2|x|) + 1): the subtracted term is below 0.04, so its few-ulp error is a fraction
    of an ulp of the result."""
    a = jnp.abs(x)
    big = jnp.copysign(1.0 - 2.0 / (jnp.exp(2.0 * a) + 1.0), x)
    return jnp.where(a > 2.0, big, jnp.tanh(x))


def asin(x: Any) -> Any:
    """XLA's asin returns +-0 for tiny normal arguments (asin(DBL_MIN) = 0, 4.5e15 ulp; float32
    likewise). asin(x) = x + x**3/6 + ... rounds to x once x*x/6 is below half an ulp, i.e. for
    |x| < 2**-26 (float64) or 2**-13 (float32, with margin), so those lanes return x itself."""
    tiny = 2.0 ** -13 if x.dtype == jnp.float32 else 2.0 ** -26
    return jnp.where(jnp.abs(x) < tiny, x, jnp.arcsin(x))


def in_float64(fn: Callable[..., Any], native_f32: Callable[..., Any] | None = None) -> Callable[..., Any]:
    """``fn`` for float64 lanes; float32 lanes go to ``native_f32`` when given (XLA's float32
    function, measured inside the ceiling), else are widened, computed and rounded once."""

    def wrapped(*xs: Any) -> Any:
        xs = tuple(jnp.asarray(x) for x in xs)
        if xs[0].dtype == jnp.float32 and native_f32 is not None:
            return native_f32(*xs)
        if xs[0].dtype == jnp.float32:
            return fn(*(x.astype(jnp.float64) for x in xs)).astype(jnp.float32)
        return fn(*xs)

    return wrapped


def exp2(x: Any) -> Any:
    """2**x = 2**n * exp(f * ln 2) with n = floor(x) and f = x - n exact in [0, 1)."""
    n = jnp.floor(x)
    f = x - n
    nn = jnp.clip(n, -2000, 2000).astype(jnp.int32)
    r = jnp.ldexp(jnp.exp(f * _LN2), nn)
    r = jnp.where(jnp.isinf(x), jnp.where(x > 0, x, 0.0), r)     # inf - floor(inf) is NaN
    return jnp.where(jnp.isnan(x), x, r)


def _exp_half_squared(ax: Any) -> Any:
    """exp(|x|) / 2 without overflowing before the result does."""
    e = jnp.exp(ax * 0.5)
    return (e * 0.5) * e


def cosh(x: Any) -> Any:
    ax = jnp.abs(x)
    big = _exp_half_squared(ax)
    return big + (0.25 / big)


def sinh(x: Any) -> Any:
    ax = jnp.abs(x)
    em = jnp.expm1(jnp.minimum(ax, 700.0))
    small = 0.5 * (em + em / (em + 1.0))
    r = jnp.where(ax > 700.0, _exp_half_squared(ax), small)
    return jnp.copysign(r, x)


def log1p(x: Any) -> Any:
    """XLA's log1p is off by up to 126 ulp on (-0.9, -0.3) only, where ``1 + x`` is exact or nearly
    (Sterbenz) and ``log(1 + x)`` measures 1.4 ulp; elsewhere it measures at most 1.9 ulp."""
    return jnp.where(x < -0.3, jnp.log(1.0 + x), jnp.log1p(x))


def erfc(x: Any) -> Any:
    """XLA's erfc multiplied by exp(-(x*x - RN(x*x))): its exp(-x*x) factor used the rounded square."""
    p = x * x
    t = 134217729.0 * x
    hi = t - (t - x)
    lo = x - hi
    err = ((hi * hi - p) + 2.0 * hi * lo) + lo * lo        # x*x - RN(x*x), exact
    r = jax.scipy.special.erfc(x)
    fix = (x > 0.5) & (x < 27.5)              # beyond 27.3 erfc underflows to 0 (and 0 * exp(big) is NaN)
    return jnp.where(fix, r * jnp.exp(-jnp.where(fix, err, 0.0)), r)


def cbrt(x: Any) -> Any:
    """XLA's float64 cbrt is off by up to 2.6 ulp. One Newton step on it, with the residual
    ``y**3 - |x|`` computed exactly (|x| scaled by 2**+-300 into [2**-600, 2**600] so that no
    product over- or underflows; ``q - |x|`` is exact by Sterbenz), brings it to 0.5 ulp."""
    a = jnp.abs(x)
    small, big = a < 2.0 ** -600, a > 2.0 ** 600
    s = a * jnp.where(small, 2.0 ** 300, jnp.where(big, 2.0 ** -300, 1.0))
    y = jnp.cbrt(s)
    p = y * y
    q = p * y
    r = (q - s) + (prod_err(p, y, q) + prod_err(y, y, p) * y)
    z = (y - r / (3.0 * p)) * jnp.where(small, 2.0 ** -100, jnp.where(big, 2.0 ** 100, 1.0))
    # decided on y, not on x: XLA may flush a float32 subnormal in one fusion and not in another
    return jnp.copysign(jnp.where((y == 0.0) | ~jnp.isfinite(y), y, z), x)
