"""Generic traversal of the IR: children of a node, pre-order walks, and bounds-check sites."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Iterator

from . import nodes as ir

#: the name prefix of arrays a lowering pass adds (their accesses are numbered after the kernel's own)
SCRATCH_PREFIX = "__pk_sg_"


def children(node: object) -> Iterator[object]:
    """The IR nodes directly inside ``node`` (expressions and statements), in field order."""
    for f in fields(node):  # type: ignore[arg-type]
        value = getattr(node, f.name)
        if isinstance(value, tuple):
            for item in value:
                if _is_node(item):
                    yield item
        elif _is_node(value):
            yield value


def _is_node(value: object) -> bool:
    return type(value).__module__ == ir.__name__ and not isinstance(value, (ir.Loc, ir.Op))


def walk(node: object) -> Iterator[object]:
    """Every node below and including ``node``, pre-order, fields in declaration order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


def walk_body(body: tuple[ir.Stmt, ...]) -> Iterator[object]:
    """Every node of a statement list, pre-order."""
    for stmt in body:
        yield from walk(stmt)


@dataclass(frozen=True, slots=True)
class AccessSite:
    """One array access (Load, Store or Atomic) of a kernel; ``number`` is its pre-order position,
    the same on every backend, so a bounds-check failure can be reported by number."""

    number: int
    array: str
    ndim: int
    loc: ir.Loc


def access_sites(kernel: ir.Kernel) -> dict[int, AccessSite]:
    """Map ``id(node)`` of every Load/Store/Atomic of ``kernel`` to its :class:`AccessSite`."""
    sites: dict[int, AccessSite] = {}
    accesses = [n for n in walk_body(kernel.body) if isinstance(n, (ir.Load, ir.Store, ir.Atomic))]
    # the scratch arrays of a lowering pass (codegen/subgroup_local.py) come last, so that the
    # original kernel's numbers are those of the lowered one
    for node in sorted(accesses, key=lambda n: n.array.name.startswith(SCRATCH_PREFIX)):
        # a node the front end shares between statements is one site, numbered once
        if id(node) not in sites:
            sites[id(node)] = AccessSite(len(sites), node.array.name, node.array.type.ndim, node.loc)
    return sites


def index_error(kernel: ir.Kernel, site_number: int, index: tuple[int, ...],
                shape: tuple[int, ...]) -> Exception:
    """The :class:`portakern.KernelIndexError` a backend raises after a failed bounds check."""
    from ..errors import KernelIndexError

    site = next(s for s in access_sites(kernel).values() if s.number == site_number)
    line = f"{site.loc.file}:{site.loc.line}"
    text = site.loc.text.strip()
    return KernelIndexError(
        f"kernel '{kernel.name}': index {tuple(int(i) for i in index)} is out of bounds for array "
        f"'{site.array}' of shape {tuple(int(s) for s in shape)} at {line}" + (f": {text}" if text else ""))
