"""NEP 50 typing in the front end, checked against NumPy 2's own results (never against itself)."""
from __future__ import annotations

import itertools
import linecache
import textwrap
import warnings
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
TYPES = T.SCALAR_TYPES
OPS = {"+": N.Op.ADD, "-": N.Op.SUB, "*": N.Op.MUL, "//": N.Op.FLOORDIV, "%": N.Op.MOD, "/": N.Op.DIV,
       "&": N.Op.AND, "|": N.Op.OR, "^": N.Op.XOR, "<<": N.Op.SHL, ">>": N.Op.SHR}
NP_OPS = {"+": np.add, "-": np.subtract, "*": np.multiply, "//": np.floor_divide, "%": np.remainder,
          "/": np.true_divide, "&": np.bitwise_and, "|": np.bitwise_or, "^": np.bitwise_xor,
          "<<": np.left_shift, ">>": np.right_shift}


def make(src: str) -> Any:
    filename = f"<portakern-typing-test-{next(_COUNTER)}>"
    text = textwrap.dedent(src)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"pk": pk, "np": np}
    exec(compile(text, filename, "exec", dont_inherit=True), g)  # noqa: S102
    return next(v for k, v in g.items() if k == "k")


_KERNELS: dict[str, Any] = {}


def kernel_for(expr: str) -> Any:
    if expr not in _KERNELS:
        _KERNELS[expr] = make(f"""
            def k(a, b, out):
                out[0] = {expr}
        """)
    return _KERNELS[expr]


def result_type(expr: str, ta: T.ScalarType, tb: T.ScalarType = T.int8) -> T.ScalarType:
    """The type the front end gives ``expr`` (the value stored, before the cast to out's dtype)."""
    src = analyze(kernel_for(expr))
    k = specialize(src, {"a": ta, "b": tb, "out": T.ArrayType(T.float64, 1)}, {}, 1, False)
    ir.verify(k)
    store = next(n for n in walk_body(k.body) if isinstance(n, N.Store))
    v = store.value
    if isinstance(v, N.Cast) and v.type == T.float64:
        v = v.value
    return v.type


def numpy_type(op: str, a: Any, b: Any) -> np.dtype | None:
    """NumPy 2's result dtype for ``a op b`` on arrays/Python scalars (None where NumPy refuses)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(NP_OPS[op](a, b)).dtype
    except (TypeError, OverflowError, np.exceptions.DTypePromotionError):
        return None


def arr(t: T.ScalarType) -> np.ndarray:
    return np.ones(1, dtype=t.dtype)


@pytest.mark.parametrize("op", list(OPS))
def test_binary_result_types_match_numpy_for_every_pair_of_scalar_types(op):
    mismatches = []
    for ta, tb in itertools.product(TYPES, TYPES):
        expected = numpy_type(op, arr(ta), arr(tb))
        both_bool = ta.is_bool and tb.is_bool
        try:
            got: Any = result_type(f"a {op} b", ta, tb).dtype
        except pk.CompileError:
            got = None
        if both_bool and op not in ("&", "|", "^", "/"):
            # documented: arithmetic and shifts on two bools are errors (NumPy gives bool or int8)
            ok = got is None
        else:
            ok = got == expected
        if not ok:
            mismatches.append((str(ta), str(tb), got, expected))
    assert not mismatches, mismatches


@pytest.mark.parametrize("literal", ["1", "1.0", "True", "-3"])
@pytest.mark.parametrize("op", ["+", "*", "-", "//", "/", "&"])
def test_weak_python_literals_follow_nep50(op, literal):
    mismatches = []
    for ta in TYPES:
        value = eval(literal)  # noqa: S307 - a literal
        expected = numpy_type(op, arr(ta), value)
        try:
            got: Any = result_type(f"a {op} {literal}", ta).dtype
        except pk.CompileError:
            got = None
        if ta.is_bool and isinstance(value, bool) and op not in ("&", "/"):
            ok = got is None     # bool op bool: documented error
        elif ta.is_bool and op == "-":
            ok = got == expected or got is None
        else:
            ok = got == expected
        if not ok:
            mismatches.append((str(ta), got, expected))
    assert not mismatches, mismatches


def test_python_int_out_of_range_for_the_typed_operand_is_a_compile_error():
    with pytest.raises(pk.CompileError, match="300"):
        result_type("a + 300", T.int8)
    with pytest.raises(pk.CompileError):
        result_type("a + -1", T.uint8)
    assert result_type("a + 100", T.int8) == T.int8


def test_comparison_with_out_of_range_literal_compares_by_value():
    assert result_type("a < 1000", T.int8) == T.bool_
    assert result_type("a < b", T.int8, T.uint64) == T.bool_


def test_comparisons_promote_operands_first():
    k = specialize(analyze(kernel_for("a < b")),
                   {"a": T.int32, "b": T.float32, "out": T.ArrayType(T.float64, 1)}, {}, 1, False)
    cmp = next(n for n in walk_body(k.body) if isinstance(n, N.Binary))
    assert cmp.lhs.type == cmp.rhs.type == T.float64 == np.result_type(np.int32, np.float32)


def test_shift_without_numpy_loop_is_a_compile_error_with_cast_hint():
    with pytest.raises(pk.CompileError) as info:
        result_type("a << b", T.uint64, T.int64)
    assert "cast" in str(info.value)


@pytest.mark.parametrize("fn,np_fn", [("pk.sqrt", np.sqrt), ("pk.exp", np.exp), ("pk.floor", np.floor)])
def test_float_math_keeps_float_types_like_numpy_and_takes_ints_through_float64(fn, np_fn):
    for ta in TYPES:
        got = result_type(f"{fn}(a)", ta)
        if ta.is_float:
            assert got.dtype == np_fn(arr(ta)).dtype, ta
        else:
            # the contract: float math on ints/bools converts to float64 first (NumPy would pick
            # float16/float32 for small ints, which the backends do not all have)
            assert got == T.float64, ta


def test_min_max_keep_numpy_promoted_types():
    for ta, tb in itertools.product(TYPES, TYPES):
        if ta.is_bool and tb.is_bool:
            continue
        expected = np.minimum(arr(ta), arr(tb)).dtype
        assert result_type("min(a, b)", ta, tb).dtype == expected, (ta, tb)


def test_true_division_of_two_literals_is_float64():
    assert result_type("7 / 2", T.int8) == T.float64


def test_weak_variables_stay_weak_when_they_meet_typed_values():
    fn = make("""
        def k(a, b, out):
            s = 2
            t = 0.5
            out[0] = a * s + a * t
    """)
    k = specialize(analyze(fn), {"a": T.float32, "b": T.int8, "out": T.ArrayType(T.float32, 1)}, {}, 1, False)
    store = next(n for n in walk_body(k.body) if isinstance(n, N.Store))
    assert store.value.type == T.float32 and not isinstance(store.value, N.Cast)


def test_unification_promotes_int_and_float_assignments_like_numpy():
    fn = make("""
        def k(a, b, out):
            v = a
            v = b
            out[0] = v
    """)
    for ta, tb in [(T.int32, T.float32), (T.uint32, T.int32), (T.int64, T.uint64), (T.bool_, T.int8)]:
        k = specialize(analyze(fn), {"a": ta, "b": tb, "out": T.ArrayType(T.float64, 1)}, {}, 1, False)
        got = {v.name: v.type for v in k.locals}["v"]
        assert got.dtype == np.result_type(ta.dtype, tb.dtype), (ta, tb)
