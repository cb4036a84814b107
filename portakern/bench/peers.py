"""The peers phase of ``portakern bench --peers ...``: per kernel and size, portakern on every CPU backend,
the hand-written baselines and the peer frameworks (Warp, Taichi, PyTorch) timed round-robin in one
interleaved measurement, so that background load hits them alike; the figure is portakern's ratio to the
fastest peer.

"Peers" are the frameworks a user would pick instead: the ``--peers`` frameworks and the hand-written
baselines of the CPU backends (Numba ``prange``, ``jax.jit``, NumPy, PyOpenCL C). A library call (BLAS
matmul) is shown but is never "the fastest peer": it is not a kernel written in that framework.
"""
from __future__ import annotations

import dataclasses
import importlib
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from . import suite, timing

#: hand-written baselines whose kernel is a library call rather than code written in the framework
HAND_LIBRARY = {"numpy": frozenset({"matmul"}), "jax": frozenset({"matmul"})}
#: frameworks whose device buffers must outlive the run (PoCL aborted once on a freed buffer)
KEEP_INPUTS = frozenset({"opencl"})


def _short(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}".strip()
    return msg.splitlines()[0][:200]


class Candidate:
    """One timed side: a label, its kind (portakern, hand, peer), its run and sync."""

    def __init__(self, label: str, kind: str, run: Callable[[], Any], sync: Callable[[Any], None],
                 library: bool = False) -> None:
        self.label, self.kind, self.run, self.sync, self.library = label, kind, run, sync, library
        self.estimate: float | None = None


def load_peers(names: list[str]) -> tuple[list[Any], dict[str, str]]:
    """(loaded peers, {"peer <name>": why skipped}) for the ``--peers`` names (groups expanded)."""
    mod = suite.submodule("peers")
    loaded, skipped = [], {}
    for name in mod.expand(names):
        try:
            loaded.append(mod.load(name))
        except Exception as exc:  # noqa: BLE001 - an absent or broken framework is a note, never a stop
            skipped[f"peer {name}"] = f"{_short(exc)} (pip install \"portakern[{mod.extra(name)}]\")"
    return loaded, skipped


class PeersPhase:
    """Builds the candidates of one (kernel, size), checks each against the reference and times them."""

    def __init__(self, runner: Any, backends: list[str], peers: list[Any]) -> None:
        from .runner import _BASELINE_MODULES, _PortakernSide, _sync_for  # runner imports this module

        self.runner = runner
        self.peers = peers
        self.sides: dict[str, Any] = {}
        self.fws: dict[str, Any] = {}
        self.builders: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        fws = suite.submodule("frameworks")
        for b in backends:
            try:
                self.sides[b] = _PortakernSide(b)
            except Exception as exc:  # noqa: BLE001
                self.errors[f"pk:{b}"] = _short(exc)
            try:
                self.fws[b] = fws.make(b)
                self.builders[b] = importlib.import_module(
                    f"{suite.NAME}.baselines.{_BASELINE_MODULES[b]}").BUILDERS
            except Exception as exc:  # noqa: BLE001
                self.errors[b] = _short(exc)
        self._sync_for = _sync_for

    def _add(self, out: list[Candidate], entry: dict, label: str, kind: str, make: Callable[[], Any],
             sync: Callable[[Any], None], to_host: Callable[[Any], np.ndarray], case: Any, ref: dict,
             library: bool = False) -> None:
        rec: dict[str, Any] = {"kind": kind, "status": "ok", "library": library, "median_s": None}
        entry["times"][label] = rec
        try:
            run = make()
            outs = run()
            sync(outs)
            why = case.check({k: to_host(v) for k, v in outs.items()}, ref)
            if why is not None:
                rec.update(status="mismatch", error=why)
                return
            t0 = time.perf_counter()     # a second run: the first may have compiled (torch.compile, Warp)
            sync(run())
            cand = Candidate(label, kind, run, sync, library)
            cand.estimate = time.perf_counter() - t0
            out.append(cand)
        except Exception as exc:  # noqa: BLE001 - recorded in the entry
            rec.update(status="error", error=_short(exc))

    def measure(self, case: Any, n: int) -> dict[str, Any]:
        """Every candidate of ``case`` at size ``n``, timed side by side; the entry of the peers table."""
        inputs, ref = self.runner._inputs(case, n)
        entry: dict[str, Any] = {"kernel": case.name, "size": n, "shape": case.shape(n), "times": {}}
        cands: list[Candidate] = []
        for b, side in self.sides.items():
            fw = self.fws.get(b)
            self._add(cands, entry, f"pk:{b}", "portakern", partial(side.prepare, case, n, inputs),
                      self._sync_for(fw), side.to_host, case, ref)
        for b, fw in self.fws.items():
            builder = self.builders.get(b, {}).get(case.name)
            if builder is None:
                continue
            dev = {k: fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
            if b in KEEP_INPUTS:
                self.runner._keepalive.append(dev)
            self._add(cands, entry, b, "hand", partial(builder, dev, n, fw), self._sync_for(fw),
                      fw.to_host, case, ref, case.name in HAND_LIBRARY.get(b, ()))
        for p in self.peers:
            builder = p.builders.get(case.name)
            if builder is None:
                continue
            dev = {k: p.fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
            self._add(cands, entry, p.name, "peer", partial(builder, dev, n, p.fw),
                      self._sync_for(p.fw), p.fw.to_host, case, ref, case.name in p.library)
        if cands:
            try:
                times = timing.side_by_side([(c.run, c.sync) for c in cands], plan_for(self.runner.plan, len(cands)),
                                            [c.estimate for c in cands])
            except Exception as exc:  # noqa: BLE001
                entry["error"] = f"while timing: {_short(exc)}"
                return entry
            for c, t in zip(cands, times, strict=True):
                entry["times"][c.label].update(median_s=t.median_s, spread_s=t.spread_s, repeats=t.repeats)
            _verdict(entry, {c.label: t for c, t in zip(cands, times, strict=True)})
        return entry


def plan_for(plan: timing.Plan, sides: int) -> timing.Plan:
    """The measurement plan of a peers row: the per-backend plan's budget is for two sides (portakern and
    its baseline); a row of ``sides`` gets as much per side, so its rounds are as many."""
    return dataclasses.replace(plan, budget_s=plan.budget_s * max(1.0, sides / 2))


def _verdict(entry: dict[str, Any], times: dict[str, timing.Timing]) -> None:
    """Best portakern backend, fastest peer (library calls excluded) and the paired ratio between them."""
    rec = entry["times"]
    pk = [k for k in times if rec[k]["kind"] == "portakern"]
    peers = [k for k in times if rec[k]["kind"] != "portakern" and not rec[k]["library"]]
    best = min(pk, key=lambda k: times[k].median_s) if pk else None
    fastest = min(peers, key=lambda k: times[k].median_s) if peers else None
    entry["best_portakern"], entry["fastest_peer"] = best, fastest
    entry["ratio_to_fastest_peer"] = (timing.paired_ratio(times[best].times, times[fastest].times)
                                      if best and fastest else None)
    if fastest:
        for k in pk:
            rec[k]["ratio_to_fastest_peer"] = timing.paired_ratio(times[k].times, times[fastest].times)


def run(runner: Any, cases: list[Any], backends: list[str], peers: list[Any], progress: Any) -> list[dict]:
    """The peers table's entries, one per (kernel, size)."""
    from .runner import resolve_size

    phase = PeersPhase(runner, backends, peers)
    out = []
    for case in cases:
        for spec in runner.opts.sizes:
            n = resolve_size(case, spec)
            progress.step(f"peers: {case.name} {case.shape(n)}")
            out.append(phase.measure(case, n))
    if phase.errors:
        for e in out:
            e.setdefault("unavailable", dict(phase.errors))
    return out
