"""The figure: per kernel, how each backend compares with its hand-written baseline (left) and
how close it gets to the machine (right: % of measured bandwidth, or GFLOP/s for compute-bound)."""
from __future__ import annotations

from typing import Any

from ..errors import MissingDependency, PortakernError

_COLORS = {"numpy": "#4c72b0", "numba": "#dd8452", "opencl": "#55a868", "jax": "#c44e52", "cuda": "#8172b3",
           "numba-cuda": "#937860"}


def require() -> Any:
    """matplotlib's pyplot (Agg), or :class:`MissingDependency` naming the extra: checked before a run,
    so that ``--plot`` never fails after minutes of measuring."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependency('--plot needs matplotlib, which is not installed: pip install "portakern[bench]" '
                                "(also part of [all])") from exc
    return plt


def save(report: dict[str, Any], path: str) -> None:
    """Write the figure to ``path`` (PNG, SVG or PDF by extension). Needs matplotlib."""
    plt = require()
    rows = [r for r in report.get("results", []) if r.get("median_s")]
    if not rows:
        raise PortakernError("--plot: no successful result to plot")
    kernels = list(dict.fromkeys(r["kernel"] for r in rows))
    backends = list(dict.fromkeys(r["backend"] for r in rows))
    by = {(r["kernel"], r["backend"]): r for r in rows}     # the first size of each pair
    height = 0.8 / max(len(backends), 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 0.55 * len(kernels) + 2.2), sharey=True)
    for bi, b in enumerate(backends):
        ys, ratios, ys2, perf = [], [], [], []
        for ki, k in enumerate(kernels):
            r = by.get((k, b))
            if r is None:
                continue
            y = ki + (bi - (len(backends) - 1) / 2) * height
            if r.get("ratio_to_baseline"):
                ys.append(y)
                ratios.append(r["ratio_to_baseline"])
            v = (100 * r["bandwidth_fraction"] if r.get("bound") == "memory" and r.get("bandwidth_fraction")
                 else r.get("gflops"))
            if v:
                ys2.append(y)
                perf.append(v)
        color = _COLORS.get(b, None)
        ax1.barh(ys, ratios, height=height, color=color, label=b)
        for y, v in zip(ys, ratios, strict=True):
            ax1.text(v, y, f" {v:.2f}x", va="center", fontsize=6)
        ax2.barh(ys2, perf, height=height, color=color, label=b)
    ax1.set_xscale("log")
    ax1.axvline(1.0, color="black", lw=1)
    ax1.set_xlabel("time / hand-written time in the same framework (log; left of the line = faster)")
    ax1.set_yticks(range(len(kernels)))
    ax1.set_yticklabels([f"{k} ({'mem' if by.get((k, backends[0]), {}).get('bound') == 'memory' else 'flop'})"
                         for k in kernels])
    ax1.invert_yaxis()
    ax2.set_xscale("log")
    ax2.axvline(100.0, color="grey", lw=1, ls="--")
    ax2.set_xlabel("memory-bound: % of measured bandwidth  |  compute-bound: GFLOP/s (log)")
    ax1.legend(loc="lower right", fontsize=8)
    m = report.get("machine", {})
    fig.suptitle(f"portakern bench — {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
                 f"{m.get('bandwidth_gbs', '?')} GB/s measured", fontsize=11)
    for ax in (ax1, ax2):
        ax.grid(axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
