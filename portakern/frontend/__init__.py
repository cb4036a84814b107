"""The front end: Python source -> typed IR.

``analyze(fn)`` reads a kernel's source and parameters once (cheap); ``specialize(src, arg_types,
constexprs, grid_ndim, debug)`` types and lowers it for one signature into an :class:`ir.Kernel`.
See docs/architecture.md for the contract and docs/language.md section 4 for the language.

Layout: ``source`` (analyze, hashes, frozen globals), ``builtins`` (which Python objects name which
builtins), ``values`` + ``ops`` (NEP 50 typing, casts, constant folding), ``expr`` / ``stmt`` /
``calls`` (one ``visit_<Node>`` per construct), ``vectors`` (short vectors, lowered to one scalar
per lane), ``scope`` (per-pass state), ``specialize`` (the
typing fixpoint and kernel assembly).

Decisions where docs/language.md is silent (NumPy 2 is the tie-breaker wherever it has an answer):

- Variables that only ever hold Python literals (or other weak values) stay *weak* like the
  literals: ``k = 2; x * k`` keeps a float32 ``x`` float32. ``x.shape[d]``, ``x.size`` and ``x.ndim``
  are Python ints in NumPy, hence weak too. Index queries are strong int64.
- Arithmetic and shifts on two bools (``flag + flag``) are a CompileError: NumPy gives bool (logical
  or) or int8, Python gives int; ask for a cast. ``/`` on bools is float64, ``& | ^`` stay bool.
- Float math on ints and bools converts to float64 first (NumPy picks float16/32 for small ints).
- ``a and b`` / ``a or b`` give ``bool_`` (not one of the operands, as Python would).
- A variable read where no earlier statement assigned it (outside any loop) is a CompileError;
  inside a loop a value may be carried from the previous iteration.
- A local/private array is declared once per name (a declaration inside a loop is one declaration).
- Assigning a scalar parameter makes an ordinary local variable (unified like any other).
- ``global``/``nonlocal`` names may be read (frozen); assigning them is the error.
"""
from .source import FRONTEND_VERSION, FunctionSource, ParamSpec, analyze
from .specialize import specialize

__all__ = ["analyze", "specialize", "FunctionSource", "ParamSpec", "FRONTEND_VERSION"]
