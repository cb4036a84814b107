"""The front end: Python constructs -> the expected typed IR shapes (no backend involved)."""
from __future__ import annotations

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
from portakern.frontend import analyze
from portakern.ir import nodes as N
from tests.unit.frontend_kit import _COUNTER, SAXPY, arr, local_type, lower, make, nodes  # noqa: F401


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


@pytest.mark.parametrize("query, grid_ndim", [("global_id(1)", 1), ("global_size(2)", 2),
                                              ("local_id(1)", 1), ("num_groups(2)", 1)])
def test_an_index_query_of_a_dimension_the_ndrange_lacks_is_a_compile_error(query, grid_ndim):
    fn = make(f"""
        def k(out):
            out[0] = 1 + pk.{query}
    """)
    with pytest.raises(pk.CompileError) as info:
        lower(fn, grid_ndim=grid_ndim, out=arr(T.int64))
    msg = str(info.value)
    assert f"kernel 'k': pk.{query} queries dimension {query[-2]}" in msg
    assert f"ndrange has {grid_ndim} dimension(s)" in msg and info.value.loc.line == 3


def test_index_queries_below_grid_ndim_are_kept():
    fn = make("""
        def k(out):
            out[0] = pk.global_id(1) + pk.global_size(2) * 10 + pk.num_groups(1) * 100
    """)
    k = lower(fn, grid_ndim=3, out=arr(T.int64))
    assert {q.dim for q in nodes(k, N.IndexQuery)} == {1, 2}


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


def test_indented_decorated_kernel_keeps_absolute_lines_and_columns():
    filename = f"<portakern-frontend-test-{next(_COUNTER)}>"
    text = textwrap.dedent("""
        def factory():
            @(lambda f: f)
            def k(x):
                x[0] = nowhere + 1
            return k
    """)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"pk": pk}
    exec(compile(text, filename, "exec", dont_inherit=True), g)  # noqa: S102
    kfn = g["factory"]()
    with pytest.raises(pk.CompileError) as info:
        lower(kfn, x=arr())
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{filename}:5:")
    assert lines[2].index("^") == lines[1].index("nowhere")
