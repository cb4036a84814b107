"""Argument binding: classify each launch argument, check it against its annotation, and derive the
specialisation signature. Every problem is a LaunchError naming the parameter, what was given and
what was expected; nothing here ever casts an array.

Two steps, because the backend may follow the arrays: ``classify`` needs no backend (it finds the
backends that own native arrays), ``signature`` knows the backend and its capabilities.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import LaunchError
from ..types import HALF_TYPES, SCALAR_TYPES, ArrayAnnotation, ArrayType, ScalarType, constexpr, float16, half_type_of
from . import registry
from .backend import Backend, Capabilities, Device

__all__ = ["HOST", "NATIVE", "FOREIGN", "SCALAR", "CONST", "Bound", "classify", "signature", "describe"]

# Argument kinds.
HOST = 0      # a NumPy array (or a zero-copy NumPy view of an __array_interface__ / CPU __dlpack__ object)
NATIVE = 1    # a backend's own device array
FOREIGN = 2   # a GPU object (__cuda_array_interface__ / device __dlpack__) the backend must adopt
SCALAR = 3    # a NumPy scalar of the parameter's type
CONST = 4     # a constexpr value (compiled into the kernel)

_BY_DTYPE: dict[np.dtype, ScalarType] = {t.dtype: t for t in SCALAR_TYPES}
_BY_NAME: dict[str, ScalarType] = {t.name: t for t in SCALAR_TYPES + HALF_TYPES}
# Signatures hold type NAMES: str hashes are cached, a dataclass's __hash__ runs Python code.
_NAME_BY_DTYPE: dict[np.dtype, str] = {t.dtype: t.name for t in SCALAR_TYPES}
# Arrays may also hold the half types (bfloat16 is added when first seen: its dtype is ml_dtypes').
_ARRAY_NAME_BY_DTYPE: dict[np.dtype, str] = {**_NAME_BY_DTYPE, np.dtype(np.float16): float16.name}
_SUPPORTED = ", ".join(str(t) for t in SCALAR_TYPES)
_ARRAY_SUPPORTED = ", ".join(str(t) for t in SCALAR_TYPES + HALF_TYPES)
_SCALAR_CLASSES = frozenset(t.dtype.type for t in SCALAR_TYPES)   # NumPy scalar classes passed as they are
_KDLCPU = 1


class Bound:
    """The classified arguments of one launch."""

    __slots__ = ("kinds", "values", "originals", "owners", "constexprs")

    def __init__(self) -> None:
        self.kinds: list[int] = []
        self.values: list[Any] = []
        self.originals: Sequence[Any] = ()
        self.owners: dict[str, str] = {}     # backend -> name of the first parameter it owns
        self.constexprs: dict[str, Any] = {}


def describe(value: Any) -> str:
    """A short description of a value for error messages."""
    if isinstance(value, np.ndarray):
        return f"a NumPy array of dtype {value.dtype} and shape {value.shape}"
    if isinstance(value, (bool, int, float, np.generic)):
        return f"{type(value).__name__} {value!r}"
    return f"a {type(value).__module__}.{type(value).__qualname__} object"


def _dtype_type(name: str, dtype: Any, kname: str) -> ScalarType:
    """The element type of an array of ``dtype`` (the half types included)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    st = None if dt is None else (_BY_DTYPE.get(dt) or half_type_of(dt))
    if st is None:
        raise LaunchError(f"kernel '{kname}', parameter '{name}': arrays of dtype {dtype} are not supported; "
                          f"expected one of {_ARRAY_SUPPORTED}")
    _ARRAY_NAME_BY_DTYPE[dt] = st.name      # type: ignore[index]
    return st


def classify(params: Sequence[Any], args: Sequence[Any], kname: str) -> Bound:
    """Check the argument count and kinds; convert scalars; find native arrays' backends."""
    if len(args) != len(params):
        names = ", ".join(p.name for p in params)
        raise LaunchError(f"kernel '{kname}' takes {len(params)} argument(s) ({names}), "
                          f"but {len(args)} were given")
    b = Bound()
    b.originals = args
    kinds, values = b.kinds, b.values
    for p, a in zip(params, args):
        ann = p.annotation
        ta = type(a)
        if ann is None:                                   # the common case, kept short
            if ta is np.ndarray and a.ndim:
                kinds.append(HOST)
                values.append(a)
                continue
            if ta in _SCALAR_CLASSES:
                kinds.append(SCALAR)
                values.append(a)
                continue
        if ann is constexpr:
            kinds.append(CONST)
            values.append(None)
            b.constexprs[p.name] = _constexpr_value(p.name, a, kname)
        elif ta is np.ndarray and (a.ndim or isinstance(ann, ArrayAnnotation)):
            kinds.append(HOST)
            values.append(a)
        elif isinstance(a, (bool, int, float, np.generic)):
            kinds.append(SCALAR)
            values.append(_scalar(p.name, ann, a, kname))
        else:
            kind, value = _array_like(p.name, ann, a, kname)
            if kind == NATIVE:
                b.owners.setdefault(value, p.name)
                value = a
            elif kind == SCALAR and value is a:          # a traced value: only its framework can use it
                owner = registry.owner_of(a)
                if owner is not None:
                    b.owners.setdefault(owner, p.name)
            kinds.append(kind)
            values.append(value)
    return b


def _array_like(name: str, ann: Any, a: Any, kname: str) -> tuple[int, Any]:
    """Classify an argument that is neither a NumPy array (of 1 or more dimensions) nor a scalar (an
    object whose protocol attributes themselves raise is a LaunchError, not a leak of its exception)."""
    try:
        if not isinstance(ann, ArrayAnnotation) and getattr(a, "shape", None) == ():
            return SCALAR, _zero_d(name, ann, a, kname)
        return _classify_object(name, a, kname)
    except LaunchError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise LaunchError(f"kernel '{kname}', parameter '{name}': {describe(a)} could not be read as an array "
                          f"({type(exc).__name__}: {exc})") from exc


def _classify_object(name: str, a: Any, kname: str) -> tuple[int, Any]:
    if isinstance(a, np.ndarray):                     # subclasses (np.matrix, memmap) as plain arrays
        return HOST, a.view(np.ndarray)
    owner = registry.owner_of(a)
    if owner is not None:
        return NATIVE, owner
    if hasattr(a, "__array_interface__"):
        try:
            return HOST, np.asarray(a)
        except Exception as exc:  # noqa: BLE001
            raise LaunchError(f"kernel '{kname}', parameter '{name}': {describe(a)} has an "
                              f"__array_interface__ NumPy cannot read ({exc})") from exc
    if hasattr(a, "__dlpack__"):
        device_type = None
        try:
            device_type = a.__dlpack_device__()[0]
        except Exception:  # noqa: BLE001 - no device query: assume a CPU tensor and try
            device_type = _KDLCPU
        if device_type == _KDLCPU:
            try:
                return HOST, np.from_dlpack(a)
            except Exception as exc:  # noqa: BLE001
                raise LaunchError(f"kernel '{kname}', parameter '{name}': {describe(a)} could not be "
                                  f"shared with NumPy through __dlpack__ ({exc})") from exc
        return FOREIGN, a
    if hasattr(a, "__cuda_array_interface__"):
        return FOREIGN, a
    raise LaunchError(f"kernel '{kname}', parameter '{name}': got {describe(a)}; expected an array "
                      "(NumPy, a backend's device array, or an object with __dlpack__, "
                      "__cuda_array_interface__ or __array_interface__) or a scalar (bool, int, float, NumPy scalar)")


def _zero_d(name: str, ann: Any, a: Any, kname: str) -> Any:
    """A 0-d array passed for a scalar: its value as a NumPy scalar of its dtype (docs/language.md
    "Arguments"). A value traced by its framework (a jax tracer inside ``jax.jit``/``grad``/``vmap``)
    has no value yet: it is passed on as it is, and the launch runs on that framework's backend."""
    if isinstance(a, np.ndarray):
        return _scalar(name, ann, a[()], kname)
    try:
        dtype = np.dtype(a.dtype)
    except Exception as exc:  # noqa: BLE001
        raise LaunchError(f"kernel '{kname}', parameter '{name}': {describe(a)} is 0-d but has no NumPy "
                          f"dtype ({exc}); pass a Python or NumPy scalar") from exc
    if dtype not in _BY_DTYPE:
        raise LaunchError(f"kernel '{kname}', parameter '{name}': a 0-d array of dtype {dtype}; scalars "
                          f"of dtype {dtype} are not supported; expected one of {_SUPPORTED}")
    owner = registry.owner_of(a)
    value = _read_0d(a, owner)
    if value is not None:
        return _scalar(name, ann, value, kname)
    if owner is None:
        raise LaunchError(f"kernel '{kname}', parameter '{name}': {describe(a)} is a 0-d array of dtype "
                          f"{dtype} whose value cannot be read; pass a Python or NumPy scalar")
    if ann is not None and ann != _BY_DTYPE[dtype]:
        raise LaunchError(f"kernel '{kname}', parameter '{name}' is annotated {ann!r}: got a traced 0-d "
                          f"value of dtype {dtype}; traced values are not converted: pass one of "
                          f"dtype {ann} (e.g. x.astype('{ann}'))")
    return a


def _read_0d(a: Any, owner: str | None) -> Any:
    """The value of a 0-d array as a NumPy scalar, or None when it has none yet (a traced value)."""
    try:
        host = registry.get_backend(owner).to_host(a) if owner is not None else np.asarray(a)
        return np.asarray(host)[()]
    except Exception:  # noqa: BLE001 - a traced value refuses conversion; each framework its own way
        return None


def _constexpr_value(name: str, a: Any, kname: str) -> Any:
    if isinstance(a, np.generic) and not isinstance(a, (np.complexfloating, np.void)):
        a = a.item()
    if isinstance(a, int) and not isinstance(a, bool) and not -(2 ** 63) <= a < 2 ** 64:
        raise LaunchError(f"kernel '{kname}', parameter '{name}' is pk.constexpr: the int {a} does not fit "
                          "in 64 bits (kernel integers are at most int64 or uint64)")
    if isinstance(a, (bool, int, float)):
        return a
    raise LaunchError(f"kernel '{kname}', parameter '{name}' is pk.constexpr: got {describe(a)}; "
                      "expected a Python int, float or bool")


def _scalar(name: str, ann: Any, a: Any, kname: str) -> Any:
    """The NumPy scalar passed for parameter ``name`` (annotated: converted to the annotation)."""
    if isinstance(ann, ArrayAnnotation):
        raise LaunchError(f"kernel '{kname}', parameter '{name}' is annotated {ann!r}: got {describe(a)}; "
                          "expected an array")
    if isinstance(ann, ScalarType):
        return _convert(name, ann, a, kname)
    if isinstance(a, np.generic):
        if a.dtype not in _BY_DTYPE:
            raise LaunchError(f"kernel '{kname}', parameter '{name}': scalars of dtype {a.dtype} are not "
                              f"supported; expected one of {_SUPPORTED}")
        return a
    if isinstance(a, bool):
        return np.bool_(a)
    if isinstance(a, int):
        if not -(2 ** 63) <= a < 2 ** 63:
            raise LaunchError(f"kernel '{kname}', parameter '{name}': the int {a} does not fit int64 "
                              "(unannotated Python ints are int64); annotate the parameter (e.g. pk.uint64) "
                              "or pass a NumPy scalar")
        return np.int64(a)
    return np.float64(a)


def _convert(name: str, t: ScalarType, a: Any, kname: str) -> Any:
    """Convert a scalar to the annotated type ``t``, refusing what would lose meaning silently."""
    is_bool = isinstance(a, (bool, np.bool_))
    is_int = isinstance(a, (int, np.integer)) and not isinstance(a, bool)
    where = f"kernel '{kname}', parameter '{name}' is annotated {t!r}"
    if t.is_bool:
        if not is_bool:
            raise LaunchError(f"{where}: got {describe(a)}; expected a bool")
        return np.bool_(a)
    if t.is_int:
        if not (is_bool or is_int):
            raise LaunchError(f"{where}: got {describe(a)}; expected an int (convert it explicitly)")
        v = int(a)
        if not t.min <= v <= t.max:
            raise LaunchError(f"{where}: the int {v} does not fit {t} (range {t.min}..{t.max})")
        return t.dtype.type(v)
    if not (is_bool or is_int or isinstance(a, (float, np.floating))):
        raise LaunchError(f"{where}: got {describe(a)}; expected a real number")
    try:
        with np.errstate(over="ignore"):
            return t.dtype.type(a)
    except (OverflowError, ValueError, TypeError) as exc:
        raise LaunchError(f"{where}: {describe(a)} cannot be converted to {t} ({exc})") from exc


def _check_array(name: str, ann: Any, st: ScalarType, ndim: int, kname: str, value: Any) -> None:
    """Check an array against its parameter's annotation (messages are built only on failure)."""
    def given() -> str:
        return describe(value) + ("" if isinstance(value, np.ndarray) else f" of dtype {st}, {ndim}-d")

    if ndim < 1:
        raise LaunchError(f"kernel '{kname}', parameter '{name}': got {given()}; the parameter is "
                          "an array parameter, and 0-d arrays are scalars (pass a 1-element array)")
    if isinstance(ann, ScalarType):
        raise LaunchError(f"kernel '{kname}', parameter '{name}' is annotated {ann!r}: got {given()}; "
                          "expected a scalar")
    if isinstance(ann, ArrayAnnotation):
        if ann.dtype is not None and ann.dtype != st:
            raise LaunchError(f"kernel '{kname}', parameter '{name}' is annotated {ann!r}: got {given()}; "
                              f"expected dtype {ann.dtype} (arrays are never cast: convert with .astype)")
        if ann.ndim is not None and ann.ndim != ndim:
            raise LaunchError(f"kernel '{kname}', parameter '{name}' is annotated {ann!r}: got {given()}; "
                              f"expected {ann.ndim} dimension(s)")


def signature(params: Sequence[Any], b: Bound, backend: Backend, device: Device, caps: Capabilities,
              kname: str) -> tuple[Any, ...]:
    """The hashable per-argument signature of the launch (part of the cache key). FOREIGN arguments
    are adopted by ``backend`` here (their kind becomes NATIVE). A ``pk.constant`` array's entry ends
    with ``("constant", in constant memory at this launch)``."""
    sig: list[Any] = []
    placed = [0, 0]                  # constant memory given to earlier pk.constant arrays: bytes, arrays
    for i, p in enumerate(params):
        entry = _signature_entry(i, p, b, backend, device, caps, kname)
        if isinstance(p.annotation, ArrayAnnotation) and p.annotation.constant and isinstance(entry, tuple) \
                and entry[0] != "constexpr":
            entry += ("constant", _in_constant_memory(entry, b.values[i], backend, caps, placed))
        sig.append(entry)
    return tuple(sig)


def _in_constant_memory(entry: tuple[Any, ...], value: Any, backend: Backend, caps: Capabilities,
                        placed: list[int]) -> bool:
    """Whether a ``pk.constant`` array goes to constant memory at this launch: the backend has some and
    the array fits beside the earlier ones (decided per launch, so it is part of the signature)."""
    if caps.max_constant_memory <= 0:
        return False
    shape = backend.native_shape(value)[0] if entry[-1] == "native" else value.shape
    nbytes = _BY_NAME[entry[0]].dtype.itemsize
    for n in shape:
        nbytes *= int(n)
    if placed[1] >= caps.max_constant_args or placed[0] + nbytes > caps.max_constant_memory:
        return False
    placed[0] += nbytes
    placed[1] += 1
    return True


def _signature_entry(i: int, p: Any, b: Bound, backend: Backend, device: Device, caps: Capabilities,
                     kname: str) -> Any:
    """Parameter ``i``'s part of ``signature``."""
    strided = caps.strided_arrays
    kind = b.kinds[i]
    v = b.values[i]
    if kind == HOST:
        name = _ARRAY_NAME_BY_DTYPE.get(v.dtype)
        if name is None or v.ndim < 1 or p.annotation is not None:
            st = _dtype_type(p.name, v.dtype, kname)
            _check_array(p.name, p.annotation, st, v.ndim, kname, v)
            name = st.name
        return (name, v.ndim, True if not strided else v.flags.c_contiguous)
    if kind == SCALAR:
        return _NAME_BY_DTYPE[v.dtype]
    if kind == CONST:
        c = b.constexprs[p.name]
        return ("constexpr", type(c).__name__, repr(c))
    if kind == FOREIGN:
        v = _adopt(p.name, backend, device, v, kname)
        b.values[i] = v
        b.kinds[i] = NATIVE
    try:
        shape, dtype, contiguous = backend.native_shape(v)
    except Exception as exc:  # noqa: BLE001
        raise LaunchError(f"kernel '{kname}', parameter '{p.name}': backend '{backend.name}' cannot "
                          f"read the shape of {describe(v)} ({exc})") from exc
    tname = _ARRAY_NAME_BY_DTYPE.get(dtype)
    if tname is None or p.annotation is not None or not shape:
        st = _dtype_type(p.name, dtype, kname)
        _check_array(p.name, p.annotation, st, len(shape), kname, v)
        tname = st.name
    if not contiguous and not strided:
        raise LaunchError(f"kernel '{kname}', parameter '{p.name}': backend '{backend.name}' needs "
                          "C-contiguous device arrays; got a strided one (make it contiguous first)")
    return (tname, len(shape), bool(contiguous), "native")


def _adopt(name: str, backend: Backend, device: Device, obj: Any, kname: str) -> Any:
    try:
        native = backend.adopt(obj, device)
    except Exception as exc:  # noqa: BLE001
        raise LaunchError(f"kernel '{kname}', parameter '{name}': backend '{backend.name}' cannot use "
                          f"{describe(obj)} ({type(exc).__name__}: {exc})") from exc
    if native is None:
        raise LaunchError(f"kernel '{kname}', parameter '{name}': backend '{backend.name}' cannot use "
                          f"{describe(obj)} (a GPU array); pass a NumPy array or launch on 'cuda'")
    return native


def shape_facts(relations: Sequence[tuple[int, int, int, int]], kinds: Sequence[int], values: Sequence[Any],
                backend: Backend) -> tuple[bool, ...]:
    """For each relation (i, e, j, d): whether argument i's extent in dimension e is at least argument j's
    in dimension d (the shape relations a kernel is specialised on; host or native arrays)."""
    return tuple(_extent(kinds[i], values[i], e, backend) >= _extent(kinds[j], values[j], d, backend)
                 for i, e, j, d in relations)


def _extent(kind: int, value: Any, dim: int, backend: Backend) -> int:
    return int(value.shape[dim] if kind == HOST else backend.native_shape(value)[0][dim])


def arg_types(params: Sequence[Any], sig: tuple[Any, ...]) -> dict[str, Any]:
    """The ``arg_types`` mapping ``frontend.specialize`` takes, rebuilt from a signature."""
    out: dict[str, Any] = {}
    for p, s in zip(params, sig):
        if isinstance(s, str):
            out[p.name] = _BY_NAME[s]
        elif s[0] != "constexpr":
            constant = "constant" in s        # a pk.constant array: read-only, in constant memory if placed there
            out[p.name] = ArrayType(_BY_NAME[s[0]], s[1], contiguous=bool(s[2]), readonly=constant,
                                    constant=constant and bool(s[-1]))
    return out
