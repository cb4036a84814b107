"""Tier 0 on jax against XLA's algebraic rewrites, across repeated launches (docs/semantics.md).

XLA rewrites ``1/sqrt(x)`` as an approximate ``rsqrt``, ``x / c`` as ``x * (1/c)``, ``(a/b)/c`` as
``a/(b*c)``, ``(x + c1) + c2`` as ``x + (c1 + c2)``, ``sqrt(x)*sqrt(x)`` as ``x``, ``log(exp(x))`` as
``x``...; each is off by an ulp or more. Expected values are NumPy's IEEE operations on the same
operands (for a tier-1 operand, on the value the backend itself computed), never portakern's.
Every jax launch is repeated: the bits must not depend on how often a kernel was launched.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import portakern as pk
from tests.backends.conftest import availability, capabilities

pytest.importorskip("jax")
pytest.importorskip("portakern_jax")

N = 1 << 16
LAUNCHES = 4
CPU_BACKENDS = ("numpy", "numba", "opencl", "jax")


def _inputs(dt: type, n: int, seed: int) -> np.ndarray:
    """Random bit patterns (every exponent, so subnormals, huge and tiny values, infs and NaNs)
    with the special values written into the first lanes."""
    it = np.uint32 if dt == np.float32 else np.uint64
    bits = np.random.default_rng(seed).integers(0, np.iinfo(it).max, n, dtype=it, endpoint=True)
    x = bits.view(dt).copy()
    fi = np.finfo(dt)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, fi.tiny, -fi.tiny, fi.smallest_subnormal,
               -fi.smallest_subnormal, fi.tiny / 3, fi.max, -fi.max, fi.eps, 2.0, 4.0, 0.5, 3.0, 7.0]
    x[: len(special)] = np.array(special, dt)
    x[len(special): 2 * len(special)] = np.array(special, dt)[::-1]
    return x


def _ftz(a: np.ndarray) -> np.ndarray:
    """``a`` with its subnormals flushed to a zero of the same sign."""
    a = np.asarray(a)
    return np.where((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny), np.copysign(np.zeros_like(a), a), a)


def assert_tier0(got: np.ndarray, fn, operands: tuple, flushes: bool, what: str) -> None:
    """``got`` is ``fn(*operands)`` in NumPy's IEEE arithmetic, bit for bit, any NaN matching any
    NaN. A backend that flushes denormals may instead give what a flushing machine computes:
    ``fn`` of the flushed operands, flushed (docs/semantics.md: subnormal cases of a flushing
    backend are not tier 0)."""
    with np.errstate(all="ignore"):
        want = np.asarray(fn(*operands))
        got = np.asarray(got)
        u = f"u{want.itemsize}"
        same = (got.view(u) == want.view(u)) | (np.isnan(got) & np.isnan(want))
        if flushes:
            alt = _ftz(np.asarray(fn(*(_ftz(o) for o in operands)), want.dtype))
            same |= (got.view(u) == alt.view(u)) | (np.isnan(got) & np.isnan(alt))
    bad = np.flatnonzero(~same)
    assert bad.size == 0, (f"{what}: {bad.size} lanes differ, e.g. operands "
                           f"{[np.broadcast_to(a, want.shape)[bad[0]] for a in operands]}: got "
                           f"{got[bad[0]]!r}, want {want[bad[0]]!r}")


def assert_same_bits(runs: list[tuple[np.ndarray, ...]], what: str) -> None:
    """Every launch gave the bits of the first."""
    for k, run in enumerate(runs[1:], 2):
        for j, (a, b) in enumerate(zip(runs[0], run)):
            a, b = np.asarray(a), np.asarray(b)
            if a.dtype.kind == "f":
                a, b = a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}")
            assert np.array_equal(a, b), f"{what}: output {j} of launch {k} differs from launch 1 in {int((a != b).sum())} elements"


def _launch_jax(launch, args: tuple) -> list[tuple[np.ndarray, ...]]:
    runs = []
    for _ in range(LAUNCHES):
        out = launch(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
        runs.append(tuple(np.asarray(o) for o in (out if isinstance(out, (tuple, list)) else (out,))))
    return runs


@pk.kernel
def div_sqrt(x, y, rsq, quo, root):
    i = pk.global_id(0)
    if i < x.shape[0]:
        rsq[i] = 1.0 / math.sqrt(x[i])
        quo[i] = x[i] / y[i]
        root[i] = math.sqrt(x[i])


@pytest.mark.filterwarnings("ignore:.*encountered in scalar divide:RuntimeWarning")   # the CUDA simulator
@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("name", CPU_BACKENDS + ("numba-cuda",))
def test_division_and_square_root_are_bit_identical_on_every_cpu_backend(name, dt):
    ok, reason = availability(name)
    if not ok:
        pytest.skip(f"backend {name!r} unavailable: {reason}")
    n = N if name != "numba-cuda" else 1024            # the CUDA simulator runs Python per work-item
    x, y = _inputs(dt, N, 1)[:n], _inputs(dt, N, 2)[:n]
    x[40:60] = np.abs(x[:20])                           # positive specials for the roots too
    want = (lambda x: dt(1) / np.sqrt(x), lambda x, y: x / y, np.sqrt)
    args = (x, y) + tuple(np.zeros(n, dt) for _ in range(3))
    launch = div_sqrt.on(name)[n]
    runs = _launch_jax(launch, args) if name == "jax" else [launch(*args)]
    assert_same_bits(runs, name)
    flushes = capabilities(name).flushes_denormals
    for got, w, ops, what in zip(runs[0], want, ((x,), (x, y), (x,)), ("1/sqrt(x)", "x/y", "sqrt(x)")):
        assert_tier0(got, w, ops, flushes, f"{name} {np.dtype(dt).name} {what}")


@pk.kernel
def rewrite_targets(x, y, z, d, root, rs, pw, ex, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        a = x[i]
        b = y[i]
        c = z[i]
        s = pk.sqrt(abs(b))
        r = pk.rsqrt(abs(b))
        p = pk.pow(abs(b), 1.5)
        e = pk.exp(c)
        root[i] = s
        rs[i] = r
        pw[i] = p
        ex[i] = e
        out[0, i] = a / 7.0                  # -> a * (1/7)
        out[1, i] = a / d                    # -> a * (1/d), d uniform
        out[2, i] = a / b / c                # -> a / (b*c)
        out[3, i] = a / (b / c)              # -> (a*c) / b
        out[4, i] = a / pk.sqrt(abs(c))      # -> a * rsqrt(|c|) (a divisor with one use)
        out[5, i] = a / pk.rsqrt(abs(c))     # -> a * sqrt(|c|)
        out[6, i] = a / p                    # -> a * pow(|b|, -1.5)
        out[7, i] = s * s                    # -> |b|
        out[8, i] = r * r                    # -> 1 / |b|
        out[9, i] = e * e                    # -> exp(2c)
        out[10, i] = (a - 1.0) + 0.25e-10    # -> a + (0.25e-10 - 1)
        out[11, i] = (1.0 - a) + 0.25e-10    # -> (1 + 0.25e-10) - a
        out[12, i] = (a + 1.0) - 0.75e-9     # -> a + (1 - 0.75e-9)
        out[13, i] = pk.log(pk.exp(a))       # -> a, even where exp(a) overflows


@pk.kernel
def rsqrt_of(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = pk.rsqrt(abs(x[i]))


def _rewrite_expectations(x, y, z, d, root, rs, pw, ex, rs_z):
    """(NumPy's operation, its operands) for out[0..12] of rewrite_targets."""
    one, seven, c2, c3 = (x.dtype.type(v) for v in (1.0, 7.0, 0.25e-10, 0.75e-9))
    return [
        (lambda a: a / seven, (x,)), (lambda a, d: a / d, (x, d)), (lambda a, b, c: a / b / c, (x, y, z)),
        (lambda a, b, c: a / (b / c), (x, y, z)), (lambda a, c: a / np.sqrt(np.abs(c)), (x, z)),
        (np.divide, (x, rs_z)), (np.divide, (x, pw)), (lambda s: s * s, (root,)), (lambda r: r * r, (rs,)),
        (lambda e: e * e, (ex,)), (lambda a: (a - one) + c2, (x,)), (lambda a: (one - a) + c2, (x,)),
        (lambda a: (a + one) - c3, (x,)),
    ]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_xla_algebraic_rewrites_do_not_reach_a_jax_launch(dt):
    n = 4096
    r = np.random.default_rng(3)
    x = (r.uniform(-4, 4, n) * 10.0 ** r.integers(-3, 4, n)).astype(dt)
    x[:8] = np.array([1.0, 1 + np.finfo(dt).eps, 1 - np.finfo(dt).eps / 2, -1, 0.0, -0.0, np.inf, np.nan], dt)
    y = r.uniform(0.1, 30, n).astype(dt)
    z = np.concatenate([r.uniform(-3, 3, n - 8), [800.0, 1000.0, -800.0, 90.0, 100.0, 710.0, 0.0, -0.0]]).astype(dt)
    d = dt(3.0)
    outs = [np.zeros(n, dt) for _ in range(4)] + [np.zeros((14, n), dt)]
    runs = _launch_jax(rewrite_targets.on("jax")[n], (x, y, z, d, *outs))
    assert_same_bits(runs, "jax")
    root, rs, pw, ex, got = runs[0]
    rs_z = np.asarray(rsqrt_of.on("jax")[n](z, np.zeros(n, dt)))
    for k, (fn, ops) in enumerate(_rewrite_expectations(x, y, z, d, root, rs, pw, ex, rs_z)):
        assert_tier0(got[k], fn, ops, True, f"{np.dtype(dt).name} out[{k}]")
    overflows = x > np.log(np.finfo(dt).max) + 1
    assert overflows.sum() > 100
    np.testing.assert_array_equal(got[13][overflows], np.inf)


@pk.kernel
def uniform_quotients(s, x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = s / 7.0                  # a traced uniform over a constant: s * (1/7)
        out[1, i] = 3.0 / x[0]               # a constant over a broadcast: 3 * broadcast(1/x0)
        out[2, i] = s / x[1]                 # a uniform over a broadcast
        out[3, i] = -1.0 / x[i]              # +-1 needs no guard: -1 * (1/x) is exact


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_uniform_quotients_are_correctly_rounded_on_jax(dt):
    n = 64
    for s in (dt(0.3), dt(1e-3), dt(5.0)):
        for x0 in (dt(3.0), dt(0.7), dt(11.0), dt(1e-5)):
            x = np.random.default_rng(4).uniform(0.1, 9, n).astype(dt)
            x[0], x[1] = x0, x0 * dt(1.5)
            got = np.asarray(uniform_quotients.on("jax")[n](s, x, np.zeros((4, n), dt)))
            for k, (fn, ops) in enumerate([(lambda s: s / dt(7.0), (s,)), (lambda x0: dt(3.0) / x0, (x[0],)),
                                           (lambda s, x1: s / x1, (s, x[1])), (lambda x: dt(-1.0) / x, (x,))]):
                want = np.broadcast_to(np.asarray(fn(*ops), dt), (n,))
                assert_tier0(got[k], lambda *_, w=want: w, ops, True, f"{np.dtype(dt).name} out[{k}] s={s} x0={x0}")


@pk.kernel
def float64_functions(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        v = x[i]
        out[0, i] = pk.atan(v)
        out[1, i] = pk.tanh(v)
        out[2, i] = pk.hypot(v, 0.75 * v + 1.0)
        out[3, i] = pk.erfc(v)
        out[4, i] = pk.expm1(v * 0.1)
        out[5, i] = pk.log1p(abs(v))


def test_a_repeated_tiny_launch_keeps_the_bits_of_its_first_launch():
    # A tiny grid used to compile with XLA's cheap pipeline first and again fully optimised on its
    # third launch; only the latter contracts a*b+c inside XLA's own float64 functions, so the
    # third launch changed thousands of results. Tier 1 bounds them; the launch count must not.
    x = np.random.default_rng(11).standard_normal(2048) * 3
    runs = _launch_jax(float64_functions.on("jax")[(2048,), (64,)], (x, np.zeros((6, 2048))))
    assert_same_bits(runs, "float64 functions")


def test_layernorm_8x256_gives_the_same_bits_on_every_launch():
    from benchmarks.kernels import layernorm

    r = np.random.default_rng(5)
    x = r.uniform(-2, 3, (8, 256)).astype(np.float32)
    gamma, beta = r.uniform(0.5, 1.5, 256).astype(np.float32), r.uniform(-1, 1, 256).astype(np.float32)
    launch = layernorm.on("jax")[(8, 64), (1, 64)]
    runs = _launch_jax(lambda *a: launch(*a, WG=64, LOG_WG=6), (x, gamma, beta, np.zeros_like(x), np.float32(1e-5)))
    assert_same_bits(runs, "layernorm 8x256")


#: bench kernels built from tier-0 operations only: jax must give NumPy's bits
TIER0_BENCH = ("saxpy", "triad", "reduce_sum", "jacobi2d", "histogram", "transpose", "matmul", "mandelbrot")


def test_bench_kernels_at_tiny_sizes_give_the_same_bits_on_every_launch_and_numpy_s_in_tier_0():
    from benchmarks import cases, kernels

    for case in cases.SUITE:
        n = case.sizes["tiny"]
        data = case.make(n, np.random.default_rng(0))
        grid, wg = case.grid(n)
        kernel = getattr(kernels, case.name)
        args = tuple(data[p] for p in case.params)

        def launcher(name: str, kernel=kernel, grid=grid, wg=wg, n=n, case=case):
            launch = kernel.on(name)[grid, wg] if wg else kernel.on(name)[grid]
            return lambda *a: launch(*a, **case.constexprs(n))

        runs = _launch_jax(launcher("jax"), args)
        assert_same_bits(runs, case.name)
        if case.name in TIER0_BENCH:
            want = launcher("numpy")(*[a.copy() if isinstance(a, np.ndarray) else a for a in args])
            want = want if isinstance(want, (tuple, list)) else (want,)
            assert_same_bits([tuple(np.asarray(w) for w in want), runs[0]], f"{case.name} against numpy")


@pk.kernel
def fma_const(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = pk.fma(x[i], x[i], 1.5)


def test_fma_with_a_constant_addend_rounds_once_on_jax():
    # The emulation's two-sum computes (p + c) - c; with c a constant XLA reassociated it to p.
    from fractions import Fraction

    x = np.concatenate([[0.698034326846563], np.random.default_rng(8).uniform(-3, 3, 511)])
    got = np.asarray(fma_const.on("jax")[512](x, np.zeros(512)))
    want = np.array([float(Fraction(float(v)) ** 2 + Fraction(3, 2)) for v in x])
    np.testing.assert_array_equal(got, want)
