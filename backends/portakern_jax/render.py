"""Pure rendering for the ``jax`` backend: the shared vectorising lowering (the same source as
``numpy``; the lane operations differ, see ``ops.py``)."""
from __future__ import annotations

from portakern.codegen.vectorize import render

__all__ = ["render"]
