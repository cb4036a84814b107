"""portakern.codegen.lane_loops: which loops of a barrier-free phase run lane-innermost, which scalars
need per-lane storage, and which accesses can be bounds-checked once per block of lanes."""
from __future__ import annotations

import portakern as pk  # noqa: F401 - the kernels' sources name it
from portakern import types as T
from portakern.codegen.lane_loops import plan_phase, substitute
from portakern.ir import nodes as N
from tests.unit.frontend_kit import arr, lower, make


def _plan(src: str, grid_ndim: int = 1, **types):  # type: ignore[no-untyped-def]
    k = lower(make(src), grid_ndim, **types)
    params = {p.name for p in k.params}
    return plan_phase(k.body, lane_dim=grid_ndim - 1, uniform=params, remat={}, carried=set(), skip_arrays=set())


ROW_SUM = """
def row_sum(x, out):
    acc = pk.float32(0.0)
    for c in range(pk.local_id(0), x.shape[0], 64):
        acc += x[c]
    out[pk.local_id(0)] = acc
"""


def test_row_strided_loop_is_interchanged_and_its_accumulator_kept_per_lane():
    plan = _plan(ROW_SUM, x=arr(), out=arr())
    assert plan is not None
    kinds = [(seg.loop is not None, seg.strided) for seg in plan.segments]
    assert kinds == [(False, False), (True, True), (False, False)]
    assert plan.lane_vars == {"acc"}
    assert plan.zeroed == frozenset()          # acc is assigned before it is read


def test_lane_plus_uniform_indices_are_checked_once_per_block():
    plan = _plan(ROW_SUM, x=arr(), out=arr())
    loop_seg, store_seg = plan.segments[1], plan.segments[2]
    assert [b.lane_affine for b in loop_seg.batched] == [(True,)]        # x[c], c = lane + k*64
    assert [b.node.array.name for b in store_seg.batched] == ["out"]
    assert store_seg.batched[0].lane_affine == (True,)


def test_uniform_bounds_loop_is_interchanged_with_its_variable_uniform():
    plan = _plan("""
def strided_sum(x, out, n: pk.int64):
    acc = pk.float32(0.0)
    for k in range(n):
        j = k * 128 + pk.global_id(0)
        if j < x.shape[0]:
            acc += x[j]
    out[pk.global_id(0)] = acc
""", x=arr(), out=arr(), n=T.int64)
    assert plan is not None
    seg = plan.segments[1]
    assert seg.loop is not None and not seg.strided
    # j is substituted by its definition: the index is lane + uniform at the access
    (access,) = seg.batched
    assert access.lane_affine == (True,)
    assert not any(isinstance(v, N.Var) and v.name == "j" for v in _walk(access.indices[0]))


def _walk(e):  # type: ignore[no-untyped-def]
    from portakern.ir.visit import walk
    return list(walk(e))


def test_a_stride_of_two_lanes_is_neither_interchanged_nor_batched():
    plan = _plan("""
def twice(x, out):
    acc = pk.float32(0.0)
    for c in range(2 * pk.local_id(0), x.shape[0], 64):
        acc += x[c]
    out[pk.local_id(0)] = acc
""", x=arr(), out=arr())
    assert plan is None


def test_a_loop_variable_read_after_the_loop_keeps_each_lanes_last_value():
    plan = _plan("""
def last(x, out):
    c = 0
    for c in range(pk.local_id(0), x.shape[0], 64):
        out[c] = x[c]
    out[pk.local_id(0)] = pk.float32(c)
""", x=arr(), out=arr())
    assert plan is not None and "c" in plan.lane_vars    # the value crosses into the last segment


def test_phases_with_atomics_keep_their_lane_by_lane_order():
    plan = _plan("""
def counts(x, h):
    for c in range(pk.local_id(0), x.shape[0], 64):
        pk.atomic_add(h, 0, x[c])
""", x=arr(), h=arr())
    assert plan is None


def test_a_scalar_defined_first_in_the_loop_body_needs_no_per_lane_slot():
    plan = _plan("""
def carry(x, out):
    for c in range(pk.local_id(0), x.shape[0], 64):
        t = pk.float32(0.0) if c < 0 else x[c]
        out[c] = t
    out[pk.local_id(0)] = out[pk.local_id(0)]
""", x=arr(), out=arr())
    assert plan is not None and plan.lane_vars == frozenset()   # t is defined first in the body


def test_substitute_replaces_only_the_named_variables():
    a, b = N.Var("a", T.int64), N.Var("b", T.int64)
    e = N.Binary(N.Op.ADD, a, b, T.int64)
    one = N.Const(1, T.int64)
    got = substitute(e, {"a": one})
    assert got == N.Binary(N.Op.ADD, one, b, T.int64)
    assert substitute(e, {}) is e
