"""The ``jax`` lowering of a work-group tree reduction (``portakern.codegen.loopplan.TreePlan``).

``for step in range(K): s = ...; if lid < s: red[lid] = red[lid] <op> red[lid + s]; barrier()``
steps a ``fori_loop`` over every lane, shifting the whole local array per step. With the bounds
and every ``s`` known at trace time, each step is instead one operation on static column slices
of the local array, laid out ``(work-groups, W)``: ``red[:, :s] = red[:, :s] <op> red[:, s:2s]``.
The same combinations in the same order, so the same bits; XLA reduces the chain of slices to
the halving levels the result needs.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .ops import JaxOps
from .reduce import any_order, combiner, is_ordered

__all__ = ["run_tree"]


def run_tree(ops: JaxOps, ks: range, st: tuple, tree: tuple) -> tuple | None:
    """The loop's state after running the iterations ``ks``; None when a bound, an ``s`` or the
    layout is not static (the loop then steps)."""
    op, tname, ai, swapped, sfn = tree
    red = st[ai]
    W = ops.workgroup[-1]
    if (any(w != 1 for w in ops.workgroup[:-1]) or ops.ndrange[-1] % W
            or tuple(red.shape) != (ops.num_groups_total, W)):
        return None
    steps, vals = [], None
    for k in ks:
        with jax.ensure_compile_time_eval():      # s from constants: a value, not a tracer
            vals, s = sfn(np.int64(k))
        if isinstance(s, jax.core.Tracer) or 2 * int(s) > W:
            return None          # a traced s, or red[lid + s] past the array: the stepped loop
        steps.append(int(s))
    if vals is None:
        return None
    combine = combiner(ops, op, tname)
    for s in steps:
        if s <= 0:
            continue            # no lane has lid < s
        lo, hi = red[:, :s], red[:, s:2 * s]
        red = jnp.concatenate([combine(hi, lo) if swapped else combine(lo, hi), red[:, s:]], axis=1)
    if steps == [W >> (i + 1) for i in range(len(steps))] and W == 1 << len(steps) \
            and not is_ordered(op, tname):
        # a full halving tree of an order-free op: red[0] is the reduction of the whole row,
        # one XLA reduction instead of a chain of slices (the other columns keep the levels)
        whole = _whole_groups(ops, ops.fold_of(st[ai]), op, tname)
        if whole is None:
            whole = any_order(st[ai], 1, op, tname)
        red = jnp.concatenate([whole[:, None], red[:, 1:]], axis=1)
    out: list[Any] = list(vals)
    out[ai] = red
    return ops._like(tuple(out), st)


def _whole_groups(ops: JaxOps, fold: Any, op: str, tname: str) -> Any:
    """Each work-group's reduction of a local array that holds a widened loop's order-free fold
    (widen.Fold), straight from the loop's contributions: ``op`` over a work-group of
    ``init <op> (fold of c over the iterations)`` is ``init <op> (c over the iterations and the
    work-group)``, one XLA reduction instead of two (and the per-lane fold is then dead code
    when nothing else reads it). Only for idempotent ops: ``init`` is in every lane's value, so a
    sum or product would count it once per lane. None when it does not apply: another op, or the
    loop's iteration axis not next to the work-group's dimension."""
    if fold is None or (fold.op, fold.tname) != (op, tname) or op not in ("max", "min", "and", "or"):
        return None
    nd, W = ops.ndrange, ops.workgroup[-1]
    last = len(nd) - 1
    if fold.d != last:       # (c3 is then (..., T, n_last): the iterations next to the groups)
        return None
    c = fold.c3.reshape(nd[:last] + (fold.c3.shape[last], nd[last] // W, W))
    per_group = any_order(c, (last, last + 2), op, tname).reshape(-1)
    return combiner(ops, op, tname)(fold.init, per_group)
