"""Tier-1 functions on the jax backend: XLA's own float32 functions where they are inside the
docs/semantics.md ceiling (no float64 detour), the rebuilt ones where XLA's are not."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")
mpmath = pytest.importorskip("mpmath")


@pk.kernel
def funcs(x, out):
    i = pk.global_id(0)
    out[0, i] = pk.exp(x[i])
    out[1, i] = pk.asin(x[i])
    out[2, i] = pk.tanh(x[i])
    out[3, i] = pk.expm1(x[i])


def _ulps(got, exact_fn, x, dt):
    """Max error in ulp of ``dt`` of ``got`` against ``exact_fn`` (mpmath at 113 bits)."""
    mpmath.mp.prec = 113
    worst = 0.0
    for v, g in zip(x.tolist(), got.tolist()):
        e = exact_fn(mpmath.mpf(v))
        ef = float(e)
        if not np.isfinite(ef) or abs(ef) < np.finfo(dt).tiny or abs(ef) > np.finfo(dt).max:
            continue
        worst = max(worst, float(abs(mpmath.mpf(g) - e)) / float(np.spacing(dt(abs(ef)))))
    return worst


def _run(x):
    return np.asarray(funcs.on("jax")[x.size](x, np.zeros((4, x.size), dtype=x.dtype)))


def test_asin_of_tiny_arguments_is_the_argument_not_a_flushed_zero():
    # XLA's asin returned +-0 for +-DBL_MIN (4.5e15 ulp); asin(x) rounds to x for |x| < 2**-26.
    x64 = np.array([np.finfo(np.float64).tiny, -np.finfo(np.float64).tiny, 1e-300, -3e-200, 2.0**-27])
    assert (_run(x64)[1] == x64).all()
    x32 = np.array([np.finfo(np.float32).tiny, -np.finfo(np.float32).tiny, 1e-30, -2.0**-14], dtype=np.float32)
    assert (_run(x32)[1] == x32).all()


def test_float32_exp_next_to_overflow_is_within_the_ceiling():
    # XLA's float32 exp is 5.4 ulp off on (88.6, 88.72); reduced by 2 there.
    x = np.linspace(88.0, 88.72, 200, dtype=np.float32)
    assert _ulps(_run(x)[0], mpmath.exp, x, np.float32) <= 3
    assert np.isinf(_run(np.array([88.73, 100.0, np.inf], dtype=np.float32))[0]).all()


def test_float64_tanh_and_expm1_are_within_the_ceiling_where_xla_is_not():
    # XLA float64: tanh 5.7 ulp on 2 < |x| < 10, expm1 3.8 ulp on 1e-8 < |x| < 0.5.
    xt = np.concatenate([np.linspace(2.0, 10.0, 150), -np.linspace(2.0, 10.0, 50)])
    assert _ulps(_run(xt)[2], mpmath.tanh, xt, np.float64) <= 5
    xe = np.concatenate([np.geomspace(1e-8, 0.5, 150), -np.geomspace(1e-8, 0.5, 50)])
    assert _ulps(_run(xe)[3], mpmath.expm1, xe, np.float64) <= 3
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, 800.0, -800.0])
    with np.errstate(all="ignore"):
        got = _run(specials)
    np.testing.assert_array_equal(got[2], np.tanh(specials))
    np.testing.assert_array_equal(np.signbit(got[3][:2]), [False, True])
    np.testing.assert_array_equal(got[3][2:5], [np.inf, -1.0, np.nan])


def test_float32_exp_uses_xla_float32_exp_without_a_float64_detour():
    # The softmax speed-up: float32 exp (1.5 ulp, ceiling 3) no longer widens to float64.
    x = jnp.linspace(-5, 5, 16, dtype=jnp.float32)

    @pk.kernel
    def only_exp(x, out):
        i = pk.global_id(0)
        out[i] = pk.exp(x[i])

    jaxpr = str(jax.make_jaxpr(lambda v: only_exp.on("jax")[16](v, jnp.zeros_like(v)))(x))
    assert "f64" not in jaxpr
    assert "exp" in jaxpr


def test_rebuilt_functions_compose_with_grad():
    # inside asin's domain (its NaN derivative outside it would reach the sum through the scatter)
    x = jnp.array([-0.8, -0.25, 1e-4, 0.3, 0.6], dtype=jnp.float32)

    def f(v):
        return jnp.sum(funcs.on("jax")[5](v, jnp.zeros((4, 5), dtype=v.dtype))[2:])

    g = np.asarray(jax.grad(f)(x))
    xn = np.asarray(x, dtype=np.float64)
    np.testing.assert_allclose(g, 1 - np.tanh(xn) ** 2 + np.exp(xn), rtol=1e-4)
