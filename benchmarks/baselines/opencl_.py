"""PyOpenCL baselines: the hand-written OpenCL C of :mod:`csource`, arguments set once, then
``enqueue_nd_range_kernel`` per run (the cheapest launch PyOpenCL offers)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import cases as C
from .csource import launch_plan

Run = Callable[[], dict[str, Any]]


def _builder(name: str) -> Callable[[dict, int, Any], Run]:
    def build(d: dict, n: int, fw: Any) -> Run:
        kname, args, gsize, lsize, outs = launch_plan(name, d, n)
        knl = fw.cl.Kernel(fw.program(), kname)   # a fresh kernel object per case: its own arguments
        argv = [(d[a].data if hasattr(d[a], "data") else d[a]) if isinstance(a, str) else a for a in args]
        knl.set_args(*argv)
        enqueue, queue = fw.cl.enqueue_nd_range_kernel, fw.queue
        result = {k: d[v] for k, v in outs.items()}

        if name == "tiny":
            # The dispatch comparator: what a hand-written launch costs, set_args + enqueue each time.
            def launch() -> dict[str, Any]:
                knl.set_args(*argv)
                enqueue(queue, knl, gsize, lsize)
                return result
            return launch

        def run() -> dict[str, Any]:
            enqueue(queue, knl, gsize, lsize)
            return result
        return run
    return build


BUILDERS = {c.name: _builder(c.name) for c in (*C.SUITE, C.TINY)}
