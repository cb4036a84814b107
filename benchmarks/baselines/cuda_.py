"""CuPy baselines: the hand-written CUDA C of :mod:`csource` as ``RawModule`` kernels (NVRTC)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import cases as C
from .csource import launch_plan

Run = Callable[[], dict[str, Any]]


def _builder(name: str) -> Callable[[dict, int, Any], Run]:
    def build(d: dict, n: int, fw: Any) -> Run:
        kname, args, gsize, lsize, outs = launch_plan(name, d, n)
        knl = fw.module().get_function(kname)
        block = tuple(lsize) if lsize else ((256,) if len(gsize) == 1 else (32, 8))
        block3 = block + (1,) * (3 - len(block))
        grid3 = tuple(-(-g // b) for g, b in zip(gsize, block, strict=True)) + (1,) * (3 - len(gsize))
        argv = tuple(d[a] if isinstance(a, str) else a for a in args)
        result = {k: d[v] for k, v in outs.items()}

        def run() -> dict[str, Any]:
            knl(grid3, block3, argv)
            return result
        return run
    return build


BUILDERS = {c.name: _builder(c.name) for c in (*C.SUITE, C.TINY)}
