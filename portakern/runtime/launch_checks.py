"""Checks every launch makes before the backend runs, shared by the general launch path and the
cached fast path: local arrays sized at launch (``portakern.ir.launch_local``), whose sizes depend on
the launch's scalar arguments, and outputs that alias a ``pk.constant`` argument."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import LaunchError
from ..ir import nodes as ir
from ..ir.launch_local import carve, evaluate, static_local_bytes
from ..ir.visit import walk
from ..types import ArrayType

__all__ = ["check_local_memory", "check_constant_aliasing"]


def check_local_memory(c: Any, natives: Sequence[Any], kname: str) -> None:
    """Local arrays sized at launch: each size known (not a traced value), not negative, and all the
    work-group's local arrays within the device's ``max_local_memory``; else a LaunchError."""
    params = c.ir.params
    scalars: dict[str, Any] = {}
    for p, a in zip(params, natives):
        if isinstance(p.type, ArrayType):
            scalars[p.name] = a                      # its shape may size an array
            continue
        try:
            scalars[p.name] = int(a)
        except Exception:  # noqa: BLE001 - a jax tracer (inside jax.jit) has no value yet
            scalars[p.name] = None
    counts = []
    for d in c.sized:
        where = f"local array '{d.array.name}' at {d.loc}"
        unknown = [n.name for n in walk(d.size) if isinstance(n, ir.Var) and scalars.get(n.name) is None]
        if unknown:
            raise LaunchError(f"kernel '{kname}': the size of {where} depends on '{unknown[0]}', which has no "
                              f"value at this launch (a traced value inside jax.jit?); pass it as a concrete number "
                              "(mark it static in jax.jit, or make it a pk.constexpr parameter)")
        n = evaluate(d.size, {k: v for k, v in scalars.items() if v is not None})
        if n < 0:
            raise LaunchError(f"kernel '{kname}': {where} would have {n} elements at this launch; "
                              "a size must not be negative")
        counts.append(n)
    total = carve(c.ir, counts)[1] + static_local_bytes(c.ir)
    if total > c.caps.max_local_memory:
        raise LaunchError(f"kernel '{kname}': its local arrays need {total} bytes per work-group at this launch "
                          f"({', '.join(f'{d.array.name}: {n}' for d, n in zip(c.sized, counts))} elements); "
                          f"backend '{c.backend.name}' on {c.device.name} allows {c.caps.max_local_memory}; use smaller "
                          "local arrays (e.g. a smaller work-group or tile)")


def check_constant_aliasing(c: Any, values: Sequence[Any], names: Sequence[str], kname: str) -> None:
    """An array the kernel writes must not be (or overlap) a ``pk.constant`` argument: constant
    memory and ``__restrict__`` pointers assume nothing writes what they read. ``values`` are the
    launch's arguments by parameter index (``c.written`` and ``c.constants`` index them)."""
    for k in c.constants:
        ro = values[k]
        for w in c.written:
            out = values[w]
            if out is ro or (isinstance(out, np.ndarray) and isinstance(ro, np.ndarray)
                             and np.may_share_memory(out, ro)):
                raise LaunchError(f"kernel '{kname}': parameter '{names[w]}' is written, but its array is "
                                  f"(or overlaps) the pk.constant argument '{names[k]}'; pass a copy")
