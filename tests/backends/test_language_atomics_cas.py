"""Atomics beyond add/sub/min/max: and, or, xor, exchange and compare-and-swap, each returning the old
value, on global and local arrays (locks built from them: test_language_locks.py)."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.errors import CompileError

INT_DTYPES = ["int32", "uint32", "int64", "uint64"]
ALL_DTYPES = INT_DTYPES + ["float32", "float64"]


def _skip_without(caps, dtype):
    if np.dtype(dtype) == np.float64 and not caps.fp64:
        pytest.skip("device has no fp64")
    if np.dtype(dtype).itemsize == 8 and not caps.int64_atomics:
        pytest.skip("device has no 64-bit atomics")


@pk.kernel
def bitwise_atomics(vals, acc, olds):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        olds[0, i] = pk.atomic_and(acc, 0, vals[i])
        olds[1, i] = pk.atomic_or(acc, 1, vals[i])
        olds[2, i] = pk.atomic_xor(acc, 2, vals[i])


@pk.kernel
def exchange_into_one_cell(vals, cell, olds):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        olds[i] = pk.atomic_xchg(cell, 0, vals[i])


@pk.kernel
def claim_cells(vals, cells, olds):
    # "set if still 0": the first work-item (in some order) to reach a cell claims it
    i = pk.global_id(0)
    if i < vals.shape[0]:
        olds[i] = pk.atomic_cas(cells, i % cells.shape[0], 0, vals[i])


@pk.kernel
def cas_by_bits(cells, expected, new, olds):
    i = pk.global_id(0)
    olds[i] = pk.atomic_cas(cells, i, expected[i], new[i])


@pk.kernel
def local_claim_and_mask(vals, winners, masks):
    # per work-group: a local cell claimed by CAS, a local mask built with atomic_or and atomic_and
    lid = pk.local_id(0)
    cell = pk.local_array(1, pk.int32)
    mask = pk.local_array(2, pk.uint32)
    if lid == 0:
        cell[0] = 0
        mask[0] = 0
        mask[1] = 0xFFFFFFFF
    pk.barrier()
    pk.atomic_cas(cell, 0, 0, vals[pk.global_id(0)])
    pk.atomic_or(mask, 0, pk.uint32(1) << pk.uint32(lid))
    pk.atomic_and(mask, 1, ~(pk.uint32(1) << pk.uint32(lid)))
    pk.barrier()
    if lid == 0:
        g = pk.group_id(0)
        winners[g] = pk.atomic_xchg(cell, 0, -1)
        masks[g, 0] = mask[0]
        masks[g, 1] = mask[1]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_atomic_and_or_xor_combine_every_value_and_return_old_values(backend, run, caps, dtype):
    _skip_without(caps, dtype)
    n = 40
    vals = ((np.arange(n) * 2654435761) % 2**31).astype(dtype) | np.array(1, dtype=dtype)
    all_ones = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else -1
    start = np.array([all_ones, 0x100, 0x5A5A], dtype=dtype)
    acc = start.copy()
    olds = np.zeros((3, n), dtype=dtype)
    run(bitwise_atomics, backend, n, None, vals, acc, olds)
    assert acc[0] == np.bitwise_and.reduce(np.append(vals, start[0]))
    assert acc[1] == np.bitwise_or.reduce(np.append(vals, start[1]))
    assert acc[2] == np.bitwise_xor.reduce(np.append(vals, start[2]))
    # each old value is what the cell held before its own update: and only clears bits, or only sets them
    assert ((olds[0] & acc[0]) == acc[0]).all() and ((olds[1] | acc[1]) == acc[1]).all()
    assert start[0] in olds[0] and start[1] in olds[1] and start[2] in olds[2]
    # one chain start -> final: each update's new value (old ^ v) is the next update's old value
    for q in range(3):
        news = [(o & v, o | v, o ^ v)[q] for o, v in zip(olds[q].tolist(), vals.tolist())]
        assert sorted(olds[q].tolist() + [acc[q].item()]) == sorted(news + [start[q].item()])


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_atomic_xchg_hands_every_value_on_exactly_once(backend, run, caps, dtype):
    _skip_without(caps, dtype)
    n = 37
    vals = (np.arange(n) * 3 + 7).astype(dtype)
    cell = np.array([-2.5 if np.dtype(dtype).kind == "f" else 99], dtype=dtype)
    olds = np.zeros(n, dtype=dtype)
    run(exchange_into_one_cell, backend, n, None, vals, cell, olds)
    # the old values plus the final value are a permutation of the start and every value
    assert sorted(np.append(olds, cell).tolist()) == sorted(np.append(vals, cell.dtype.type(
        -2.5 if np.dtype(dtype).kind == "f" else 99)).tolist())


@pytest.mark.parametrize("dtype", ALL_DTYPES)
def test_atomic_cas_set_if_still_zero_has_one_winner_per_cell(backend, run, caps, dtype):
    _skip_without(caps, dtype)
    n, cells_n = 48, 5
    vals = (np.arange(n) + 1).astype(dtype)
    cells = np.zeros(cells_n, dtype=dtype)
    olds = np.full(n, 7, dtype=dtype)
    run(claim_cells, backend, n, None, vals, cells, olds)
    winners = np.flatnonzero(olds == 0)
    assert len(winners) == cells_n                               # exactly one winner per cell
    np.testing.assert_array_equal(np.sort(winners % cells_n), np.arange(cells_n))
    np.testing.assert_array_equal(cells[winners % cells_n], vals[winners])
    losers = np.flatnonzero(olds != 0)
    np.testing.assert_array_equal(olds[losers], cells[losers % cells_n])   # the loser saw the winner's value
    if backend == "numpy":                                       # the reference: increasing work-item id
        np.testing.assert_array_equal(cells, vals[:cells_n])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_atomic_cas_compares_bit_patterns(backend, run, need_fp64, dtype):
    need_fp64(dtype)
    nan = np.array(np.nan, dtype=dtype)
    cells = np.array([0.0, -0.0, nan, 1.5, 0.0], dtype=dtype)
    expected = np.array([-0.0, -0.0, nan, 1.5, 0.0], dtype=dtype)
    new = np.array([9, 8, 7, 6, 5], dtype=dtype)
    olds = np.zeros(5, dtype=dtype)
    run(cas_by_bits, backend, 5, None, cells, expected, new, olds)
    # +0.0 does not match -0.0; -0.0 matches -0.0; NaN matches the same NaN's bits
    np.testing.assert_array_equal(cells, np.array([0.0, 8, 7, 6, 5], dtype=dtype))
    assert np.signbit(cells[0]) == np.False_
    assert np.signbit(olds[1]) and olds[1] == 0 and np.isnan(olds[2])


def test_cas_xchg_and_or_on_local_memory(backend, run):
    groups, wg = 4, 8
    vals = (np.arange(groups * wg) + 10).astype(np.int32)
    winners = np.zeros(groups, dtype=np.int32)
    masks = np.zeros((groups, 2), dtype=np.uint32)
    run(local_claim_and_mask, backend, groups * wg, wg, vals, winners, masks)
    for g in range(groups):
        assert g * wg + 10 <= winners[g] < (g + 1) * wg + 10     # a work-item of its own group won
    np.testing.assert_array_equal(masks[:, 0], np.full(groups, 0xFF, dtype=np.uint32))
    np.testing.assert_array_equal(masks[:, 1], np.full(groups, 0xFFFFFF00, dtype=np.uint32))
    if backend == "numpy":
        np.testing.assert_array_equal(winners, np.arange(groups) * wg + 10)


def test_bitwise_atomics_on_float_arrays_are_compile_errors():
    @pk.kernel
    def bad(a):
        pk.atomic_or(a, 0, 1.0)

    with pytest.raises(CompileError, match=r"atomic_or\(\) does not support float32 arrays"):
        bad.on("numpy")[1](np.zeros(1, np.float32))


def test_atomic_cas_takes_four_arguments():
    @pk.kernel
    def bad(a):
        pk.atomic_cas(a, 0, 1)

    with pytest.raises(CompileError, match=r"atomic_cas\(\) takes 4 arguments, got 3"):
        bad.on("numpy")[1](np.zeros(1, np.int32))


def test_ir_printer_shows_the_expected_value_of_a_cas():
    @pk.kernel
    def k(a):
        pk.atomic_cas(a, 0, 3, 4)

    assert "atomic_cas(a, (0), 3, 4)" in k.ir(np.zeros(1, np.int32))


@pytest.mark.parametrize("op", ["and", "or", "xor", "xchg", "cas"])
def test_conformance_programs_of_the_new_atomics_match_the_model_on_every_backend(backend, run, op):
    # the generator's shapes (generate.py): bitwise ops of any value, xchg/cas of one same literal
    from portakern.conformance.execute import build_kernel, make_args
    from portakern.conformance.model import evaluate
    from portakern.conformance.program import AtomicSpec, Batch, Case, Expr

    n, buckets = 11, 4
    ex = Expr("lit", "", (), "int32", 7) if op in ("xchg", "cas") else Expr("var", "", (), "int32", "a0")
    x0 = np.array([5, 12, 7, 1, 9, 30, 2, 8, 3, 6, 4], np.int32)
    acc = np.array([0, 3, 0, -1], np.int32)
    case = Case((("x0", "int32"),), (), (), atomic=AtomicSpec(op, "int32", buckets, ex), n=n)
    case.values = {"x0": x0, "acc": acc}
    idx = np.arange(n) % buckets
    want = acc.copy()
    if op in ("and", "or", "xor"):
        getattr(np, f"bitwise_{op}").at(want, idx, x0)
    else:
        want[(want == 0) | (op == "xchg")] = 7
    np.testing.assert_array_equal(evaluate(case)["acc"].val, want)
    batch = Batch((case,), n, None)
    args, arrays, _ = make_args(batch)
    run(build_kernel(batch).kernel, backend, n, None, *args)
    np.testing.assert_array_equal(arrays["acc"], want)


@pk.kernel
def count_in_condition(c, out):
    i = pk.global_id(0)
    k = 0
    while pk.atomic_add(c, i, 1) < 3:           # the loop condition writes c
        k += 1
    out[i] = k


def test_an_atomic_in_a_while_condition_updates_its_array(backend, run):
    # jax lost the array written by the condition's atomic (it was not part of the loop state)
    c = np.array([0, 1, 5, 2], dtype=np.int32)
    out = np.zeros(4, dtype=np.int32)
    run(count_in_condition, backend, 4, None, c, out)
    np.testing.assert_array_equal(out, [3, 2, 0, 1])
    np.testing.assert_array_equal(c, [4, 4, 6, 4])
