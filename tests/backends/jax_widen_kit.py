"""Shared pieces of the jax widening/tree tests: bit-for-bit comparison against numpy, jaxpr
inspection, per-test seeded inputs, and the kernels several test files use."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")

from tests.unit.frontend_kit import make  # noqa: E402  (kernels from source text)

RNG = np.random.default_rng(20261129)


LOOPS = {"while", "scan"}


@pytest.fixture(autouse=True)
def _seeded_inputs(request):
    """Each test draws its inputs from its own seed, whatever else runs (reproducible with -k)."""
    global RNG
    RNG = np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def same_bits(ref, got) -> None:
    """Bit-for-bit equality, any NaN matching any NaN."""
    ref, got = np.asarray(ref), np.asarray(got)
    assert ref.dtype == got.dtype and ref.shape == got.shape, (ref.dtype, got.dtype, ref.shape, got.shape)
    if ref.dtype.kind == "f":
        nr, ng = np.isnan(ref), np.isnan(got)
        assert np.array_equal(nr, ng), (ref, got)
        iv = np.dtype(f"i{ref.dtype.itemsize}")
        ref, got = np.where(nr, 0, ref).astype(ref.dtype).view(iv), np.where(ng, 0, got).astype(got.dtype).view(iv)
    assert np.array_equal(ref, got), (ref, got)


def run(kern, grid, *args):
    """The kernel's results on numpy and on jax (fresh copies of the inputs), compared bit for bit;
    returns numpy's."""
    outs = []
    for backend in ("numpy", "jax"):
        a = [x.copy() if isinstance(x, np.ndarray) else x for x in args]
        res = kern.on(backend)[grid](*a)
        outs.append(res if isinstance(res, tuple) else (res,))
    for r, g in zip(*outs, strict=True):
        same_bits(r, g)
    return outs[0]


def _walk(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for v in eqn.params.values():
            for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                inner = getattr(sub, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    yield from _walk(inner)
                elif hasattr(sub, "eqns"):
                    yield from _walk(sub)


def jaxpr_of(kern, grid, *args):
    """The jaxpr of one jax launch, array arguments traced, the others fixed."""
    launch = kern.on("jax")[grid]
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]

    def f(*arrays):
        a = list(args)
        for i, v in zip(pos, arrays, strict=True):
            a[i] = v
        return launch(*a)

    with jax.enable_x64(True):
        return jax.make_jaxpr(f)(*[jnp.asarray(args[i]) for i in pos]).jaxpr


def prims(kern, grid, *args) -> set[str]:
    """The primitive names of a launch's jaxpr, nested bodies included."""
    return {e.primitive.name for e in _walk(jaxpr_of(kern, grid, *args))}


def n_equations(kern, grid, *args) -> int:
    return sum(1 for _ in _walk(jaxpr_of(kern, grid, *args)))


def magnitudes(shape, dtype=np.float32) -> np.ndarray:
    """Values whose float sum depends on the order: 1e8, -1e8, small ones and +-0."""
    pool = np.array([1e8, -1e8, 1.0, -1.0, 3.5, 1e-3, 0.0, -0.0, 7e7, -3e7], dtype)
    return RNG.choice(pool, shape).astype(dtype)


@pk.kernel
def row_sum(x, out, init, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = init
    for c in range(lid, x.shape[1], WG):
        acc += x[r, c]
    out[r, lid] = acc


@pk.kernel
def row_minmax(x, lo, hi, init, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    a = init[r]
    b = init[r]
    for c in range(lid, x.shape[1], WG):
        a = min(a, x[r, c])
        b = max(x[r, c], b)
    lo[r, lid] = a
    hi[r, lid] = b


@pk.kernel
def row_bits(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    a = ~(x[r, 0] ^ x[r, 0])
    o = x[r, 0] ^ x[r, 0]
    e = o
    lo = x[r, 0]
    hi = x[r, 0]
    s = o
    for c in range(lid, x.shape[1], WG):
        a &= x[r, c]
        o = x[r, c] | o
        e ^= x[r, c]
        lo = min(lo, x[r, c])
        hi = max(hi, x[r, c])
        s += x[r, c]
    out[r, lid, 0] = a
    out[r, lid, 1] = o
    out[r, lid, 2] = e
    out[r, lid, 3] = lo
    out[r, lid, 4] = hi
    out[r, lid, 5] = s


WG = 4


def _grid(rows: int):
    return (rows, WG), (1, WG)


ZEROS = np.array([0.0, -0.0], np.float32)


@pk.kernel
def last_values(x, out, lastc, laste, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    e = pk.float32(-1.0)
    c = lid - 100
    for c in range(lid, x.shape[1], WG):
        e = x[r, c] * 2.0
        out[r, c] = e
    lastc[r, lid] = c
    laste[r, lid] = e


@pk.kernel
def masked_sum(x, out, k: pk.int64, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        if c < k:
            acc += x[r, c]
    out[r, lid] = acc


def tree_kernel(update: str, dtype: str = "float32", s: str = "WG >> (step + 1)"):
    text = f"""
    def tree(x, out, WG: pk.constexpr, K: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.{dtype})
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        for step in range(K):
            s = {s}
            if lid < s:
                {update}
            pk.barrier()
        out[pk.global_id(0)] = red[lid]
    """
    return pk.kernel(make(text))


TREES = {
    "max": "red[lid] = max(red[lid], red[lid + s])",
    "max-swapped": "red[lid] = max(red[lid + s], red[lid])",
    "min": "red[lid] = min(red[lid], red[lid + s])",
    "min-swapped": "red[lid] = min(red[lid + s], red[lid])",
    "add": "red[lid] = red[lid] + red[lid + s]",
    "add-swapped": "red[lid] = red[lid + s] + red[lid]",
    "mul": "red[lid] = red[lid] * red[lid + s]",
    "mul-swapped": "red[lid] = red[lid + s] * red[lid]",
}


_KERNELS: dict = {}


def _tree(update: str, dtype: str = "float32", s: str = "WG >> (step + 1)"):
    key = (update, dtype, s)
    if key not in _KERNELS:
        _KERNELS[key] = tree_kernel(update, dtype, s)
    return _KERNELS[key]


def _float_tree_input(n: int, name: str) -> np.ndarray:
    if name.startswith(("max", "min")):
        x = RNG.choice(np.array([0.0, -0.0, -np.inf, 1.0, -1.0], np.float32), n)
        x[: n // 2] = RNG.choice(ZEROS, n // 2)         # some groups of zeros only
        x[-3] = np.nan
        return x
    if name.startswith("mul"):
        return RNG.choice(np.array([3.0, 1 / 3, 1e20, 1.1, -1.0, 0.7, -0.0], np.float32), n)   # no subnormals
    x = magnitudes(n)
    x[5] = np.nan
    return x


@pk.kernel
def softmax_exact(x, out, WG: pk.constexpr, LOG_WG: pk.constexpr):
    # benchmarks.kernels.softmax with exp (a few ulp apart between libms) replaced by an exact
    # subtraction and a square: every other step (widened max, tree max, widened sum with locals
    # and a store, tree sum, division, load-then-store) must give the reference's bits
    r = pk.global_id(0)
    lid = pk.local_id(1)
    cols = x.shape[1]
    red = pk.local_array(WG, pk.float32)
    m = pk.float32(-3.0e38)
    for c in range(lid, cols, WG):
        m = max(m, x[r, c])
    red[lid] = m
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = max(red[lid], red[lid + s])
        pk.barrier()
    m = red[0]
    pk.barrier()
    acc = pk.float32(0.0)
    for c in range(lid, cols, WG):
        e = (x[r, c] - m) * (x[r, c] - m)
        out[r, c] = e
        acc += e
    red[lid] = acc
    pk.barrier()
    for step in range(LOG_WG):
        s = WG >> (step + 1)
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    inv = 1.0 / red[0]
    for c in range(lid, cols, WG):
        out[r, c] = out[r, c] * inv
