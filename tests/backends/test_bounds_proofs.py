"""Accesses whose guards prove them in bounds run unchecked (codegen/bounds_facts.py); the proof must
never drop a check that could fail. Each case is a guard ``LO <= i < u.shape[0] - K`` around a read
``u[i + C]``, at and just past the edge of what the guard gives: every backend raises KernelIndexError
exactly when some guarded work-item reads outside ``u``, and writes the same values otherwise (jax,
where out of bounds is defined rather than checked: reads give 0, stores are dropped)."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def guarded(u, out, LO: pk.constexpr, K: pk.constexpr, C: pk.constexpr):
    i = pk.global_id(0)
    n = u.shape[0]
    if i >= LO and i < n - K:
        out[i] = u[i + C]


@pk.kernel
def stencil(u, out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    n = u.shape[0]
    m = u.shape[1]
    if i < n and j < m:
        if i > 0 and i < n - 1 and j > 0 and j < m - 1:
            out[i, j] = u[i - 1, j] + u[i + 1, j] + u[i, j - 1] * u[i, j + 1]
        else:
            out[i, j] = u[i, j]


# (LO, K, C): proven at the edge, and one step past it (which must fail)
CASES = [(1, 0, -1), (0, 0, -1), (0, 1, 1), (0, 0, 1), (2, 3, 3), (2, 3, 4), (3, 0, -3), (2, 0, -3), (0, 0, 0)]


@pytest.mark.parametrize("lo,k,c", CASES)
def test_a_guarded_read_fails_exactly_when_it_leaves_the_array(backend, run, lo, k, c):
    n = 13
    u = np.arange(1, n + 1, dtype=np.float32)
    out = np.full(n + 3, -1.0, np.float32)          # more work-items than u has elements
    items = [i for i in range(n + 3) if lo <= i < n - k]
    if backend != "jax" and any(not 0 <= i + c < n for i in items):
        with pytest.raises(pk.KernelIndexError, match=r"array 'u' of shape \(13,\)"):
            run(guarded, backend, n + 3, None, u, out, lo, k, c)
        return
    got = run(guarded, backend, n + 3, None, u, out, lo, k, c)
    want = np.full(n + 3, -1.0, np.float32)
    for i in items:
        want[i] = u[i + c] if 0 <= i + c < n else 0.0
    np.testing.assert_array_equal(np.asarray(got) if backend == "jax" else out, want)


def test_a_stencil_reads_its_neighbours_and_its_output_stays_checked(backend, run):
    u = np.arange(30, dtype=np.float32).reshape(5, 6)
    out = np.zeros_like(u)
    got = run(stencil, backend, (5, 6), None, u, out)
    want = u.copy()
    want[1:-1, 1:-1] = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] * u[1:-1, 2:]
    np.testing.assert_array_equal(np.asarray(got) if backend == "jax" else out, want)
    if backend == "jax":
        return                     # (its out-of-bounds stores are dropped, tested in test_boundscheck_default)
    with pytest.raises(pk.KernelIndexError, match="array 'out'"):   # out smaller than u: its store is checked
        run(stencil, backend, (5, 6), None, u, np.zeros((4, 6), np.float32))


def _stencil_want(u: np.ndarray) -> np.ndarray:
    want = u.copy()
    want[1:-1, 1:-1] = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] * u[1:-1, 2:]
    return want


def test_each_launch_is_checked_against_its_own_shapes(backend, run):
    """The store into ``out`` is proven when ``out`` is at least ``u``'s shape, so kernels are specialised
    on that per launch: equal shapes (twice: the second launch takes the cached fast path), a larger
    ``out`` (the relation holds), then a smaller one (it does not: checked, and reported) and equal again."""
    u = np.arange(30, dtype=np.float32).reshape(5, 6)
    want = _stencil_want(u)
    for _ in range(2):
        got = run(stencil, backend, (5, 6), None, u, np.zeros_like(u))
        np.testing.assert_array_equal(np.asarray(got), want)
    big = np.full((6, 7), -1.0, np.float32)
    got = np.asarray(run(stencil, backend, (5, 6), None, u, big))
    np.testing.assert_array_equal(got[:5, :6], want)
    assert (got[5:, :] == -1).all() and (got[:, 6:] == -1).all()
    for small in [(5, 5), (4, 6)]:
        if backend == "jax":                       # out of bounds is defined there: the store is dropped
            got = np.asarray(run(stencil, backend, (5, 6), None, u, np.zeros(small, np.float32)))
            np.testing.assert_array_equal(got, want[:small[0], :small[1]])
            continue
        with pytest.raises(pk.KernelIndexError, match=rf"array 'out' of shape \({small[0]}, {small[1]}\)"):
            run(stencil, backend, (5, 6), None, u, np.zeros(small, np.float32))
    got = run(stencil, backend, (5, 6), None, u, np.zeros_like(u))
    np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("name", ["numba", "opencl", "cuda", "numba-cuda"])
def test_the_store_runs_unchecked_exactly_where_the_shapes_prove_it(name):
    u = np.zeros((5, 6), np.float32)
    same = stencil.source(name, u, np.zeros_like(u), ndim=2)
    larger = stencil.source(name, u, np.zeros((6, 6), np.float32), ndim=2)
    smaller = stencil.source(name, u, np.zeros((5, 5), np.float32), ndim=2)
    assert "pk_check" not in same and same == larger
    assert "pk_check" in smaller
