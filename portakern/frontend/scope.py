"""The lowering's state: one pass over a kernel body with the variable types of the previous pass.

Typing is a fixpoint: a pass lowers the whole body using the variable types decided so far (``env``)
and records the join of every value assigned to each variable (``assigned``). When a pass assigns
exactly the types it was given, its IR is the result; otherwise the next pass starts from the joins.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..errors import CompileError
from ..ir import nodes as ir
from .source import FunctionSource
from .values import VType

#: The front end's own variables: ``__pk_<kind><n>`` (temporaries t, loop counters i, arrays a, copied
#: parameters p_, a helper's result r and return flag d, a helper's names f<n>_<name>, lane k of a
#: vector variable v<k>_<name>). A kernel may
#: not use names of this form (checked in ``specialize``); a helper's names are behind its prefix.
RESERVED_PREFIX = "__pk_"


@dataclass
class FuncContext:
    """An inlined ``@pk.func`` call: its result variable and the return flag (when returns are not
    simply the last statement)."""

    name: str
    ret: str
    done: str | None
    has_value: bool
    loop_depth: int = 0
    #: what its returns give: -1 nothing lowered yet, 0 a number, k > 0 a tuple of k numbers
    #: (held in the result variables ``ret_0`` .. ``ret_{k-1}``)
    arity: int = -1
    #: the lanes of each returned value (0: a number), for ``arity`` 0 one entry
    lanes: tuple[int, ...] = ()


@dataclass
class Scope:
    """One function's names during a pass: the kernel's, or an inlined helper's (with a prefix)."""

    src: FunctionSource
    prefix: str
    bindings: dict[str, Any] = field(default_factory=dict)   # name -> value (arrays, types, consts, params)
    renames: dict[str, str] = field(default_factory=dict)    # name -> IR variable name, when not prefix+name
    func: FuncContext | None = None
    loop_depth: int = 0

    def var_name(self, name: str) -> str:
        return self.renames.get(name, self.prefix + name)

    def loc(self, node: ast.AST) -> ir.Loc:
        return self.src.loc(node)


@dataclass
class PassState:
    """What one pass shares across scopes."""

    env: dict[str, VType]
    assigned: dict[str, VType] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    unknown_reads: list[tuple[str, ir.Loc]] = field(default_factory=list)
    call_stack: list[int] = field(default_factory=list)
    declared: dict[str, int] = field(default_factory=dict)   # array name -> id of its declaring AST node
    vectors: dict[str, int] = field(default_factory=dict)    # vector variable -> its lanes (frontend/vectors.py)
    launch_args: set[str] = field(default_factory=set)       # scalar params never assigned: known at launch
    launch_sizes: dict[str, Any] = field(default_factory=dict)  # launch-sized local array -> its size TExpr
    lenient: bool = False   # skip statements that fail (a pass that only collects variable types)

    def fresh(self, kind: str) -> int:
        n = self.counters.get(kind, 0)
        self.counters[kind] = n + 1
        return n


def unsupported(scope: Scope, node: ast.AST, what: str, hint: str = "") -> CompileError:
    """The error for a construct outside the language."""
    return CompileError(f"{what} is not supported in kernels", loc=scope.loc(node), hint=hint)
