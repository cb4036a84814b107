"""Running every iteration of a loop at once: the ``jax`` lowering of ``for c in range(lid, n, WG)``.

A loop whose iterations are independent apart from reductions (``portakern.codegen.loopplan``)
and whose trip count ``T`` is the same on every lane is traced ONCE over ``T x N`` lanes instead of
as a ``fori_loop`` of ``T`` steps over ``N`` lanes: XLA then sees one elementwise pass over the
data and reductions along an axis, as in hand-written jnp, instead of ``T`` small steps.

Lane order: the iteration axis is inserted in front of the ndrange dimension ``d`` whose global id
the loop starts from, and the step is that dimension's size, so the iteration ``j`` of lane
``(.., i_d, ..)`` touches ``i_d + j * n_d``: the widened lanes of ``x[r, c]`` are the row-major
block ``x[.., u : u + T * n_d, ..]`` (a slice, no gather and no transpose). Lane values keep that
block's shape (``T`` merged into dimension ``d``), so a value loaded, computed and stored back
has the shape of the arrays it came from: no reshape stands between passes, and XLA can compute
a later elementwise pass in the buffer of an earlier one (a reshaped view of a large intermediate
makes it allocate another array-sized buffer, paid in page faults on every launch).

Results are those of the stepped loop bit for bit: the reductions fold as reduce.py says (float
sums and products in iteration order, the order-free ones with XLA's reductions).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import lax

from portakern.codegen.loopplan import reduction_identity

from .ops import JaxOps
from .reduce import _CHAIN, any_order, combiner, in_order, is_ordered

__all__ = ["MAX_WIDE_LANES", "SMALL_WIDE_LANES", "Fold", "run_wide"]

#: the widened lane count above which a loop steps instead (its intermediates would be T x N)
MAX_WIDE_LANES = 1 << 26
#: below this many widened lanes a loop always widens; above, only up to twice the largest array
#: argument: a loop streaming through an array widens to that array's size, while a loop that
#: only computes (``for i in range(lid, 10**6, WG): acc += sin(i)``) would materialise T x N
#: values the stepped loop never holds at once
SMALL_WIDE_LANES = 1 << 20
_LANE_ATTRS = ("lane", "gid", "lid", "grid", "group_lin")


class WideOps(JaxOps):
    """The lane operations inside a widened loop body. A lane value is an array of shape
    ``wshape`` (the ndrange with dimension ``d`` ``T`` times as long), not flat: XLA then loops
    over the real dimensions, and a per-row value broadcasts without index arithmetic.
    ``wshape3`` splits the iteration axis off (``T`` in front of dimension ``d``): the view in
    which lane values of the enclosing code are broadcast over the iterations and the order-free
    folds reduce. Every lane value of the enclosing code enters through :meth:`widen`; gathers and
    scatters see flat lanes (the same order in both shapes)."""

    def __init__(self, parent: JaxOps, T: int, d: int) -> None:    # noqa: D107 - a copy of parent
        self.__dict__.update(parent.__dict__)
        nd = parent.ndrange
        self.parent, self.T, self.d = parent, T, d
        self.wshape = nd[:d] + (T * nd[d],) + nd[d + 1:]
        self.wshape3 = nd[:d] + (T,) + nd[d:]
        self.bshape = nd[:d] + (1,) + nd[d:]
        self.N = T * parent.N
        self.errors = None
        self._ranges = dict(parent._ranges)
        self._affine_lanes: dict[int, tuple] = {}
        self._memo: dict[int, tuple[Any, Any]] = {}
        self._ext: dict[int, tuple[Any, Any]] = {}
        for name in _LANE_ATTRS:
            if name in parent.__dict__:
                v = parent.__dict__[name]
                self.__dict__[name] = [self.widen(x) for x in v] if isinstance(v, list) else self.widen(v)

    def widen(self, x: Any) -> Any:
        """A lane value of the enclosing code over the widened lanes (uniform values unchanged);
        ranges and id-plus-offset facts carry over, and one value widens to one object."""
        if isinstance(x, (bool, np.bool_)) or jnp.ndim(x) == 0:
            return x
        hit = self._memo.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        w = jnp.broadcast_to(jnp.reshape(x, self.bshape), self.wshape3).reshape(self.wshape)
        self._memo[id(x)] = (x, w)
        r = self.parent._ranges.get(id(x))
        if r is not None:
            self._ranges[id(w)] = r
        entry = self.parent.__dict__.get("_affine_lanes", {}).get(id(x))
        if entry is not None and entry[0] is x:
            self._affine_lanes[id(w)] = (w, self.widen(entry[1]), entry[2])
        return w

    def iteration_var(self, start: Any, u: Any, lo: int, hi: int, step: int, t0: int = 0) -> Any:
        """The loop variable over the widened lanes for iterations ``t0 .. t0 + T - 1``:
        ``start + (t0 + j) * step``, which is ``u + t0 * step`` plus the merged dimension's index
        (``start`` is ``global_id(d) + u`` and ``step`` is ``n_d``)."""
        off = u + np.int64(t0 * step)
        k = lax.broadcasted_iota(jnp.int64, self.wshape, self.d) + off
        self._ranges[id(k)] = (lo + t0 * step, hi + (t0 + self.T - 1) * step)
        self._ext[id(k)] = (k, off)
        return k

    # the enclosing grid's structural paths do not apply to widened lanes: windows are ours
    def is_identity(self, idx: tuple[Any, ...], a: Any, pre: int) -> bool:
        return False

    def _window(self, a: Any, idx: tuple[Any, ...], pre: int) -> None:
        return None

    def _local_lane(self, a: Any, idx: tuple[Any, ...], pre: int) -> None:
        return None

    def _wide_window(self, a: Any, idx: tuple[Any, ...], pre: int) -> tuple | None:
        """``(starts, block shape, out dims, spans iterations, covers the lanes)`` when ``idx``
        reads/writes a block of ``a`` lane by lane: each index is the global id of a grid dimension
        plus a uniform offset, or the loop variable plus one (then that block dimension is ``T``
        times as long), the grid dimensions increasing. ``out dims`` places the block's
        dimensions among the widened lane dimensions (``x[r, c]`` covers them all; ``g[c]`` is
        broadcast over the rows)."""
        nd, d = self.ndrange, self.d
        if pre or a.ndim != len(idx) or "gid" not in self.__dict__:
            return None
        starts: list[Any] = []
        shape: list[int] = []
        dims: list[int] = []
        ext = False
        for ix, size in zip(idx, a.shape):
            base, off = ix, jnp.zeros((), jnp.int64)
            entry = self._affine_lanes.get(id(ix))
            if entry is not None and entry[0] is ix:
                base, off = entry[1], entry[2]
            k = self._ext.get(id(base))
            g = next((g for g, x in enumerate(self.gid) if base is x), None)
            if k is not None and k[0] is base:
                ext, off = True, k[1] + off
                shape.append(self.T * nd[d])
                dims += [d, d + 1]
            elif g is not None:
                shape.append(nd[g])
                dims.append(g if g < d else g + 1)
            else:
                return None
            r = self._ranges.get(id(ix))
            if r is None or r[0] < 0 or r[1] >= size:
                return None
            starts.append(jnp.asarray(off, jnp.int64))
        if any(b <= a for a, b in zip(dims, dims[1:])):
            return None                # a transposed access: the gather
        return tuple(starts), tuple(shape), tuple(dims), ext, len(dims) == len(self.wshape3)

    def _flat(self, x: Any) -> Any:
        return x if isinstance(x, (bool, np.bool_)) or jnp.ndim(x) == 0 else jnp.reshape(x, (-1,))

    use_affine = False       # (the forms' loop variables are lane values here: windows are ours)

    def load(self, a: Any, idx: tuple[Any, ...], m: Any, site: int, pre: int, aff: Any = None) -> Any:
        w = self._wide_window(a, idx, pre) if m is not False else None
        if w is None:          # a gather over the flat lanes
            flat = JaxOps.load(self, a, tuple(self._flat(i) for i in idx), self._flat(m), site, pre)
            return flat if jnp.ndim(flat) == 0 else flat.reshape(self.wshape)
        starts, shape, dims, _, _ = w
        block = lax.dynamic_slice(a, starts, shape)
        block = lax.broadcast_in_dim(block.reshape(tuple(self.wshape3[i] for i in dims)), self.wshape3, dims)
        block = block.reshape(self.wshape)
        return block if m is True else jnp.where(m, block, jnp.zeros((), a.dtype))

    load_view = load

    def store(self, a: Any, idx: tuple[Any, ...], v: Any, m: Any, site: int, pre: int,
              aff: Any = None) -> Any:
        w = self._wide_window(a, idx, pre) if m is not False else None
        if w is None or not (w[3] and w[4]):     # a scatter over the flat lanes
            return JaxOps.store(self, a, tuple(self._flat(i) for i in idx), self._flat(v), self._flat(m),
                                site, pre)
        starts, shape = w[0], w[1]
        block = jnp.broadcast_to(jnp.asarray(v, a.dtype), self.wshape)
        if m is not True:
            block = jnp.where(m, block, lax.dynamic_slice(a, starts, shape).reshape(self.wshape))
        return lax.dynamic_update_slice(a, block.reshape(shape), starts)


def _start_dim(ops: JaxOps, start: Any) -> tuple[int, Any] | None:
    """(d, u) when ``start`` is ``global_id(d) + u`` for a uniform ``u``."""
    gid = ops.__dict__.get("gid")
    if gid is None:
        return None
    entry = ops.__dict__.get("_affine_lanes", {}).get(id(start))
    base, u = (entry[1], entry[2]) if entry is not None and entry[0] is start else (start, np.int64(0))
    for d, g in enumerate(gid):
        if base is g:
            return d, u
    return None


def run_wide(ops: JaxOps, start: Any, fixed: tuple[int, int, int, int], body: Callable,
             st: tuple, given: tuple, wide: tuple) -> tuple | None:
    """The loop's state after all ``fixed[0]`` iterations, run at once; None when the loop does
    not fit the widened layout (it then steps as before). ``st`` is the state as lane arrays,
    ``given`` as passed (a reduction starting from a constant folds from the constant: XLA
    would fold ``broadcast(+0.0) + c`` to ``c``, wrong when ``c`` is -0.0)."""
    T, lo, hi, step = fixed
    kinds, free = wide
    sd = _start_dim(ops, start)
    lanes = T * ops.N
    if sd is None or lanes > MAX_WIDE_LANES or lanes > max(SMALL_WIDE_LANES, 2 * ops.array_elems):
        return None
    d, u = sd
    if step != ops.ndrange[d]:
        return None
    chunks = _chunks(T, kinds)
    state: list[Any] = list(given)
    folds: list[Fold | None] = [None] * len(kinds)
    t0 = 0
    for Tc in chunks:
        w = WideOps(ops, Tc, d)
        k = w.iteration_var(start, u, lo, hi, step, t0)
        init = tuple(_identity(kind) if ":" in kind else x for kind, x in zip(kinds, state))
        _, out = body(k, True, init, ops=w, **{n: w.widen(v) for n, v in free.items()})
        for i, (kind, new) in enumerate(zip(kinds, out)):
            if kind == "array":
                state[i] = new
            elif kind == "local":
                state[i] = _last(w, new)
            else:
                state[i], fold = _fold(w, kind, state[i], new)
                folds[i] = fold if len(chunks) == 1 else None
        t0 += Tc
    final = JaxOps._like(tuple(state), st)
    for value, fold in zip(final, folds):
        if fold is not None:
            ops.note_fold(value, fold)
    return final


def _chunks(T: int, kinds: tuple) -> list[int]:
    """The iteration counts the loop is traced in, in order: all T at once, except for a loop
    that only reduces (no array stores) with an in-order fold of at most reduce._CHAIN
    iterations, which is traced once per iteration. The fold of a T-wide contribution takes T
    slices of it, and XLA:CPU fuses a computed value into only so many slices (its emitter's
    allowed code duplication, which counts the value's whole expression): past that it writes
    the value to memory and rereads it. Measured on layernorm's variance loop at 8192x1024
    (T = 16): the squared deviations written out, 16.6 ms, against 2.8 ms traced per
    iteration; the kernel went from 1.9-2.3x to 1.7x of its jnp baseline. Longer folds step in
    blocks (reduce.in_order) and keep one trace: the trace stays bounded."""
    ordered = any(":" in kind and is_ordered(*kind.split(":")) for kind in kinds)
    if not ordered or "array" in kinds or not 1 < T <= _CHAIN:
        return [T]
    return [1] * T


def _identity(kind: str) -> Any:
    """The reduction's identity as a constant of its type (the body's value is then exactly the
    iteration's contribution)."""
    op, tname = kind.split(":")
    return np.dtype(tname).type(reduction_identity(op, tname))


def _last(w: WideOps, v: Any) -> Any:
    """The last iteration's value of a widened lane value."""
    if jnp.ndim(v) == 0:
        return v
    n = w.ndrange[w.d]
    return lax.slice_in_dim(jnp.reshape(v, w.wshape), (w.T - 1) * n, w.T * n, axis=w.d).reshape(-1)


class Fold(NamedTuple):
    """An order-free fold's inputs: the lanes' values are ``init`` combined (``op`` on
    ``tname``) with ``c3`` reduced along the iteration axis ``d``. A work-group tree over all of
    them is then one reduction of ``c3`` (tree.py)."""

    op: str
    tname: str
    init: Any            # uniform
    c3: Any              # the contributions, shape ``wshape3``
    d: int


def _fold(w: WideOps, kind: str, init: Any, contrib: Any) -> tuple[Any, Fold | None]:
    """``init`` combined with every iteration's contribution, as the stepped loop would, and the
    Fold it is (when order-free from a uniform ``init``)."""
    op, tname = kind.split(":")
    dt = np.dtype(tname)
    c = jnp.broadcast_to(jnp.asarray(contrib, dt), w.wshape)
    combine = combiner(w.parent, op, tname)
    acc = init if jnp.ndim(init) == 0 else jnp.reshape(init, w.parent.ndrange)
    fold = None
    if is_ordered(op, tname):
        out = in_order(combine, acc, c, w.d, w.ndrange[w.d])
    else:
        c3 = c.reshape(w.wshape3)
        out = combine(acc, any_order(c3, w.d, op, tname))
        if jnp.ndim(init) == 0:
            fold = Fold(op, tname, init, c3, w.d)
    return jnp.broadcast_to(out, w.parent.ndrange).reshape(-1), fold
