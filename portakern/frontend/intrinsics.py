"""The one hook through which a layer outside the front end lends the kernel language new names.

A compatibility layer (``portakern.compat.cuda``) exposes :class:`Intrinsic` objects; when a kernel
name or attribute chain resolves to one, the front end hands it the lowering and the AST node and
uses what it returns. The intrinsic lowers itself with the lowering's own methods (index queries,
``declare_array``, ``builtin``, ``atomic``), so the language stays defined in one place and a compat
layer is a table, not a fork of the front end.
"""
from __future__ import annotations

import ast
from typing import Any

from .values import PyObject


class Intrinsic:
    """A Python object that lowers itself inside kernels (subclass and override what it supports)."""

    #: how errors name it, e.g. "cuda.threadIdx"
    kernel_name: str = "intrinsic"

    def lower_value(self, lw: Any, node: ast.AST) -> Any:
        """The kernel value of reading this object (default: an object that may be called or accessed)."""
        return PyObject(self)

    def lower_attribute(self, lw: Any, node: ast.Attribute) -> Any:
        """The kernel value of ``<this>.attr``."""
        raise lw.err(node, f"{self.kernel_name} has no attribute '{node.attr}' in kernels")

    def lower_call(self, lw: Any, node: ast.Call, want_value: bool) -> Any:
        """The kernel value of calling this object."""
        raise lw.err(node, f"{self.kernel_name} cannot be called in kernels")
