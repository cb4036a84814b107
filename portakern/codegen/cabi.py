"""The C kernel ABI shared by the C-family renderer and the opencl/cuda launchers.

The generated kernel's parameters, which the launchers pass in this order (``launch_layout``):

1. each kernel parameter in order: a scalar as its C type (``bool`` as an unsigned char), an array
   as a pointer to its C-contiguous, row-major elements;
2. the extents: one int64 per dimension of each array (``<name>_shape<d>``), then one per ndrange
   dimension (``ndrange<d>``: the unpadded index space, which guards the padded work-items and
   answers ``global_size``). With ``pack_dims`` (OpenCL) they travel in ONE by-value struct
   ``pk_dims`` (PoCL launches kernels with fewer arguments markedly faster); otherwise each is its
   own parameter named ``pk_<field>`` right after its array (ndrange last);
3. with bounds checks (``kernel.checks_bounds``), the int64 error record ``pk_err`` of ``ERR_WORDS``
   words (layout in portakern/runtime/errrecord.py).
"""
from __future__ import annotations

import numpy as np

from ..ir import nodes as ir
from ..runtime.errrecord import ERR_WORDS
from ..types import ArrayType

__all__ = ["ERR_WORDS", "C_KEYWORDS", "mangle", "launch_layout"]

#: C/C++ keywords and the builtins and macros the generated code calls: never a user identifier.
C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int
long register restrict return short signed sizeof static struct switch typedef union unsigned void
volatile while bool true false class delete new namespace template this typename using operator
virtual private public protected friend catch try throw asm main NULL
INFINITY NAN isnan isinf isfinite signbit fabs fmod floor ceil trunc rint fma copysign hypot sqrt
rsqrt exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan atan2 sinh cosh tanh erf erfc
pow min max abs pk
""".split())


def mangle(name: str, reserved: frozenset[str]) -> str:
    """A C identifier for a Python name, injectively: reserved words, names starting with ``pk_``
    (the generated code's own) and names ending in ``_`` get one more ``_``; non-ASCII names are
    spelled by code point."""
    if not name.isascii():
        name = "u_" + "_".join(f"{ord(c):x}" if not (c.isascii() and c.isalnum()) else c for c in name) + "_"
    if name in reserved or name.startswith(("pk_", "__")) or name.endswith("_"):
        return name + "_"
    return name


def launch_layout(kernel: ir.Kernel, pack_dims: bool) -> list[tuple[str, object]]:
    """The kernel's C parameters as (kind, detail), in the order launchers pass them:
    ("array", ndim), ("scalar", dtype), ("shape", (param position, d)), ("ndrange", d),
    ("dims", [("shape", (position, d)) | ("ndrange", d), ...]) for the packed struct, ("err", None)."""
    out: list[tuple[str, object]] = []
    dims: list[tuple[str, object]] = []
    for pos, p in enumerate(kernel.params):
        if isinstance(p.type, ArrayType):
            out.append(("array", p.type.ndim))
            shapes = [("shape", (pos, d)) for d in range(p.type.ndim)]
            (dims if pack_dims else out).extend(shapes)
        else:
            out.append(("scalar", np.dtype(np.uint8) if p.type.is_bool else p.type.dtype))
    nd: list[tuple[str, object]] = [("ndrange", d) for d in range(kernel.grid_ndim)]
    if pack_dims:
        out.append(("dims", dims + nd))
    else:
        out += nd
    if kernel.checks_bounds:
        out.append(("err", None))
    return out
