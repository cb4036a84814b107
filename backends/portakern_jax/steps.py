"""Lane operations of one step of a stepped jax launch: a kernel that spins on a lock runs its rows
(or rows of work-groups) one step after another in one trace (``JaxLauncher._steps``,
``portakern.codegen.vectorize.spin_wait_rows``), so that a lock holder finishes before the next
step spins on the lock.

A step's lanes are a slice of the index space, so the structural fast paths that assume the whole
index space (identity and window slices, per-lane local slots, widened loops, work-group trees) are
off: every access is a gather or a scatter.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portakern.codegen.vector_ops import LaneOps

from .ops import JaxOps


class StepOps(JaxOps):
    """JaxOps over the rows ``[lo, hi)`` of the first dimension, with only the general paths."""

    use_affine = False
    # the ids of the step's lanes (LaneLayout's iotas span the whole index space)
    gid = LaneOps.gid
    lid = LaneOps.lid
    grid = LaneOps.grid

    def is_identity(self, idx: tuple[Any, ...], a: Any, pre: int) -> bool:
        return False

    def _window(self, a: Any, idx: tuple[Any, ...], pre: int) -> None:
        return None

    def _halo_window(self, a: Any, idx: tuple[Any, ...], pre: int) -> None:
        return None

    def _local_lane(self, a: Any, idx: tuple[Any, ...], pre: int) -> None:
        return None

    def for_range(self, m: Any, start: Any, stop: Any, step: Any, body: Callable, st: tuple,
                  exits: bool, wide: Any = None, tree: Any = None, unroll: bool = False) -> tuple:
        return super().for_range(m, start, stop, step, body, st, exits, unroll=unroll)
