"""Fuzzing the front end: Hypothesis writes valid and invalid kernel sources (registered in
linecache, as the conformance suite does); analyze+specialize must return a verified ir.Kernel or
raise a PortakernError, never anything else."""
from __future__ import annotations

import itertools
import linecache
import math
import warnings
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import portakern as pk
from portakern import ir
from portakern import types as T
from portakern.frontend import analyze, specialize

_COUNTER = itertools.count()

SCALARS = ["a", "b", "i", "v0", "v1", "v2"]
LITERALS = ["0", "1", "-1", "2", "3", "7", "255", "300", "-129", "2**40", "2**63", "2**64", "0.5", "-2.5",
            "1e300", "True", "False", "math.pi", "K", "F", "None", "'s'", "N"]
UNARY_CALLS = ["pk.sqrt", "math.floor", "np.exp", "abs", "int", "float", "bool", "pk.float32", "np.int8",
               "pk.uint64", "pk.isnan", "math.log1p", "pk.rsqrt", "pk.trunc", "print", "len", "helper",
               "noret", "pk.global_id", "pk.local_size", "pk.barrier", "sum", "undefined"]
BINARY_CALLS = ["min", "max", "pow", "pk.atan2", "pk.copysign", "pk.hypot", "np.minimum", "math.pow",
                "helper2"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "&", "|", "^", "<<", ">>", "@"]
CMPOPS = ["<", "<=", ">", ">=", "==", "!=", "is", "in"]


def _leaf() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SCALARS),
        st.sampled_from(LITERALS),
        st.sampled_from(["x[i]", "y[i]", "x[0]", "x[i, i]", "x[1:2]", "x[2.5]", "x.shape[0]", "x.shape[-1]",
                         "x.size", "x.ndim", "x.shape[5]", "x.foo", "y.shape", "t[0]", "p[1]", "x", "[1, 2]",
                         "{1: 2}", "(a, b)", "lambda: 1", "f'{a}'", "pk", "pk.global_id(0)",
                         "pk.global_id(1)", "pk.num_groups(2)", "pk.global_id(a)"]),
    )


def _expr(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(BINOPS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["-", "~", "not ", "+"]), children).map(lambda t: f"({t[0]}{t[1]})"),
        st.tuples(children, st.lists(st.tuples(st.sampled_from(CMPOPS), children), min_size=1, max_size=2))
          .map(lambda t: "(" + t[0] + "".join(f" {o} {e}" for o, e in t[1]) + ")"),
        st.tuples(children, st.sampled_from(["and", "or"]), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.tuples(st.sampled_from(UNARY_CALLS), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(BINARY_CALLS), children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        st.tuples(children, children, children).map(lambda t: f"pk.where({t[0]}, {t[1]}, {t[2]})"),
        st.tuples(st.sampled_from(["pk.atomic_add", "pk.atomic_max"]), st.sampled_from(["x", "y", "t", "p", "a"]),
                  children, children).map(lambda t: f"{t[0]}({t[1]}, {t[2]}, {t[3]})"),
    )


EXPR = st.recursive(_leaf(), _expr, max_leaves=8)
TARGETS = st.sampled_from(["v0", "v1", "v2", "x[i]", "y[0]", "t[i]", "a", "x", "v0, v1", "x.shape", "G"])


def _stmt(depth: int) -> st.SearchStrategy[list[str]]:
    simple = st.one_of(
        st.tuples(TARGETS, EXPR).map(lambda t: [f"{t[0]} = {t[1]}"]),
        st.tuples(st.sampled_from(["v0", "v1", "x[i]", "t[0]"]), st.sampled_from(["+=", "*=", "-=", "//=", "|="]),
                  EXPR).map(lambda t: [f"{t[0]} {t[1]} {t[2]}"]),
        EXPR.map(lambda e: [e]),
        st.sampled_from([["pass"], ["return"], ["return 1"], ["pk.barrier()"], ["global G"],
                         ["w = pk.local_array(4, pk.float32)"], ["q = pk.private_array((2, N), np.int32)"],
                         ["w = pk.local_array(a, pk.float32)"], ["t = pk.local_array(4, pk.float32)"], ["del v0"], ["assert v0"],
                         ["v0: pk.float32 = 1"], ["import math"], ["v0, v1 = v1, v0"], ["clear(x)"]]),
    )
    if depth == 0:
        return simple
    body = st.lists(_stmt(depth - 1), min_size=1, max_size=3).map(lambda ls: [ln for s in ls for ln in s])
    loop_body = st.lists(st.one_of(_stmt(depth - 1), st.just(["break"]), st.just(["continue"])),
                         min_size=1, max_size=3).map(lambda ls: [ln for s in ls for ln in s])

    def indent(lines: list[str]) -> list[str]:
        return ["    " + ln for ln in lines]

    return st.one_of(
        simple,
        st.tuples(EXPR, body, body).map(lambda t: [f"if {t[0]}:"] + indent(t[1]) + ["else:"] + indent(t[2])),
        st.tuples(st.sampled_from(["range(3)", "range(a)", "range(1, x.shape[0], 2)", "range(0.5)", "x",
                                   "range(N)", "range(b, 0, -1)"]), loop_body)
          .map(lambda t: [f"for v2 in {t[0]}:"] + indent(t[1])),
        st.tuples(EXPR, loop_body).map(lambda t: [f"while {t[0]}:"] + indent(t[1])),
    )


BODY = st.lists(_stmt(2), min_size=1, max_size=5).map(lambda ls: [ln for s in ls for ln in s])
SCALAR_TYPE = st.sampled_from(T.SCALAR_TYPES)
ARRAY_TYPE = st.tuples(SCALAR_TYPE, st.integers(1, 2)).map(lambda t: T.ArrayType(t[0], t[1]))

PRELUDE = '''
@pk.func
def helper(v):
    if v > 0:
        return v * 2
    return v

@pk.func
def helper2(u, w):
    for q in range(2):
        if u > w:
            return u
    return w

@pk.func
def noret(v):
    pass

@pk.func
def clear(arr):
    arr[0] = 0

'''


KERNEL_HEAD = """def k(a, b, x, y, N):
    i = pk.global_id(0)
    v0 = a
    v1 = b
    v2 = 0
    t = pk.local_array(4, pk.float32)
    p = pk.private_array((2, 3), np.int32)
"""


def _build(lines: list[str]) -> Any:
    text = PRELUDE + KERNEL_HEAD + "".join(f"    {ln}\n" for ln in lines)
    filename = f"<portakern-fuzz-{next(_COUNTER)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"pk": pk, "np": np, "math": math, "K": 3, "F": np.float32(1.5), "G": 0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # "is" with a literal, and the like
            code = compile(text, filename, "exec", dont_inherit=True)
    except SyntaxError:
        return None   # Python itself rejects it (e.g. 'return 1' then 'yield'); not the front end's input
    exec(code, g)  # noqa: S102
    return g["k"]


@given(BODY, SCALAR_TYPE, SCALAR_TYPE, ARRAY_TYPE, ARRAY_TYPE, st.sampled_from([4, 2, 0]), st.integers(1, 3),
       st.booleans())
def test_front_end_returns_a_verified_kernel_or_raises_a_portakern_error(body, ta, tb, tx, ty, n, grid_ndim,
                                                                         debug):
    fn = _build(body)
    if fn is None:
        return
    try:
        src = analyze(fn)
        src.frozen_values()
        assert isinstance(src.source_hash, str) and src.index_dims >= 1
        k = specialize(src, {"a": ta, "b": tb, "x": tx, "y": ty}, {"N": n}, grid_ndim, debug)
    except pk.PortakernError as exc:
        assert "internal error" not in str(exc), str(exc)
        return
    ir.verify(k)
    ir.format_kernel(k)


# ------------------------------------------------------------------------------------------ mostly valid kernels
VALID_LEAF = st.sampled_from(["a", "b", "v0", "v1", "v2", "i", "x[i]", "y[0]", "t[1]", "p[1, 2]", "1", "2", "-3",
                              "0.5", "True", "K", "F", "N", "x.shape[0]", "x.size"])
VALID_EXPR = st.recursive(VALID_LEAF, lambda c: st.one_of(
    st.tuples(c, st.sampled_from(["+", "-", "*", "/", "//", "%", "<", "==", "!=", ">="]), c)
      .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(c, st.sampled_from(["and", "or"]), c).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
    st.tuples(c, c, c).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
    st.tuples(st.sampled_from(["pk.sqrt", "abs", "int", "pk.float32", "helper", "math.floor", "not "]), c)
      .map(lambda t: f"{t[0]}({t[1]})"),
    st.tuples(st.sampled_from(["min", "max", "helper2", "pk.copysign"]), c, c).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
), max_leaves=6)


def _valid_stmt(depth: int) -> st.SearchStrategy[list[str]]:
    simple = st.one_of(
        st.tuples(st.sampled_from(["v0", "v1", "v2", "x[i]", "y[0]", "t[0]", "p[0, 1]"]), VALID_EXPR)
          .map(lambda t: [f"{t[0]} = {t[1]}"]),
        VALID_EXPR.map(lambda e: [f"v0, v1 = {e}, v0"]),
        st.tuples(st.sampled_from(["v0", "x[i]", "t[2]"]), st.sampled_from(["+=", "*=", "-="]), VALID_EXPR)
          .map(lambda t: [f"{t[0]} {t[1]} {t[2]}"]),
        st.sampled_from([["pk.barrier()"], ["pk.atomic_add(y, 0, v0)"], ["v1 = pk.atomic_max(y, i, 1)"],
                         ["clear(y)"], ["pass"]]),
    )
    if depth == 0:
        return simple
    body = st.lists(_valid_stmt(depth - 1), min_size=1, max_size=3).map(lambda ls: [ln for s in ls for ln in s])

    def indent(lines: list[str]) -> list[str]:
        return ["    " + ln for ln in lines]

    return st.one_of(
        simple,
        st.tuples(VALID_EXPR, body, body).map(lambda t: [f"if {t[0]}:"] + indent(t[1]) + ["else:"] + indent(t[2])),
        st.tuples(st.sampled_from(["range(3)", "range(N)", "range(1, x.shape[0], 2)", "range(i, 0, -1)"]), body)
          .map(lambda t: [f"for v2 in {t[0]}:"] + indent(t[1] + ["if v2 > 5:", "    break"])),
        st.tuples(VALID_EXPR, body).map(lambda t: ["while v1 < 10:"] + indent(t[1] + ["v1 = v1 + 1"])),
    )


VALID_BODY = st.lists(_valid_stmt(2), min_size=1, max_size=4).map(lambda ls: [ln for s in ls for ln in s])
NUMERIC = st.sampled_from([T.int8, T.int32, T.int64, T.uint32, T.uint64, T.float32, T.float64])
ATOMIC_1D = st.sampled_from([T.int32, T.uint32, T.int64, T.float32, T.float64]).map(lambda t: T.ArrayType(t, 1))


@given(VALID_BODY, NUMERIC, NUMERIC, ATOMIC_1D, ATOMIC_1D, st.sampled_from([4, 1]), st.integers(1, 3))
def test_well_formed_kernels_lower_to_verified_ir(body, ta, tb, tx, ty, n, grid_ndim):
    fn = _build(body)
    if fn is None:
        return
    try:
        k = specialize(analyze(fn), {"a": ta, "b": tb, "x": tx, "y": ty}, {"N": n}, grid_ndim, False)
    except pk.CompileError as exc:
        # the only errors this grammar can provoke are NumPy's own refusals
        assert any(s in str(exc) for s in ("does not fit", "too large", "on bool", "is not supported")), str(exc)
        return
    ir.verify(k)
    assert k.uses_local
