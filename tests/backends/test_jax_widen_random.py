"""Random widened row loops (assignments, conditional reductions of every op, stores, reads of
what the body wrote): jax against the numpy reference, bit for bit. A fixed sample runs by
default; ``-m slow`` runs 200 more."""
from __future__ import annotations

import random

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
pytest.importorskip("portakern_jax")

from tests.backends.jax_widen_kit import same_bits  # noqa: E402
from tests.unit.frontend_kit import make  # noqa: E402  (kernels from source text)


def gen(rnd: random.Random) -> tuple[str, int, str]:
    """(dtype, reduction count, source) of one random kernel with a widenable row loop."""
    dt = rnd.choice(["float32", "float64", "int32", "int64"])
    isf = dt.startswith("float")
    ops_red = ["+=", "min", "max"] + (["*="] if isf else ["&=", "|=", "^=", "*="])
    nred = rnd.randint(1, 3)
    inits = []
    for k in range(nred):
        init = rnd.choice([f"pk.{dt}(0)", f"pk.{dt}(-0.0)" if isf else f"pk.{dt}(1)", "x[r, 0]", "p"])
        inits.append(f"    a{k} = {init}")
    body = ["        c2 = c"]
    exprs = ["x[r, c]", "y[r, c]", "(x[r, c] - y[r, c])", "(x[r, c] * p)", "(x[r, c] + q[c])", "t"]
    body.append(f"        t = {rnd.choice(exprs[:5])}")
    if rnd.random() < 0.5:
        body.append(f"        if {rnd.choice(['x[r, c] > y[r, c]', 't < p', 'c < 5'])}:")
        body.append(f"            t = {rnd.choice(exprs[:5])}")
    for k in range(nred):
        op = rnd.choice(ops_red)
        e = rnd.choice(exprs)
        cond = rnd.random() < 0.4
        ind = "        "
        if cond:
            body.append(f"        if {rnd.choice(['x[r, c] > 0', 't > y[r, c]', 'c % 3 == 1'])}:")
            ind = "            "
        if op in ("min", "max"):
            body.append(f"{ind}a{k} = {op}(a{k}, {e})" if rnd.random() < 0.5 else f"{ind}a{k} = {op}({e}, a{k})")
        else:
            body.append(f"{ind}a{k} {op} {e}")
    if rnd.random() < 0.6:
        body.append(f"        out[r, c] = {rnd.choice(exprs)}")
        if rnd.random() < 0.5:
            body.append("        out[r, c] = out[r, c] + t")
    src = ["def k(x, y, q, out, res, p, WG: pk.constexpr, U: pk.constexpr):",
           "    r = pk.global_id(0)", "    lid = pk.local_id(1)", "    t = x[r, 0]", "    c2 = lid", *inits,
           "    for c in range(lid + U, x.shape[1], WG):", *body]
    for k in range(nred):
        src.append(f"    res[r, lid, {k}] = a{k}")
    src.append(f"    res[r, lid, {nred}] = t")
    src.append(f"    res[r, lid, {nred + 1}] = pk.{dt}(c2)")
    return dt, nred, "\n".join(src)

def values(rng: np.random.Generator, dt: str, shape: tuple) -> np.ndarray:
    """Values where a wrong fold order, zero sign or wrap would show."""
    if dt.startswith("float"):
        pool = np.array([0.0, -0.0, 1.0, -1.0, 1e8, -1e8, 0.5, 3.0, np.inf, -np.inf, np.nan, 1e-3, 7e7], dt)
        return rng.choice(pool, shape).astype(dt)
    info = np.iinfo(dt)
    return rng.choice(np.array([0, 1, -1, 5, info.max, info.min, 123456, -77], dt), shape).astype(dt)


def _check(seed: int) -> None:
    rnd = random.Random(seed)
    rng = np.random.default_rng(seed)
    dt, nred, src = gen(rnd)
    WG, rows, U = rnd.choice([4, 8]), rnd.choice([1, 3]), rnd.choice([0, 0, 1, 2])
    cols = rnd.choice([1, 3, 16, 64, 70]) * WG + U          # every lane runs the same trip count
    kern = pk.kernel(make(src))
    x, y, q = values(rng, dt, (rows, cols)), values(rng, dt, (rows, cols)), values(rng, dt, (cols,))
    out0, p = values(rng, dt, (rows, cols)), values(rng, dt, (1,))[0]

    def args() -> tuple:
        return (x.copy(), y.copy(), q.copy(), out0.copy(), np.zeros((rows, WG, nred + 2), dt), p, WG, U)

    with np.errstate(all="ignore"):
        ref = kern.on("numpy")[(rows, WG), (1, WG)](*args())
    got = kern.on("jax")[(rows, WG), (1, WG)](*args())
    for r, g in zip(ref, got, strict=True):
        same_bits(r, g)


@pytest.mark.parametrize("seed", range(8))
def test_random_widened_loops_match_the_reference(seed: int) -> None:
    _check(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8, 208))
def test_random_widened_loops_match_the_reference_exhaustive(seed: int) -> None:
    _check(seed)
