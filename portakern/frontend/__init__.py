"""The front end: Python source -> typed IR.

``analyze(fn)`` reads a kernel's source and parameters once (cheap); ``specialize(src, arg_types,
constexprs, grid_ndim, debug)`` types and lowers it for one signature into an :class:`ir.Kernel`.
See docs/architecture.md for the contract and LANGUAGE.md section 3 for the language.
"""
from .source import FRONTEND_VERSION, FunctionSource, ParamSpec, analyze
from .specialize import specialize

__all__ = ["analyze", "specialize", "FunctionSource", "ParamSpec", "FRONTEND_VERSION"]
