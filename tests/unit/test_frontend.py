"""The front end: Python constructs -> the expected typed IR shapes (no backend involved)."""
from __future__ import annotations

import itertools
import linecache
import math
import re
import textwrap
from typing import Any

import numpy as np
import pytest

import portakern as pk
from portakern import ir
from portakern import types as T
from portakern.frontend import analyze, specialize
from portakern.ir import nodes as N
from portakern.ir.visit import walk_body

_COUNTER = itertools.count()


def make(src: str, extra: dict[str, Any] | None = None) -> Any:
    """Define the functions of ``src`` in a fresh module whose source is registered in linecache."""
    filename = f"<portakern-frontend-test-{next(_COUNTER)}>"
    text = textwrap.dedent(src)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"pk": pk, "np": np, "math": math, "__name__": "fe_test"}
    g.update(extra or {})
    exec(compile(text, filename, "exec", dont_inherit=True), g)  # noqa: S102 - test kernels
    name = re.findall(r"^def (\w+)", text, re.M)[-1]
    return g[name]


def arr(dtype: T.ScalarType = T.float32, ndim: int = 1) -> T.ArrayType:
    return T.ArrayType(dtype, ndim)


def lower(fn: Any, grid_ndim: int = 1, constexprs: dict[str, Any] | None = None, **types: Any) -> N.Kernel:
    """Specialise ``fn`` and verify the result."""
    k = specialize(analyze(fn), types, constexprs or {}, grid_ndim, False)
    ir.verify(k)
    return k


def nodes(k: N.Kernel, cls: type) -> list[Any]:
    return [n for n in walk_body(k.body) if isinstance(n, cls)]


def local_type(k: N.Kernel, name: str) -> T.ScalarType:
    return {v.name: v.type for v in k.locals}[name]


SAXPY = """
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]
"""


# ------------------------------------------------------------------------------------------ analyze
def test_analyze_reads_params_and_annotations_including_string_annotations():
    fn = make("""
        def k(a: pk.float32, x: pk.Array[pk.float32, 2], n: pk.constexpr, y: 'pk.Array', z):
            pass
    """)
    src = analyze(fn)
    assert [p.name for p in src.params] == ["a", "x", "n", "y", "z"]
    assert src.params[0].annotation == T.float32
    assert src.params[1].annotation == T.ArrayAnnotation(T.float32, 2)
    assert src.params[2].annotation is T.constexpr
    assert src.params[3].annotation == T.Array
    assert src.params[4].annotation is None


def test_bad_annotation_is_a_compile_error():
    fn = make("""
        def k(a: 'no_such_name', x):
            pass
    """)
    with pytest.raises(pk.CompileError, match="annotation"):
        analyze(fn)


def test_numpy_dtype_annotation_maps_to_scalar_type():
    fn = make("""
        def k(a: np.int16):
            pass
    """)
    assert analyze(fn).params[0].annotation == T.int16


def test_index_dims_is_one_plus_highest_literal_dimension():
    assert analyze(make(SAXPY)).index_dims == 1
    fn = make("""
        def k(x):
            x[pk.global_id(0), pk.local_id(2)] = 1
    """)
    assert analyze(fn).index_dims == 3


def test_frozen_values_follow_globals_and_helpers():
    fn = make("""
        SCALE = 2
        @pk.func
        def helper(v):
            return v * SCALE
        def k(x):
            x[0] = helper(x[0]) + OFFSET
    """, {"OFFSET": 1.5})
    src = analyze(fn)
    before = src.frozen_values()
    assert before == src.frozen_values()
    hash(before)
    fn.__globals__["OFFSET"] = 2.5
    assert src.frozen_values() != before
    fn.__globals__["OFFSET"] = 1.5
    assert src.frozen_values() == before
    fn.__globals__["SCALE"] = 3   # read by the helper only
    assert src.frozen_values() != before


def test_frozen_values_distinguish_int_float_and_bool():
    fn = make("""
        def k(x):
            x[0] = C
    """, {"C": 1})
    src = analyze(fn)
    values = set()
    for v in (1, 1.0, True):
        fn.__globals__["C"] = v
        values.add(src.frozen_values())
    assert len(values) == 3


def test_source_hash_covers_called_helpers():
    a = make("""
        @pk.func
        def h(v):
            return v + 1
        def k(x):
            x[0] = h(x[0])
    """)
    b = make("""
        @pk.func
        def h(v):
            return v + 2
        def k(x):
            x[0] = h(x[0])
    """)
    assert analyze(a).source_hash != analyze(b).source_hash


def test_locations_are_absolute_lines_of_the_source_file():
    fn = make("\n\n\n" + SAXPY)
    k = lower(fn, a=T.float32, x=arr(), y=arr(), out=arr())
    store = nodes(k, N.Store)[0]
    assert store.loc.line == 8
    assert store.loc.text.strip() == "out[i] = a * x[i] + y[i]"
    assert k.loc.line == 5


# ------------------------------------------------------------------------------------------ basic lowering
def test_saxpy_lowers_to_typed_store():
    k = lower(make(SAXPY), a=T.float32, x=arr(), y=arr(), out=arr())
    assert [p.name for p in k.params] == ["a", "x", "y", "out"]
    assert k.written == ("out",)
    assert [(v.name, v.type) for v in k.locals] == [("i", T.int64)]
    (iff,) = [s for s in k.body if isinstance(s, N.If)]
    assert isinstance(iff.cond, N.Binary) and iff.cond.op is N.Op.LT
    assert isinstance(iff.cond.rhs, N.Shape)
    store = iff.then[0]
    assert isinstance(store, N.Store)
    assert ir.format_expr(store.value) == "((a * x[i]) + y[i])"
    assert store.value.type == T.float32


def test_store_casts_value_to_array_dtype():
    fn = make("""
        def k(x, out):
            out[0] = x[0] * 2
    """)
    k = lower(fn, x=arr(T.float64), out=arr(T.int32))
    store = nodes(k, N.Store)[0]
    assert isinstance(store.value, N.Cast) and store.value.type == T.int32


def test_augmented_store_is_load_op_cast_store():
    fn = make("""
        def k(x, v):
            x[pk.global_id(0)] += v
    """)
    k = lower(fn, x=arr(T.int16), v=T.int32)
    (store,) = nodes(k, N.Store)
    assert isinstance(store.value, N.Cast) and store.value.type == T.int16
    add = store.value.value
    assert isinstance(add, N.Binary) and add.op is N.Op.ADD and add.type == T.int32
    assert isinstance(add.lhs, N.Cast) and isinstance(add.lhs.value, N.Load)


def test_accumulator_unifies_to_float32_by_weak_promotion():
    fn = make("""
        def k(x, out):
            acc = 0
            for j in range(x.shape[0]):
                acc += x[j]
            out[0] = acc
    """)
    k = lower(fn, x=arr(T.float32), out=arr(T.float32))
    assert local_type(k, "acc") == T.float32
    assert local_type(k, "j") == T.int64


def test_variable_with_only_literals_is_int64():
    fn = make("""
        def k(out):
            n = 3
            n = n + 1
            out[0] = n
    """)
    assert local_type(lower(fn, out=arr(T.float32)), "n") == T.int64


def test_variable_unifies_over_all_assignments_with_numpy_promotion():
    fn = make("""
        def k(a, b, out):
            v = a
            if a > 0:
                v = b
            out[0] = v
    """)
    assert local_type(lower(fn, a=T.int32, b=T.uint32, out=arr()), "v") == T.int64
    assert local_type(lower(fn, a=T.int8, b=T.float32, out=arr()), "v") == T.float32


def test_loop_carried_variable_read_before_its_assignment_in_program_order():
    fn = make("""
        def k(x, out):
            prev = 0
            for j in range(4):
                if j > 0:
                    out[j] = prev
                prev = x[j]
    """)
    k = lower(fn, x=arr(T.float32), out=arr(T.float32))
    assert local_type(k, "prev") == T.float32


def test_for_range_uses_private_int64_loop_variable_copied_to_user_variable():
    fn = make("""
        def k(out):
            for j in range(1, 10, 3):
                out[j] = j
    """)
    k = lower(fn, out=arr(T.float32))
    (loop,) = nodes(k, N.For)
    assert loop.var.name.startswith("__pk_") and loop.var.type == T.int64
    assert [ir.format_expr(e) for e in (loop.start, loop.stop, loop.step)] == ["1", "10", "3"]
    first = loop.body[0]
    assert isinstance(first, N.Assign) and first.target.name == "j" and first.value == loop.var
    assert loop.var in k.locals


def test_while_break_continue_and_return():
    fn = make("""
        def k(out):
            i = pk.global_id(0)
            if i >= out.shape[0]:
                return
            n = 0
            while n < 10:
                n += 1
                if n == 3:
                    continue
                if n == 7:
                    break
            out[i] = n
    """)
    k = lower(fn, out=arr(T.int32))
    assert nodes(k, N.Return) and nodes(k, N.While) and nodes(k, N.Break) and nodes(k, N.Continue)


def test_tuple_unpacking_evaluates_right_hand_sides_first():
    fn = make("""
        def k(out):
            a = out[0]
            b = out[1]
            a, b = b, a
            out[0] = a
            out[1] = b
    """)
    k = lower(fn, out=arr(T.float32))
    text = ir.format_kernel(k)
    assert re.search(r"__pk_t0 = b.*\n.*__pk_t1 = a.*\n.*a = __pk_t0.*\n.*b = __pk_t1", text), text


def test_shape_unpacking_and_negative_dims_size_and_ndim():
    fn = make("""
        def k(x, out):
            n, m = x.shape
            out[0] = n + m + x.shape[-1] + x.size + x.ndim
    """)
    k = lower(fn, x=arr(T.float32, 2), out=arr(T.int64))
    shapes = nodes(k, N.Shape)
    assert {s.dim for s in shapes} == {0, 1}
    assert any(s.dim == 1 for s in shapes)


def test_index_queries_above_grid_ndim_fold_to_constants():
    fn = make("""
        def k(out):
            out[0] = pk.global_id(1) + pk.global_size(2) * 10 + pk.num_groups(1) * 100
    """)
    k = lower(fn, out=arr(T.int64))
    assert not nodes(k, N.IndexQuery)
    assert ir.format_expr(nodes(k, N.Store)[0].value) == "110"
    k2 = lower(fn, grid_ndim=2, out=arr(T.int64))
    assert {q.dim for q in nodes(k2, N.IndexQuery)} == {1}


def test_array_indices_are_cast_to_int64():
    fn = make("""
        def k(x, n):
            x[n] = 1
    """)
    k = lower(fn, x=arr(T.float32), n=T.int32)
    (store,) = nodes(k, N.Store)
    assert isinstance(store.indices[0], N.Cast) and store.indices[0].type == T.int64


def test_scalar_parameter_assignment_becomes_a_unified_local_copy():
    fn = make("""
        def k(a, out):
            a = a * 2.5
            out[0] = a
    """)
    k = lower(fn, a=T.int32, out=arr(T.float64))
    first = k.body[0]
    assert isinstance(first, N.Assign) and isinstance(first.value, N.Cast) and first.value.value == N.Var("a", T.int32)
    assert first.target.type == T.float64
    assert "a" not in {v.name for v in k.locals}


# ------------------------------------------------------------------------------------------ constants
def test_constexpr_if_prunes_the_dead_branch_and_sizes_local_arrays():
    fn = make("""
        def k(x, MODE: pk.constexpr, N: pk.constexpr):
            t = pk.local_array((N, 2), pk.float32)
            if MODE == 1:
                x[0] = 1.0
            else:
                x[0] = 2.0
            pk.barrier()
            for j in range(N):
                t[j, 0] = x[j]
    """)
    k = lower(fn, constexprs={"MODE": 1, "N": 8}, x=arr())
    assert [p.name for p in k.params] == ["x"]
    assert not nodes(k, N.If)
    assert ir.format_expr(nodes(k, N.Store)[0].value) == "1.0f"
    (decl,) = nodes(k, N.DeclArray)
    assert decl.array.type.shape == (8, 2) and decl.array.type.space == "local"
    assert k.uses_local and k.uses_barrier


def test_globals_fold_to_weak_and_numpy_scalars_to_strong_constants():
    fn = make("""
        def k(x):
            x[0] = x[0] * W + S
    """, {"W": 2.0, "S": np.float64(1.0)})
    k = lower(fn, x=arr(T.float32))
    val = nodes(k, N.Store)[0].value
    # float32 * weak 2.0 stays float32; + float64 scalar promotes to float64, then cast back
    assert isinstance(val, N.Cast) and val.value.type == T.float64


def test_global_array_is_a_compile_error_with_a_hint():
    fn = make("""
        def k(x):
            x[0] = TABLE[0]
    """, {"TABLE": np.zeros(3)})
    with pytest.raises(pk.CompileError) as info:
        lower(fn, x=arr())
    assert "argument" in str(info.value)


def test_math_module_constants_fold():
    fn = make("""
        def k(x):
            x[0] = math.pi
    """)
    assert ir.format_expr(nodes(lower(fn, x=arr(T.float64)), N.Store)[0].value) == repr(math.pi)


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
    rets = sorted(n for n in names if n.endswith("_ret"))
    assert len(rets) == 3
    assert {names[r] for r in rets} == {T.int64, T.float32, T.int32}
    assert k.written == ("x", "out")
    # return inside a loop: a flag and a break
    assert any(n.endswith("_done") for n in names)
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
    assert local_type(k, [v.name for v in k.locals if v.name.endswith("_ret")][0]) == T.int32


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
