"""Accesses whose indices are affine in the ids (``portakern.codegen.affine``) as array views.

The lanes of a launch are the row-major coordinates ``(group_id(0), local_id(0), group_id(1),
...)`` (a dimension the work-group does not split has one coordinate, its global id). An index
``sum(K * coordinate) + u`` whose ``|K|`` do not overlap (each at least the span of the smaller
ones; a negative ``K`` reads its coordinate's axis reversed) and a uniform ``u`` of known static
range addresses, lane by lane, a strided block of the array: a ``dynamic_slice`` of ``span`` elements from ``u``, cut by reshapes
and slices into one axis per coordinate, transposed into lane order and broadcast over the
coordinates the index does not use. A store is the same block put back with a
``dynamic_update_slice`` (with a select where the block has gaps or the store is masked); lanes
that store to the same element (a coordinate the index does not use) leave the last active lane's
value, as the NumPy backend does. Loads reaching at most ``HALO`` elements past the array read a
zero-padded copy (what an out-of-bounds load reads); an access that fits none of this is the
gather/scatter of ops.py.
"""
from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from jax import core, lax

from .layout import HALO

__all__ = ["coords", "form_range", "view_load", "view_store"]


def coords(ops: Any) -> tuple[list[int], dict[tuple[str, int], list[tuple[int, int]]]] | None:
    """(the lane coordinates' sizes in lane order, how each id ``(kind, d)`` is made of them as
    ``[(coordinate, factor)]``); None when a work-group does not divide its dimension."""
    sizes: list[int] = []
    made: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for d, (n, w) in enumerate(zip(ops.ndrange, ops.workgroup)):
        if 1 < w < n:
            if n % w:
                return None
            g, lid = len(sizes), len(sizes) + 1
            sizes += [n // w, w]
            made[("gid", d)] = [(g, w), (lid, 1)]
            made[("lid", d)] = [(lid, 1)]
            made[("grid", d)] = [(g, 1)]
        else:
            c = len(sizes)
            sizes.append(n)
            made[("gid", d)] = [(c, 1)]
            made[("lid", d)] = [(c, 1)] if w >= n else []     # one group: the local id is the global id
            made[("grid", d)] = [(c, 1)] if w == 1 else []    # one item per group: the group id is
    return sizes, made


def _uniform(form: tuple) -> tuple[Any, tuple[int, int] | None]:
    """(value, static range or None) of a form's uniform part (its atoms and constant)."""
    _, const, atoms = form
    value: Any = np.int64(const)
    lo = hi = const
    known = True
    for c, v, bounds in atoms:
        value = value + np.int64(c) * (v if isinstance(v, core.Tracer) else np.int64(v))
        r = _static_range(v, bounds)
        if r is None:
            known = False
            continue
        a, b = c * r[0], c * r[1]
        lo, hi = lo + min(a, b), hi + max(a, b)
    return value, ((lo, hi) if known else None)


def form_range(ops: Any, form: tuple) -> tuple[int, int] | None:
    """The static range of a form's value over every lane (exact integers), or None."""
    _, r = _uniform(form)
    if r is None:
        return None
    lo, hi = r
    nd, wg = ops.ndrange, ops.workgroup
    for kind, d, c in form[0]:
        top = {"gid": nd[d], "lid": min(nd[d], wg[d]), "grid": -(-nd[d] // wg[d])}[kind] - 1
        lo, hi = lo + min(0, c * top), hi + max(0, c * top)
    return lo, hi


def _static_range(v: Any, bounds: tuple | None) -> tuple[int, int] | None:
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    if bounds is None or not all(isinstance(b, (int, np.integer)) for b in bounds):
        return None
    r = range(*(int(b) for b in bounds))
    return (min(r[0], r[-1]), max(r[0], r[-1])) if len(r) else None


def _plan(ops: Any, a: Any, aff: tuple, load: bool) -> tuple | None:
    """Per array dimension ``(start, span, [(coordinate, |K|, size)] K-descending)``, the pads
    (loads past the array), the lane coordinates' sizes, the coordinates used and those walked
    backwards; None when the access is no such view."""
    cs = coords(ops)
    if cs is None or ops.lanes_nd != ops.ndrange:
        return None
    sizes, made = cs
    kind, forms = aff
    forms = list(forms)
    if kind == "l":             # the work-group prefix: the linear group id
        lin: list[tuple[str, int, int]] = []
        stride = 1
        for d in reversed(range(len(ops.ndrange))):
            lin.append(("grid", d, stride))
            stride *= ops._ng[d]
        forms.insert(0, (tuple(lin), 0, ()))
    if len(forms) != a.ndim:
        return None
    used: set[int] = set()
    rev: set[int] = set()
    dims, pads = [], []
    for (lanes, _, _), form, size in zip(forms, forms, a.shape):
        ks: dict[int, int] = {}
        for k, d, c in lanes:
            for coord, f in made[(k, d)]:
                ks[coord] = ks.get(coord, 0) + c * f
        # a negative coefficient walks its coordinate backwards: the block from the last
        # element, that coordinate's axis reversed
        shift = sum(K * (sizes[co] - 1) for co, K in ks.items() if K < 0 and sizes[co] > 1)
        rev.update(co for co, K in ks.items() if K < 0 and sizes[co] > 1)
        terms = sorted(((co, abs(K), sizes[co]) for co, K in ks.items() if K and sizes[co] > 1),
                       key=lambda t: -t[1])
        if any(co in used for co, _, _ in terms):
            return None
        used.update(co for co, _, _ in terms)
        span = 1
        for _, K, s in reversed(terms):
            if K < span:
                return None         # overlapping strides: not a view
            span += K * (s - 1)
        start, r = _uniform(form)
        if r is None:
            return None
        start = start + np.int64(shift)
        lo, hi = r[0] + shift, r[1] + shift + span - 1
        pad = (max(0, -lo), max(0, hi - (size - 1)))
        if pad != (0, 0) and (not load or ops.errors is not None or max(pad) > HALO):
            return None
        dims.append((start + np.int64(pad[0]), span, terms))
        pads.append(pad)
    return dims, pads, sizes, used, rev


def _unfold(x: Any, axis: int, terms: list[tuple[int, int, int]]) -> Any:
    """Axis ``axis`` (a span) as one axis per term (``[(coord, K, size)]``, K descending)."""
    if not terms:
        return lax.squeeze(x, (axis,))
    _, K, s = terms[0]
    rest = 1 + sum(k * (n - 1) for _, k, n in terms[1:])
    if K == 1 and len(terms) == 1:
        return x
    n = x.shape[axis]
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, K * s - n)
    x = jnp.pad(x, widths) if K * s > n else lax.slice_in_dim(x, 0, K * s, axis=axis)
    x = x.reshape(x.shape[:axis] + (s, K) + x.shape[axis + 1:])
    x = lax.slice_in_dim(x, 0, rest, axis=axis + 1)
    return _unfold(x, axis + 1, terms[1:])


def _fold(x: Any, axis: int, terms: list[tuple[int, int, int]], fill: Any) -> Any:
    """The inverse of :func:`_unfold`: the axes of ``terms`` from ``axis`` as one span, the
    gaps ``fill``."""
    if not terms:
        return lax.expand_dims(x, (axis,))
    _, K, s = terms[0]
    if K == 1 and len(terms) == 1:
        return x
    x = _fold(x, axis + 1, terms[1:], fill)
    widths = [(0, 0, 0)] * x.ndim
    widths[axis + 1] = (0, K - x.shape[axis + 1], 0)
    x = lax.pad(x, jnp.asarray(fill, x.dtype), widths)
    x = x.reshape(x.shape[:axis] + (s * K,) + x.shape[axis + 2:])
    span = K * (s - 1) + 1 + sum(k * (n - 1) for _, k, n in terms[1:])
    return lax.slice_in_dim(x, 0, span, axis=axis)


def _axes(dims: list) -> list[int]:
    """The coordinates of the unfolded block's axes, in order."""
    return [co for _, _, terms in dims for co, _, _ in terms]


def view_load(ops: Any, a: Any, aff: tuple, m: Any) -> Any | None:
    """``a`` read lane by lane at the affine indices ``aff``, or None (not a view)."""
    plan = _plan(ops, a, aff, load=True)
    if plan is None:
        return None
    dims, pads, sizes, _, rev = plan
    if any(p != (0, 0) for p in pads):
        a = jnp.pad(a, pads)
    x = lax.dynamic_slice(a, [d[0] for d in dims], [d[1] for d in dims])
    axis = 0
    for _, _, terms in dims:
        x = _unfold(x, axis, terms)
        axis += len(terms)
    axes = _axes(dims)
    if rev:
        x = lax.rev(x, tuple(i for i, co in enumerate(axes) if co in rev))
    if not axes:         # the same element in every lane: a uniform value
        x = x.reshape(())
        return x if m is True else jnp.where(m, x, jnp.zeros((), a.dtype))
    order = sorted(range(len(axes)), key=lambda i: axes[i])
    x = jnp.transpose(x, order) if order != list(range(len(axes))) else x
    x = lax.broadcast_in_dim(x, tuple(sizes), tuple(sorted(axes))).reshape(-1)
    return x if m is True else jnp.where(m, x, jnp.zeros((), a.dtype))


def view_store(ops: Any, a: Any, aff: tuple, v: Any, m: Any) -> Any | None:
    """``a`` with ``v`` stored lane by lane at the affine indices ``aff``, or None."""
    plan = _plan(ops, a, aff, load=False)
    if plan is None:
        return None
    dims, _, sizes, used, rev = plan
    shape = tuple(sizes)
    x = jnp.broadcast_to(jnp.asarray(v, a.dtype), (ops.N,)).reshape(shape)
    mask = None if m is True else jnp.broadcast_to(m, (ops.N,)).reshape(shape)
    dup = [i for i, s in enumerate(sizes) if i not in used and s > 1]
    keep = [i for i in range(len(sizes)) if i not in dup]
    if dup:        # several lanes store to one element: the last active lane's value
        x = jnp.transpose(x, keep + dup).reshape(tuple(sizes[i] for i in keep) + (-1,))
        if mask is None:
            x = x[..., -1]
        else:
            mask = jnp.transpose(mask, keep + dup).reshape(x.shape)
            x, mask = _last_active(x, mask)
    else:
        x = x.reshape(tuple(sizes[i] for i in keep))
    # the used coordinates in lane order (the others have size 1), then in the block's order
    axes = _axes(dims)
    lane_order = [c for c in keep if c in used]
    x = x.reshape(tuple(sizes[c] for c in lane_order))
    if mask is not None:
        mask = mask.reshape(x.shape)
    perm = [lane_order.index(co) for co in axes]
    if perm != list(range(len(perm))):
        x = jnp.transpose(x, perm)
        mask = None if mask is None else jnp.transpose(mask, perm)
    if rev:
        flip = tuple(i for i, co in enumerate(axes) if co in rev)
        x = lax.rev(x, flip)
        mask = None if mask is None else lax.rev(mask, flip)
    written = mask if mask is not None else jnp.ones(x.shape, bool)
    axis = 0
    for _, _, terms in dims:
        x = _fold(x, axis, terms, 0)
        written = _fold(written, axis, terms, False)
        axis += 1
    starts = [d[0] for d in dims]
    dense = mask is None and all(_dense(terms) for _, _, terms in dims)
    if dense:
        if all(isinstance(s, (int, np.integer)) and s == 0 for s in starts) and x.shape == a.shape:
            return x
        return lax.dynamic_update_slice(a, x, starts)
    old = lax.dynamic_slice(a, starts, x.shape)
    return lax.dynamic_update_slice(a, jnp.where(written, x, old), starts)


def _last_active(x: Any, mask: Any) -> tuple[Any, Any]:
    """Along the last axis: the value of the last lane in ``mask``, and whether there is one.
    One variadic reduction keeping the larger position (no arithmetic on the values)."""
    pos = jnp.where(mask, lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1), -1)

    def later(a: tuple, b: tuple) -> tuple:
        take = b[0] > a[0]
        return lax.select(take, b[0], a[0]), lax.select(take, b[1], a[1])

    best, val = lax.reduce((pos, x), (np.int32(-1), np.zeros((), x.dtype)), later, (x.ndim - 1,))
    return val, best >= 0


def _dense(terms: list[tuple[int, int, int]]) -> bool:
    """Whether the terms' block has no gaps (each K the span of the smaller ones)."""
    span = 1
    for _, K, s in reversed(terms):
        if K != span:
            return False
        span *= s
    return True

