"""Which Python objects name which kernel-language builtins (resolved by identity).

``pk.sqrt``, ``math.sqrt`` and ``np.sqrt`` all name the builtin "sqrt"; ``abs``/``min``/``max``/``pow``
are Python's builtins; ``int``/``float``/``bool``, ``pk.float32`` and ``np.float32`` are casts.
"""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from .. import lang
from .. import types as T
from ..ir.nodes import Op

#: kernel-language name -> IR op for the math functions
MATH_OPS: dict[str, Op] = {
    "sqrt": Op.SQRT, "rsqrt": Op.RSQRT, "exp": Op.EXP, "exp2": Op.EXP2, "expm1": Op.EXPM1, "log": Op.LOG,
    "log2": Op.LOG2, "log10": Op.LOG10, "log1p": Op.LOG1P, "sin": Op.SIN, "cos": Op.COS, "tan": Op.TAN,
    "asin": Op.ASIN, "acos": Op.ACOS, "atan": Op.ATAN, "atan2": Op.ATAN2, "sinh": Op.SINH, "cosh": Op.COSH,
    "tanh": Op.TANH, "erf": Op.ERF, "erfc": Op.ERFC, "floor": Op.FLOOR, "ceil": Op.CEIL, "trunc": Op.TRUNC,
    "rint": Op.RINT, "fma": Op.FMA, "copysign": Op.COPYSIGN, "hypot": Op.HYPOT, "abs": Op.ABS, "min": Op.MIN,
    "max": Op.MAX, "isnan": Op.ISNAN, "isinf": Op.ISINF, "isfinite": Op.ISFINITE,
}
INDEX_OPS: dict[str, Op] = {
    "global_id": Op.GLOBAL_ID, "local_id": Op.LOCAL_ID, "group_id": Op.GROUP_ID,
    "global_size": Op.GLOBAL_SIZE, "local_size": Op.LOCAL_SIZE, "num_groups": Op.NUM_GROUPS,
}
ATOMIC_OPS: dict[str, Op] = {
    "atomic_add": Op.ATOMIC_ADD, "atomic_sub": Op.ATOMIC_SUB, "atomic_min": Op.ATOMIC_MIN,
    "atomic_max": Op.ATOMIC_MAX, "atomic_and": Op.ATOMIC_AND, "atomic_or": Op.ATOMIC_OR,
    "atomic_xor": Op.ATOMIC_XOR, "atomic_xchg": Op.ATOMIC_XCHG, "atomic_cas": Op.ATOMIC_CAS,
}


def _table() -> dict[int, tuple[Any, str]]:
    """id(object) -> (object, builtin name). The object is kept so its id stays valid."""
    entries: list[tuple[Any, str]] = [(b, name) for name, b in lang.BUILTINS.items()]
    for name in ("sqrt", "exp", "expm1", "log", "log2", "log10", "log1p", "sin", "cos", "tan", "asin", "acos",
                 "atan", "atan2", "sinh", "cosh", "tanh", "erf", "erfc", "floor", "ceil", "trunc", "copysign",
                 "hypot", "isnan", "isinf", "isfinite", "exp2", "fma"):
        if hasattr(math, name):
            entries.append((getattr(math, name), name))
    entries += [(math.pow, "pow"), (math.fabs, "abs")]
    entries += [(builtins.abs, "abs"), (builtins.min, "min"), (builtins.max, "max"), (builtins.pow, "pow"),
                (builtins.range, "range"), (builtins.len, "len")]
    np_names = {
        "sqrt": "sqrt", "exp": "exp", "exp2": "exp2", "expm1": "expm1", "log": "log", "log2": "log2",
        "log10": "log10", "log1p": "log1p", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
        "arccos": "acos", "arctan": "atan", "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
        "floor": "floor", "ceil": "ceil", "trunc": "trunc", "rint": "rint", "abs": "abs", "absolute": "abs",
        "fabs": "abs", "minimum": "min", "maximum": "max", "copysign": "copysign", "hypot": "hypot",
        "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite", "power": "pow", "where": "where",
    }
    for np_name, name in np_names.items():
        if hasattr(np, np_name):
            entries.append((getattr(np, np_name), name))
    return {id(obj): (obj, name) for obj, name in entries}


_BY_ID = _table()


def builtin_name(obj: Any) -> str | None:
    """The kernel-language builtin ``obj`` names, or None."""
    hit = _BY_ID.get(id(obj))
    return hit[1] if hit is not None and hit[0] is obj else None


def as_type(obj: Any) -> T.ScalarType | None:
    """The scalar type ``obj`` names as a callable cast (``pk.float32``, ``np.int32``, ``int``...), or None."""
    if isinstance(obj, T.ScalarType):
        return obj
    if obj is builtins.int:
        return T.int64
    if obj is builtins.float:
        return T.float64
    if obj is builtins.bool:
        return T.bool_
    if type(obj).__module__.startswith("numba.core.types"):
        # numba's scalar types (numba.float32...), recognised by name so the core never imports numba
        try:
            return T.as_scalar_type(np.dtype(str(obj).replace("boolean", "bool")))
        except TypeError:
            return None
    if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
        try:
            return T.as_scalar_type(obj)
        except TypeError:
            return None
    return None
