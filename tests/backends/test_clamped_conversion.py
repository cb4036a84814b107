"""``b = int(f); b = min(max(b, lo), hi)``: the Python renderers (numba, numba-cuda) fuse the pair into
one clamp-then-convert (``clamp_f2i``). Every value must give what the numpy backend gives (the
saturating conversion, then the integer clamp): NaN, infinities, signed zeros, values beyond the
integer type, and values at and between the bounds, for float32 and float64 and several bounds."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

pytest.importorskip("numba")


@pk.kernel
def bins(x, out, s, LO: pk.constexpr, HI: pk.constexpr, NEST: pk.constexpr):
    i = pk.global_id(0)
    if i < x.shape[0]:
        b = pk.int32(x[i] * s)
        if NEST == 0:
            b = min(max(b, LO), HI)
        else:
            b = max(LO, min(HI, b))
        out[i] = b


def _values(dtype) -> np.ndarray:  # type: ignore[no-untyped-def]
    big = np.finfo(dtype).max
    edge = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 0.999, -0.999, 1.0, -1.0, 254.5, 255.0, 255.5,
            256.0, -3.5, -4.0, -4.5, 2.0**31, -2.0**31, 2.0**31 + 1e3, -2.0**31 - 1e3, 1e30, -1e30, big, -big]
    rng = np.random.default_rng(0)
    return np.concatenate([np.array(edge), rng.uniform(-300, 300, 500)]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("lo", "hi"), [(0, 255), (-4, 3), (5, 9), (-9, -5), (7, 7), (-(2**24), 2**24)])
@pytest.mark.parametrize("nest", [0, 1])
def test_fused_clamp_matches_the_saturating_conversion(dtype, lo, hi, nest):
    x = _values(dtype)
    s = dtype(1.0)
    outs = []
    for be in ("numpy", "numba"):
        out = np.full(x.size, 12345, np.int32)
        bins.on(be)[x.size](x, out, s, lo, hi, nest)
        outs.append(out)
    np.testing.assert_array_equal(outs[1], outs[0])


def test_the_pair_renders_as_one_clamp_then_conversion():
    x = np.zeros(4, np.float32)
    src = bins.source("numba", x, np.zeros(4, np.int32), np.float32(1), -4, 3, 0)
    assert "clamp_f2i(" in src and "f2i_i64(" not in src
    # a clamp whose bounds a float32 cannot hold exactly keeps the two steps
    src = bins.source("numba", x, np.zeros(4, np.int32), np.float32(1), -(2**24) - 1, 3, 0)
    assert "clamp_f2i(" not in src and "f2i_i64(" in src


def test_numba_cuda_runs_the_same_helper(run):  # type: ignore[no-untyped-def]
    """numba-cuda shares the Python renderer: the same values, through the simulator (or compiled to PTX)."""
    x = _values(np.float32)[:60]
    want = np.full(x.size, 12345, np.int32)
    bins.on("numpy")[x.size](x, want, np.float32(1.0), -4, 3, 0)
    got = np.full(x.size, 12345, np.int32)
    res = run(bins, "numba-cuda", x.size, None, x, got, np.float32(1.0), -4, 3, 0)
    np.testing.assert_array_equal(res["out"] if isinstance(res, dict) else got, want)
