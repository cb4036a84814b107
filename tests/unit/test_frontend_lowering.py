"""The front end, continued: expressions, memory, atomics, helpers and other constructs -> typed IR."""
from __future__ import annotations

import re

import numpy as np
import pytest

import portakern as pk
from portakern import ir
from portakern import types as T
from portakern.frontend import analyze
from portakern.ir import nodes as N
from portakern.ir.visit import walk_body
from tests.unit.frontend_kit import SAXPY, arr, local_type, lower, make, nodes  # noqa: F401


# ------------------------------------------------------------------------------------------ expressions
def test_logical_operators_give_short_circuit_bool():
    fn = make("""
        def k(x, n):
            i = pk.global_id(0)
            if i < n and x[i] > 0 or not n:
                x[i] = 0
    """)
    k = lower(fn, x=arr(), n=T.int64)
    cond = nodes(k, N.If)[0].cond
    assert isinstance(cond, N.Binary) and cond.op is N.Op.LOR and cond.type == T.bool_
    assert cond.lhs.op is N.Op.LAND
    assert isinstance(cond.rhs, N.Unary) and cond.rhs.op is N.Op.NOT
    assert isinstance(cond.rhs.operand, N.Cast) and cond.rhs.operand.type == T.bool_


def test_chained_comparison_is_a_conjunction():
    fn = make("""
        def k(x, a, b):
            if a < b <= 10:
                x[0] = 1
    """)
    cond = nodes(lower(fn, x=arr(), a=T.int32, b=T.int32), N.If)[0].cond
    assert cond.op is N.Op.LAND and cond.lhs.op is N.Op.LT and cond.rhs.op is N.Op.LE


def test_ternary_and_where_are_selects_with_unified_type():
    fn = make("""
        def k(x, a, b):
            x[0] = a if a > b else b
            x[1] = pk.where(a > b, a, 1.5)
    """)
    k = lower(fn, x=arr(T.float64), a=T.int32, b=T.int16)
    sels = nodes(k, N.Select)
    assert sels[0].type == T.int32
    assert sels[1].type == T.float64


def test_casts_by_calling_types():
    fn = make("""
        def k(x, a):
            x[0] = pk.float32(a) + np.int32(a) + int(a) + float(a) + bool(a)
    """)
    k = lower(fn, x=arr(T.float64), a=T.float64)
    casts = {c.type for c in nodes(k, N.Cast)}
    assert {T.float32, T.int32, T.int64, T.bool_} <= casts


def test_true_division_of_ints_is_float64_and_floor_division_keeps_int():
    fn = make("""
        def k(x, a, b):
            x[0] = a / b
            x[1] = a // b
            x[2] = a % b
    """)
    k = lower(fn, x=arr(T.float64), a=T.int32, b=T.int32)
    bins = {b.op: b for b in nodes(k, N.Binary)}
    assert bins[N.Op.DIV].type == T.float64 and isinstance(bins[N.Op.DIV].lhs, N.Cast)
    assert bins[N.Op.FLOORDIV].type == T.int32 and bins[N.Op.MOD].type == T.int32


def test_power_int_int_is_pow_and_float_power_is_powf_call():
    fn = make("""
        def k(x, a, f):
            x[0] = a ** 3
            x[1] = f ** 2
            x[2] = pow(a, 2.0)
    """)
    k = lower(fn, x=arr(T.float64), a=T.int32, f=T.float32)
    assert any(b.op is N.Op.POW and b.type == T.int32 for b in nodes(k, N.Binary))
    calls = [c for c in nodes(k, N.Call) if c.op is N.Op.POWF]
    assert {c.type for c in calls} == {T.float32, T.float64}


def test_float_math_on_ints_casts_to_float64_and_keeps_float32():
    fn = make("""
        def k(x, n, f):
            x[0] = math.sqrt(n) + np.exp(f) + pk.atan2(f, 1)
    """)
    k = lower(fn, x=arr(T.float64), n=T.int32, f=T.float32)
    calls = {c.op: c for c in nodes(k, N.Call)}
    assert calls[N.Op.SQRT].type == T.float64 and isinstance(calls[N.Op.SQRT].args[0], N.Cast)
    assert calls[N.Op.EXP].type == T.float32
    assert calls[N.Op.ATAN2].type == T.float32


def test_min_max_abs_keep_numeric_types():
    fn = make("""
        def k(x, a, b):
            x[0] = min(a, b) + max(a, 3, b) + abs(a)
    """)
    k = lower(fn, x=arr(T.int64), a=T.int16, b=T.int16)
    assert {c.type for c in nodes(k, N.Call)} == {T.int16}


def test_isnan_of_int_folds_to_false():
    fn = make("""
        def k(x, a):
            x[0] = math.isnan(a)
    """)
    assert ir.format_expr(nodes(lower(fn, x=arr(T.bool_), a=T.int32), N.Store)[0].value) == "False"


# ------------------------------------------------------------------------------------------ memory, atomics
def test_private_array_and_barrier():
    fn = make("""
        def k(x):
            p = pk.private_array(4, np.int32)
            p[1] = 2
            pk.barrier()
            x[0] = p[1]
    """)
    k = lower(fn, x=arr(T.int32))
    (decl,) = nodes(k, N.DeclArray)
    assert decl.array.type.space == "private" and decl.array.type.shape == (4,)
    assert k.uses_barrier and not k.uses_local


def test_atomic_unused_is_evaluate_and_used_is_expression():
    fn = make("""
        def k(h, out):
            pk.atomic_add(h, (0, 1), 1)
            out[0] = pk.atomic_max(h, (1, 1), 5)
    """)
    k = lower(fn, h=arr(T.int32, 2), out=arr(T.int64))
    (ev,) = nodes(k, N.Evaluate)
    assert isinstance(ev.value, N.Atomic) and ev.value.op is N.Op.ATOMIC_ADD
    assert ev.value.value.type == T.int32
    assert k.written == ("h", "out")


# ------------------------------------------------------------------------------------------ helpers
HELPERS = """
@pk.func
def first_positive(x, n):
    for j in range(n):
        if x[j] > 0:
            return j
    return -1

@pk.func
def twice(v):
    return v * 2

@pk.func
def clear(x):
    x[0] = 0

def k(x, out, n):
    out[0] = first_positive(x, n)
    out[1] = twice(x[0]) + twice(n)
    clear(x)
"""


def test_helpers_are_inlined_with_fresh_names_and_generic_types():
    k = lower(make(HELPERS), x=arr(T.float32), out=arr(T.float64), n=T.int32)
    names = {v.name: v.type for v in k.locals}
    rets = sorted(n for n in names if re.fullmatch(r"__pk_r\d+", n))
    assert len(rets) == 3
    assert {names[r] for r in rets} == {T.int64, T.float32, T.int32}
    assert k.written == ("x", "out")
    # return inside a loop: a flag and a break
    assert any(re.fullmatch(r"__pk_d\d+", n) for n in names)
    assert nodes(k, N.Break)


def test_helper_without_return_used_as_value_is_an_error():
    fn = make("""
        @pk.func
        def nothing(x):
            x[0] = 1
        def k(x):
            x[1] = nothing(x)
    """)
    with pytest.raises(pk.CompileError, match="returns no value"):
        lower(fn, x=arr())


def test_func_called_on_host_calls_the_python_function():
    @pk.func
    def add1(v):
        return v + 1
    assert add1(2) == 3
    assert add1.fn(2) == 3


def test_kernel_only_builtins_raise_on_host_and_math_works():
    with pytest.raises(pk.PortakernError, match="inside"):
        pk.global_id(0)
    assert pk.sqrt(4.0) == 2.0


def test_printer_shows_typed_statements():
    k = lower(make(SAXPY), a=T.float32, x=arr(), y=arr(), out=arr())
    text = ir.format_kernel(k)
    assert "out[i] = ((a * x[i]) + y[i]) : float32" in text
    assert "i = global_id(0) : int64" in text
    assert text.splitlines()[0].startswith("kernel saxpy(")


# ------------------------------------------------------------------------------------------ more constructs
def test_closure_values_are_frozen_and_followed():
    def factory(scale):
        def k(x):
            x[0] = x[0] * scale
        return k

    fn = factory(3)
    src = analyze(fn)
    assert src.frozen_values() == (("int", 3),)
    k = lower(fn, x=arr(T.float32))
    assert ir.format_expr(nodes(k, N.Store)[0].value) == "(x[0] * 3.0f)"


def test_short_circuit_rhs_needing_statements_runs_them_only_when_needed():
    fn = make("""
        @pk.func
        def positive(v):
            return v > 0
        def k(x, n):
            i = pk.global_id(0)
            if i < n and positive(x[i]):
                x[i] = 0
    """)
    k = lower(fn, x=arr(), n=T.int64)
    loads = nodes(k, N.Load)
    (guard,) = [s for s in k.body if isinstance(s, N.If) and any(isinstance(t, N.Assign) for t in s.then)]
    # the helper's load of x[i] sits inside the guard on the left operand, not before it
    assert all(any(ld is n for n in walk_body(guard.then)) for ld in loads)


def test_while_condition_with_helper_call_is_evaluated_every_iteration():
    fn = make("""
        @pk.func
        def small(v):
            return v < 10
        def k(x):
            n = 0
            while small(n):
                n += 1
            x[0] = n
    """)
    k = lower(fn, x=arr(T.int32))
    (loop,) = nodes(k, N.While)
    assert loop.cond == N.Const(True, T.bool_)
    assert any(isinstance(s, N.If) and s.then == (N.Break(s.then[0].loc),) for s in loop.body)


def test_helpers_call_helpers_with_keyword_and_default_arguments():
    fn = make("""
        @pk.func
        def scale(v, by=2):
            return v * by
        @pk.func
        def twice_scaled(v):
            return scale(v) + scale(v, by=3)
        def k(x):
            x[0] = twice_scaled(x[0])
    """)
    k = lower(fn, x=arr(T.int32))
    assert local_type(k, [v.name for v in k.locals if re.fullmatch(r"__pk_r\d+", v.name)][0]) == T.int32


def test_annotated_assignment_casts_and_dtype_attribute_sizes_arrays():
    fn = make("""
        def k(x):
            acc: pk.float64 = 0
            t = pk.private_array(3, x.dtype)
            t[0] = x[0]
            acc += t[0]
            x[0] = acc
    """)
    k = lower(fn, x=arr(T.float32))
    assert local_type(k, "acc") == T.float64
    assert nodes(k, N.DeclArray)[0].array.type.dtype == T.float32


def test_constexpr_dtype_and_unsigned_mask_literal():
    fn = make("""
        def k(x, D: pk.constexpr):
            t = pk.private_array(2, D)
            t[0] = x[0] & 0xFFFFFFFFFFFFFFFF
            x[0] = t[0]
    """)
    k = lower(fn, constexprs={"D": np.uint64}, x=arr(T.uint64))
    assert nodes(k, N.DeclArray)[0].array.type.dtype == T.uint64
    band = nodes(k, N.Binary)[0]
    assert band.type == T.uint64 and band.rhs == N.Const(2**64 - 1, T.uint64)


def test_shape_is_weak_like_a_python_int():
    fn = make("""
        def k(x):
            x[0] = x[1] * x.shape[0]
    """)
    val = nodes(lower(fn, x=arr(T.float32)), N.Store)[0].value
    assert val.type == T.float32 and isinstance(val.rhs, N.Cast)


def test_local_array_declared_twice_is_an_error():
    fn = make("""
        def k(x):
            t = pk.local_array(4, pk.float32)
            t = pk.local_array(4, pk.float32)
    """)
    with pytest.raises(pk.CompileError, match="declared twice"):
        lower(fn, x=arr())


def test_local_array_declared_in_a_loop_is_one_declaration():
    fn = make("""
        def k(x):
            for j in range(3):
                p = pk.private_array(2, pk.int32)
                p[0] = j
                x[j] = p[0]
    """)
    assert len(nodes(lower(fn, x=arr(T.int32)), N.DeclArray)) == 1


def test_atomic_inside_a_discarded_expression_is_still_evaluated():
    fn = make("""
        def k(h):
            pk.atomic_add(h, 0, 1) + 1
    """)
    (ev,) = nodes(lower(fn, h=arr(T.int32)), N.Evaluate)
    assert any(isinstance(n, N.Atomic) for n in ir.walk(ev.value))


def test_loop_carried_variable_used_with_a_typed_bool_before_its_assignment():
    # in the first pass 'prev' has no type yet; 'flag + prev' must not be judged on that guess
    fn = make("""
        def k(x, out):
            for j in range(4):
                flag = x[j] > 0
                if j > 0:
                    out[j] = flag + prev
                prev = x[j]
    """)
    k = lower(fn, x=arr(T.float32), out=arr(T.float32))
    assert local_type(k, "prev") == T.float32


def test_where_with_a_helper_arm_runs_the_helper_only_when_chosen():
    fn = make("""
        @pk.func
        def bump(h):
            return pk.atomic_add(h, 0, 1)
        def k(h, c):
            h[1] = pk.where(c > 0, bump(h), 0)
    """)
    k = lower(fn, h=arr(T.int32), c=T.int32)
    (guard,) = [s for s in k.body if isinstance(s, N.If)]
    assert any(isinstance(n, N.Atomic) for n in walk_body(guard.then))
    assert not any(isinstance(n, N.Atomic) for n in walk_body(guard.orelse))
