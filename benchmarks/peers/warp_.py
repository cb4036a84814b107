"""NVIDIA Warp peers: ``@wp.kernel`` functions launched on Warp's CPU device, one thread per output
element (per row for softmax/layernorm), as the Warp documentation writes them."""
# ruff: noqa: UP018 - Warp needs float(0.0) / int(0) for a variable a loop changes (a literal is a constant)
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import warp as wp

from .. import cases as C

Run = Callable[[], dict[str, Any]]
DEVICE = "cpu"
wp.config.log_level = wp.LOG_WARNING   # no banner or per-module load lines in the bench table
wp.init()
f32 = wp.array(dtype=wp.float32)
f32_2d = wp.array2d(dtype=wp.float32)


class Framework:
    """Warp arrays on the CPU device; ``wp.synchronize_device`` waits for the launches."""

    name = "warp"

    def to_dev(self, a: Any) -> Any:
        return wp.array(a, device=DEVICE) if isinstance(a, np.ndarray) else a

    def to_host(self, a: Any) -> np.ndarray:
        return a.numpy() if isinstance(a, wp.array) else np.asarray(a)

    def sync(self, outs: Iterable[Any]) -> None:
        wp.synchronize_device(DEVICE)

    def device_name(self) -> str:
        return f"warp {wp.config.version} cpu"


@wp.kernel
def _saxpy(a: wp.float32, x: f32, y: f32, out: f32):
    i = wp.tid()
    out[i] = a * x[i] + y[i]


@wp.kernel
def _triad(a: wp.array(dtype=wp.float64), b: wp.array(dtype=wp.float64), c: wp.array(dtype=wp.float64),
           s: wp.float64):
    i = wp.tid()
    a[i] = b[i] + s * c[i]


@wp.kernel
def _sum(x: f32, total: f32):
    i = wp.tid()
    wp.atomic_add(total, 0, x[i])


@wp.kernel
def _softmax(x: f32_2d, out: f32_2d):
    r = wp.tid()
    cols = x.shape[1]
    m = x[r, 0]
    for c in range(cols):
        m = wp.max(m, x[r, c])
    s = float(0.0)
    for c in range(cols):
        e = wp.exp(x[r, c] - m)
        out[r, c] = e
        s += e
    inv = 1.0 / s
    for c in range(cols):
        out[r, c] = out[r, c] * inv


@wp.kernel
def _layernorm(x: f32_2d, g: f32, b: f32, out: f32_2d, eps: wp.float32):
    r = wp.tid()
    cols = x.shape[1]
    s = float(0.0)
    for c in range(cols):
        s += x[r, c]
    mu = s / float(cols)
    v = float(0.0)
    for c in range(cols):
        d = x[r, c] - mu
        v += d * d
    rstd = 1.0 / wp.sqrt(v / float(cols) + eps)
    for c in range(cols):
        out[r, c] = (x[r, c] - mu) * rstd * g[c] + b[c]


@wp.kernel
def _jacobi(u: f32_2d, out: f32_2d):
    i, j = wp.tid()
    n = u.shape[0]
    m = u.shape[1]
    if i > 0 and i < n - 1 and j > 0 and j < m - 1:
        out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
    else:
        out[i, j] = u[i, j]


@wp.kernel
def _histogram(x: f32, hist: wp.array(dtype=wp.int32), nbins: int):
    i = wp.tid()
    b = wp.min(int(x[i] * float(nbins)), nbins - 1)
    wp.atomic_add(hist, b, 1)


@wp.kernel
def _transpose(a: f32_2d, out: f32_2d):
    i, j = wp.tid()
    out[j, i] = a[i, j]


@wp.kernel
def _matmul(a: f32_2d, b: f32_2d, c: f32_2d):
    i, j = wp.tid()
    acc = float(0.0)
    for k in range(a.shape[1]):
        acc += a[i, k] * b[k, j]
    c[i, j] = acc


@wp.func
def _cnd(d: float):
    k = 1.0 / (1.0 + 0.2316419 * wp.abs(d))
    c = 0.3989422804014327 * wp.exp(-0.5 * d * d) * (
        k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429)))))
    if d > 0.0:
        return 1.0 - c
    return c


@wp.kernel
def _bs(s: f32, x: f32, t: f32, call: f32, put: f32, r: wp.float32, v: wp.float32):
    i = wp.tid()
    sq = wp.sqrt(t[i])
    d1 = (wp.log(s[i] / x[i]) + (r + 0.5 * v * v) * t[i]) / (v * sq)
    d2 = d1 - v * sq
    c1 = _cnd(d1)
    c2 = _cnd(d2)
    e = wp.exp(-r * t[i])
    call[i] = s[i] * c1 - x[i] * e * c2
    put[i] = x[i] * e * (1.0 - c2) - s[i] * (1.0 - c1)


@wp.kernel
def _mandel(out: wp.array2d(dtype=wp.int32), x0: wp.float32, y0: wp.float32, dx: wp.float32, dy: wp.float32,
            maxit: int):
    i, j = wp.tid()
    cr = x0 + float(j) * dx
    ci = y0 + float(i) * dy
    zr = float(0.0)
    zi = float(0.0)
    it = int(0)
    while it < maxit and zr * zr + zi * zi <= 4.0:
        t = zr * zr - zi * zi + cr
        zi = 2.0 * zr * zi + ci
        zr = t
        it += 1
    out[i, j] = it


@wp.kernel
def _tiny(x: f32):
    i = wp.tid()
    x[i] = x[i] + 1.0


def _launch(kernel: Any, dim: Any, inputs: list[Any], outs: dict[str, Any]) -> Run:
    def run() -> dict[str, Any]:
        wp.launch(kernel, dim=dim, inputs=inputs, device=DEVICE)
        return outs
    return run


def _reduce(d: dict, n: int, fw: Any) -> Run:
    total = wp.zeros(1, dtype=wp.float32, device=DEVICE)

    def run() -> dict[str, Any]:
        total.zero_()
        wp.launch(_sum, dim=n, inputs=[d["x"], total], device=DEVICE)
        return {"sum": total}
    return run


def _hist(d: dict, n: int, fw: Any) -> Run:
    def run() -> dict[str, Any]:
        d["hist"].zero_()
        wp.launch(_histogram, dim=n, inputs=[d["x"], d["hist"], C.NBINS], device=DEVICE)
        return {"hist": d["hist"]}
    return run


BUILDERS: dict[str, Callable[[dict, int, Any], Run]] = {
    "tiny": lambda d, n, fw: _launch(_tiny, 1, [d["x"]], {"x": d["x"]}),
    "saxpy": lambda d, n, fw: _launch(_saxpy, n, [float(d["a"]), d["x"], d["y"], d["out"]], {"out": d["out"]}),
    "triad": lambda d, n, fw: _launch(_triad, n, [d["a"], d["b"], d["c"], float(d["s"])], {"a": d["a"]}),
    "reduce_sum": _reduce,
    "softmax": lambda d, n, fw: _launch(_softmax, n, [d["x"], d["out"]], {"out": d["out"]}),
    "layernorm": lambda d, n, fw: _launch(_layernorm, n, [d["x"], d["gamma"], d["beta"], d["out"], float(d["eps"])],
                                          {"out": d["out"]}),
    "jacobi2d": lambda d, n, fw: _launch(_jacobi, (n, n), [d["u"], d["out"]], {"out": d["out"]}),
    "histogram": _hist,
    "transpose": lambda d, n, fw: _launch(_transpose, (n, n), [d["a"], d["out"]], {"out": d["out"]}),
    "matmul": lambda d, n, fw: _launch(_matmul, (n, n), [d["a"], d["b"], d["c"]], {"c": d["c"]}),
    "black_scholes": lambda d, n, fw: _launch(
        _bs, n, [d["S"], d["X"], d["T"], d["call"], d["put"], float(d["r"]), float(d["v"])],
        {"call": d["call"], "put": d["put"]}),
    "mandelbrot": lambda d, n, fw: _launch(
        _mandel, (n, n), [d["out"], float(d["x0"]), float(d["y0"]), float(d["dx"]), float(d["dy"]), C.MAXIT],
        {"out": d["out"]}),
}
