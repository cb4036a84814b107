"""Helpers shared by the front-end tests: kernels from source text, lowering and IR queries."""
from __future__ import annotations

import itertools
import linecache
import math
import re
import textwrap
from typing import Any

import numpy as np

import portakern as pk
from portakern import ir
from portakern import types as T
from portakern.frontend import analyze, specialize
from portakern.ir import nodes as N
from portakern.ir.visit import walk_body

_COUNTER = itertools.count()


def make(src: str, extra: dict[str, Any] | None = None) -> Any:
    """Define the functions of ``src`` in a fresh module whose source is registered in linecache."""
    filename = f"<portakern-frontend-test-{next(_COUNTER)}>"
    text = textwrap.dedent(src)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"pk": pk, "np": np, "math": math, "__name__": "fe_test"}
    g.update(extra or {})
    exec(compile(text, filename, "exec", dont_inherit=True), g)  # noqa: S102 - test kernels
    name = re.findall(r"^def (\w+)", text, re.M)[-1]
    return g[name]


def arr(dtype: T.ScalarType = T.float32, ndim: int = 1) -> T.ArrayType:
    return T.ArrayType(dtype, ndim)


def lower(fn: Any, grid_ndim: int = 1, constexprs: dict[str, Any] | None = None, **types: Any) -> N.Kernel:
    """Specialise ``fn`` and verify the result."""
    k = specialize(analyze(fn), types, constexprs or {}, grid_ndim, False)
    ir.verify(k)
    return k


def nodes(k: N.Kernel, cls: type) -> list[Any]:
    return [n for n in walk_body(k.body) if isinstance(n, cls)]


def local_type(k: N.Kernel, name: str) -> T.ScalarType:
    return {v.name: v.type for v in k.locals}[name]


SAXPY = """
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]
"""
