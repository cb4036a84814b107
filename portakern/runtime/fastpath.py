"""The guarded fast path of a cached launch.

After a launch succeeds, the general path (launch.run) records a :class:`Plan` on the kernel, keyed
by how it was launched (backend binding, ndrange, workgroup). The next launch with the same key
checks cheap guards — each argument's exact type, dtype, dimensions and layout, the globals the
kernel reads, the chosen backend still being the registered one — and runs the loaded kernel
directly. Any guard that fails returns MISS and the general path runs (and decides everything again),
so the fast path can only ever be a shortcut to what the general path would have done.

A plan for a launch routed to the default CPU backend also checks that the preference list and the
set of registered backends are unchanged. Plans are not recorded for arguments needing conversion or
copies (Python or annotated scalars, strided views, foreign GPU objects): those take the general path.
"""
from __future__ import annotations

import contextvars
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import LaunchError, PortakernError
from . import args as A
from . import cache, config, registry
from .backend import Backend
from .launch_checks import check_constant_aliasing, check_local_memory

__all__ = ["MISS", "Plan", "record", "current_backend"]

MISS = object()
_instances = registry._instances                # (the registry's dict itself, never rebound: one lookup less)
_GLOBAL_STATS = cache._GLOBAL
DEFAULT_CPU = "the default CPU backend"          # launch.choose_backend's word for that route

#: ``with pk.use(...)``: (backend name, device spec) for the current context.
current_backend: contextvars.ContextVar[tuple[str, Any] | None] = contextvars.ContextVar(
    "portakern_backend", default=None)
_H, _S, _N, _C = "h", "s", "n", "c"


class Plan:
    """Guards and everything needed to launch one cached specialisation again."""

    __slots__ = ("c", "guards", "kinds", "grid", "src", "frozen", "how", "ctx", "env", "backend", "device",
                 "written", "kernel", "preference", "generation", "scoped", "aliasing", "sized", "single",
                 "relations", "facts", "name", "host_is_native", "stats")

    def __init__(self, kernel: Any, c: Any, guards: tuple[Any, ...], kinds: list[int], grid: Any, src: Any,
                 frozen: Any, how: str, ctx: Any, env: Any) -> None:
        self.kernel, self.c, self.guards, self.kinds, self.grid = kernel, c, guards, kinds, grid
        self.src, self.frozen, self.how, self.ctx, self.env = src, frozen, how, ctx, env
        self.backend: Backend = c.backend
        self.name = c.backend.name
        # a host backend's from_host returns the array itself: the launch skips the call
        self.host_is_native = type(c.backend).from_host is Backend.from_host_identity
        self.stats = kernel._stats
        self.device = c.device
        self.written = frozenset(c.written)
        self.preference = registry.CPU_PREFERENCE
        self.generation = registry._generation
        # decided once here rather than on every launch
        self.scoped = how != "kernel.on(...)"             # routed by pk.use, PORTAKERN_BACKEND or the arrays
        self.aliasing = bool(c.constants and self.written)
        self.sized = bool(c.sized)
        self.relations, self.facts = c.relations, c.facts   # the shape relations c is specialised on
        # one written array: (its position, name, whether the result is the argument itself: a host
        # array the launcher hands back as it is, or a native array of an in-place backend)
        w = tuple(c.written)
        self.single = None
        if len(w) == 1 and kinds[w[0]] in (A.HOST, A.NATIVE):
            self.single = (w[0], c.names[w[0]], kinds[w[0]] == A.HOST, c.caps.in_place)

    def run(self, args: Sequence[Any], results: Any) -> Any:
        """Launch when every guard holds; else return MISS (nothing has run or been touched)."""
        guards = self.guards
        if len(args) != len(guards):
            return MISS
        if self.scoped:
            # identity: each ``with pk.use(...)`` block records its own plan
            if current_backend.get() is not self.ctx or config.default_backend() != self.env:
                return MISS
            if self.how == DEFAULT_CPU and (registry.CPU_PREFERENCE is not self.preference
                                            or registry._generation != self.generation):
                return MISS
        backend = self.backend
        # (no outside values read: nothing to compare; the slots a kernel reads are fixed when analysed)
        if _instances.get(self.name) is not backend or (self.frozen and self.src.frozen_values() != self.frozen):
            return MISS
        natives: list[Any] = []
        hosts: list[Any] = []
        device = self.device
        for g, a in zip(guards, args):
            kind = g[0]
            if kind is _H:
                if type(a) is not np.ndarray or a.dtype != g[1] or a.ndim != g[2]:
                    return MISS
                flags = a.flags
                if (g[3] and not flags.c_contiguous) or (g[4] and not flags.writeable):
                    return MISS
                for h in hosts:
                    if h is a:                          # one array passed twice: the general path
                        return MISS
                hosts.append(a)
                natives.append(a if self.host_is_native else backend.from_host(a, device))
            elif kind is _S:
                if type(a) is not g[1]:
                    return MISS
                natives.append(a)
            elif kind is _N:
                if type(a) is not g[1] or not backend.owns(a):
                    return MISS
                shape, dtype, contiguous = backend.native_shape(a)
                if dtype != g[2] or len(shape) != g[3] or (g[4] and not contiguous):
                    return MISS
                natives.append(a)
            elif type(a) is not g[1] or a != g[2] or (g[3] and math.copysign(1.0, a) != g[3]):
                return MISS                             # a constexpr with another value (or zero sign)
        if self.relations and A.shape_facts(self.relations, self.kinds, args, backend) != self.facts:
            return MISS                                 # another shape pattern: another specialisation
        kernel = self.kernel
        if self.aliasing:
            check_constant_aliasing(self.c, args, self.c.names, kernel.__name__)
        if self.sized:                                  # local arrays sized by this launch's scalars
            check_local_memory(self.c, natives, kernel.__name__)
        self.stats.memory_hits += 1
        _GLOBAL_STATS.memory_hits += 1
        try:
            out = self.c.launcher(self.grid, natives)
        except (PortakernError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            raise LaunchError(f"backend '{backend.name}' failed to run kernel '{kernel.__name__}': "
                              f"{type(exc).__name__}: {exc}") from exc
        single = self.single                            # what results() returns, without its loop:
        if single is not None and type(out) is dict:
            res = out.get(single[1])
            if single[2]:
                if res is args[single[0]]:              # the host array itself
                    return res
            elif res is not None:                       # a native array: the new one, or the argument
                return args[single[0]] if single[3] else res
        return results(self.c, self.kinds, args, args, out)   # guarded: every value is its original


def record(kernel: Any, key: Any, c: Any, b: A.Bound, params: Sequence[Any], grid: Any, src: Any, frozen: Any,
           how: str) -> None:
    """Store a Plan for this launch when every argument can be guarded cheaply."""
    if not hasattr(kernel, "_plans") or (c.constants and c.caps.max_constant_memory > 0):
        return        # (pk.constant arrays: constant memory or not is decided by their sizes, unguarded here)
    strided = c.caps.strided_arrays
    guards: list[Any] = []
    for i, (p, kind) in enumerate(zip(params, b.kinds)):
        a = b.originals[i]
        if kind == A.HOST:
            if type(a) is not np.ndarray or not a.flags.c_contiguous:
                return                                 # strided views: the general path (copies, layouts)
            guards.append((_H, a.dtype, a.ndim, True, i in c.written))
        elif kind == A.SCALAR:
            cls = type(a)
            if cls not in A._SCALAR_CLASSES or b.values[i] is not a:
                return                                 # converted (Python scalars, annotations)
            guards.append((_S, cls))
        elif kind == A.NATIVE:
            if a is not b.values[i]:
                return                                 # adopted foreign object
            shape, dtype, _ = c.backend.native_shape(a)
            guards.append((_N, type(a), dtype, len(shape), not strided))
        elif kind == A.CONST:
            value = b.constexprs[p.name]
            if type(a) is not type(value) or value != value:
                return                                 # NumPy scalar constexprs, NaN
            # -0.0 == 0.0, but 1 / c tells them apart: a float zero's sign is guarded too
            sign = math.copysign(1.0, value) if type(value) is float and value == 0 else 0.0
            guards.append((_C, type(a), value, sign))
        else:
            return
    ctx = current_backend.get()
    env = config.default_backend()
    if len(kernel._plans) >= config.memory_cache_size():
        kernel._plans.clear()                          # rebuilt by the next launch of each shape
    kernel._plans[key] = Plan(kernel, c, tuple(guards), list(b.kinds), grid, src, frozen, how, ctx, env)
