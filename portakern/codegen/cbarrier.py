"""Which work-group barriers also need a global memory fence (the C-family renderer asks).

``pk.barrier()`` synchronises the work-group and makes memory writes visible to it. A fence on
global memory costs ~40% of a reduction's time on PoCL, and is only needed where work-items can
communicate through global memory across that barrier.
"""
from __future__ import annotations

from ..ir import nodes as ir
from ..ir.visit import walk
from ..types import ArraySpace


def barriers_needing_global_fence(kernel: ir.Kernel) -> set[int]:
    """``id`` of every Barrier across which work-items may communicate through global memory: a
    global write can come before it and a global access after it (in program order, or anywhere
    in a loop around it). Other barriers only need the work-group memory fence, which PoCL runs
    ~40% faster. Name-insensitive, so arrays passed twice (aliases) stay correct."""
    events: list[tuple[str, frozenset[int], int]] = []     # (kind R/W/B, enclosing loops, barrier id)

    def accesses(node: object, loops: frozenset[int]) -> None:
        for n in walk(node):
            if isinstance(n, (ir.Load, ir.Store, ir.Atomic)) and n.array.type.space == ArraySpace.GLOBAL:
                if not isinstance(n, ir.Load):
                    events.append(("W", loops, 0))
                if not isinstance(n, ir.Store):
                    events.append(("R", loops, 0))

    def visit(stmts: tuple[ir.Stmt, ...], loops: frozenset[int]) -> None:
        for st in stmts:
            if isinstance(st, ir.Barrier):
                events.append(("B", loops, id(st)))
            elif isinstance(st, ir.For):
                for e in (st.start, st.stop, st.step):
                    accesses(e, loops)
                visit(st.body, loops | {id(st)})
            elif isinstance(st, ir.While):
                accesses(st.cond, loops | {id(st)})
                visit(st.body, loops | {id(st)})
            elif isinstance(st, ir.If):
                accesses(st.cond, loops)
                visit(st.then, loops)
                visit(st.orelse, loops)
            else:
                accesses(st, loops)

    visit(kernel.body, frozenset())
    out: set[int] = set()
    for k, (kind, loops, bid) in enumerate(events):
        if kind != "B":
            continue
        near = [(i, ev) for i, ev in enumerate(events) if ev[0] != "B"]
        before = any(ev[0] == "W" and (i < k or ev[1] & loops) for i, ev in near)
        after = any(i > k or ev[1] & loops for i, ev in near)
        if before and after:
            out.add(bid)
    return out
