"""NumPy baselines: the vectorised expressions a NumPy user writes (``a * x + y``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import cases as C

Run = Callable[[], dict[str, Any]]


def saxpy(d: dict, n: int, fw: Any) -> Run:
    a, x, y = d["a"], d["x"], d["y"]
    return lambda: {"out": a * x + y}


def triad(d: dict, n: int, fw: Any) -> Run:
    b, c, s = d["b"], d["c"], d["s"]
    return lambda: {"a": b + s * c}


def reduce_sum(d: dict, n: int, fw: Any) -> Run:
    x = d["x"]
    return lambda: {"sum": np.array(x.sum(dtype=np.float32))}


def softmax(d: dict, n: int, fw: Any) -> Run:
    x = d["x"]

    def run() -> dict[str, Any]:
        e = np.exp(x - x.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return {"out": e}
    return run


def layernorm(d: dict, n: int, fw: Any) -> Run:
    x, g, b, eps = d["x"], d["gamma"], d["beta"], d["eps"]

    def run() -> dict[str, Any]:
        mu = x.mean(axis=1, keepdims=True)
        xc = x - mu
        var = np.mean(xc * xc, axis=1, keepdims=True)
        return {"out": xc / np.sqrt(var + eps) * g + b}
    return run


def jacobi2d(d: dict, n: int, fw: Any) -> Run:
    u = d["u"]

    def run() -> dict[str, Any]:
        out = u.copy()
        out[1:-1, 1:-1] = np.float32(0.25) * (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:])
        return {"out": out}
    return run


def histogram(d: dict, n: int, fw: Any) -> Run:
    x = d["x"]

    def run() -> dict[str, Any]:
        b = np.minimum((x * np.float32(C.NBINS)).astype(np.intp), C.NBINS - 1)
        return {"hist": np.bincount(b, minlength=C.NBINS).astype(np.int32)}
    return run


def transpose(d: dict, n: int, fw: Any) -> Run:
    a = d["a"]
    return lambda: {"out": np.ascontiguousarray(a.T)}


def matmul(d: dict, n: int, fw: Any) -> Run:
    a, b = d["a"], d["b"]
    return lambda: {"c": a @ b}


def black_scholes(d: dict, n: int, fw: Any) -> Run:
    s, x, t, r, v = d["S"], d["X"], d["T"], d["r"], d["v"]

    def cnd(z: np.ndarray) -> np.ndarray:
        k = np.float32(1.0) / (np.float32(1.0) + np.float32(0.2316419) * np.abs(z))
        c = np.float32(0.3989422804014327) * np.exp(np.float32(-0.5) * z * z) * (
            k * (np.float32(0.31938153) + k * (np.float32(-0.356563782) + k * (np.float32(1.781477937)
                 + k * (np.float32(-1.821255978) + k * np.float32(1.330274429))))))
        return np.where(z > 0, np.float32(1.0) - c, c)

    def run() -> dict[str, Any]:
        sq = np.sqrt(t)
        d1 = (np.log(s / x) + (r + np.float32(0.5) * v * v) * t) / (v * sq)
        d2 = d1 - v * sq
        c1, c2 = cnd(d1), cnd(d2)
        e = np.exp(-r * t)
        return {"call": s * c1 - x * e * c2, "put": x * e * (np.float32(1.0) - c2) - s * (np.float32(1.0) - c1)}
    return run


def mandelbrot(d: dict, n: int, fw: Any) -> Run:
    ref = dict(d)
    # The vectorised escape-time loop with masks is NumPy's idiom; the reference already is one.
    return lambda: C._mandel_ref(ref)


def tiny(d: dict, n: int, fw: Any) -> Run:
    x = d["x"]

    def run() -> dict[str, Any]:
        x[0] += np.float32(1.0)
        return {"x": x}
    return run


BUILDERS = {"tiny": tiny, "saxpy": saxpy, "triad": triad, "reduce_sum": reduce_sum, "softmax": softmax,
            "layernorm": layernorm, "jacobi2d": jacobi2d, "histogram": histogram, "transpose": transpose,
            "matmul": matmul, "black_scholes": black_scholes, "mandelbrot": mandelbrot}
