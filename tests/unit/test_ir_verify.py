"""The IR verifier rejects each broken typing rule of nodes.py (naming the node), accepts good IR;
the printer shows a readable typed listing."""
from __future__ import annotations

import pytest

from portakern import ir
from portakern import types as T
from portakern.ir import nodes as N

F32 = T.float32
I64 = T.int64
X = N.ArrayRef("x", T.ArrayType(F32, 1))
Y2 = N.ArrayRef("y", T.ArrayType(T.int32, 2))
IV = N.Var("i", I64)
GID = N.IndexQuery(N.Op.GLOBAL_ID, 0, I64)


def kernel(*body: N.Stmt, locals_: tuple[N.Var, ...] = (IV,), grid_ndim: int = 1,
           params: tuple[N.Param, ...] | None = None, written: tuple[str, ...] = ()) -> N.Kernel:
    if params is None:
        params = (N.Param("a", F32), N.Param("x", X.type), N.Param("y", Y2.type))
    return N.Kernel("k", params, tuple(body), locals_, written, False, False, grid_ndim)


def load_x(idx: N.Expr = IV) -> N.Load:
    return N.Load(X, (idx,), F32)


GOOD = kernel(
    N.Assign(IV, GID),
    N.If(N.Binary(N.Op.LT, IV, N.Shape(X, 0, I64), T.bool_),
         (N.Store(X, (IV,), N.Binary(N.Op.MUL, N.Var("a", F32), load_x(), F32)),)),
    written=("x",),
)


def test_well_typed_kernel_passes():
    assert ir.verify(GOOD) is GOOD


BAD = {
    "binary operand types differ": kernel(N.Assign(IV, GID), N.Store(X, (IV,), N.Binary(
        N.Op.ADD, load_x(), N.Const(1.0, T.float64), F32))),
    "comparison not bool": kernel(N.Assign(IV, GID), N.If(N.Binary(N.Op.LT, IV, IV, I64), ())),
    "store value type differs from dtype": kernel(N.Assign(IV, GID), N.Store(X, (IV,), N.Const(1.0, T.float64))),
    "index count differs from ndim": kernel(N.Assign(IV, GID), N.Store(X, (IV, IV), N.Const(1.0, F32))),
    "index not int64": kernel(N.Store(X, (N.Const(0, T.int32),), N.Const(1.0, F32)), locals_=()),
    "index query dim at grid_ndim": kernel(N.Assign(IV, N.IndexQuery(N.Op.GLOBAL_ID, 1, I64))),
    "break outside loop": kernel(N.Break()),
    "call arity": kernel(N.Assign(IV, GID), N.Store(X, (IV,), N.Call(N.Op.ATAN2, (load_x(),), F32))),
    "var not in locals": kernel(N.Store(X, (IV,), N.Const(1.0, F32)), locals_=()),
    "assign type mismatch": kernel(N.Assign(IV, N.Const(1.0, F32))),
    "division of ints": kernel(N.Assign(IV, N.Binary(N.Op.DIV, GID, GID, I64))),
    "float math on int": kernel(N.Assign(IV, N.Call(N.Op.SQRT, (GID,), I64))),
    "condition not bool": kernel(N.Assign(IV, GID), N.While(IV, ())),
    "logical on ints": kernel(N.Assign(IV, GID), N.If(N.Binary(N.Op.LAND, IV, IV, T.bool_), ())),
    "const out of range": kernel(N.Assign(IV, N.Const(2**70, I64))),
    "undeclared local array": kernel(N.Assign(IV, GID), N.Store(
        N.ArrayRef("t", T.ArrayType(F32, 1, "local", True, (4,))), (IV,), N.Const(1.0, F32))),
    "atomic on private array": kernel(
        N.DeclArray(N.ArrayRef("p", T.ArrayType(F32, 1, "private", True, (4,)))),
        N.Evaluate(N.Atomic(N.Op.ATOMIC_ADD, N.ArrayRef("p", T.ArrayType(F32, 1, "private", True, (4,))),
                            (N.Const(0, I64),), N.Const(1.0, F32), F32)), locals_=()),
    "select arm type": kernel(N.Assign(IV, N.Select(N.Const(True, T.bool_), GID, N.Const(1, T.int32), I64))),
    "written not an array param": kernel(N.Assign(IV, GID), written=("a",)),
    "bitwise on floats": kernel(N.Assign(IV, GID), N.Store(X, (IV,), N.Binary(N.Op.AND, load_x(), load_x(), F32))),
    "for var not int64": kernel(N.For(N.Var("j", T.int32), N.Const(0, I64), N.Const(1, I64), N.Const(1, I64), ()),
                                locals_=(N.Var("j", T.int32),)),
    "shape of local array": kernel(
        N.DeclArray(N.ArrayRef("t", T.ArrayType(F32, 1, "local", True, (4,)))),
        N.Assign(IV, N.Shape(N.ArrayRef("t", T.ArrayType(F32, 1, "local", True, (4,))), 0, I64))),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_broken_rule_raises_verify_error(case):
    with pytest.raises(ir.VerifyError) as info:
        ir.verify(BAD[case])
    assert "kernel 'k'" in str(info.value)


def test_verify_error_is_not_a_user_error_nor_an_assertion():
    from portakern.errors import PortakernError

    assert not issubclass(ir.VerifyError, (PortakernError, AssertionError))


def test_loop_allows_break_and_continue():
    j = N.Var("j", I64)
    k = kernel(N.For(j, N.Const(0, I64), N.Const(4, I64), N.Const(1, I64), (N.Continue(), N.Break())),
               locals_=(j,))
    ir.verify(k)


def test_printer_lists_typed_statements_with_indentation():
    text = ir.format_kernel(GOOD)
    lines = text.splitlines()
    assert lines[0].startswith("kernel k(a: float32, x: global float32[:] C")
    assert "  i = global_id(0) : int64" in lines
    assert "  if (i < x.shape[0]):" in lines
    assert "    x[i] = (a * x[i]) : float32" in lines
