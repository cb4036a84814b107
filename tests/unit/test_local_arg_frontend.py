"""Local arrays sized at launch in the front end and the IR: what may size one (an int expression of
the kernel's unassigned scalar parameters), how the host evaluates it, and how CUDA's block is carved."""
from __future__ import annotations

import itertools
import linecache
import textwrap

import numpy as np
import pytest

import portakern as pk
from portakern import types as T
from portakern.codegen.cabi import launch_layout
from portakern.frontend import analyze, specialize
from portakern.ir import nodes as ir
from portakern.ir.launch_local import ALIGN, LaunchSizes, evaluate, launch_sized, static_local_bytes

F32 = T.ArrayType(T.float32, 1)


_COUNTER = itertools.count()


def lower(src: str, **types: object) -> ir.Kernel:
    g: dict[str, object] = {"pk": pk}
    text, filename = textwrap.dedent(src), f"<local-arg-test-{next(_COUNTER)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), g)  # noqa: S102
    name = next(k for k, v in g.items() if callable(v) and k != "pk")
    return specialize(analyze(g[name]), types, {}, 1, False)


def refusal(src: str, **types: object) -> str:
    with pytest.raises(pk.CompileError) as info:
        lower(src, **types)
    return str(info.value)


def test_a_parameter_expression_sizes_a_one_d_local_array_without_a_compile_time_shape():
    k = lower("""
        def f(out, n, m):
            a = pk.local_array(n * 2 + pk.min(m, 4), pk.float32)
            b = pk.local_array(8, pk.int8)
            out[0] = a.shape[0]
    """, out=F32, n=T.int32, m=T.int64)
    (decl,) = launch_sized(k)
    assert decl.array.name == "a" and decl.array.type.shape is None and decl.array.type.ndim == 1
    assert decl.size is not None and decl.size.type == T.int64
    assert {v.name for v in _vars(decl.size)} == {"n", "m"}
    assert static_local_bytes(k) == 8


def _vars(e: object) -> list[ir.Var]:
    from portakern.ir.visit import walk
    return [n for n in walk(e) if isinstance(n, ir.Var)]


@pytest.mark.parametrize("body,why", [
    ("m = n + 1\n    a = pk.local_array(m, pk.float32)", "'m' is not a scalar parameter"),
    ("n = n + 1\n    a = pk.local_array(n, pk.float32)", "'n' is not a scalar parameter of the kernel (or is assigned"),
    ("a = pk.local_array(pk.global_id(0), pk.float32)", "it uses 'IndexQuery'"),
    ("a = pk.local_array(n << 2, pk.float32)", "it uses '<<'"),
    ("a = pk.local_array(pk.int64(x), pk.float32)", "it converts a float32 value"),
])
def test_a_size_not_known_at_launch_is_refused_with_the_reason(body, why):
    text = refusal(f"def f(out, n, x):\n    {body}\n    out[0] = 1\n", out=F32, n=T.int32, x=T.float32)
    assert "must be known at launch" in text and why in text


def test_a_helper_may_size_a_local_array_by_the_kernel_parameter_it_is_passed():
    g: dict[str, object] = {"pk": pk}
    text = textwrap.dedent("""
        @pk.func
        def stage(x, m):
            t = pk.local_array(m * 2, pk.float32)
            return t[0]

        @pk.func
        def bumped(x, m):
            m = m + 1
            t = pk.local_array(m, pk.float32)
            return t[0]

        def f(x, out, n):
            out[0] = stage(x, n)

        def h(x, out, n):
            out[0] = bumped(x, n)
    """)
    filename = f"<local-arg-test-{next(_COUNTER)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(compile(text, filename, "exec"), g)  # noqa: S102
    k = specialize(analyze(g["f"]), {"x": F32, "out": F32, "n": T.int32}, {}, 1, False)
    (decl,) = launch_sized(k)
    assert {v.name for v in _vars(decl.size)} == {"n"}
    with pytest.raises(pk.CompileError, match="'m' is not a scalar parameter of the kernel"):
        specialize(analyze(g["h"]), {"x": F32, "out": F32, "n": T.int32}, {}, 1, False)


def test_only_local_arrays_sized_by_one_int_may_be_sized_at_launch():
    assert "1-D" in refusal("def f(out, n):\n    a = pk.local_array((n, 2), pk.float32)\n    out[0] = 1\n",
                            out=F32, n=T.int32)
    assert "compile-time ints" in refusal("def f(out, n):\n    a = pk.private_array(n, pk.float32)\n    out[0] = 1\n",
                                         out=F32, n=T.int32)
    assert "must be an int" in refusal("def f(out, x):\n    a = pk.local_array(x, pk.float32)\n    out[0] = 1\n",
                                       out=F32, x=T.float32)


def test_the_host_evaluates_a_size_with_the_kernels_wrapping_arithmetic():
    k = lower("""
        def f(out, n):
            a = pk.local_array(n * 2, pk.float32)
            b = pk.local_array(pk.int64(n) * 2 // 0 + n % 7, pk.float32)
            out[0] = 1
    """, out=F32, n=T.int32)
    sizes = LaunchSizes(k).counts([np.zeros(1, np.float32), np.int32(2 ** 30 + 5)])
    # n * 2 wraps in int32 (as the kernel computes it); x // 0 == 0 by docs/semantics.md
    assert sizes == (-(2 ** 31) + 10, (2 ** 30 + 5) % 7)
    assert evaluate(ir.Call(ir.Op.MAX, (ir.Const(3, T.int64), ir.Var("n", T.int64)), T.int64), {"n": 9}) == 9


def test_carving_aligns_every_array_to_sixteen_bytes_in_declaration_order():
    k = lower("""
        def f(out, n):
            a = pk.local_array(n, pk.int8)
            b = pk.local_array(n, pk.float64)
            c = pk.local_array(n + 1, pk.int32)
            out[0] = 1
    """, out=F32, n=T.int64)
    assert [d.array.name for d in launch_sized(k)] == ["a", "b", "c"]
    offsets, total = LaunchSizes(k).carve((3, 3, 4))
    assert ALIGN == 16 and offsets == (0, 16, 48) and total == 64


def test_opencl_receives_each_launch_sized_array_as_a_local_argument_after_the_parameters():
    k = lower("""
        def f(out, n):
            a = pk.local_array(n, pk.int8)
            b = pk.local_array(n, pk.float64)
            out[0] = 1
    """, out=F32, n=T.int32)
    kinds = [kind for kind, _ in launch_layout(k, pack_dims=True, local_args=True)]
    assert kinds == ["array", "scalar", "local", "local", "dims"]
    assert "local" not in [kind for kind, _ in launch_layout(k, pack_dims=False)]
