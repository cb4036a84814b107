"""IR-to-IR rewriting over the frozen nodes: the helper passes are written with.

``map_statements(stmts, fn)`` replaces each simple statement by a list of statements (a pass that turns
one statement into several), and ``FreshLocals`` names the variables a pass adds.

``rewrite(node, fn)`` rebuilds ``node`` bottom-up: each child is rewritten first, then ``fn`` sees the
node (with its new children) and returns a replacement, or None to keep it. A subtree nothing changed is
returned as the SAME object, and a node shared between two places is rewritten once (both places get
the one result), so passes keep the identities that bounds-check site numbers rely on
(:func:`portakern.ir.visit.access_sites` numbers nodes by ``id``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any, TypeVar

from ..types import ScalarType
from . import nodes as ir
from .visit import _is_node

__all__ = ["FreshLocals", "map_statements", "rewrite", "rewrite_kernel"]

N = TypeVar("N")


def _rewriter(fn: Callable[[Any], Any | None]) -> Callable[[Any], Any]:
    memo: dict[int, Any] = {}
    keep: list[Any] = []        # the originals, so their ids stay unique while memo holds them

    def visit(n: Any) -> Any:
        key = id(n)
        if key in memo:
            return memo[key]
        changes: dict[str, Any] = {}
        for f in fields(n):
            value = getattr(n, f.name)
            if isinstance(value, tuple):
                new = tuple(visit(v) if _is_node(v) else v for v in value)
                if any(a is not b for a, b in zip(new, value)):
                    changes[f.name] = new
            elif _is_node(value):
                new = visit(value)
                if new is not value:
                    changes[f.name] = new
        out = replace(n, **changes) if changes else n
        repl = fn(out)
        out = out if repl is None else repl
        memo[key] = out
        keep.append(n)
        return out

    return visit


def rewrite(node: N, fn: Callable[[Any], Any | None]) -> N:
    """``node`` with every node below and including it passed through ``fn``, bottom-up."""
    return _rewriter(fn)(node)  # type: ignore[no-any-return]


def rewrite_kernel(kernel: ir.Kernel, fn: Callable[[Any], Any | None]) -> ir.Kernel:
    """``kernel`` with its body rewritten by ``fn`` (the same object when nothing changed); a node
    shared between statements is rewritten once."""
    visit = _rewriter(fn)
    body = tuple(visit(s) for s in kernel.body)
    if all(a is b for a, b in zip(body, kernel.body)):
        return kernel
    return replace(kernel, body=body)


def map_statements(stmts: tuple[ir.Stmt, ...], fn: Callable[[ir.Stmt], list[ir.Stmt] | None]
                   ) -> tuple[ir.Stmt, ...]:
    """``stmts`` with every simple statement ``s`` (at any depth inside ``if``/``for``/``while``)
    replaced by ``fn(s)``, or kept where ``fn`` returns None."""
    out: list[ir.Stmt] = []
    for s in stmts:
        if isinstance(s, ir.If):
            out.append(replace(s, then=map_statements(s.then, fn), orelse=map_statements(s.orelse, fn)))
        elif isinstance(s, (ir.For, ir.While)):
            out.append(replace(s, body=map_statements(s.body, fn)))
        else:
            new = fn(s)
            out += [s] if new is None else new
    return tuple(out)


class FreshLocals:
    """Fresh scalar variables named ``<prefix><n>`` that no local of ``kernel`` already uses."""

    def __init__(self, kernel: ir.Kernel, prefix: str) -> None:
        taken = {v.name for v in kernel.locals}
        self._names = (f"{prefix}{i}" for i in range(1 << 30) if f"{prefix}{i}" not in taken)
        self.made: list[ir.Var] = []

    def __call__(self, t: ScalarType) -> ir.Var:
        v = ir.Var(next(self._names), t)
        self.made.append(v)
        return v
