"""The C kernel ABI shared by the C-family renderer and the opencl/cuda launchers.

The generated kernel's parameters, which the launchers pass in this order (``launch_layout``):

1. each kernel parameter in order: a scalar as its C type (``bool`` as an unsigned char), an array
   as a pointer to its C-contiguous, row-major elements;
   With ``local_args`` (OpenCL), one ``__local`` pointer per local array sized at launch follows, in
   declaration order (``portakern.ir.launch_local``); CUDA carves those from dynamic shared memory instead;
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
from ..ir.launch_local import launch_sized
from ..runtime.errrecord import ERR_WORDS
from ..types import ArrayType
from .names import user_ident

__all__ = ["ENTRY_NAME", "ERR_WORDS", "mangle", "launch_layout"]

#: The C name of every generated kernel function. Fixed, so no user name (a builtin such as ``select``,
#: a vector type such as ``float4``, ``<lambda>``) can clash with a C name; the readable name stays in
#: Python and in the source's header comment.
ENTRY_NAME = "pk_kernel"


def mangle(name: str) -> str:
    """The C identifier of IR name ``name``: ``u_<name>`` for an ASCII name, otherwise ``w_`` and an
    injective encoding (see :func:`portakern.codegen.names.user_ident`). Never a keyword, builtin or
    macro of C, OpenCL or CUDA, and never one of the generated code's own ``pk_*`` names."""
    return user_ident(name)


def launch_layout(kernel: ir.Kernel, pack_dims: bool, local_args: bool = False) -> list[tuple[str, object]]:
    """The kernel's C parameters as (kind, detail), in the order launchers pass them:
    ("array", ndim), ("scalar", dtype), ("shape", (param position, d)), ("local", k) for the k-th
    launch-sized local array (with ``local_args``), ("ndrange", d),
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
    if local_args:
        out += [("local", k) for k in range(len(launch_sized(kernel)))]
    nd: list[tuple[str, object]] = [("ndrange", d) for d in range(kernel.grid_ndim)]
    if pack_dims:
        out.append(("dims", dims + nd))
    else:
        out += nd
    if kernel.checks_bounds:
        out.append(("err", None))
    return out
