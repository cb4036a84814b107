"""Timing done right: warm-up, repetitions until a time budget, synchronisation after every run,
and candidates measured side by side (interleaved) so background load hits them alike.

``spread_s`` is the interquartile range of the repetitions (p75 - p25): robust to the odd outlier a
shared machine produces, unlike the standard deviation.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Runner = Callable[[], Any]      # runs once, returns what must be waited for
Sync = Callable[[Any], None]    # waits for it


@dataclass(frozen=True)
class Plan:
    """How hard to measure: warm-up runs, repetition bounds and a per-measurement time budget."""

    warmup: int = 2
    min_repeats: int = 5
    max_repeats: int = 30
    budget_s: float = 1.5


QUICK = Plan(warmup=1, min_repeats=3, max_repeats=20, budget_s=0.5)
FULL = Plan()


@dataclass(frozen=True)
class Timing:
    """Median and spread (IQR) of the repetitions, in seconds."""

    median_s: float
    spread_s: float
    repeats: int
    best_s: float
    times: tuple[float, ...] = ()


def summarize(times: Sequence[float]) -> Timing:
    """Median, IQR and best of ``times``."""
    arr = np.asarray(times, dtype=np.float64)
    q25, q50, q75 = np.percentile(arr, [25, 50, 75])
    return Timing(float(q50), float(q75 - q25), int(arr.size), float(arr.min()), tuple(float(t) for t in arr))


def side_by_side(candidates: Sequence[tuple[Runner, Sync]], plan: Plan,
                 estimates: Sequence[float | None] | None = None) -> list[Timing]:
    """Time every candidate, interleaving their runs; each run is followed by its sync.

    ``estimates`` are the seconds each candidate's checked first run took (after compiling). A
    candidate slower than the budget skips its warm-up (the checked run already warmed it), and a
    round slower than the budget lowers the repetitions to what the budget allows (at least one),
    so a slow interpreter-like backend cannot hold the run hostage.
    """
    est = list(estimates) if estimates is not None else [None] * len(candidates)
    for (run, sync), e in zip(candidates, est, strict=True):
        if e is not None and e > plan.budget_s:
            continue
        for _ in range(plan.warmup):
            sync(run())
    round_s = sum(e or 0.0 for e in est)
    min_reps = plan.min_repeats
    if round_s > 0 and round_s * plan.min_repeats > 4 * plan.budget_s:
        min_reps = max(1, int(4 * plan.budget_s / round_s))
    times: list[list[float]] = [[] for _ in candidates]
    clock = time.perf_counter
    start = clock()
    for rep in range(plan.max_repeats):
        for k, (run, sync) in enumerate(candidates):
            t0 = clock()
            sync(run())
            times[k].append(clock() - t0)
        if rep + 1 >= min_reps and clock() - start > plan.budget_s:
            break
    return [summarize(t) for t in times]


def paired_ratio(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of the per-round ratios ``a[i] / b[i]`` of two interleaved candidates.

    Each round ran A then B back to back, so a load burst that slows a round slows both; the
    per-round ratio cancels it, where the ratio of the two medians would not.
    """
    return float(np.median(np.asarray(a, np.float64) / np.asarray(b, np.float64)))


def launch_overheads(candidates: Sequence[tuple[Runner, Sync]], seconds: float = 0.3,
                     max_runs: int = 2000) -> list[float]:
    """Median wall time of one tiny launch plus its sync per candidate, in microseconds.

    The candidates' launches alternate (after 20 warm-ups each), so a burst of background load
    lands on all of them: the difference between them is the trustworthy figure.
    """
    for run, sync in candidates:
        for _ in range(20):
            sync(run())
    clock = time.perf_counter
    times: list[list[float]] = [[] for _ in candidates]
    end = clock() + seconds
    while len(times[0]) < max_runs and (len(times[0]) < 50 or clock() < end):
        for k, (run, sync) in enumerate(candidates):
            t0 = clock()
            sync(run())
            times[k].append(clock() - t0)
    return [float(np.median(t)) * 1e6 for t in times]


def launch_overhead(run: Runner, sync: Sync, seconds: float = 0.2, max_runs: int = 2000) -> float:
    """Median wall time of one tiny launch plus its sync, in microseconds (after 20 warm-ups)."""
    return launch_overheads([(run, sync)], seconds, max_runs)[0]
