"""Mutant backends: the numpy backend with exactly one defect each, to prove the suite can fail.

Each mutant rewrites the typed IR before the numpy backend renders it, so the defect is a real
semantic change of the generated code (not a post-hoc corruption of results), while its
capabilities still claim the contract (no FMA contraction, no denormal flushing):

- ``mutant-trunc-div``: integer ``//`` and ``%`` truncate towards zero (C's behaviour);
- ``mutant-fma``: contracts ``a*b+c`` into an FMA while claiming not to;
- ``mutant-flush``: flushes subnormal loads and stored/assigned values to zero, undeclared;
- ``mutant-exp``: ``exp`` about 10 ulp off;
- ``mutant-no-barrier``: drops the barrier, so work-group memory reads race ahead of the writes
  (they see the tile's previous contents);
- ``mutant-fmin``: ``min``/``max`` return the number when one operand is NaN (C's ``fmin``);
- ``mutant-nan-sign``: ``copysign(x, NaN)`` gives ``-|x|`` (x86's invalid-operation NaN is negative).
- ``mutant-half-flush``: half loads and stores flush the half format's denormals to zero (a GPU's
  flushing conversion instruction).
"""
from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Callable

from ..ir import nodes as ir
from ..ir.visit import walk_body
from ..types import ArraySpace, ArrayType, ScalarType, bool_

__all__ = ["MUTANTS", "register_mutants", "mutant_class"]


def _map(node: Any, fn: Callable[[Any], Any]) -> Any:
    """Rebuild ``node`` bottom-up, applying ``fn`` to every IR node."""
    if isinstance(node, tuple):
        return tuple(_map(x, fn) for x in node)
    if type(node).__module__ != ir.__name__ or isinstance(node, (ir.Loc, ir.Op)):
        return node
    changes = {f.name: _map(getattr(node, f.name), fn) for f in fields(node)}
    return fn(replace(node, **changes))


def _const(v: Any, t: Any) -> ir.Const:
    return ir.Const(v, t)


def _trunc_div(n: Any) -> Any:
    if isinstance(n, ir.Binary) and n.op in (ir.Op.FLOORDIV, ir.Op.MOD) and n.type.is_int and n.type.is_signed:
        t = n.type
        q = ir.Binary(ir.Op.FLOORDIV, n.lhs, n.rhs, t)
        r = ir.Binary(ir.Op.MOD, n.lhs, n.rhs, t)
        differ = ir.Binary(ir.Op.XOR, ir.Binary(ir.Op.LT, n.lhs, _const(0, t), bool_),
                           ir.Binary(ir.Op.LT, n.rhs, _const(0, t), bool_), bool_)
        fix = ir.Binary(ir.Op.LAND, ir.Binary(ir.Op.NE, r, _const(0, t), bool_), differ, bool_)
        if n.op is ir.Op.FLOORDIV:
            return ir.Select(fix, ir.Binary(ir.Op.ADD, q, _const(1, t), t), q, t)
        return ir.Select(fix, ir.Binary(ir.Op.SUB, r, n.rhs, t), r, t)
    return n


def _contract(n: Any) -> Any:
    if isinstance(n, ir.Binary) and n.op in (ir.Op.ADD, ir.Op.SUB) and n.type.is_float:
        lhs, rhs = n.lhs, n.rhs
        if isinstance(lhs, ir.Binary) and lhs.op is ir.Op.MUL:
            c = rhs if n.op is ir.Op.ADD else ir.Unary(ir.Op.NEG, rhs, n.type)
            return ir.Call(ir.Op.FMA, (lhs.lhs, lhs.rhs, c), n.type)
        if isinstance(rhs, ir.Binary) and rhs.op is ir.Op.MUL and n.op is ir.Op.ADD:
            return ir.Call(ir.Op.FMA, (rhs.lhs, rhs.rhs, lhs), n.type)
    return n


def _flush_expr(e: Any, tiny: float | None = None) -> Any:
    t = e.type
    if tiny is None:
        tiny = 1.1754943508222875e-38 if t.bits == 32 else 2.2250738585072014e-308
    small = ir.Binary(ir.Op.LT, ir.Call(ir.Op.ABS, (e,), t), _const(tiny, t), bool_)
    return ir.Select(small, ir.Binary(ir.Op.MUL, e, _const(0.0, t), t), e, t)


def _flush(n: Any) -> Any:
    if isinstance(n, ir.Load) and n.type.is_float and not n.type.is_half:
        return _flush_expr(n)
    if isinstance(n, (ir.Assign, ir.Store)) and isinstance(n.value.type, ScalarType) and n.value.type.is_float \
            and not n.value.type.is_half:
        return replace(n, value=_flush_expr(n.value))
    return n


#: the smallest normal of each half format: below it a flushing conversion gives zero
_HALF_TINY = {"float16": 2.0 ** -14, "bfloat16": 2.0 ** -126}


def _half_flush(n: Any) -> Any:
    if isinstance(n, ir.Cast) and isinstance(n.value, ir.Load) and n.value.type.is_half:      # a half load
        return _flush_expr(n, _HALF_TINY[n.value.type.name])
    if isinstance(n, ir.Store) and isinstance(n.value, ir.Cast) and n.value.type.is_half:     # a half store
        cast = n.value
        return replace(n, value=replace(cast, value=_flush_expr(cast.value, _HALF_TINY[cast.type.name])))
    return n


def _bad_exp(n: Any) -> Any:
    if isinstance(n, ir.Call) and n.op is ir.Op.EXP:
        eps = 2.0 ** -23 if n.type.bits == 32 else 2.0 ** -52
        return ir.Binary(ir.Op.MUL, n, _const(1.0 + 10 * eps, n.type), n.type)
    return n


def _fmin(n: Any) -> Any:
    if isinstance(n, ir.Call) and n.op in (ir.Op.MIN, ir.Op.MAX) and n.type.is_float:
        a, b = n.args
        return ir.Select(ir.Call(ir.Op.ISNAN, (a,), bool_), b,
                         ir.Select(ir.Call(ir.Op.ISNAN, (b,), bool_), a, n, n.type), n.type)
    return n


def _nan_sign(n: Any) -> Any:
    if isinstance(n, ir.Call) and n.op is ir.Op.COPYSIGN:
        a, b = n.args
        neg_abs = ir.Unary(ir.Op.NEG, ir.Call(ir.Op.ABS, (a,), n.type), n.type)
        return ir.Select(ir.Call(ir.Op.ISNAN, (b,), bool_), neg_abs, n, n.type)
    return n


def _drop_barrier(kernel: ir.Kernel) -> ir.Kernel:
    """Remove top-level barriers; local-array loads after the first one read a never-written tile."""
    stale: dict[str, ir.ArrayRef] = {}
    body: list[Any] = []
    seen_barrier = False

    def redirect(n: Any) -> Any:
        if isinstance(n, ir.Load) and n.array.type.space == ArraySpace.LOCAL:
            ref = stale.setdefault(n.array.name, ir.ArrayRef(n.array.name + "_stale", n.array.type))
            return replace(n, array=ref)
        return n

    for stmt in kernel.body:
        if isinstance(stmt, ir.Barrier):
            seen_barrier = True
            continue
        body.append(_map(stmt, redirect) if seen_barrier else stmt)
    sizes = {d.array.name: d.size for d in walk_body(kernel.body) if isinstance(d, ir.DeclArray)}
    decls = [ir.DeclArray(ref, size=sizes.get(name)) for name, ref in stale.items()]   # same size, at launch too
    return replace(kernel, body=tuple(decls) + tuple(body))


def _ir_pass(fn: Callable[[Any], Any]) -> Callable[[ir.Kernel], ir.Kernel]:
    return lambda k: replace(k, body=_map(k.body, fn))


#: mutant name -> (kernel transform, the defect in words)
MUTANTS: dict[str, tuple[Callable[[ir.Kernel], ir.Kernel], str]] = {
    "mutant-trunc-div": (_ir_pass(_trunc_div), "integer division that truncates"),
    "mutant-fma": (_ir_pass(_contract), "contracts a*b+c into an FMA but declares contracts_fma=False"),
    "mutant-flush": (_ir_pass(_flush), "flushes denormals but declares flushes_denormals=False"),
    "mutant-exp": (_ir_pass(_bad_exp), "exp about 10 ulp off"),
    "mutant-no-barrier": (_drop_barrier, "drops pk.barrier()"),
    "mutant-fmin": (_ir_pass(_fmin), "min/max drop NaN (C fmin/fmax)"),
    "mutant-nan-sign": (_ir_pass(_nan_sign), "copysign(x, NaN) reads x86's negative invalid-operation NaN: -|x|"),
    "mutant-half-flush": (_ir_pass(_half_flush), "float16/bfloat16 conversions flush the format's denormals"),
}


def mutant_class(name: str) -> type:
    """A subclass of the numpy backend that applies mutant ``name``'s transform before rendering."""
    from portakern_numpy import NumpyBackend

    transform, defect = MUTANTS[name]

    class Mutant(NumpyBackend):  # type: ignore[misc, valid-type]
        __doc__ = f"The numpy backend with one defect: {defect}."

        def render(self, kernel: ir.Kernel) -> str:
            return super().render(transform(kernel))

    Mutant.name = name  # type: ignore[misc]
    Mutant.__name__ = Mutant.__qualname__ = "Mutant_" + name.replace("-", "_")
    return Mutant


def register_mutants() -> list[str]:
    """Register every mutant backend (``pk.register_backend``); return their names."""
    from ..runtime.registry import register_backend

    for name in MUTANTS:
        register_backend(name, mutant_class(name))
    return list(MUTANTS)


_ = ArrayType  # the stale tile keeps the original ArrayType (space, shape, dtype)
