"""What each benchmark is: inputs, sizes, launch geometry, the reference answer, the tolerance,
and the bytes and floating-point operations that turn a time into GB/s or GFLOP/s.

Pure NumPy: no portakern, no framework. The references are computed in float64 by straightforward
NumPy so that neither the generated kernels nor the hand-written baselines grade themselves.
Traffic counts are the algorithmic minimum (every input read once, every output written once, as
STREAM counts), so ``bandwidth_fraction`` is a lower bound on what the memory system did.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Arrays = dict[str, Any]

#: the size names ``--sizes`` accepts; ``--quick`` uses "small", the default run "medium". "small"
#: streams at least 48 MiB for the 1-D memory-bound kernels (beyond this VM's 32 MiB L3); "medium"
#: and "large" are far beyond every cache.
SIZE_NAMES = ("tiny", "small", "medium", "large")
ROW_COLS = 1024          # softmax / layernorm row length
TILE = 16                # matmul and transpose tile (work-group TILE x TILE)
ROW_WG = 64              # softmax / layernorm work-group (one per row)
RED_WG, RED_PER_ITEM = 256, 16
NBINS = 256
MAXIT = 200
BS_R, BS_V = 0.02, 0.30


@dataclass(frozen=True)
class Case:
    """One benchmark. ``n`` is its primary size (elements, rows, or a square side)."""

    name: str
    bound: str                                   # "memory" or "compute"
    sizes: dict[str, int]
    params: tuple[str, ...]                      # portakern parameter order (no constexprs)
    outputs: tuple[str, ...]                     # written parameters, in parameter order
    make: Callable[[int, np.random.Generator], Arrays]
    constexprs: Callable[[int], dict[str, Any]]
    grid: Callable[[int], tuple[tuple[int, ...], tuple[int, ...] | None]]
    reference: Callable[[Arrays], Arrays]
    traffic: Callable[[int], float]              # bytes moved, minimum
    flops: Callable[[int, Arrays], float]        # floating-point operations (given the outputs)
    shape: Callable[[int], str]
    rtol: float = 1e-5
    atol: float = 1e-6
    #: for divergent integer outputs (mandelbrot): the fraction of elements allowed to differ.
    mismatch_fraction: float = 0.0
    summary: Callable[[Arrays], Arrays] = field(default=lambda out: out)

    def check(self, got: Arrays, ref: Arrays) -> str | None:
        """None when ``got`` agrees with ``ref`` within this case's tolerance, else why not."""
        got = self.summary({k: np.asarray(v) for k, v in got.items()})
        for key, want in ref.items():
            have = np.asarray(got[key])
            if have.shape != want.shape:
                return f"{key}: shape {have.shape}, expected {want.shape}"
            if self.mismatch_fraction:
                bad = float(np.mean(have != want))
                if bad > self.mismatch_fraction:
                    return f"{key}: {bad:.2%} of elements differ (allowed {self.mismatch_fraction:.2%})"
                continue
            ok = np.isclose(have.astype(np.float64), want.astype(np.float64), rtol=self.rtol, atol=self.atol)
            if not ok.all():
                idx = np.unravel_index(int(np.argmin(ok)), ok.shape)
                return (f"{key}: {int((~ok).sum())} of {ok.size} elements differ, e.g. at {tuple(map(int, idx))} "
                        f"got {have[idx]!r} expected {want[idx]!r}")
        return None


def _f32(rng: np.random.Generator, *shape: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def _log2(v: int) -> int:
    return v.bit_length() - 1


# -- memory bound ---------------------------------------------------------------------------------
SAXPY = Case(
    "saxpy", "memory", {"tiny": 1000, "small": 1 << 22, "medium": 1 << 24, "large": 1 << 26},
    ("a", "x", "y", "out"), ("out",),
    lambda n, rng: {"a": np.float32(2.5), "x": _f32(rng, n), "y": _f32(rng, n), "out": np.zeros(n, np.float32)},
    lambda n: {}, lambda n: ((n,), None),
    lambda d: {"out": np.float64(d["a"]) * d["x"].astype(np.float64) + d["y"]},
    lambda n: 12.0 * n, lambda n, o: 2.0 * n, lambda n: f"{n}",
)

TRIAD = Case(
    "triad", "memory", {"tiny": 1000, "small": 1 << 22, "medium": 1 << 24, "large": 1 << 26},
    ("a", "b", "c", "s"), ("a",),
    lambda n, rng: {"a": np.zeros(n), "b": rng.uniform(-1, 1, n), "c": rng.uniform(-1, 1, n), "s": np.float64(3.0)},
    lambda n: {}, lambda n: ((n,), None),
    lambda d: {"a": d["b"] + d["s"] * d["c"]},
    lambda n: 24.0 * n, lambda n, o: 2.0 * n, lambda n: f"{n} (f64)", rtol=1e-12, atol=1e-14,
)


def _reduce_groups(n: int) -> int:
    return -(-n // (RED_WG * RED_PER_ITEM))


REDUCE = Case(
    "reduce_sum", "memory", {"tiny": 5000, "small": 1 << 22, "medium": 1 << 25, "large": 1 << 26},
    ("x", "partial"), ("partial",),
    lambda n, rng: {"x": _f32(rng, n, lo=0.0, hi=1.0), "partial": np.zeros(_reduce_groups(n), np.float32)},
    lambda n: {"WG": RED_WG, "PER_ITEM": RED_PER_ITEM, "LOG_WG": _log2(RED_WG)},
    lambda n: ((_reduce_groups(n) * RED_WG,), (RED_WG,)),
    lambda d: {"sum": np.array(d["x"].astype(np.float64).sum())},
    lambda n: 4.0 * n, lambda n, o: 1.0 * n, lambda n: f"{n}", rtol=1e-4, atol=1e-3,
    summary=lambda o: {"sum": np.array(np.asarray(o["partial"] if "partial" in o else o["sum"], np.float64).sum())},
)


def _softmax_ref(d: Arrays) -> Arrays:
    x = d["x"].astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return {"out": e / e.sum(axis=1, keepdims=True)}


SOFTMAX = Case(
    "softmax", "memory", {"tiny": 8, "small": 1024, "medium": 8192, "large": 32768},
    ("x", "out"), ("out",),
    lambda n, rng: {"x": _f32(rng, n, ROW_COLS, lo=-4, hi=4), "out": np.zeros((n, ROW_COLS), np.float32)},
    lambda n: {"WG": ROW_WG, "LOG_WG": _log2(ROW_WG)},
    lambda n: ((n, ROW_WG), (1, ROW_WG)),
    _softmax_ref, lambda n: 8.0 * n * ROW_COLS, lambda n, o: 4.0 * n * ROW_COLS,
    lambda n: f"{n}x{ROW_COLS}", rtol=1e-4, atol=1e-7,
)


def _layernorm_ref(d: Arrays) -> Arrays:
    x = d["x"].astype(np.float64)
    mu = x.mean(axis=1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=1, keepdims=True)
    return {"out": (x - mu) / np.sqrt(var + float(d["eps"])) * d["gamma"] + d["beta"]}


LAYERNORM = Case(
    "layernorm", "memory", {"tiny": 8, "small": 1024, "medium": 8192, "large": 32768},
    ("x", "gamma", "beta", "out", "eps"), ("out",),
    lambda n, rng: {"x": _f32(rng, n, ROW_COLS, lo=-2, hi=3), "gamma": _f32(rng, ROW_COLS, lo=0.5, hi=1.5),
                    "beta": _f32(rng, ROW_COLS), "out": np.zeros((n, ROW_COLS), np.float32),
                    "eps": np.float32(1e-5)},
    lambda n: {"WG": ROW_WG, "LOG_WG": _log2(ROW_WG)},
    lambda n: ((n, ROW_WG), (1, ROW_WG)),
    _layernorm_ref, lambda n: 8.0 * n * ROW_COLS, lambda n, o: 8.0 * n * ROW_COLS,
    lambda n: f"{n}x{ROW_COLS}", rtol=1e-4, atol=1e-4,
)

JACOBI = Case(
    "jacobi2d", "memory", {"tiny": 32, "small": 1024, "medium": 4096, "large": 8192},
    ("u", "out"), ("out",),
    lambda n, rng: {"u": _f32(rng, n, n), "out": np.zeros((n, n), np.float32)},
    lambda n: {}, lambda n: ((n, n), None),
    lambda d: {"out": _jacobi_ref(d["u"])},
    lambda n: 8.0 * n * n, lambda n, o: 4.0 * n * n, lambda n: f"{n}x{n}", rtol=1e-5, atol=1e-6,
)


def _jacobi_ref(u: np.ndarray) -> np.ndarray:
    v = u.astype(np.float64)
    out = v.copy()
    out[1:-1, 1:-1] = 0.25 * (v[:-2, 1:-1] + v[2:, 1:-1] + v[1:-1, :-2] + v[1:-1, 2:])
    return out


HISTOGRAM = Case(
    "histogram", "memory", {"tiny": 1000, "small": 1 << 20, "medium": 1 << 24, "large": 1 << 26},
    ("x", "hist"), ("hist",),
    lambda n, rng: {"x": _f32(rng, n, lo=0.0, hi=1.0), "hist": np.zeros(NBINS, np.int32)},
    lambda n: {"NB": NBINS}, lambda n: ((n,), None),
    lambda d: {"hist": np.bincount(np.minimum((d["x"] * np.float32(NBINS)).astype(np.int64), NBINS - 1),
                                   minlength=NBINS).astype(np.int32)},
    lambda n: 4.0 * n, lambda n, o: 1.0 * n, lambda n: f"{n} -> {NBINS} bins", rtol=0, atol=0,
)

TRANSPOSE = Case(
    "transpose", "memory", {"tiny": 32, "small": 1024, "medium": 4096, "large": 8192},
    ("a", "out"), ("out",),
    lambda n, rng: {"a": _f32(rng, n, n), "out": np.zeros((n, n), np.float32)},
    lambda n: {"T": TILE, "TP": TILE + 1}, lambda n: ((n, n), (TILE, TILE)),
    lambda d: {"out": d["a"].T.astype(np.float64)},
    lambda n: 8.0 * n * n, lambda n, o: 0.0, lambda n: f"{n}x{n}", rtol=0, atol=0,
)

# -- compute bound --------------------------------------------------------------------------------
MATMUL = Case(
    "matmul", "compute", {"tiny": 32, "small": 256, "medium": 1024, "large": 2048},
    ("a", "b", "c"), ("c",),
    lambda n, rng: {"a": _f32(rng, n, n), "b": _f32(rng, n, n), "c": np.zeros((n, n), np.float32)},
    lambda n: {"T": TILE}, lambda n: ((n, n), (TILE, TILE)),
    lambda d: {"c": d["a"].astype(np.float64) @ d["b"].astype(np.float64)},
    lambda n: 12.0 * n * n, lambda n, o: 2.0 * n ** 3, lambda n: f"{n}x{n}", rtol=1e-3, atol=1e-3,
)


def _bs_ref(d: Arrays) -> Arrays:
    s, x, t = (d[k].astype(np.float64) for k in ("S", "X", "T"))
    r, v = float(d["r"]), float(d["v"])
    sq = np.sqrt(t)
    d1 = (np.log(s / x) + (r + 0.5 * v * v) * t) / (v * sq)
    d2 = d1 - v * sq

    def cnd(z: np.ndarray) -> np.ndarray:
        k = 1.0 / (1.0 + 0.2316419 * np.abs(z))
        c = 0.3989422804014327 * np.exp(-0.5 * z * z) * (
            k * (0.31938153 + k * (-0.356563782 + k * (1.781477937 + k * (-1.821255978 + k * 1.330274429)))))
        return np.where(z > 0, 1.0 - c, c)

    e = np.exp(-r * t)
    return {"call": s * cnd(d1) - x * e * cnd(d2), "put": x * e * (1.0 - cnd(d2)) - s * (1.0 - cnd(d1))}


#: operations per option, counted as the CUDA SDK sample does (transcendentals count as one).
BS_FLOPS_PER_OPTION = 64.0

BLACK_SCHOLES = Case(
    "black_scholes", "compute", {"tiny": 1000, "small": 1 << 18, "medium": 1 << 22, "large": 1 << 24},
    ("S", "X", "T", "call", "put", "r", "v"), ("call", "put"),
    lambda n, rng: {"S": _f32(rng, n, lo=5, hi=30), "X": _f32(rng, n, lo=1, hi=100), "T": _f32(rng, n, lo=0.25, hi=10),
                    "call": np.zeros(n, np.float32), "put": np.zeros(n, np.float32),
                    "r": np.float32(BS_R), "v": np.float32(BS_V)},
    lambda n: {}, lambda n: ((n,), None), _bs_ref,
    lambda n: 20.0 * n, lambda n, o: BS_FLOPS_PER_OPTION * n, lambda n: f"{n} options", rtol=1e-3, atol=2e-3,
)


def _mandel_params(n: int) -> dict[str, np.float32]:
    return {"x0": np.float32(-2.0), "y0": np.float32(-1.25), "dx": np.float32(2.5 / n), "dy": np.float32(2.5 / n)}


def _mandel_ref(d: Arrays) -> Arrays:
    n = d["out"].shape[0]
    j = np.arange(n, dtype=np.float32)
    cr = (d["x0"] + j * d["dx"])[None, :] + np.zeros((n, 1), np.float32)
    ci = (d["y0"] + j * d["dy"])[:, None] + np.zeros((1, n), np.float32)
    zr, zi = np.zeros_like(cr), np.zeros_like(cr)
    it = np.zeros(cr.shape, np.int32)
    live = np.ones(cr.shape, bool)
    for _ in range(MAXIT):
        live &= zr * zr + zi * zi <= np.float32(4.0)
        if not live.any():
            break
        t = zr * zr - zi * zi + cr
        zi = np.where(live, np.float32(2.0) * zr * zi + ci, zi)
        zr = np.where(live, t, zr)
        it += live
    return {"out": it}


MANDELBROT = Case(
    "mandelbrot", "compute", {"tiny": 32, "small": 256, "medium": 1024, "large": 2048},
    ("out", "x0", "y0", "dx", "dy"), ("out",),
    lambda n, rng: {"out": np.zeros((n, n), np.int32), **_mandel_params(n)},
    lambda n: {"MAXIT": MAXIT}, lambda n: ((n, n), None), _mandel_ref,
    lambda n: 4.0 * n * n, lambda n, o: 8.0 * float(np.asarray(o["out"], np.float64).sum()),
    lambda n: f"{n}x{n}, {MAXIT} it", mismatch_fraction=0.01,
)

#: every benchmark, in the order the table shows them.
SUITE: tuple[Case, ...] = (SAXPY, TRIAD, REDUCE, SOFTMAX, LAYERNORM, JACOBI, HISTOGRAM, TRANSPOSE,
                           MATMUL, BLACK_SCHOLES, MANDELBROT)
BY_NAME = {c.name: c for c in SUITE}

#: the dispatch-overhead probe (not in the table): one work-item adding 1 to one element.
TINY = Case(
    "tiny", "memory", {"tiny": 1, "small": 1, "medium": 1, "large": 1},
    ("x",), ("x",),
    lambda n, rng: {"x": np.zeros(max(n, 1), np.float32)},
    lambda n: {}, lambda n: ((1,), None),
    lambda d: {"x": d["x"] + 1.0},
    lambda n: 8.0, lambda n, o: 1.0, lambda n: "1",
)
