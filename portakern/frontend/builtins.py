"""Which Python objects name which kernel-language builtins (resolved by identity).

``pk.sqrt``, ``math.sqrt`` and ``np.sqrt`` all name the builtin "sqrt" (the aliases of the op table,
``portakern.ir.optable``); ``abs``/``min``/``max``/``pow`` are Python's builtins; ``int``/``float``/``bool``,
``pk.float32`` and ``np.float32`` are casts.
"""
from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from .. import lang
from .. import types as T
from ..ir import optable
from ..ir.optable import Op

#: kernel-language name -> IR op for the math functions, index queries and atomics (from the op table)
MATH_OPS: dict[str, Op] = dict(optable.BY_NAME)
INDEX_OPS: dict[str, Op] = {s.name: s.op for s in optable.SPECS.values() if s.node == "index"}
ATOMIC_OPS: dict[str, Op] = {s.name: s.op for s in optable.SPECS.values() if s.node == "atomic"}
_MODULES = {"math": math, "np": np, "builtins": builtins}


def _table() -> dict[int, tuple[Any, str]]:
    """id(object) -> (object, builtin name). The object is kept so its id stays valid."""
    entries: list[tuple[Any, str]] = [(b, name) for name, b in lang.BUILTINS.items()]
    for spec in optable.CALLS:
        for alias in spec.aliases:
            module, _, attr = alias.partition(".")
            if hasattr(_MODULES[module], attr):      # math.exp2/math.fma are Python 3.11/3.13
                entries.append((getattr(_MODULES[module], attr), spec.name))
    entries += [(builtins.range, "range"), (builtins.len, "len"), (np.where, "where")]
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
