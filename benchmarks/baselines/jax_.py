"""JAX baselines: ``jax.jit`` over jnp expressions (``jax.nn.softmax`` for softmax), as a JAX user writes them."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import cases as C

Run = Callable[[], dict[str, Any]]


@jax.jit
def _saxpy(a, x, y):  # noqa: ANN001
    return a * x + y


@jax.jit
def _triad(b, c, s):  # noqa: ANN001
    return b + s * c


@jax.jit
def _sum(x):  # noqa: ANN001
    return jnp.sum(x)


@jax.jit
def _softmax(x):  # noqa: ANN001
    return jax.nn.softmax(x, axis=1)


@jax.jit
def _layernorm(x, g, b, eps):  # noqa: ANN001
    mu = jnp.mean(x, axis=1, keepdims=True)
    xc = x - mu
    var = jnp.mean(xc * xc, axis=1, keepdims=True)
    return xc * jax.lax.rsqrt(var + eps) * g + b


@jax.jit
def _jacobi(u):  # noqa: ANN001
    inner = 0.25 * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
    return u.at[1:-1, 1:-1].set(inner)


@jax.jit
def _histogram(x):  # noqa: ANN001
    b = jnp.minimum((x * jnp.float32(C.NBINS)).astype(jnp.int32), C.NBINS - 1)
    return jnp.bincount(b, length=C.NBINS).astype(jnp.int32)


@jax.jit
def _transpose(a):  # noqa: ANN001
    return a.T


@jax.jit
def _matmul(a, b):  # noqa: ANN001
    return jnp.dot(a, b)


def _cnd(d):  # noqa: ANN001
    k = 1.0 / (1.0 + 0.2316419 * jnp.abs(d))
    c = 0.3989422804014327 * jnp.exp(-0.5 * d * d) * (
        k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429)))))
    return jnp.where(d > 0, 1.0 - c, c)


@jax.jit
def _bs(s, x, t, r, v):  # noqa: ANN001
    sq = jnp.sqrt(t)
    d1 = (jnp.log(s / x) + (r + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq
    c1, c2 = _cnd(d1), _cnd(d2)
    e = jnp.exp(-r * t)
    return s * c1 - x * e * c2, x * e * (1.0 - c2) - s * (1.0 - c1)


@jax.jit(static_argnums=(0, 5))
def _mandel(n, x0, y0, dx, dy, maxit):  # noqa: ANN001
    idx = jnp.arange(n, dtype=jnp.float32)
    cr = jnp.broadcast_to((x0 + idx * dx)[None, :], (n, n))
    ci = jnp.broadcast_to((y0 + idx * dy)[:, None], (n, n))

    def body(_, st):  # noqa: ANN001
        zr, zi, it = st
        live = zr * zr + zi * zi <= 4.0
        t = zr * zr - zi * zi + cr
        zi = jnp.where(live, 2.0 * zr * zi + ci, zi)
        zr = jnp.where(live, t, zr)
        return zr, zi, it + live.astype(jnp.int32)

    z = jnp.zeros((n, n), jnp.float32)
    return jax.lax.fori_loop(0, maxit, body, (z, z, jnp.zeros((n, n), jnp.int32)))[2]


@jax.jit
def _tiny(x):  # noqa: ANN001
    return x + 1.0


def _bs_run(d: dict) -> Run:
    def run() -> dict[str, Any]:
        c, p = _bs(d["S"], d["X"], d["T"], d["r"], d["v"])
        return {"call": c, "put": p}
    return run


BUILDERS: dict[str, Callable[[dict, int, Any], Run]] = {
    "tiny": lambda d, n, fw: lambda: {"x": _tiny(d["x"])},
    "saxpy": lambda d, n, fw: lambda: {"out": _saxpy(d["a"], d["x"], d["y"])},
    "triad": lambda d, n, fw: lambda: {"a": _triad(d["b"], d["c"], d["s"])},
    "reduce_sum": lambda d, n, fw: lambda: {"sum": _sum(d["x"])},
    "softmax": lambda d, n, fw: lambda: {"out": _softmax(d["x"])},
    "layernorm": lambda d, n, fw: lambda: {"out": _layernorm(d["x"], d["gamma"], d["beta"], d["eps"])},
    "jacobi2d": lambda d, n, fw: lambda: {"out": _jacobi(d["u"])},
    "histogram": lambda d, n, fw: lambda: {"hist": _histogram(d["x"])},
    "transpose": lambda d, n, fw: lambda: {"out": _transpose(d["a"])},
    "matmul": lambda d, n, fw: lambda: {"c": _matmul(d["a"], d["b"])},
    "black_scholes": lambda d, n, fw: _bs_run(d),
    "mandelbrot": lambda d, n, fw: lambda: {"out": _mandel(n, d["x0"], d["y0"], d["dx"], d["dy"], C.MAXIT)},
}
