"""Taichi peers: ``@ti.kernel`` functions over ``ti.ndarray`` on Taichi's CPU backend (the outermost
loop runs in parallel), as the Taichi documentation writes them."""
# No ``from __future__ import annotations``: Taichi reads the kernels' annotations as objects.

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import taichi as ti

from .. import cases as C

Run = Callable[[], dict[str, Any]]
ti.init(arch=ti.cpu, log_level=ti.WARN)
_DTYPES = {np.dtype(np.float32): ti.f32, np.dtype(np.float64): ti.f64, np.dtype(np.int32): ti.i32}
arr1 = ti.types.ndarray(ndim=1)
arr2 = ti.types.ndarray(ndim=2)


class Framework:
    """``ti.ndarray`` on the CPU; ``ti.sync`` waits for the launches."""

    name = "taichi"

    def to_dev(self, a: Any) -> Any:
        if not isinstance(a, np.ndarray):
            return a
        t = ti.ndarray(_DTYPES[a.dtype], a.shape)
        t.from_numpy(a)
        return t

    def to_host(self, a: Any) -> np.ndarray:
        return a.to_numpy() if hasattr(a, "to_numpy") else np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        ti.sync()

    def device_name(self) -> str:
        return f"taichi {'.'.join(map(str, ti.__version__))} cpu"


@ti.kernel
def _saxpy(a: ti.f32, x: arr1, y: arr1, out: arr1):
    for i in x:
        out[i] = a * x[i] + y[i]


@ti.kernel
def _triad(a: arr1, b: arr1, c: arr1, s: ti.f64):
    for i in a:
        a[i] = b[i] + s * c[i]


@ti.kernel
def _sum(x: arr1) -> ti.f32:
    total = ti.f32(0.0)
    for i in x:
        total += x[i]
    return total


@ti.kernel
def _softmax(x: arr2, out: arr2):
    for r in range(x.shape[0]):
        m = x[r, 0]
        for c in range(x.shape[1]):
            m = ti.max(m, x[r, c])
        s = ti.f32(0.0)
        for c in range(x.shape[1]):
            e = ti.exp(x[r, c] - m)
            out[r, c] = e
            s += e
        inv = 1.0 / s
        for c in range(x.shape[1]):
            out[r, c] *= inv


@ti.kernel
def _layernorm(x: arr2, g: arr1, b: arr1, out: arr2, eps: ti.f32):
    for r in range(x.shape[0]):
        cols = x.shape[1]
        s = ti.f32(0.0)
        for c in range(cols):
            s += x[r, c]
        mu = s / cols
        v = ti.f32(0.0)
        for c in range(cols):
            d = x[r, c] - mu
            v += d * d
        rstd = 1.0 / ti.sqrt(v / cols + eps)
        for c in range(cols):
            out[r, c] = (x[r, c] - mu) * rstd * g[c] + b[c]


@ti.kernel
def _jacobi(u: arr2, out: arr2):
    n, m = u.shape[0], u.shape[1]
    for i, j in ti.ndrange(n, m):
        if 0 < i < n - 1 and 0 < j < m - 1:
            out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
        else:
            out[i, j] = u[i, j]


@ti.kernel
def _histogram(x: arr1, hist: arr1, nbins: ti.i32):
    for b in range(nbins):
        hist[b] = 0
    for i in x:
        b = ti.min(ti.cast(x[i] * nbins, ti.i32), nbins - 1)
        ti.atomic_add(hist[b], 1)


@ti.kernel
def _transpose(a: arr2, out: arr2):
    for i, j in ti.ndrange(a.shape[0], a.shape[1]):
        out[j, i] = a[i, j]


@ti.kernel
def _matmul(a: arr2, b: arr2, c: arr2):
    for i, j in ti.ndrange(a.shape[0], b.shape[1]):
        acc = ti.f32(0.0)
        for k in range(a.shape[1]):
            acc += a[i, k] * b[k, j]
        c[i, j] = acc


@ti.func
def _cnd(d: ti.f32) -> ti.f32:
    k = 1.0 / (1.0 + 0.2316419 * ti.abs(d))
    c = 0.3989422804014327 * ti.exp(-0.5 * d * d) * (
        k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429)))))
    res = c
    if d > 0:
        res = 1.0 - c
    return res


@ti.kernel
def _bs(s: arr1, x: arr1, t: arr1, call: arr1, put: arr1, r: ti.f32, v: ti.f32):
    for i in s:
        sq = ti.sqrt(t[i])
        d1 = (ti.log(s[i] / x[i]) + (r + 0.5 * v * v) * t[i]) / (v * sq)
        d2 = d1 - v * sq
        c1 = _cnd(d1)
        c2 = _cnd(d2)
        e = ti.exp(-r * t[i])
        call[i] = s[i] * c1 - x[i] * e * c2
        put[i] = x[i] * e * (1.0 - c2) - s[i] * (1.0 - c1)


@ti.kernel
def _mandel(out: arr2, x0: ti.f32, y0: ti.f32, dx: ti.f32, dy: ti.f32, maxit: ti.i32):
    for i, j in ti.ndrange(out.shape[0], out.shape[1]):
        cr = x0 + ti.f32(j) * dx
        ci = y0 + ti.f32(i) * dy
        zr = ti.f32(0.0)
        zi = ti.f32(0.0)
        it = 0
        while it < maxit and zr * zr + zi * zi <= 4.0:
            t = zr * zr - zi * zi + cr
            zi = 2.0 * zr * zi + ci
            zr = t
            it += 1
        out[i, j] = it


@ti.kernel
def _tiny(x: arr1):
    for i in x:
        x[i] += 1.0


def _call(kernel: Any, args: list[Any], outs: dict[str, Any]) -> Run:
    def run() -> dict[str, Any]:
        kernel(*args)
        return outs
    return run


BUILDERS: dict[str, Callable[[dict, int, Any], Run]] = {
    "tiny": lambda d, n, fw: _call(_tiny, [d["x"]], {"x": d["x"]}),
    "saxpy": lambda d, n, fw: _call(_saxpy, [float(d["a"]), d["x"], d["y"], d["out"]], {"out": d["out"]}),
    "triad": lambda d, n, fw: _call(_triad, [d["a"], d["b"], d["c"], float(d["s"])], {"a": d["a"]}),
    "reduce_sum": lambda d, n, fw: lambda: {"sum": np.array(_sum(d["x"]))},
    "softmax": lambda d, n, fw: _call(_softmax, [d["x"], d["out"]], {"out": d["out"]}),
    "layernorm": lambda d, n, fw: _call(_layernorm, [d["x"], d["gamma"], d["beta"], d["out"], float(d["eps"])],
                                        {"out": d["out"]}),
    "jacobi2d": lambda d, n, fw: _call(_jacobi, [d["u"], d["out"]], {"out": d["out"]}),
    "histogram": lambda d, n, fw: _call(_histogram, [d["x"], d["hist"], C.NBINS], {"hist": d["hist"]}),
    "transpose": lambda d, n, fw: _call(_transpose, [d["a"], d["out"]], {"out": d["out"]}),
    "matmul": lambda d, n, fw: _call(_matmul, [d["a"], d["b"], d["c"]], {"c": d["c"]}),
    "black_scholes": lambda d, n, fw: _call(
        _bs, [d["S"], d["X"], d["T"], d["call"], d["put"], float(d["r"]), float(d["v"])],
        {"call": d["call"], "put": d["put"]}),
    "mandelbrot": lambda d, n, fw: _call(
        _mandel, [d["out"], float(d["x0"]), float(d["y0"]), float(d["dx"]), float(d["dy"]), C.MAXIT],
        {"out": d["out"]}),
}
