"""Pure rendering for the ``numpy`` backend: the shared vectorising lowering, unchanged."""
from __future__ import annotations

from portakern.codegen.vectorize import render

__all__ = ["render"]
