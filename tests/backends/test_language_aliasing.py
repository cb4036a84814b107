"""One array passed as two parameters (docs/language.md, "The same array for two parameters"): an
in-place update, where each work-item reads an element before writing it through the other name,
gives the numbers of the same launch on separate arrays, on every backend."""
from __future__ import annotations

import numpy as np

import portakern as pk

WG = 8


@pk.kernel
def axpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel
def scale_rows(x, out):
    # one work-group per row: every work-item reads its columns, a tree sums them, then each
    # work-item rewrites its columns (x and out may be one array: each element is read first)
    r = pk.group_id(0)
    lid = pk.local_id(0)
    red = pk.local_array(WG, pk.float32)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc += x[r, c] * x[r, c]
    red[lid] = acc
    pk.barrier()
    s = WG // 2
    while s > 0:
        if lid < s:
            red[lid] += red[lid + s]
        pk.barrier()
        s //= 2
    inv = pk.rsqrt(red[0] + pk.float32(1e-6))
    for c in range(lid, x.shape[1], WG):
        out[r, c] = x[r, c] * inv


def _single(result):  # noqa: ANN001, ANN202
    return np.asarray(result[0] if isinstance(result, tuple) else result)


def test_an_in_place_update_gives_the_numbers_of_separate_arrays(backend, run):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(100).astype(np.float32)
    y = rng.standard_normal(100).astype(np.float32)
    apart = _single(run(axpy, backend, 128, 32, np.float32(1.5), x, y.copy(), np.zeros_like(y)))
    same = y.copy()
    inplace = _single(run(axpy, backend, 128, 32, np.float32(1.5), x, same, same))
    np.testing.assert_array_equal(inplace.view(np.uint32), apart.view(np.uint32))
    np.testing.assert_array_equal(apart, np.float32(1.5) * x + y)


def test_an_in_place_update_across_barriers_gives_the_numbers_of_separate_arrays(backend, run):
    x = np.random.default_rng(4).standard_normal((3, 40)).astype(np.float32)
    apart = _single(run(scale_rows, backend, (3 * WG,), (WG,), x.copy(), np.zeros_like(x)))
    same = x.copy()
    inplace = _single(run(scale_rows, backend, (3 * WG,), (WG,), same, same))
    np.testing.assert_array_equal(inplace.view(np.uint32), apart.view(np.uint32))
    want = x / np.sqrt((x.astype(np.float64) ** 2).sum(axis=1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(apart, want, rtol=1e-5)
