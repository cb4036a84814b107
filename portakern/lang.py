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

import builtins
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import PortakernError

__all__ = [
    "Builtin", "Func", "func",
    "global_id", "local_id", "group_id", "global_size", "local_size", "num_groups",
    "barrier", "local_array", "private_array",
    "atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_and", "atomic_or", "atomic_xor",
    "atomic_xchg", "atomic_cas", "where", "vec", "vload", "vstore", "vsum", "vmin", "vmax", "dot",
    "sqrt", "rsqrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan",
    "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "erf", "erfc", "pow", "floor", "ceil",
    "trunc", "rint", "abs", "min", "max", "fma", "copysign", "hypot", "isnan", "isinf", "isfinite",
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


# ---------------------------------------------------------------------------------------- index space
global_id = _kernel_only("global_id", "global_id(d): this work-item's index in dimension d (int64).")
local_id = _kernel_only("local_id", "local_id(d): index within the work-group in dimension d (int64).")
group_id = _kernel_only("group_id", "group_id(d): the work-group's index in dimension d (int64).")
global_size = _kernel_only("global_size", "global_size(d): the ndrange in dimension d (int64).")
local_size = _kernel_only("local_size", "local_size(d): the work-group size in dimension d (int64).")
num_groups = _kernel_only("num_groups", "num_groups(d): the number of work-groups in dimension d (int64).")

# ---------------------------------------------------------------------------------------- memory, sync
barrier = _kernel_only("barrier", "barrier(): synchronise the work-group (local and global fences).")
local_array = _kernel_only(
    "local_array", "local_array(shape, dtype): work-group memory; shape an int or tuple of compile-time ints.")
private_array = _kernel_only(
    "private_array", "private_array(shape, dtype): per-work-item memory; shape compile-time.")
atomic_add = _kernel_only("atomic_add", "atomic_add(arr, index, value): arr[index] += value; returns the old value.")
atomic_sub = _kernel_only("atomic_sub", "atomic_sub(arr, index, value): arr[index] -= value; returns the old value.")
atomic_min = _kernel_only("atomic_min", "atomic_min(arr, index, value): arr[index] = min(...); returns the old value.")
atomic_max = _kernel_only("atomic_max", "atomic_max(arr, index, value): arr[index] = max(...); returns the old value.")
atomic_and = _kernel_only("atomic_and", "atomic_and(arr, index, value): arr[index] &= value (integers); returns the old value.")
atomic_or = _kernel_only("atomic_or", "atomic_or(arr, index, value): arr[index] |= value (integers); returns the old value.")
atomic_xor = _kernel_only("atomic_xor", "atomic_xor(arr, index, value): arr[index] ^= value (integers); returns the old value.")
atomic_xchg = _kernel_only("atomic_xchg", "atomic_xchg(arr, index, value): arr[index] = value; returns the old value.")
atomic_cas = _kernel_only(
    "atomic_cas", "atomic_cas(arr, index, expected, value): arr[index] = value if it holds expected "
    "(floats compared by bit pattern); returns the old value.")

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


# ---------------------------------------------------------------------------------------- math
def _np_rsqrt(x: Any) -> Any:
    return 1 / np.sqrt(x)


def _np_fma(a: Any, b: Any, c: Any) -> Any:
    return a * b + c  # host approximation only (two roundings); inside a kernel it is a true fma


def _host_copysign(a: Any, b: Any) -> Any:
    """``np.copysign`` with the kernel rule: a NaN's sign is not portable, so copysign(x, NaN) == |x|."""
    r = np.where(np.isnan(b), np.abs(a), np.copysign(a, b))
    return r[()] if np.ndim(r) == 0 else r


def _host_min_max(py: Callable[..., Any], ufunc: Any) -> Callable[..., Any]:
    """On the host, ``pk.min``/``pk.max`` behave as Python's (so ``from portakern import *`` is
    harmless), except that two arrays combine elementwise as ``np.minimum``/``np.maximum``."""
    def host(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 2 and not kwargs and any(isinstance(a, np.ndarray) for a in args):
            return ufunc(*args)
        return py(*args, **kwargs)
    return host


def _math(name: str, host: Callable[..., Any], doc: str = "") -> Builtin:
    return Builtin(name, host, doc or f"{name}(...): math function (tier as docs/semantics.md says).")


where = _math("where", np.where, "where(cond, a, b): a where cond else b (only the chosen value is computed).")
sqrt = _math("sqrt", np.sqrt)
rsqrt = _math("rsqrt", _np_rsqrt)
exp = _math("exp", np.exp)
exp2 = _math("exp2", np.exp2)
expm1 = _math("expm1", np.expm1)
log = _math("log", np.log)
log2 = _math("log2", np.log2)
log10 = _math("log10", np.log10)
log1p = _math("log1p", np.log1p)
sin = _math("sin", np.sin)
cos = _math("cos", np.cos)
tan = _math("tan", np.tan)
asin = _math("asin", np.arcsin)
acos = _math("acos", np.arccos)
atan = _math("atan", np.arctan)
atan2 = _math("atan2", np.arctan2)
sinh = _math("sinh", np.sinh)
cosh = _math("cosh", np.cosh)
tanh = _math("tanh", np.tanh)
erf = _math("erf", np.vectorize(__import__("math").erf, otypes=[float]))
erfc = _math("erfc", np.vectorize(__import__("math").erfc, otypes=[float]))
pow = _math("pow", builtins.pow)  # noqa: A001 - the kernel language's name; Python's on the host
floor = _math("floor", np.floor)
ceil = _math("ceil", np.ceil)
trunc = _math("trunc", np.trunc)
rint = _math("rint", np.rint)
abs = _math("abs", builtins.abs)  # noqa: A001 - works on arrays too (``__abs__``)
min = _math("min", _host_min_max(builtins.min, np.minimum))  # noqa: A001
max = _math("max", _host_min_max(builtins.max, np.maximum))  # noqa: A001
fma = _math("fma", _np_fma)
copysign = _math("copysign", _host_copysign)
hypot = _math("hypot", np.hypot)
isnan = _math("isnan", np.isnan)
isinf = _math("isinf", np.isinf)
isfinite = _math("isfinite", np.isfinite)

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
