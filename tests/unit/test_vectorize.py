"""The vectorising lowering (portakern.codegen.vectorize) on hand-built IR: the source it renders
and the write-safety analysis the numpy backend uses to skip defensive copies."""
from __future__ import annotations

import numpy as np

from portakern import types as T
from portakern.codegen.vectorize import render, written_sites_safe
from portakern.ir import nodes as ir
from portakern.runtime.backend import LaunchGrid

F32 = T.ArrayType(T.float32, 1)
X = ir.ArrayRef("x", F32)
OUT = ir.ArrayRef("out", F32)
IV = ir.Var("i", T.int64)
GID = ir.IndexQuery(ir.Op.GLOBAL_ID, 0, T.int64)


def _kernel(body, locals_=(IV,), written=("out",)):
    return ir.Kernel("k", (ir.Param("x", F32), ir.Param("out", F32)), tuple(body), tuple(locals_),
                     tuple(written), False, False)


def _run(kernel, n, x, out):
    from portakern_numpy.launch import NumpyLauncher

    return NumpyLauncher(kernel, render(kernel))(LaunchGrid((n,), None), [x, out])


COPY = [ir.Assign(IV, GID), ir.Store(OUT, (IV,), ir.Load(X, (IV,), T.float32))]


def test_render_is_python_source_defining_build_and_importing_nothing():
    src = render(_kernel(COPY))
    ns: dict = {}
    exec(compile(src, "<t>", "exec"), ns)
    assert callable(ns["build"]) and "import" not in src


def test_single_final_store_is_write_safe():
    assert written_sites_safe(_kernel(COPY))


def test_store_followed_by_a_load_is_not_write_safe():
    body = COPY + [ir.Store(OUT, (IV,), ir.Load(X, (ir.Binary(ir.Op.ADD, IV, ir.Const(1, T.int64), T.int64),),
                                                T.float32))]
    assert not written_sites_safe(_kernel(body))


def test_store_inside_a_loop_is_not_write_safe():
    j = ir.Var("j", T.int64)
    loop = ir.For(j, ir.Const(0, T.int64), ir.Const(2, T.int64), ir.Const(1, T.int64),
                  (ir.Store(OUT, (j,), ir.Const(1.0, T.float32)),))
    assert not written_sites_safe(_kernel([loop], locals_=(IV, j)))


def test_uniform_for_loop_accumulates_per_lane_values():
    j = ir.Var("j", T.int64)
    s = ir.Var("s", T.float32)
    body = [ir.Assign(IV, GID), ir.Assign(s, ir.Const(0.0, T.float32)),
            ir.For(j, ir.Const(0, T.int64), ir.Const(3, T.int64), ir.Const(1, T.int64),
                   (ir.Assign(s, ir.Binary(ir.Op.ADD, s, ir.Load(X, (IV,), T.float32), T.float32)),)),
            ir.Store(OUT, (IV,), s)]
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, dtype=np.float32)
    res = _run(_kernel(body, locals_=(IV, s, j)), 4, x, out)
    assert res["out"].tolist() == [0.0, 3.0, 6.0, 9.0]


def test_return_stops_only_the_lanes_that_take_it():
    cond = ir.Binary(ir.Op.LT, IV, ir.Const(2, T.int64), T.bool_)
    body = [ir.Assign(IV, GID), ir.If(cond, (ir.Return(),)), ir.Store(OUT, (IV,), ir.Const(7.0, T.float32))]
    out = np.zeros(4, dtype=np.float32)
    res = _run(_kernel(body), 4, np.zeros(4, np.float32), out)
    assert res["out"].tolist() == [0.0, 0.0, 7.0, 7.0]
