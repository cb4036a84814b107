"""Trace-time lane layout facts of the ``jax`` backend: index queries as iotas, ranges of lane
ids, ids plus uniform offsets (tracked through integer ``+``), and the accesses they make slices or
lane shifts instead of gathers/scatters (docs/backends/jax.md, Performance). Mixed into JaxOps."""
from __future__ import annotations

import functools
from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import lax

from portakern.codegen.vector_ops import LaneOps

__all__ = ["HALO", "LaneLayout", "uses_groups"]

#: how far past an array a window load may reach and still be a slice (of the zero-padded array)
HALO = 64


class LaneLayout(LaneOps):
    """Index queries and the structural access analysis (no values are ever inspected)."""

    # -- index queries: iotas over the grid's shape (no 64-bit divisions per lane per launch) -------
    def _iota(self, shape: tuple[int, ...], d: int) -> Any:
        return lax.broadcasted_iota(jnp.int64, shape, d).reshape(-1)

    @functools.cached_property
    def gid(self) -> list[Any]:
        nd = self.ndrange
        gid = [self._iota(nd, d) for d in range(len(nd))]
        self._ranges.update({id(g): (0, n - 1) for g, n in zip(gid, nd)})
        return gid

    def _split(self, d: int) -> tuple[Any, Any] | None:
        """(group id, local id) of dimension ``d`` as iotas when the work-group divides it."""
        nd, w = self.ndrange, self.workgroup[d]
        if nd[d] % w:
            return None
        shape = nd[:d] + (nd[d] // w, w) + nd[d + 1:]
        return self._iota(shape, d), self._iota(shape, d + 1)

    @functools.cached_property
    def lid(self) -> list[Any]:
        base = LaneOps.lid.func(self)  # type: ignore[attr-defined]  # ranges, and gid where n <= w
        self._lid_base = base          # keeps the ids its ranges are keyed by alive
        out = []
        for d, x in enumerate(base):
            sp = None if x is self.gid[d] else self._split(d)
            if sp is not None:
                self._ranges[id(sp[1])] = self._ranges[id(x)]
                x = sp[1]
            out.append(x)
        return out

    @functools.cached_property
    def grid(self) -> list[Any]:
        out = []
        for d, g in enumerate(self.gid):
            sp = self._split(d)
            out.append(sp[0] if sp is not None else g // np.int64(self.workgroup[d]))
        return out

    def iadd(self, a: Any, b: Any) -> Any:
        r = a + b
        for x, y in ((a, b), (b, a)):
            if jnp.ndim(x) != 0 and jnp.ndim(y) == 0:     # a lane array plus a uniform value
                self._note_offset(r, x, jnp.asarray(y, jnp.int64), self._range(y))
                break
        return r

    def isub(self, a: Any, b: Any) -> Any:
        r = a - b
        if jnp.ndim(a) != 0 and jnp.ndim(b) == 0:        # a lane array minus a uniform value
            rb = self._range(b)
            self._note_offset(r, a, -jnp.asarray(b, jnp.int64), None if rb is None else (-rb[1], -rb[0]))
        return r

    def _note_offset(self, r: Any, x: Any, off: Any, roff: tuple[int, int] | None) -> None:
        """Record that lane array ``r`` is ``x`` plus the uniform ``off`` (of range ``roff``):
        the id it is an offset of, and its range when ``x``'s is known and nothing wraps."""
        affine = self.__dict__.setdefault("_affine_lanes", {})
        entry = affine.get(id(x))
        if entry is not None and entry[0] is x:
            affine[id(r)] = (r, entry[1], entry[2] + off)
        elif id(x) in self._ranges:
            affine[id(r)] = (r, x, off)
        else:
            return
        rx = self._ranges.get(id(x))
        if rx is not None and roff is not None and -(2**63) <= rx[0] + roff[0] <= rx[1] + roff[1] < 2**63:
            self._ranges[id(r)] = (rx[0] + roff[0], rx[1] + roff[1])   # (no wrap: exact)

    def _fixed_trip(self, m: Any, start: Any, stop: Any, step: Any, exits: bool) -> Any:
        """(trip, lo, hi, step) when every lane of a ``range(start_lane, stop, step)`` loop with
        known ``stop``/``step`` and a start of known range [lo, hi] runs the same number of
        iterations, all lanes active: a ``fori_loop`` with a static trip count and no lane masks."""
        if m is not True or exits or not all(isinstance(x, (int, np.integer)) for x in (stop, step)):
            return None
        r = self._range(start) if jnp.ndim(start) == 1 else None
        if r is None or int(step) == 0:
            return None
        lo, hi = r
        b1, b2 = int(stop), int(step)
        trip = len(range(lo, b1, b2))
        if trip == 0 or trip != len(range(hi, b1, b2)):
            return None
        return trip, lo, hi, b2

    def _id_offsets(self, a: Any, idx: tuple[Any, ...], pre: int) -> list[tuple[Any, tuple[int, int]]] | None:
        """Per dimension, ``(offset, static range)`` when each index is the global id of its
        dimension plus a uniform offset and its range is known; else None."""
        if pre or "gid" not in self.__dict__ or len(idx) != len(self.ndrange) or a.ndim != len(idx):
            return None
        affine = getattr(self, "_affine_lanes", {})
        out = []
        for i, g in zip(idx, self.gid):
            if i is g:
                off: Any = jnp.zeros((), jnp.int64)
            else:
                entry = affine.get(id(i))
                if entry is None or entry[0] is not i or entry[1] is not g:
                    return None
                off = entry[2]
            r = self._ranges.get(id(i))
            if r is None:
                return None
            out.append((off, r))
        return out

    def _window(self, a: Any, idx: tuple[Any, ...], pre: int) -> tuple[Any, ...] | None:
        """Start indices when ``idx`` reads/writes the block ``a[s0:s0+nd0, ...]`` lane by lane
        (each index the global id of its dimension plus a uniform offset, in bounds for every
        lane by the static ranges): the access is a dynamic slice, not a gather/scatter."""
        dims = self._id_offsets(a, idx, pre)
        if dims is None or any(r[0] < 0 or r[1] >= size for (_, r), size in zip(dims, a.shape)):
            return None
        return tuple(off for off, _ in dims)

    def _halo_window(self, a: Any, idx: tuple[Any, ...], pre: int) -> tuple[tuple, tuple] | None:
        """``(starts, pads)`` for a load that is a window except that its static index ranges
        run past the array by at most ``HALO`` elements on either side (a stencil's ``u[i - 1, j]``
        at ``i = 0``): a slice of the array padded with zeros, which is what an out-of-bounds load
        reads (XLA fuses the pad into the slice's consumer: no copy)."""
        dims = self._id_offsets(a, idx, pre)
        if dims is None:
            return None
        pads = tuple((max(0, -r[0]), max(0, r[1] - (size - 1))) for (_, r), size in zip(dims, a.shape))
        if any(lo > HALO or hi > HALO for lo, hi in pads):
            return None
        return tuple(off + np.int64(lo) for (off, _), (lo, _) in zip(dims, pads)), pads

    def _local_lane(self, a: Any, idx: tuple[Any, ...], pre: int) -> Any:
        """For ``red[group_lin, lid + u]`` on a local array of shape (groups, W) where lane ==
        group_lin * W + lid (work-groups only along the last dimension, W dividing it): the uniform
        offset as ``(u,)`` (``(None,)`` for ``lid`` itself; ``("uniform", c)`` for an index ``c``
        the same in every lane), else None. Such an access is a shift of the lanes."""
        wg, nd = self.workgroup, self.ndrange
        if pre != 1 or len(idx) != 2 or a.ndim != 2 or any(w != 1 for w in wg[:-1]):
            return None
        W = wg[-1]
        if nd[-1] % W or tuple(a.shape) != (self.num_groups_total, W) or "lid" not in self.__dict__:
            return None
        if idx[0] is not self.__dict__.get("group_lin"):
            return None
        lid = self.lid[-1]
        if idx[1] is lid:
            return (None,)
        if jnp.ndim(idx[1]) == 0:
            return ("uniform", idx[1])
        entry = self.__dict__.get("_affine_lanes", {}).get(id(idx[1]))
        if entry is not None and entry[0] is idx[1] and entry[1] is lid:
            return (entry[2],)
        return None


def uses_groups(kernel: Any) -> bool:
    """Whether a kernel asks for local/group ids or declares local/private arrays."""
    from portakern.ir import nodes as ir
    from portakern.ir.visit import walk_body

    body = getattr(kernel, "body", ())     # (a stand-in kernel without a body uses none)
    wanted = (ir.Op.LOCAL_ID, ir.Op.GROUP_ID)
    return any(isinstance(n, ir.DeclArray) or getattr(n, "op", None) in wanted for n in walk_body(body))
