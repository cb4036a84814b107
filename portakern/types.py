"""The type system: scalar types, array types, annotations and NumPy 2 (NEP 50) promotion.

Every type is an immutable value; ``pk.float32`` and ``np.float32`` name the same :class:`ScalarType`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "ScalarType", "ArrayType", "Type", "ArraySpace", "Array", "ArrayAnnotation", "constexpr", "constant",
    "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "float16", "bfloat16", "SCALAR_TYPES", "HALF_TYPES", "as_scalar_type", "promote",
    "weak_promote",
]


@dataclass(frozen=True, slots=True)
class ScalarType:
    """A scalar type: ``kind`` is 'b' (bool), 'i' (signed int), 'u' (unsigned int) or 'f' (float)."""

    name: str
    kind: str
    bits: int

    @property
    def dtype(self) -> np.dtype:
        if self.name == "bfloat16":
            return _bfloat16_dtype()
        return np.dtype(self.name if self.name != "bool_" else "bool")

    @property
    def is_half(self) -> bool:
        """float16 or bfloat16: an array storage type only; loads give float32, stores round once."""
        return self.kind == "f" and self.bits == 16

    @property
    def is_float(self) -> bool:
        return self.kind == "f"

    @property
    def is_int(self) -> bool:
        return self.kind in "iu"

    @property
    def is_signed(self) -> bool:
        return self.kind == "i"

    @property
    def is_bool(self) -> bool:
        return self.kind == "b"

    @property
    def min(self) -> int | float:
        return _limits(self)[0]

    @property
    def max(self) -> int | float:
        return _limits(self)[1]

    def __call__(self, value: Any) -> Any:
        """Outside a kernel, ``pk.float32(x)`` converts like NumPy; inside one it is a cast."""
        return self.dtype.type(value)

    def __repr__(self) -> str:
        return f"pk.{self.name}"

    def __str__(self) -> str:
        return self.name


def _limits(t: ScalarType) -> tuple[int | float, int | float]:
    if t.kind == "b":
        return (0, 1)
    if t.name == "bfloat16":
        import ml_dtypes  # noqa: PLC0415 - present whenever a bfloat16 dtype was made
        bf = ml_dtypes.finfo(ml_dtypes.bfloat16)
        return (float(bf.min), float(bf.max))
    if t.kind == "f":
        fi = np.finfo(t.dtype)
        return (float(fi.min), float(fi.max))
    ii = np.iinfo(t.dtype)
    return (int(ii.min), int(ii.max))


bool_ = ScalarType("bool_", "b", 8)
int8 = ScalarType("int8", "i", 8)
int16 = ScalarType("int16", "i", 16)
int32 = ScalarType("int32", "i", 32)
int64 = ScalarType("int64", "i", 64)
uint8 = ScalarType("uint8", "u", 8)
uint16 = ScalarType("uint16", "u", 16)
uint32 = ScalarType("uint32", "u", 32)
uint64 = ScalarType("uint64", "u", 64)
float32 = ScalarType("float32", "f", 32)
float64 = ScalarType("float64", "f", 64)
float16 = ScalarType("float16", "f", 16)
bfloat16 = ScalarType("bfloat16", "f", 16)

SCALAR_TYPES: tuple[ScalarType, ...] = (
    bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64,
)
#: array storage types (docs/language.md "Half precision"): never scalar values, parameters or
#: local/private arrays; an element loads as float32 exactly and a float32 stores rounded once (RNE)
HALF_TYPES: tuple[ScalarType, ...] = (float16, bfloat16)
_BY_DTYPE = {t.dtype: t for t in SCALAR_TYPES}
_BY_DTYPE[np.dtype(np.float16)] = float16


def _bfloat16_dtype() -> np.dtype:
    """NumPy's bfloat16 comes from ml_dtypes (the ``half`` extra)."""
    try:
        import ml_dtypes  # noqa: PLC0415 - optional: only bfloat16 arrays need it
    except ImportError:
        from .errors import MissingDependency  # noqa: PLC0415
        raise MissingDependency('bfloat16 arrays need the package ml_dtypes: pip install "portakern[half]"') \
            from None
    return np.dtype(ml_dtypes.bfloat16)


def half_type_of(dt: np.dtype) -> ScalarType | None:
    """``float16``/``bfloat16`` for a NumPy dtype of that name (ml_dtypes' bfloat16), else None."""
    if dt == np.float16:
        return float16
    if dt.name == "bfloat16" and dt.itemsize == 2:
        return bfloat16
    return None


class ArraySpace:
    """Where an array lives: a kernel parameter, work-group memory, or per-work-item memory."""

    GLOBAL: ClassVar[str] = "global"
    LOCAL: ClassVar[str] = "local"
    PRIVATE: ClassVar[str] = "private"


@dataclass(frozen=True, slots=True)
class ArrayType:
    """An array: element type, number of dimensions, memory space, and whether it is C-contiguous.

    Global arrays have a runtime shape (``ir.Shape``); local and private arrays a compile-time
    ``shape``. ``contiguous`` is False only for strided views on backends that index by strides.
    """

    dtype: ScalarType
    ndim: int
    space: str = ArraySpace.GLOBAL
    contiguous: bool = True
    shape: tuple[int, ...] | None = None
    #: a ``pk.constant`` parameter: the kernel never writes it (a store is a CompileError)
    readonly: bool = False
    #: a read-only parameter placed in the device's constant memory for this launch (OpenCL
    #: ``__constant``; set only where the backend has constant memory and the array fits)
    constant: bool = False

    def __str__(self) -> str:
        layout = "C" if self.contiguous else "A"
        dims = ", ".join(":" for _ in range(self.ndim)) if self.shape is None else str(self.shape)
        return f"{self.space} {self.dtype}[{dims}]{'' if self.space != 'global' else ' ' + layout}"


Type = ScalarType | ArrayType


def as_scalar_type(t: Any) -> ScalarType:
    """Map ``pk.float32``, ``np.float32``, ``np.dtype('float32')``, ``'float32'``, ``bool``, ``int``,
    ``float`` to a :class:`ScalarType`; raise ``TypeError`` for anything else."""
    if isinstance(t, ScalarType):
        return t
    if t is bool:
        return bool_
    if t is int:
        return int64
    if t is float:
        return float64
    if isinstance(t, str) and t == "bfloat16":
        return bfloat16
    try:
        dt = np.dtype(t)
    except Exception as exc:  # noqa: BLE001 - any failure means "not a type"
        raise TypeError(f"{t!r} is not a portakern scalar type") from exc
    if dt in _BY_DTYPE:
        return _BY_DTYPE[dt]
    half = half_type_of(dt)
    if half is not None:
        return half
    raise TypeError(f"{dt} is not a portakern scalar type (supported: {', '.join(map(str, SCALAR_TYPES))})")


def promote(a: ScalarType, b: ScalarType) -> ScalarType:
    """NumPy 2 promotion of two strongly typed scalars (uint32 + int32 -> int64, uint64 + int64 -> float64)."""
    return as_scalar_type(np.result_type(a.dtype, b.dtype))


def weak_promote(strong: ScalarType, weak_kind: str) -> ScalarType:
    """NEP 50: a Python literal of kind 'b', 'i' or 'f' meets a typed value.

    ``float32 * 2.0`` stays float32; ``int32 + 1`` stays int32; ``int32 * 2.0`` is float64;
    ``bool + 1`` is int64.
    """
    if weak_kind == "b":
        return strong
    if weak_kind == "i":
        return int64 if strong.is_bool else strong
    return strong if strong.is_float else float64


class _Constexpr:
    """Annotation marking a parameter whose value is compiled into the kernel (``a: pk.constexpr``)."""

    def __repr__(self) -> str:
        return "pk.constexpr"


constexpr = _Constexpr()


@dataclass(frozen=True, slots=True)
class ArrayAnnotation:
    """``pk.Array[dtype, ndim]``; either part may be None (unchecked). ``constant``: ``pk.constant``,
    a read-only array the backend may place in constant memory (docs/language.md)."""

    dtype: ScalarType | None = None
    ndim: int | None = None
    constant: bool = False

    def __getitem__(self, item: Any) -> ArrayAnnotation:
        items = item if isinstance(item, tuple) else (item,)
        if not 1 <= len(items) <= 2:
            raise TypeError(f"{self.name} takes [dtype] or [dtype, ndim]")
        dtype = None if items[0] is None else as_scalar_type(items[0])
        ndim = items[1] if len(items) == 2 else None
        if ndim is not None and (not isinstance(ndim, int) or not 1 <= ndim <= 8):
            raise TypeError(f"{self.name} ndim must be an int from 1 to 8, got {ndim!r}")
        return ArrayAnnotation(dtype, ndim, self.constant)

    @property
    def name(self) -> str:
        return "pk.constant" if self.constant else "pk.Array"

    def __repr__(self) -> str:
        if self.dtype is None and self.ndim is None:
            return self.name
        return f"{self.name}[{self.dtype}{'' if self.ndim is None else f', {self.ndim}'}]"


Array = ArrayAnnotation()
#: ``x: pk.constant`` (or ``pk.constant[dtype, ndim]``): a read-only array parameter, in constant memory
#: where the backend has it and the array fits (OpenCL ``__constant``; CUDA ``const __restrict__``)
constant = ArrayAnnotation(constant=True)
