"""Checks every launch makes before the backend runs, shared by the general launch path and the
cached fast path: local arrays sized at launch (``portakern.ir.launch_local``), whose sizes depend on
the launch's scalar arguments, and outputs that alias a ``pk.constant`` argument."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import LaunchError
from ..ir.launch_local import evaluate
from ..types import ArrayType

__all__ = ["check_local_memory", "check_constant_aliasing"]


def check_local_memory(c: Any, natives: Sequence[Any], kname: str) -> None:
    """Local arrays sized at launch (``c.sized``, a :class:`LaunchSizes`): each size known (not a traced
    value), not negative, and all the work-group's local arrays within the device's ``max_local_memory``;
    else a LaunchError."""
    sizes = c.sized
    values = {}
    for name, i in sizes.positions.items():
        a = natives[i]
        try:
            values[name] = a if isinstance(c.ir.params[i].type, ArrayType) else int(a)
        except Exception:  # noqa: BLE001 - a jax tracer (inside jax.jit) has no value yet
            d = next(d for d, reads in zip(sizes.decls, sizes.reads) if name in reads)
            raise LaunchError(f"kernel '{kname}': the size of local array '{d.array.name}' at {d.loc} depends on "
                              f"'{name}', which has no value at this launch (a traced value inside jax.jit?); "
                              "pass it as a concrete number (mark it static in jax.jit, or make it a "
                              "pk.constexpr parameter)") from None
    counts = tuple(evaluate(d.size, values) for d in sizes.decls)  # type: ignore[arg-type]
    for d, n in zip(sizes.decls, counts):
        if n < 0:
            raise LaunchError(f"kernel '{kname}': local array '{d.array.name}' at {d.loc} would have {n} elements "
                              "at this launch; a size must not be negative")
    total = sizes.carve(counts)[1] + sizes.static_bytes
    if total > c.caps.max_local_memory:
        raise LaunchError(f"kernel '{kname}': its local arrays need {total} bytes per work-group at this launch "
                          f"({', '.join(f'{d.array.name}: {n}' for d, n in zip(sizes.decls, counts))} elements); "
                          f"backend '{c.backend.name}' on {c.device.name} allows {c.caps.max_local_memory}; use "
                          "smaller local arrays (e.g. a smaller work-group or tile)")


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
