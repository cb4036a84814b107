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
        red = jnp.concatenate([any_order(st[ai], 1, op, tname)[:, None], red[:, 1:]], axis=1)
    out: list[Any] = list(vals)
    out[ai] = red
    return ops._like(tuple(out), st)
