"""The kernel language as Python objects: index queries, barrier, arrays, atomics, math, ``pk.func``.

The front end recognises these objects BY IDENTITY when it resolves a name in a kernel (through
module globals, closures and attribute chains such as ``pk.global_id``), so they may be imported
under any name. Outside a kernel, the math functions compute with NumPy (handy in tests and host
code); the kernel-only builtins (index queries, barrier, arrays, atomics) raise
:class:`portakern.PortakernError`.

Python's ``math.X`` functions and NumPy's ufuncs map to the same operations where the mapping is
obvious (see :mod:`portakern.frontend.builtins`). Note that ``math.floor``, ``math.ceil`` and
``math.trunc`` return an ``int`` in Python but are FLOAT operations inside a kernel (as
``np.floor``): ``math.floor(x)`` of a float32 is a float32; wrap it in ``int(...)`` for an integer.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import PortakernError
from .ir import optable

__all__ = [
    "Builtin", "Func", "func", "barrier", "local_array", "private_array", "where",
    "vec", "vload", "vstore", "vsum", "vmin", "vmax", "dot",
    "subgroup_size", "subgroup_local_id", "subgroup_id", "num_subgroups",
    *(s.name for s in optable.SPECS.values() if s.node in ("index", "atomic", "call", "subgroup")),
]


class Builtin:
    """A builtin of the kernel language. ``name`` is its kernel-language name (the front end's key).

    ``host`` is what a call does outside a kernel; None means the builtin only exists inside one.
    """

    def __init__(self, name: str, host: Callable[..., Any] | None, doc: str) -> None:
        self.name = name
        self.host = host
        self.__doc__ = doc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.host is None:
            raise PortakernError(
                f"pk.{self.name}() can only be called inside a @pk.kernel or @pk.func "
                "(it has no meaning on the host)")
        return self.host(*args, **kwargs)

    def __repr__(self) -> str:
        return f"pk.{self.name}"

    def __reduce__(self) -> str:
        # Pickles by reference: ``portakern.lang.<name>`` is the one instance.
        return self.name


def _kernel_only(name: str, doc: str) -> Builtin:
    return Builtin(name, None, doc)


# ---------------------------------------------------------------------------------------- from the op table
# Index queries, atomics and math functions are made from ``portakern.ir.optable`` (one definition per op):
# ``pk.global_id``, ``pk.atomic_cas``, ``pk.sqrt``, ``pk.erf``... are module attributes created here.
for _spec in optable.SPECS.values():
    if _spec.node in ("index", "atomic", "call", "subgroup"):
        _doc = _spec.doc if _spec.node != "call" else (
            f"{_spec.name}({', '.join('xyz'[:_spec.arity])}): {_spec.doc}"
            + (f" (tier 1: within {_spec.ulp:g} ulp, docs/semantics.md)." if _spec.tier else " (exact)."))
        globals()[_spec.name] = Builtin(_spec.name, _spec.host_function(), _doc)
del _spec, _doc

# ---------------------------------------------------------------------------------------- memory, sync
barrier = _kernel_only("barrier", "barrier(): synchronise the work-group (local and global fences).")
local_array = _kernel_only(
    "local_array", "local_array(shape, dtype): work-group memory; shape an int or tuple of compile-time ints.")
private_array = _kernel_only(
    "private_array", "private_array(shape, dtype): per-work-item memory; shape compile-time.")
subgroup_size = _kernel_only("subgroup_size", "subgroup_size(): work-items per sub-group (32 on every backend).")
subgroup_local_id = _kernel_only(
    "subgroup_local_id", "subgroup_local_id(): this work-item's lane in its sub-group (local linear id % 32).")
subgroup_id = _kernel_only("subgroup_id", "subgroup_id(): the sub-group's index in the work-group (local linear id // 32).")
num_subgroups = _kernel_only("num_subgroups", "num_subgroups(): sub-groups per work-group.")
where = Builtin("where", np.where, "where(cond, a, b): a where cond else b (only the chosen value is computed).")

# ---------------------------------------------------------------------------------------- short vectors
vec = _kernel_only("vec", "vec(a, b, ...): a short vector of 2, 3, 4, 8 or 16 lanes (vectors among the "
                   "arguments give all their lanes); lanes v.x v.y v.z v.w or v[k], lanewise operators and math.")
vload = _kernel_only("vload", "vload(arr, index, n): the n elements arr[..., j], arr[..., j+1], ... of the last "
                     "axis, where index = (..., j) (an element index, not a vector index), as a vector.")
vstore = _kernel_only("vstore", "vstore(arr, index, v): store the lanes of v at arr[..., j], arr[..., j+1], ...")
vsum = _kernel_only("vsum", "vsum(v): v[0] + v[1] + ... added left to right.")
vmin = _kernel_only("vmin", "vmin(v): the smallest lane, as min(v[0], v[1], ...).")
vmax = _kernel_only("vmax", "vmax(v): the largest lane, as max(v[0], v[1], ...).")
dot = _kernel_only("dot", "dot(u, v): u[0]*v[0] + u[1]*v[1] + ... added left to right.")


#: Every builtin by its kernel-language name (the front end's lookup table).
BUILTINS: dict[str, Builtin] = {b.name: b for b in globals().values() if isinstance(b, Builtin)}


# ---------------------------------------------------------------------------------------- helpers
class Func:
    """A ``@pk.func`` helper: inlined into the kernels that call it; a plain function on the host.

    ``fn`` is the decorated Python function. The front end caches its analysis on the object.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn) or not hasattr(fn, "__code__"):
            raise PortakernError(f"@pk.func needs a Python function, got {fn!r}")
        self.fn = fn
        self._pk_source: Any = None
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<pk.func {getattr(self.fn, '__qualname__', self.fn)}>"


def func(fn: Callable[..., Any]) -> Func:
    """Decorator: make ``fn`` a helper callable from kernels (inlined at each call site) and from
    other helpers. It may return a value and is generic over its argument types."""
    return Func(fn)
