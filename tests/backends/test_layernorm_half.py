"""A float16 and a bfloat16 layer normalisation (the ML case of issue 14): float32 arithmetic between
a half load and a half store gives the same bits on every backend (docs/semantics.md "Half
precision"), within one half rounding plus the float32 error of a float64 NumPy reference.
"""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

ml_dtypes = pytest.importorskip("ml_dtypes")
HALVES = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
ROWS, COLS = 6, 64
EPS = 1e-5


@pk.kernel
def layernorm(x, gamma, beta, out, eps: pk.float32):
    """One work-item per row: mean and variance in float32, then (x - mean) / sqrt(var + eps) * gamma + beta."""
    r = pk.global_id(0)
    n = x.shape[1]
    total = pk.float32(0.0)
    for c in range(n):
        total += x[r, c]
    mean = total / pk.float32(n)
    sq = pk.float32(0.0)
    for c in range(n):
        d = x[r, c] - mean
        sq += d * d
    rstd = pk.float32(1.0) / pk.sqrt(sq / pk.float32(n) + eps)
    for c in range(n):
        out[r, c] = (x[r, c] - mean) * rstd * gamma[c] + beta[c]


def _inputs(dt: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((ROWS, COLS)) * 3 + 1).astype(np.float32).astype(dt)
    gamma = (1 + 0.1 * rng.standard_normal(COLS)).astype(np.float32).astype(dt)
    beta = (0.1 * rng.standard_normal(COLS)).astype(np.float32).astype(dt)
    return x, gamma, beta


def _reference(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The exact-input layernorm in float64 (the half inputs widen exactly)."""
    x64, g64, b64 = (a.astype(np.float64) for a in (x, gamma, beta))
    mean = x64.mean(axis=1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=1, keepdims=True)
    return (x64 - mean) / np.sqrt(var + EPS) * g64 + b64


def _run(backend: str, run, dt: np.dtype) -> np.ndarray:  # type: ignore[no-untyped-def]
    x, gamma, beta = _inputs(dt)
    out = np.zeros((ROWS, COLS), dt)
    run(layernorm, backend, ROWS, None, x, gamma, beta, out, np.float32(EPS))
    return out


@pytest.mark.parametrize("name", HALVES)
def test_half_layernorm_is_bit_identical_to_the_reference_backend(backend, run, name):
    dt = HALVES[name]
    got = _run(backend, run, dt)
    x, gamma, beta = _inputs(dt)
    want = np.zeros((ROWS, COLS), dt)
    layernorm.on("numpy")[ROWS](x, gamma, beta, want, np.float32(EPS))
    assert (got.view(np.uint16) == want.view(np.uint16)).all()


@pytest.mark.parametrize("name", HALVES)
def test_half_layernorm_is_within_one_half_rounding_of_float64(backend, run, name):
    dt = HALVES[name]
    got = _run(backend, run, dt).astype(np.float64)
    ref = _reference(*_inputs(dt))
    mant = 10 if name == "float16" else 7
    # one rounding to the half format: half an ulp of the result (2**-(mant+1) relative, at least the
    # smallest normal's), plus the float32 arithmetic's error: a few ulp of float32 per step over
    # COLS-term sums, scaled by the row's magnitudes (|x - mean| / std <= sqrt(COLS), |gamma|, |beta|)
    half_ulp = np.exp2(np.floor(np.log2(np.maximum(np.abs(ref), 2.0 ** -14))) - mant - 1)
    f32_error = 4 * COLS * 2.0 ** -24 * (np.sqrt(COLS) * 1.5 + 1)
    assert (np.abs(got - ref) <= half_ulp + f32_error).all()
    assert np.abs(got - ref).max() > 0           # the rounding is real: half cannot hold the result
