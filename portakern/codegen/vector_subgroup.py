"""Sub-group operations over all lanes at once (the ``numpy`` and ``jax`` lane operations).

The lanes (linear work-item ids over the launch, the last dimension fastest) are permuted into
sub-group order (work-group, then local linear id), viewed as ``(sub-groups, SUBGROUP_SIZE)``,
exchanged or reduced along the second axis, and permuted back. The permutation depends only on the
launch geometry, so it is computed once with NumPy (a constant under ``jax.jit``). Reductions follow
the tree of docs/semantics.md: ``r[i] = r[i] op r[i + h]`` for ``h = 16, 8, 4, 2, 1``.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..errors import LaunchError
from ..ir import nodes as ir

__all__ = ["SubgroupLaneOps", "subgroup_order"]

_SG = ir.SUBGROUP_SIZE
_REDUCE = {"subgroup_reduce_add": "add", "subgroup_reduce_min": "min", "subgroup_reduce_max": "max",
           "subgroup_any": "or", "subgroup_all": "and"}


def subgroup_order(lanes_nd: tuple[int, ...], row0: int, workgroup: tuple[int, ...]) -> np.ndarray | None:
    """The lane ids in sub-group order (work-group linear id, then local linear id), or None when
    that is the lanes' own order (a 1-D launch)."""
    if len(lanes_nd) == 1:
        return None
    gid = np.indices(lanes_nd, dtype=np.int64).reshape(len(lanes_nd), -1)
    gid[0] += row0
    wg = np.asarray(workgroup, dtype=np.int64)[:, None]
    group, lid = gid // wg, gid % wg
    ngroups = [-(-(n + (row0 if d == 0 else 0)) // w) for d, (n, w) in enumerate(zip(lanes_nd, workgroup))]
    key = np.ravel_multi_index(tuple(group), tuple(ngroups)) * int(math.prod(workgroup)) \
        + np.ravel_multi_index(tuple(lid), tuple(workgroup))
    order = np.argsort(key, kind="stable")
    return None if np.array_equal(order, np.arange(order.size)) else order


class SubgroupLaneOps:
    """The ``subgroup`` lane operation; mixed into :class:`portakern.codegen.vector_ops.LaneOps`."""

    xp: Any
    kernel: ir.Kernel
    N: int
    lanes_nd: tuple[int, ...]
    row0: int
    workgroup: tuple[int, ...]

    @functools.cached_property
    def _sg_order(self) -> tuple[Any, Any] | None:
        order = subgroup_order(self.lanes_nd, self.row0, self.workgroup)
        if order is None:
            return None
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        return self.xp.asarray(order), self.xp.asarray(inverse)

    def _sg_lanes(self, x: Any, tname: str) -> Any:
        """``x`` (a uniform value or lane array) as a ``(sub-groups, SUBGROUP_SIZE)`` array."""
        xp = self.xp
        dtype = np.dtype("bool" if tname == "bool_" else tname)
        x = xp.broadcast_to(xp.asarray(x, dtype=dtype), (self.N,))
        if self._sg_order is not None:
            x = x[self._sg_order[0]]
        return x.reshape(-1, _SG)

    def _sg_back(self, x: Any) -> Any:
        x = x.reshape(-1)
        return x if self._sg_order is None else x[self._sg_order[1]]

    def check_subgroup_mask(self, m: Any, line: int) -> None:
        """Raise LaunchError when ``m`` covers part of a work-group: a sub-group operation must be
        reached by every work-item of the work-group (docs/language.md). Only a backend whose masks
        are concrete (NumPy) checks."""
        if not isinstance(m, np.ndarray) or m.ndim == 0:    # a constant, or a traced jax mask
            return
        flat = m.reshape(-1)
        if self._sg_order is not None:
            flat = flat[np.asarray(self._sg_order[0])]
        rows = flat.reshape(-1, int(math.prod(self.workgroup)))
        if (rows.any(axis=1) != rows.all(axis=1)).any():
            raise LaunchError(f"kernel '{self.kernel.name}': the sub-group operation at line {line} was reached "
                              "by only some work-items of a work-group; every work-item of the work-group "
                              "must reach it (as pk.barrier())")

    def subgroup(self, op: str, value: Any, arg: Any, tname: str, m: Any, line: int) -> Any:
        """``op`` (an ``ir.Op`` value of ``SUBGROUP_OPS``) of every lane's ``value``."""
        self.check_subgroup_mask(m, line)
        xp = self.xp
        v = self._sg_lanes(value, tname)
        if op in _REDUCE:
            return self._sg_back(xp.broadcast_to(self._sg_reduce(_REDUCE[op], v, tname), v.shape))
        lane = xp.arange(_SG, dtype=np.int64)
        d = self._sg_lanes(arg, "int64") & np.int64(_SG - 1)
        if op == "subgroup_shuffle":
            src, ok = d, None
        elif op == "subgroup_shuffle_up":
            src = lane - d
            ok = src >= 0
        elif op == "subgroup_shuffle_down":
            src = lane + d
            ok = src < _SG
        else:
            src, ok = lane ^ d, None
        if ok is not None:
            src = xp.where(ok, src, lane)
        return self._sg_back(xp.take_along_axis(v, src, axis=1))

    def _sg_reduce(self, kind: str, v: Any, tname: str) -> Any:
        """The tree reduction of each row of ``v``: shape ``(sub-groups, 1)``."""
        h = _SG // 2
        while h:
            a, b = v[:, :h], v[:, h:2 * h]
            if kind == "add":
                v = self.fadd(a, b) if tname in ("float32", "float64") else a + b   # type: ignore[attr-defined]
            elif kind in ("min", "max"):
                v = getattr(self, kind)(a, b, tname)
            else:
                v = a | b if kind == "or" else a & b
            h //= 2
        return v
