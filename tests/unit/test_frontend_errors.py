"""Every construct outside the language is a CompileError carrying file:line, the source line with
a caret under the construct, what is wrong and a hint; nothing else escapes the front end."""
from __future__ import annotations

import itertools
import linecache
import re
import textwrap
from typing import Any

import numpy as np
import pytest

import portakern as pk
from portakern import types as T
from portakern.frontend import analyze, specialize

_COUNTER = itertools.count()
F32 = T.ArrayType(T.float32, 1)


def make(src: str, extra: dict[str, Any] | None = None) -> tuple[Any, str]:
    filename = f"<portakern-errors-test-{next(_COUNTER)}>"
    text = textwrap.dedent(src)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"pk": pk, "np": np, "G": 1, "TABLE": np.zeros(3), "LST": [1, 2]}
    g.update(extra or {})
    exec(compile(text, filename, "exec", dont_inherit=True), g)  # noqa: S102
    name = re.findall(r"^def (\w+)", text, re.M)[-1]
    return g[name], filename


def compile_error(src: str, **types: Any) -> tuple[pk.CompileError, str, str]:
    fn, filename = make(src)
    types = types or {"x": F32, "out": F32}
    with pytest.raises(pk.CompileError) as info:
        specialize(analyze(fn), types, {}, 1, False)
    text = textwrap.dedent(src)
    bad = next(i for i, line in enumerate(text.splitlines(), 1) if "# BAD" in line)
    return info.value, f"{filename}:{bad}", text.splitlines()[bad - 1]


BAD = {
    "call_to_python_function": ("""
        def helper(v):
            return v
        def k(x, out):
            out[0] = helper(x[0])  # BAD
        """, "helper", "@pk.func"),
    "list": ("""
        def k(x, out):
            v = [1, 2]  # BAD
        """, "list", ""),
    "dict": ("""
        def k(x, out):
            v = {1: 2}  # BAD
        """, "dict", ""),
    "set": ("""
        def k(x, out):
            v = {1, 2}  # BAD
        """, "set", ""),
    "string": ("""
        def k(x, out):
            v = "abc"  # BAD
        """, "string", ""),
    "f_string": ("""
        def k(x, out):
            v = f"{x}"  # BAD
        """, "f-string", ""),
    "print": ("""
        def k(x, out):
            print(x[0])  # BAD
        """, "print", "array"),
    "comprehension": ("""
        def k(x, out):
            out[0] = sum([j for j in range(3)])  # BAD
        """, "comprehension", "for loop"),
    "generator": ("""
        def k(x, out):
            out[0] = sum(j for j in range(3))  # BAD
        """, "generator", "for loop"),
    "lambda": ("""
        def k(x, out):
            f = lambda v: v  # BAD
        """, "lambda", "@pk.func"),
    "try": ("""
        def k(x, out):
            try:  # BAD
                out[0] = 1
            except Exception:
                pass
        """, "try", ""),
    "with": ("""
        def k(x, out):
            with open("f"):  # BAD
                pass
        """, "with", ""),
    "raise": ("""
        def k(x, out):
            raise ValueError("no")  # BAD
        """, "raise", ""),
    "assert": ("""
        def k(x, out):
            assert x[0] > 0  # BAD
        """, "assert", "debug"),
    "global_write": ("""
        def k(x, out):
            global G
            G = 2  # BAD
        """, "global", "array"),
    "del": ("""
        def k(x, out):
            v = 1
            del v  # BAD
        """, "del", ""),
    "nested_def": ("""
        def k(x, out):
            def inner():  # BAD
                pass
        """, "nested function", "@pk.func"),
    "import": ("""
        def k(x, out):
            import math  # BAD
        """, "import", "module level"),
    "yield": ("""
        def k(x, out):
            yield 1  # BAD
        """, "yield", ""),
    "return_value": ("""
        def k(x, out):
            return 1  # BAD
        """, "return a value", "array"),
    "slice": ("""
        def k(x, out):
            out[0] = x[1:3]  # BAD
        """, "slicing", "index"),
    "wrong_index_count": ("""
        def k(x, out):
            out[0] = x[0, 0]  # BAD
        """, "1 dimension", "one integer index"),
    "float_index": ("""
        def k(x, out):
            out[0] = x[1.5]  # BAD
        """, "integer", "int("),
    "undefined_name": ("""
        def k(x, out):
            out[0] = nowhere  # BAD
        """, "nowhere", "argument"),
    "read_before_assignment": ("""
        def k(x, out):
            out[0] = later  # BAD
            if x[0] > 100:
                later = 1
        """, "before it is assigned", "assign"),
    "accumulator_never_initialised": ("""
        def k(x, out):
            for j in range(3):
                acc += x[j]  # BAD
        """, "before it is assigned", "acc = 0"),
    "non_literal_dim": ("""
        def k(x, out):
            d = pk.global_id(0)
            out[0] = pk.global_id(d)  # BAD
        """, "compile-time", "literal"),
    "dim_out_of_range": ("""
        def k(x, out):
            out[0] = pk.global_id(3)  # BAD
        """, "0, 1 or 2", ""),
    "global_array": ("""
        def k(x, out):
            out[0] = TABLE[0]  # BAD
        """, "TABLE", "argument"),
    "global_list": ("""
        def k(x, out):
            out[0] = LST[0]  # BAD
        """, "LST", "argument"),
    "array_rebinding": ("""
        def k(x, out):
            x = 1.0  # BAD
        """, "reassigned", "another name"),
    "unknown_attribute": ("""
        def k(x, out):
            out[0] = x.strides[0]  # BAD
        """, "strides", "shape"),
    "wrong_builtin_arity": ("""
        def k(x, out):
            out[0] = pk.sqrt(x[0], x[1])  # BAD
        """, "takes 1 argument", ""),
    "keyword_to_builtin": ("""
        def k(x, out):
            out[0] = pk.sqrt(x=x[0])  # BAD
        """, "keyword", "position"),
    "bitwise_on_float": ("""
        def k(x, out):
            out[0] = x[0] & 1  # BAD
        """, "integers", "cast"),
    "is_operator": ("""
        def k(x, out):
            if x[0] is None:  # BAD
                pass
        """, "'is'", "=="),
    "walrus": ("""
        def k(x, out):
            if (v := x[0]) > 0:  # BAD
                pass
        """, ":=", "separate"),
    "for_over_array": ("""
        def k(x, out):
            for v in x:  # BAD
                pass
        """, "range", "range"),
    "for_else": ("""
        def k(x, out):
            for j in range(3):  # BAD
                pass
            else:
                pass
        """, "for ... else", "flag"),
    "atomic_on_int8": ("""
        def k(x, out):
            pk.atomic_add(x, 0, 1)  # BAD
        """, "int8", "int32"),
    "local_array_runtime_shape": ("""
        def k(x, out):
            t = pk.local_array(pk.global_id(0), pk.float32)  # BAD
        """, "known at launch", "constexpr"),
    "range_outside_for": ("""
        def k(x, out):
            r = range(3)  # BAD
        """, "for loop", "for i in range"),
    "none_value": ("""
        def k(x, out):
            v = None  # BAD
        """, "None", ""),
    "matmul": ("""
        def k(x, out):
            out[0] = x[0] @ x[1]  # BAD
        """, "@", ""),
    "barrier_as_value": ("""
        def k(x, out):
            v = pk.barrier()  # BAD
        """, "no value", ""),
}


@pytest.mark.parametrize("case", list(BAD))
def test_unsupported_construct_reports_file_line_caret_and_hint(case):
    src, needle, hint_needle = BAD[case]
    types = {"x": T.ArrayType(T.int8, 1), "out": F32} if case == "atomic_on_int8" else {}
    err, where, line = compile_error(src, **types)
    msg = str(err)
    assert msg.startswith(where + ":"), msg
    assert needle in msg, msg
    lines = msg.splitlines()
    assert lines[1].strip() == line.strip(), msg
    assert lines[2].strip() == "^", msg
    if hint_needle:
        assert "hint:" in msg and hint_needle in msg.split("hint:", 1)[1], msg


def test_caret_points_at_the_offending_construct():
    err, _, _ = compile_error("""
        def k(x, out):
            out[0] = x[0] + nowhere  # BAD
        """)
    lines = str(err).splitlines()
    assert lines[2].index("^") == lines[1].index("nowhere")


def test_recursive_helper_is_a_compile_error_at_the_recursive_call():
    fn, filename = make("""
        @pk.func
        def down(n):
            if n <= 0:
                return 0
            return down(n - 1) + 1
        def k(x, out):
            out[0] = down(3)
    """)
    with pytest.raises(pk.CompileError) as info:
        specialize(analyze(fn), {"x": F32, "out": F32}, {}, 1, False)
    assert f"{filename}:6" in str(info.value) and "recurs" in str(info.value)


def test_mixed_returns_in_helper_is_a_compile_error():
    fn, _ = make("""
        @pk.func
        def h(v):
            if v > 0:
                return
            return v
        def k(x, out):
            h(x[0])
    """)
    with pytest.raises(pk.CompileError, match="mixes"):
        specialize(analyze(fn), {"x": F32, "out": F32}, {}, 1, False)


def test_wrong_argument_count_to_helper():
    fn, _ = make("""
        @pk.func
        def h(a, b):
            return a + b
        def k(x, out):
            out[0] = h(x[0])
    """)
    with pytest.raises(pk.CompileError, match="missing the argument 'b'"):
        specialize(analyze(fn), {"x": F32, "out": F32}, {}, 1, False)


def test_missing_argument_type_is_a_compile_error():
    fn, _ = make("""
        def k(x, out):
            pass
    """)
    with pytest.raises(pk.CompileError, match="out"):
        specialize(analyze(fn), {"x": F32}, {}, 1, False)


def test_lambda_kernel_and_builtin_function_are_compile_errors():
    with pytest.raises(pk.CompileError):
        analyze(len)
    with pytest.raises(pk.CompileError):
        src = analyze(lambda x: x)  # noqa: E731
        specialize(src, {"x": F32}, {}, 1, False)


def test_source_unavailable_is_a_compile_error():
    g: dict[str, Any] = {}
    exec(compile("def k(x):\n    pass\n", "<no-such-source-file>", "exec"), g)  # noqa: S102
    linecache.cache.pop("<no-such-source-file>", None)
    with pytest.raises(pk.CompileError, match="source"):
        analyze(g["k"])


def test_common_python_functions_get_a_specific_hint():
    err, _, _ = compile_error("""
        def k(x, out):
            out[0] = round(x[0])  # BAD
        """)
    assert "pk.rint" in str(err)


def test_unsupported_numpy_type_is_named():
    err, _, _ = compile_error("""
        def k(x, out):
            out[0] = np.complex64(x[0])  # BAD
        """)
    assert "complex64 is not supported" in str(err)


def test_helper_that_can_end_without_a_value_is_a_compile_error():
    fn, _ = make("""
        @pk.func
        def h(v):
            if v > 0:
                return v
        def k(x, out):
            out[0] = h(x[0])
    """)
    with pytest.raises(pk.CompileError, match="without returning"):
        specialize(analyze(fn), {"x": F32, "out": F32}, {}, 1, False)
