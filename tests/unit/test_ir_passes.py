"""The IR-to-IR layer: ``portakern.ir.rewrite`` and the barrier-phase analyses of ``portakern.codegen.phases``."""
from __future__ import annotations

from frontend_kit import arr, lower, make

from portakern import ir
from portakern import types as T
from portakern.codegen import phases
from portakern.ir import nodes as N
from portakern.ir.rewrite import rewrite, rewrite_kernel
from portakern.ir.visit import access_sites, walk_body

TWO_LOADS = """
def k(x, out):
    i = pk.global_id(0)
    out[i] = pk.exp2(x[i]) + x[i] * 2.0
"""


def _calls(k: N.Kernel, op: N.Op) -> list[N.Call]:
    return [n for n in walk_body(k.body) if isinstance(n, N.Call) and n.op is op]


def test_rewrite_that_changes_nothing_returns_the_same_objects() -> None:
    k = lower(make(TWO_LOADS), x=arr(), out=arr())
    assert rewrite_kernel(k, lambda n: None) is k
    assert rewrite(k.body[-1], lambda n: None) is k.body[-1]


def test_rewrite_replaces_bottom_up_and_keeps_untouched_nodes_and_site_numbers() -> None:
    k = lower(make(TWO_LOADS), x=arr(), out=arr())
    (call,) = _calls(k, N.Op.EXP2)

    def exp2_as_pow(n: object) -> object | None:
        if isinstance(n, N.Call) and n.op is N.Op.EXP2:
            return N.Call(N.Op.POWF, (N.Const(2.0, n.type), n.args[0]), n.type)
        return None

    k2 = rewrite_kernel(k, exp2_as_pow)
    ir.verify(k2)
    assert not _calls(k2, N.Op.EXP2) and len(_calls(k2, N.Op.POWF)) == 1
    (pow_call,) = _calls(k2, N.Op.POWF)
    assert pow_call.args[1] is call.args[0]                      # the load inside: the same node
    before = sorted((s.number, s.array) for s in access_sites(k).values())
    assert sorted((s.number, s.array) for s in access_sites(k2).values()) == before
    assert k2.body[0] is k.body[0]                               # i = global_id(0): untouched


def test_a_shared_node_is_rewritten_once() -> None:
    x = N.Var("x", T.float32)
    shared = N.Binary(N.Op.ADD, x, x, T.float32)
    tree = N.Binary(N.Op.MUL, shared, shared, T.float32)
    seen: list[object] = []

    def count(n: object) -> object | None:
        seen.append(n)
        return N.Var("y", T.float32) if n == x else None

    out = rewrite(tree, count)
    assert isinstance(out, N.Binary) and out.lhs is out.rhs and out.lhs.lhs == N.Var("y", T.float32)
    assert sum(1 for n in seen if isinstance(n, N.Binary) and n.op is N.Op.ADD) == 1


PHASED = """
def k(x, out, n):
    loc = pk.local_array(64, pk.float32)
    l = pk.local_id(0)
    i = pk.global_id(0)
    v = x[i]
    m = n * 2
    loc[l] = v
    pk.barrier()
    s = loc[l] + v
    for step in range(m):
        t = loc[(l + step) % 64]
        s += t
        pk.barrier()
    out[i] = s
"""


def test_phase_split_and_plan() -> None:
    k = lower(make(PHASED), x=arr(), out=arr(), n=T.int64)
    items = list(phases.split(k.body))
    kinds = ["run" if isinstance(it, list) else type(it).__name__ for it in items]
    assert kinds == ["run", "Barrier", "run", "For", "run"]
    remat = phases.rematerializable(k)
    assert set(remat) == {"l", "i", "m"}                  # pure functions of the ids and parameters
    guniform = phases.group_uniform(k, remat)
    p = phases.plan(k, remat, guniform)
    assert p.uniform == {items[3].var.name}                # the group-level loop's counter
    assert {"v", "s"} <= p.per_item                       # both cross a barrier
    assert "t" not in p.per_item                          # defined and used within one phase
    assert not p.per_item & (set(remat) | p.uniform)


def test_uniformity() -> None:
    n = N.Var("n", T.int64)
    lid = N.IndexQuery(N.Op.LOCAL_ID, 0, T.int64)
    size = N.IndexQuery(N.Op.LOCAL_SIZE, 0, T.int64)
    assert phases.is_uniform(N.Binary(N.Op.MUL, n, size, T.int64), {"n"})
    assert not phases.is_uniform(N.Binary(N.Op.ADD, n, lid, T.int64), {"n"})
    assert not phases.is_uniform(n, set())
    assert phases.defined_first("a", [N.Assign(N.Var("a", T.int64), n)])
    assert not phases.defined_first("a", [N.Assign(N.Var("a", T.int64), N.Var("a", T.int64))])


# -- local loads every work-item reads the same (phases.quiet_local_loads) --------------------------
ROW_MEAN = """
def k(x, out, cols: pk.int64):
    lid = pk.local_id(0)
    red = pk.local_array(16, pk.float32)
    red[lid] = x[pk.global_id(0)]
    pk.barrier()
    for step in range(4):
        s = 8 >> step
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
    mean = red[0] / pk.float32(cols)
    BETWEEN
    out[pk.global_id(0)] = x[pk.global_id(0)] - mean
"""


def _quiet(between: str = "", first: str = "mean = red[0] / pk.float32(cols)"):  # type: ignore[no-untyped-def]
    src = ROW_MEAN.replace("BETWEEN", between or "pk.barrier()").replace("mean = red[0] / pk.float32(cols)", first)
    k = lower(make(src), x=arr(), out=arr(), cols=T.int64)
    loads = phases.quiet_local_loads(k)
    return k, loads, phases.group_uniform(k, phases.rematerializable(k))


def test_a_tree_reductions_result_is_one_value_for_the_whole_group() -> None:
    k, loads, guniform = _quiet()
    assert len(loads) == 1 and "mean" in guniform
    # a later phase may write red again: the barrier before it ends the interval
    k, loads, guniform = _quiet("pk.barrier()\n    red[lid] = 0.0")
    assert len(loads) == 1 and "mean" in guniform


def test_a_load_that_another_work_item_may_overwrite_is_per_item() -> None:
    # the same interval writes red after the read (no barrier between): not uniform
    assert _quiet("red[lid] = 0.0")[1:] == (frozenset(), {"step", "s"})
    # ... or an atomic on it
    assert not _quiet("pk.atomic_add(red, lid, 1.0)")[1]
    # an index that is not a constant, one outside the array, a loop that may not run (its
    # barrier may not separate the read from the writes before it)
    assert not _quiet(first="mean = red[lid] / pk.float32(cols)")[1]
    assert not _quiet(first="mean = red[16] / pk.float32(cols)")[1]
    src = ROW_MEAN.replace("range(4)", "range(cols)").replace("BETWEEN", "pk.barrier()")
    k = lower(make(src), x=arr(), out=arr(), cols=T.int64)
    assert not phases.quiet_local_loads(k)
