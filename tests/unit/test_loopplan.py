"""The loop plans of portakern.codegen.loopplan on typed IR of real kernels: which ``for`` loops may
run all their iterations at once (and how each carried name comes out of them), which are
work-group tree reductions, and the reduction identities (checked bit for bit with NumPy)."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from benchmarks.kernels import softmax  # the benchmark's kernel, as users run it
from portakern.codegen.loopplan import plan_loop, plan_tree, reduction_identity
from portakern.ir import nodes as ir
from portakern.ir.visit import walk_body
from portakern.runtime import args as A
from portakern.runtime import launch, registry
from portakern.runtime.backend import Capabilities, Device


def typed_ir(kern, *args, ndrange):
    """The typed IR Kernel (what ``kern.ir(...)`` prints) for these example arguments."""
    src = kern._src if kern._src is not None else kern._analyze()
    bound = A.classify(src.params, args, kern.__name__)
    sig = A.signature(src.params, bound, registry.get_backend("numpy"), Device("numpy", "ir", "ir"),
                      Capabilities(strided_arrays=True), kern.__name__)
    grid_ndim = len(launch.parse_grid((ndrange, None), kern.__name__)[0])
    return launch.specialize_for(kern, src, sig, bound.constexprs, grid_ndim)


def loops(kern, *args, ndrange=(2, 4)):
    """(kernel IR, its ``for`` loops in source order)."""
    k = typed_ir(kern, *args, ndrange=ndrange)
    return k, [n for n in walk_body(k.body) if isinstance(n, ir.For)]


X2 = np.zeros((2, 16), np.float32)
O2 = np.zeros((2, 16), np.float32)


# -- softmax: the three row loops ------------------------------------------------------------------

def test_softmax_row_loops_widen_with_their_reduction_kinds_and_tree_loops_do_not():
    k, fs = loops(softmax, X2, O2, 4, 2)
    assert len(fs) == 5
    plans = [plan_loop(f) for f in fs]
    assert plans[0].kinds == {"c": "local", "m": "max:float32"}
    assert plans[2].kinds == {"c": "local", "e": "local", "acc": "add:float32", "out": "array"}
    assert plans[4].kinds == {"c": "local", "out": "array"}
    assert plans[0].free == ("r",) and set(plans[2].free) == {"m", "r"} and set(plans[4].free) == {"inv", "r"}
    assert plans[1] is None and plans[3] is None           # barriers: the tree loops never widen
    assert [plan_tree(f, k) is None for f in fs] == [True, False, True, False, True]
    t1, t3 = plan_tree(fs[1], k), plan_tree(fs[3], k)
    assert (t1.array, t1.op, t1.tname, t1.swapped, t1.s) == ("red", "max", "float32", False, "s")
    assert (t3.array, t3.op, t3.tname, t3.swapped, t3.s) == ("red", "add", "float32", False, "s")
    assert [a.target.name for a in t1.prefix] == ["step", "s"]


# -- row loops that qualify ------------------------------------------------------------------------

@pk.kernel
def conditional_sum(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            acc += x[r, c]
    out[r, lid] = acc


@pk.kernel
def int_ops(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    a = x[r, 0] * 0
    o = a
    e = a
    lo = a
    hi = a
    p = a + 1
    for c in range(lid, x.shape[1], WG):
        a = a & x[r, c]
        o = x[r, c] | o
        e ^= x[r, c]
        lo = min(lo, x[r, c])
        hi = max(x[r, c], hi)
        p *= x[r, c]
    out[r, lid] = a + o + e + lo + hi + p


@pk.kernel
def grid_stride(x, out):
    i = pk.global_id(0)
    n = x.shape[0]
    for j in range(i, n, pk.global_size(0)):
        out[j] = x[j] * 2.0


@pk.kernel
def scale_in_place(out, k: pk.float32, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid + 3, out.shape[1], WG):
        out[r, c] = out[r, c] * k


def test_conditional_contribution_is_an_add_reduction():
    (f,) = loops(conditional_sum, X2, np.zeros((2, 4), np.float32), 4)[1]
    assert plan_loop(f).kinds == {"c": "local", "acc": "add:float32"}


def test_integer_reductions_get_their_op_with_either_operand_order():
    xi = np.zeros((2, 16), np.int32)
    (f,) = loops(int_ops, xi, np.zeros((2, 4), np.int32), 4)[1]
    kinds = plan_loop(f).kinds
    assert {n: kinds[n] for n in ("a", "o", "e", "lo", "hi", "p")} == {
        "a": "and:int32", "o": "or:int32", "e": "xor:int32", "lo": "min:int32", "hi": "max:int32",
        "p": "mul:int32"}


def test_grid_stride_loop_and_load_then_store_of_one_element_qualify():
    (f,) = loops(grid_stride, np.zeros(8, np.float32), np.zeros(8, np.float32), ndrange=4)[1]
    assert plan_loop(f).kinds == {"j": "local", "out": "array"}
    (f,) = loops(scale_in_place, O2, np.float32(2), 4)[1]
    assert plan_loop(f).kinds == {"c": "local", "out": "array"}


# -- row loops that must NOT qualify ---------------------------------------------------------------

@pk.kernel
def carried(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc = acc * 2.0 + x[r, c]
    out[r, lid] = acc


@pk.kernel
def two_updates(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc += x[r, c]
        acc += 1.0
    out[r, lid] = acc


@pk.kernel
def read_before_def(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    t = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        out[r, c] = t
        t = x[r, c]


@pk.kernel
def conditional_def(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    t = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            t = x[r, c]
        out[r, c] = t


@pk.kernel
def same_element_store(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1], WG):
        out[r, 0] = x[r, c]


@pk.kernel
def shifted_read(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1] - 1, WG):
        out[r, c] = out[r, c + 1] + x[r, c]


@pk.kernel
def local_store(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    red = pk.local_array(WG, pk.float32)
    red[lid] = 0.0
    for c in range(lid, x.shape[1], WG):
        red[lid] = x[r, c]
    out[r, lid] = red[lid]


@pk.kernel
def private_store(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    p = pk.private_array(2, pk.float32)
    p[0] = 0.0
    for c in range(lid, x.shape[1], WG):
        p[0] = x[r, c]
    out[r, lid] = p[0]


@pk.kernel
def with_barrier(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for _i in range(lid, 8, WG):
        pk.barrier()
    out[r, lid] = x[r, lid]


@pk.kernel
def with_break(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            break
        out[r, c] = 1.0


@pk.kernel
def with_continue(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            continue
        out[r, c] = 1.0


@pk.kernel
def with_return(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1], WG):
        if x[r, c] > 0:
            return
        out[r, c] = 1.0


@pk.kernel
def with_atomic(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    for c in range(lid, x.shape[1], WG):
        pk.atomic_add(out, (r, 0), x[r, c])


@pk.kernel
def nested(x, out, WG: pk.constexpr):
    r = pk.global_id(0)
    lid = pk.local_id(1)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        for _k in range(2):
            acc += x[r, c]
    out[r, lid] = acc


@pytest.mark.parametrize("kern", [carried, two_updates, read_before_def, conditional_def,
                                  same_element_store, shifted_read, local_store,
                                  private_store, with_barrier, with_break, with_continue, with_return,
                                  with_atomic], ids=lambda k: k.__name__)
def test_loop_whose_iterations_may_depend_on_each_other_has_no_wide_plan(kern):
    fs = loops(kern, X2, O2, 4)[1]
    assert len(fs) == 1 and plan_loop(fs[0]) is None


def test_nested_loop_blocks_the_outer_plan_but_the_inner_uniform_loop_is_a_reduction():
    outer, inner = loops(nested, X2, O2, 4)[1]
    assert plan_loop(outer) is None
    assert plan_loop(inner).kinds["acc"] == "add:float32"


# -- tree reductions -------------------------------------------------------------------------------

def _tree_kernel(update: str, cond: str = "lid < s", arr: str = "red", s: str = "WG >> (step + 1)",
                 orelse: str = "", dtype: str = "float32"):
    """A work-group tree reduction kernel whose loop body is ``s = <s>; if <cond>: <update>``."""
    from tests.unit.frontend_kit import make

    text = f"""
    def tree(x, out, g, WG: pk.constexpr, LOG_WG: pk.constexpr):
        lid = pk.local_id(0)
        red = pk.local_array(WG, pk.{dtype})
        red[lid] = x[pk.global_id(0)]
        pk.barrier()
        for step in range(LOG_WG):
            s = {s}
            if {cond}:
                {update}
            {orelse}
            pk.barrier()
        if lid == 0:
            out[pk.group_id(0)] = red[0]
    """
    return pk.kernel(make(text))


def _tree_plan(update: str, **kw):
    kern = _tree_kernel(update, **kw)
    dt = np.float32 if kw.get("dtype", "float32") == "float32" else np.dtype(kw["dtype"]).type
    k, fs = loops(kern, np.zeros(8, dt), np.zeros(1, dt), np.zeros(8, dt), 8, 3, ndrange=(8,))
    return plan_tree(fs[0], k)


@pytest.mark.parametrize("update, op, swapped", [
    ("red[lid] = max(red[lid], red[lid + s])", "max", False),
    ("red[lid] = max(red[lid + s], red[lid])", "max", True),
    ("red[lid] = min(red[lid], red[lid + s])", "min", False),
    ("red[lid] = min(red[s + lid], red[lid])", "min", True),
    ("red[lid] = red[lid] + red[lid + s]", "add", False),
    ("red[lid] = red[lid + s] + red[lid]", "add", True),
    ("red[lid] += red[lid + s]", "add", False),
    ("red[lid] = red[lid] * red[s + lid]", "mul", False),
])
@pytest.mark.parametrize("cond", ["lid < s", "s > lid"])
def test_tree_reduction_is_recognised_with_either_operand_order_and_comparison(update, op, swapped, cond):
    t = _tree_plan(update, cond=cond)
    assert t is not None
    assert (t.array, t.op, t.tname, t.swapped, t.s) == ("red", op, "float32", swapped, "s")


def test_integer_xor_tree_is_recognised():
    t = _tree_plan("red[lid] = red[lid] ^ red[lid + s]", dtype="int32")
    assert (t.op, t.tname) == ("xor", "int32")


@pytest.mark.parametrize("kw", [
    {"update": "red[lid + 1] = red[lid] + red[lid + s]"},
    {"update": "red[lid] = red[lid] + red[lid + 1]"},
    {"update": "red[lid] = red[lid] - red[lid + s]"},
    {"update": "red[lid] = red[lid] + red[lid + s]", "orelse": "else:\n                red[lid] = red[lid]"},
    {"update": "g[lid] = g[lid] + g[lid + s]"},
    {"update": "red[lid] = red[lid] + red[lid + s]", "s": "(WG >> (step + 1)) + lid * 0"},
    {"update": "red[lid] = red[lid] + red[lid + s]", "cond": "lid <= s"},
    {"update": "red[lid] = red[lid] + red[lid + s]", "cond": "s < lid"},
], ids=["store-off-lid", "shift-not-s", "not-an-op", "else-branch", "global-array", "lane-varying-s",
        "le", "reversed-cond"])
def test_tree_near_misses_have_no_tree_plan(kw):
    assert _tree_plan(**kw) is None


# -- reduction identities --------------------------------------------------------------------------

FLOATS = ["float32", "float64"]
INTS = ["int8", "int16", "int32", "int64"]
UINTS = ["uint8", "uint16", "uint32", "uint64"]


def _specials(tname: str) -> np.ndarray:
    dt = np.dtype(tname)
    if dt.kind == "f":
        fi = np.finfo(dt)
        vals = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, fi.smallest_subnormal, -fi.smallest_subnormal,
                fi.tiny, -fi.tiny, fi.max, -fi.max, 1.0, -1.0, fi.eps]
        return np.array(vals, dt)
    ii = np.iinfo(dt)
    return np.array(sorted({ii.min, ii.min + 1, -1 if ii.min else 0, 0, 1, ii.max - 1, ii.max, 0x55 & ii.max}), dt)


def _apply(op: str, a, b):
    with np.errstate(all="ignore"):
        return {"add": np.add, "mul": np.multiply, "min": np.minimum, "max": np.maximum,
                "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}[op](a, b)


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(np.dtype(f"u{a.dtype.itemsize}"))


@pytest.mark.parametrize("tname", FLOATS + INTS)
@pytest.mark.parametrize("op", ["add", "mul", "min", "max", "and", "or", "xor"])
def test_identity_combined_with_any_value_gives_that_value_bit_for_bit(op, tname):
    if op in ("and", "or", "xor") and tname.startswith("float"):
        return                           # no bitwise reductions on floats
    dt = np.dtype(tname)
    x = _specials(tname)
    i = np.full_like(x, dt.type(reduction_identity(op, tname)))
    for got in (_apply(op, i, x), _apply(op, x, i)):
        nan = np.isnan(x) if dt.kind == "f" else np.zeros(x.shape, bool)
        assert np.array_equal(_bits(got[~nan]), _bits(x[~nan])), (op, tname, got, x)
        assert np.isnan(got[nan]).all()


@pytest.mark.parametrize("tname", UINTS)
@pytest.mark.parametrize("op", ["add", "mul", "min", "max", "and", "or", "xor"])
def test_unsigned_identity_is_a_value_of_the_type_and_an_identity(op, tname):
    # widen.py/reduce.py build np.dtype(tname).type(identity): it must be representable
    dt = np.dtype(tname)
    ident = reduction_identity(op, tname)
    assert np.iinfo(dt).min <= ident <= np.iinfo(dt).max, (op, tname, ident)
    x = _specials(tname)
    assert np.array_equal(_apply(op, np.full_like(x, dt.type(ident)), x), x)


def test_float_add_identity_is_negative_zero():
    for t in FLOATS:
        z = reduction_identity("add", t)
        assert z == 0 and np.signbit(np.dtype(t).type(z))
