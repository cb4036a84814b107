"""The numba (CPU) backend's own structure: barrier phases, liveness, early return, atomics, caching.

The behaviour suite (test_language_*) checks every construct on every backend; these tests pin what
is specific to how numba runs work-groups: loop fission at barriers inside uniform loops, which
variables cross a phase boundary, flags for break/continue/return, real atomics, the disk cache.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk

pytest.importorskip("numba")
ROOT = Path(__file__).resolve().parents[2]
TILE = 4


@pk.kernel
def tiled_matmul(a, b, c):
    ta = pk.local_array((TILE, TILE), pk.float32)
    tb = pk.local_array((TILE, TILE), pk.float32)
    row = pk.global_id(0)
    col = pk.global_id(1)
    lr = pk.local_id(0)
    lc = pk.local_id(1)
    acc = pk.float32(0.0)
    for t in range(a.shape[1] // TILE):
        ta[lr, lc] = a[row, t * TILE + lc]
        tb[lr, lc] = b[t * TILE + lr, col]
        pk.barrier()
        for k in range(TILE):
            acc += ta[lr, k] * tb[k, lc]
        pk.barrier()
    c[row, col] = acc


def test_barrier_inside_a_uniform_for_loop_is_fissioned_per_iteration():
    rng = np.random.default_rng(1)
    a = rng.integers(-3, 4, (8, 12)).astype(np.float32)
    b = rng.integers(-3, 4, (12, 8)).astype(np.float32)
    c = np.zeros((8, 8), np.float32)
    tiled_matmul.on("numba")[(8, 8), (TILE, TILE)](a, b, c)
    np.testing.assert_array_equal(c, a @ b)


def test_only_variables_live_across_a_barrier_become_per_work_item_arrays():
    a = np.zeros((8, 12), np.float32)
    src = tiled_matmul.source("numba", a, np.zeros((12, 8), np.float32), np.zeros((8, 8), np.float32))
    # acc is carried across the barriers of the loop; k lives inside one phase
    assert any(line.strip().startswith("_pk_s_acc") for line in src.splitlines())
    assert "_pk_s_k " not in src and "_pk_s_k[" not in src
    assert "numba.prange" in src and "fastmath=False" in src


@pk.kernel
def uniform_break_and_continue(x, out):
    t = pk.local_array(8, pk.int32)
    lid = pk.local_id(0)
    total = 0
    for it in range(10):
        if it == 1:
            continue
        t[lid] = x[pk.global_id(0)] * it
        pk.barrier()
        total += t[(lid + 1) % 8]
        pk.barrier()
        if it == 4:
            break
    out[pk.global_id(0)] = total


def test_uniform_break_and_continue_leave_the_group_loop_for_every_work_item():
    x = np.arange(16, dtype=np.int32)
    out = np.zeros(16, np.int32)
    uniform_break_and_continue.on("numba")[16, 8](x, out)
    nxt = np.array([x[(i // 8) * 8 + (i % 8 + 1) % 8] for i in range(16)])
    np.testing.assert_array_equal(out, nxt * (0 + 2 + 3 + 4))


@pk.kernel
def early_return_after_barrier(x, out):
    t = pk.local_array(8, pk.float32)
    lid = pk.local_id(0)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    if lid % 2 == 1:
        return
    s = pk.float32(0.0)
    for k in range(8):
        if k > lid + 1:
            return
        s += t[k]
    out[pk.global_id(0)] = s


def test_return_ends_only_that_work_item_even_inside_a_loop():
    x = np.arange(16, dtype=np.float32)
    out = np.full(16, -1.0, np.float32)
    early_return_after_barrier.on("numba")[16, 8](x, out)
    expected = np.full(16, -1.0, np.float32)
    for g in range(16):
        lid, base = g % 8, (g // 8) * 8
        if lid % 2 == 0 and lid + 2 > 7:        # only lid 6 finishes the loop without returning
            expected[g] = x[base:base + 8].sum()
    np.testing.assert_array_equal(out, expected)


@pk.kernel
def private_across_barrier(x, out):
    p = pk.private_array(3, pk.int64)
    t = pk.local_array(4, pk.int64)
    lid = pk.local_id(0)
    for k in range(3):
        p[k] = x[pk.global_id(0)] + k
    t[lid] = p[2]
    pk.barrier()
    out[pk.global_id(0)] = p[0] + t[(lid + 1) % 4]


def test_private_arrays_keep_one_copy_per_work_item_across_phases():
    x = np.arange(8, dtype=np.int64) * 10
    out = np.zeros(8, np.int64)
    private_across_barrier.on("numba")[8, 4](x, out)
    nxt = np.array([x[(i // 4) * 4 + (i % 4 + 1) % 4] for i in range(8)])
    np.testing.assert_array_equal(out, x + nxt + 2)


@pk.kernel
def add_one_compares(a, out):
    i = pk.global_id(0)
    out[i] = (a[i] + 1) > a[i]


def test_signed_overflow_wraps_instead_of_being_assumed_away():
    # with LLVM nsw flags, (x + 1) > x folds to True; the contract wraps INT_MAX + 1 to INT_MIN
    for dt in (np.int32, np.int64):
        a = np.array([np.iinfo(dt).max, 0, -1], dt)
        out = np.zeros(3, np.bool_)
        add_one_compares.on("numba")[3](a, out)
        np.testing.assert_array_equal(out, [False, True, True])


@pk.kernel
def count_and_min(c, m, v):
    i = pk.global_id(0)
    pk.atomic_add(c, 0, 1)
    pk.atomic_min(m, 0, v[i])


def test_atomics_are_real_across_parallel_work_groups():
    n = 20000
    c = np.zeros(1, np.int64)
    m = np.array([np.inf], np.float32)
    v = np.linspace(5, 1, n).astype(np.float32)
    v[n // 2] = -0.0
    count_and_min.on("numba")[n, 64](c, m, v)
    assert c[0] == n
    assert m[0] == 0.0 and np.signbit(m[0])          # -0.0 < +0.0 < everything else here
    src = count_and_min.source("numba", c, m, v)
    assert "rmw_add(" in src and "atomic_fmin(" in src


def test_float_atomic_min_propagates_nan():
    m = np.array([1.0], np.float64)
    v = np.array([3.0, np.nan, -2.0], np.float64)
    count_and_min.on("numba")[3](np.zeros(1, np.int64), m, v)
    assert np.isnan(m[0])


@pk.kernel(debug=True)
def local_oob(x):
    t = pk.local_array(4, pk.float32)
    lid = pk.local_id(0)
    t[lid + 1] = x[pk.global_id(0)]
    pk.barrier()
    x[pk.global_id(0)] = t[lid]


def test_debug_bounds_check_covers_local_arrays_and_leaves_inputs_untouched():
    x = np.arange(8, dtype=np.float32)
    with pytest.raises(pk.KernelIndexError, match=r"'t'.*\(4,\)"):
        local_oob.on("numba")[8, 4](x)
    np.testing.assert_array_equal(x, np.arange(8, dtype=np.float32))


def _run_script(tmp_path: Path, code: str, **env_extra: str) -> subprocess.CompletedProcess:
    script = tmp_path / f"script_{abs(hash(code))}.py"
    script.write_text(code)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends")]), **env_extra)
    return subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)


def test_render_imports_no_numba(tmp_path):
    code = (
        "import sys, numpy as np, portakern as pk\n"
        "@pk.kernel\n"
        "def k(x):\n"
        "    x[pk.global_id(0)] = 1.0\n"
        "src = k.source('numba', np.zeros(4, np.float32))\n"
        "assert 'numba' not in sys.modules, 'render imported numba'\n"
        "print(len(src))\n")
    proc = _run_script(tmp_path, code)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_second_process_loads_the_kernels_machine_code_from_the_verified_cache(tmp_path):
    code = (
        "import numpy as np, portakern as pk\n"
        "@pk.kernel\n"
        "def k(x, y):\n"
        "    i = pk.global_id(0)\n"
        "    y[i] = x[i] * 2.0 + 1.0\n"
        "x = np.arange(8, dtype=np.float32); y = np.zeros_like(x)\n"
        "k.on('numba')[8](x, y)\n"                  # one work-group: the serial build
        "assert y[3] == 7.0\n"
        "x = np.arange(600, dtype=np.float32); y = np.zeros_like(x)\n"
        "k.on('numba')[600](x, y)\n"                # three work-groups: the parallel build
        "assert y[599] == 1199.0\n"
        "@pk.kernel\n"
        "def k2(x, y):\n"                            # loop bounds narrowed with Numba's min/max
        "    i = pk.global_id(0)\n"
        "    j = pk.global_id(1)\n"
        "    if i < x.shape[0] and j < x.shape[1]:\n"
        "        y[i, j] = x[i, j] + 1.0\n"
        "x = np.ones((30, 40), np.float32); y = np.zeros_like(x)\n"
        "k2.on('numba')[(32, 48)](x, y)\n"
        "assert (y == 2.0).all()\n"
        "@pk.kernel\n"
        "def k3(x, y):\n"                            # local memory: np.zeros/fill (numba.np.arrayobj)
        "    t = pk.local_array(4, pk.float32)\n"
        "    lid = pk.local_id(0)\n"
        "    t[lid] = x[pk.global_id(0)]\n"
        "    pk.barrier()\n"
        "    if lid == 0:\n"
        "        y[pk.group_id(0)] = t[0] + t[1] + t[2] + t[3]\n"
        "x = np.arange(12, dtype=np.float32); y = np.zeros(3, np.float32)\n"
        "k3.on('numba')[12, 4](x, y)\n"
        "assert y.tolist() == [6.0, 22.0, 38.0], y\n"
        "import sys\n"
        "assert not [n for n in sys.modules if n.startswith('pk_numba_')], 'module left in sys.modules'\n"
        "hits = sum(sum(f.stats.cache_hits.values()) for kk in (k, k2, k3) for c in kk._compiled.values()\n"
        "           for f in (c.launcher.fn, c.launcher._serial))\n"   # (8 items, one group: the serial build)
        "import gc, weakref\n"
        "module = weakref.ref(next(iter(k._compiled.values())).launcher.module)\n"
        "k.clear_cache(); gc.collect()\n"
        "print(module() is None, hits)\n")
    runs = [_run_script(tmp_path, code, PORTAKERN_CACHE_DIR=str(tmp_path / "cache"), PORTAKERN_DISK_CACHE="1")
            for _ in range(2)]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr[-2000:]
    assert runs[0].stdout.split()[-1] == "0"          # first process compiles
    assert int(runs[1].stdout.split()[-1]) >= 4       # second one loads both builds' machine code, k2's and k3's
    assert runs[1].stdout.split()[-2] == "True"       # and its module is collectable once dropped
    assert list((tmp_path / "cache" / "numba-object").glob("*.bin"))
    assert not list((tmp_path / "cache").rglob("__pycache__"))   # Numba's own (unchecked) cache is unused


WG = 16


@pk.kernel
def tree_sum(x, out):
    t = pk.local_array(WG, pk.float64)
    lid = pk.local_id(0)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    s = WG // 2
    while s > 0:
        if lid < s:
            t[lid] += t[lid + s]
        pk.barrier()
        s //= 2
    if lid == 0:
        out[pk.group_id(0)] = t[0]


def test_uniform_scalars_are_kept_once_per_group_and_bound_the_work_item_loop():
    x = np.arange(64, dtype=np.float64)
    out = np.zeros(4, np.float64)
    tree_sum.on("numba")[64, WG](x, out)
    np.testing.assert_array_equal(out, x.reshape(4, WG).sum(axis=1))
    src = tree_sum.source("numba", x, out)
    assert "_pk_s_s" not in src                 # s is uniform: one copy per group, not per work-item
    assert "min(_pk_w0" in src                  # `if lid < s` became the loop's bound


@pk.kernel
def uniform_reassigned_mid_phase(x, out):
    t = pk.local_array(4, pk.int64)
    lid = pk.local_id(0)
    u = 1
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    a = t[lid] * u
    u = 10
    out[pk.global_id(0)] = a + t[(lid + 1) % 4] * u


def test_a_uniform_scalar_reassigned_inside_a_phase_is_seen_in_order():
    x = np.arange(8, dtype=np.int64) + 1
    out = np.zeros(8, np.int64)
    uniform_reassigned_mid_phase.on("numba")[8, 4](x, out)
    nxt = np.array([x[(i // 4) * 4 + (i % 4 + 1) % 4] for i in range(8)])
    np.testing.assert_array_equal(out, x + 10 * nxt)


@pk.kernel
def stamp_3d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    k = pk.global_id(2)
    if k == 1:
        return
    out[i, j, k] = i * 10000 + j * 100 + k


@pk.kernel
def stamp_2d(out):
    i = pk.global_id(0)
    j = pk.global_id(1)
    out[i, j] = out[i, j] + i * 1000 + j


def test_flat_2d_launch_loops_over_rows_without_dividing_each_work_item_id():
    src = stamp_2d.source("numba", np.zeros((3, 5), np.int64))
    # a prange over rows and an inner range over the last dimension: no `% _pk_n1` per work-item
    assert "for _pk_g1 in range(" in src and "% _pk_n1" not in src


@pytest.mark.parametrize("shape", [(1, 1000), (3, 700), (300, 7), (0, 5), (4, 0)])
def test_flat_2d_launch_visits_every_work_item_exactly_once_whatever_the_row_count(shape):
    # few rows are cut into chunks of a row; each work-item must still run once and only once
    out = np.zeros(shape, np.int64)
    stamp_2d.on("numba")[shape](out)
    i, j = np.indices(shape)
    np.testing.assert_array_equal(out, i * 1000 + j)


def test_return_in_a_flat_3d_launch_skips_only_that_work_item():
    out = np.full((2, 3, 4), -1, np.int64)
    stamp_3d.on("numba")[(2, 3, 4)](out)
    i, j, k = np.indices((2, 3, 4))
    want = np.where(k == 1, -1, i * 10000 + j * 100 + k)
    np.testing.assert_array_equal(out, want)


@pk.kernel
def two_strided_passes(x, out):
    lid = pk.local_id(0)
    red = pk.local_array(4, pk.float32)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[0], 4):
        acc += x[c]
    red[lid] = acc
    pk.barrier()
    total = red[0] + red[1] + red[2] + red[3]
    for c in range(lid, x.shape[0], 4):
        out[c] = x[c] / total


def test_a_scalar_each_phase_assigns_before_reading_is_not_stored_per_work_item():
    x = np.arange(1, 11, dtype=np.float32)
    out = np.zeros_like(x)
    src = two_strided_passes.source("numba", x, out)
    # c is re-assigned by the second loop before any read: a phase-local scalar, no per-item slot
    assert "_pk_s_c" not in src
    two_strided_passes.on("numba")[(4,), (4,)](x, out)
    np.testing.assert_allclose(out, x / x.sum(), rtol=1e-6)


@pk.kernel
def count_up_down(x, up, down):
    i = pk.global_id(0)
    if i >= x.shape[0]:
        return
    b = x[i] % up.shape[0]
    pk.atomic_add(up, b, x[i])
    pk.atomic_sub(down, b, 1)


@pytest.mark.parametrize("n", [5, 4000])
def test_integer_atomic_counters_wrap_and_sum_exactly_whether_privatised_or_not(n):
    # 4000 items over 4 bins takes the private-copy-per-thread path; 5 items the direct atomics
    x = (np.arange(n, dtype=np.int32) * 7919) % 1000
    up = np.full(4, np.iinfo(np.int32).max - 10, np.int32)
    down = np.full(4, np.iinfo(np.int32).min + 3, np.int32)
    count_up_down.on("numba")[(n + 3,)](x, up, down)
    bins = x % 4
    want_up = (np.iinfo(np.int32).max - 10 + np.bincount(bins, weights=x, minlength=4).astype(np.int64))
    want_down = np.iinfo(np.int32).min + 3 - np.bincount(bins, minlength=4).astype(np.int64)
    np.testing.assert_array_equal(up, want_up.astype(np.int64).astype(np.int32))     # wrapped
    np.testing.assert_array_equal(down, want_down.astype(np.int64).astype(np.int32))  # wrapped


def test_atomic_counters_whose_old_value_is_read_are_never_privatised():
    src = count_up_down.source("numba", np.zeros(3, np.int32), np.zeros(4, np.int32), np.zeros(4, np.int32))
    assert "priv_add(_pk_p_up" in src and "priv_sub(_pk_p_down" in src
    src = atomic_counter_old.source("numba", np.zeros(4, np.int32), np.zeros(8, np.int32))
    assert "priv_" not in src


@pk.kernel
def atomic_counter_old(c, out):
    i = pk.global_id(0)
    out[i] = pk.atomic_add(c, 0, 1)


@pk.kernel
def row_tree_sum(x, out):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(8, pk.float32)
    red[lid] = x[r, lid] + x[r, lid + 8]
    pk.barrier()
    for step in range(3):
        s = 4 >> step
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    if lid == 0:
        out[r] = red[0]


def test_a_2d_tree_reduction_level_loops_only_over_the_active_work_items_of_its_dimension():
    x = np.arange(3 * 16, dtype=np.float32).reshape(3, 16)
    out = np.zeros(3, np.float32)
    src = row_tree_sum.source("numba", x, out)
    assert "for _pk_l1 in range(max(np.int64(0), min(_pk_w1" in src   # bounded by s, no test per item
    row_tree_sum.on("numba")[(3, 8), (1, 8)](x, out)
    np.testing.assert_array_equal(out, x.sum(axis=1))


def test_only_numbas_and_portakerns_helper_modules_count_as_importable_environments():
    from portakern_numba.launch import importable

    for name in ("numba.np.arrayobj", "numba.cpython.builtins", "portakern.codegen.pyprelude",
                 "portakern_numba.prelude"):
        assert importable(name), name
    for name in ("__main__", "pk_numba_0123", "numbax.evil", "numba", "portakern.codegen", None, 3):
        assert not importable(name), name
