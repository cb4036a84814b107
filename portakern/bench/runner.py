"""Run the suite: per backend, per kernel and size, check the generated kernel and the hand-written
baseline against the reference, then time them side by side and turn times into figures.

Every failure is caught and recorded in the row (``status``, ``error``): one broken kernel or
backend never stops the run, and the table says what broke.
"""
from __future__ import annotations

import dataclasses
import importlib
import inspect
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import machine, suite, timing
from .peers import KEEP_INPUTS
from .progress import Progress

GPU_BACKENDS = ("cuda", "numba-cuda")
ALL_BACKENDS = ("numpy", "numba", "opencl", "jax", "cuda", "numba-cuda")
_BASELINE_MODULES = {"numpy": "numpy_", "numba": "numba_", "opencl": "opencl_", "jax": "jax_", "cuda": "cuda_",
                     "numba-cuda": "numba_cuda_"}


@dataclass
class Options:
    """What to run. ``sizes`` are size names (tiny/small/medium/large) or explicit primary sizes."""

    backends: list[str] | None = None
    kernels: list[str] | None = None
    sizes: list[str] = field(default_factory=lambda: ["medium"])
    quick: bool = False
    compile_times: bool = True
    probe: bool = True
    seed: int = 0
    #: peer frameworks (``warp``, ``taichi``, ``torch``...) timed beside portakern; None: no peers phase
    peers: list[str] | None = None


def _short(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}".strip()
    return msg.splitlines()[0][:300] if msg else type(exc).__name__


def resolve_size(case: Any, spec: str) -> int:
    """A size name from the case's table, or an explicit positive int (rounded up to the tile)."""
    if spec in case.sizes:
        return int(case.sizes[spec])
    n = int(spec)
    if n <= 0:
        raise ValueError(f"size must be positive, got {spec}")
    if case.grid(n)[1] is not None and case.name in ("matmul", "transpose"):
        t = case.constexprs(n)["T"]
        n = -(-n // t) * t
    return n


def available_backends(requested: list[str] | None) -> tuple[list[str], dict[str, str]]:
    """(backends to run, {backend: why skipped}). GPU backends only with a device."""
    skipped: dict[str, str] = {}
    try:
        from ..runtime import registry

        names = list(registry.available_backends())
    except Exception as exc:  # noqa: BLE001 - the runtime may be missing; baselines still run
        names = []
        skipped["portakern"] = _short(exc)
    if not names:   # fall back to what the frameworks offer, so the baselines still run
        for b in ("numpy", "numba", "opencl", "jax"):
            try:
                suite.submodule("frameworks").make(b)
                names.append(b)
            except Exception as exc:  # noqa: BLE001
                skipped[b] = _short(exc)
    wanted = requested or [b for b in ALL_BACKENDS if b in names] + [b for b in names if b not in ALL_BACKENDS]
    if not requested:
        for b in GPU_BACKENDS:
            if b not in names and "portakern" not in skipped:
                skipped[b] = f"GPU backend not run: {_why_unavailable(b)}"
    out = []
    for b in wanted:
        if b == "numba-cuda" and not requested and _cuda_simulator():
            skipped[b] = "NUMBA_ENABLE_CUDASIM=1: the CUDA simulator is not a benchmark (ask with --backends numba-cuda)"
        elif b in names:
            out.append(b)
        else:
            skipped.setdefault(b, "not available on this machine")
    return out, skipped


def _why_unavailable(backend: str) -> str:
    """The backend's own reason for being unavailable (no GPU, no driver, not installed)."""
    from ..runtime import registry

    try:
        return registry._reason(registry.get_backend(backend)).rstrip(". ")
    except Exception as exc:  # noqa: BLE001 - not installed: the import error says why
        return _short(exc)


def _cuda_simulator() -> bool:
    from ..runtime import config

    return config.cuda_simulator()


def _boundscheck_default() -> bool:
    """Whether the suite's kernels (decorated with the defaults) check their bounds."""
    from ..runtime import config

    return config.boundscheck()


class _PortakernSide:
    """The generated kernels on one backend: arrays via the backend's own ``from_host``."""

    def __init__(self, backend: str) -> None:
        from ..runtime import registry

        self.name = backend
        self.be = registry.get_backend(backend)
        self.dev = self.be.device()
        self.kernels = suite.submodule("kernels")

    def device_name(self) -> str:
        return str(self.dev.name)

    def prepare(self, case: Any, n: int, inputs: dict[str, Any]) -> Callable[[], dict[str, Any]]:
        kern = getattr(self.kernels, case.name)
        native = {k: self.be.from_host(v.copy(), self.dev) if isinstance(v, np.ndarray) else v
                  for k, v in inputs.items()}
        consts = case.constexprs(n)
        order = list(inspect.signature(kern.fn).parameters)
        args = tuple(native[p] if p in native else consts[p] for p in order)
        nd, wg = case.grid(n)
        launch = kern.on(self.name)[nd, wg]   # always the (ndrange, workgroup-or-None) form: never ambiguous
        outs = case.outputs

        def run() -> dict[str, Any]:
            res = launch(*args)
            if res is None:
                return {k: native[k] for k in outs}
            if isinstance(res, tuple):
                return dict(zip(outs, res, strict=True))
            return {outs[0]: res}
        return run

    def to_host(self, a: Any) -> np.ndarray:
        return np.asarray(self.be.to_host(a)) if not isinstance(a, np.ndarray) else a


def _sync_for(fw: Any) -> Callable[[dict[str, Any]], None]:
    if fw is None:
        return lambda outs: None
    return lambda outs: fw.sync(list(outs.values()))


class Runner:
    """Runs the suite and collects the report (``machine`` + ``results``)."""

    def __init__(self, opts: Options, progress: Progress | None = None) -> None:
        self.opts = opts
        self.plan = timing.QUICK if opts.quick else timing.FULL
        self.progress = progress or Progress(0, enabled=False)
        self.cases_mod = suite.submodule("cases")
        self._refs: dict[tuple[str, int], tuple[dict[str, Any], dict[str, Any]]] = {}
        #: baseline inputs of frameworks whose buffers must outlive the run (peers.KEEP_INPUTS)
        self._keepalive: list[dict[str, Any]] = []

    def cases(self) -> list[Any]:
        """The selected cases, in suite order; unknown names are an error naming the known ones."""
        by_name = self.cases_mod.BY_NAME
        if not self.opts.kernels:
            return list(self.cases_mod.SUITE)
        unknown = [k for k in self.opts.kernels if k not in by_name]
        if unknown:
            raise ValueError(f"unknown kernel(s) {', '.join(unknown)}; known: {', '.join(by_name)}")
        return [by_name[k] for k in self.opts.kernels]

    def _inputs(self, case: Any, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
        key = (case.name, n)
        if key not in self._refs:
            rng = np.random.default_rng(self.opts.seed)
            inputs = case.make(n, rng)
            self._refs = {key: (inputs, case.reference(inputs))}   # keep one: large inputs are big
        return self._refs[key]

    # -- one backend ---------------------------------------------------------------------------------
    def run_backend(self, backend: str, cases: list[Any], bandwidth: float | None) -> tuple[list[dict], dict]:
        """Rows for every (case, size) on ``backend`` and the backend's summary (dispatch, compile)."""
        fws = suite.submodule("frameworks")
        summary: dict[str, Any] = {"backend": backend}
        try:
            fw = fws.make(backend)
        except Exception as exc:  # noqa: BLE001
            fw, summary["baseline_error"] = None, _short(exc)
        try:
            base_mod = importlib.import_module(f"{suite.NAME}.baselines.{_BASELINE_MODULES[backend]}")
            builders = base_mod.BUILDERS
        except Exception as exc:  # noqa: BLE001
            builders, summary["baseline_error"] = {}, _short(exc)
        try:
            pk: _PortakernSide | None = _PortakernSide(backend)
            device = pk.device_name()  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001
            pk, summary["portakern_error"] = None, _short(exc)
            device = fw.device_name() if fw is not None else "?"
        summary["device"] = device
        sync = _sync_for(fw)
        if backend in GPU_BACKENDS and fw is not None and "triad" in builders and self.opts.probe:
            # A GPU's fraction is of its own memory's bandwidth, measured the same way on the device.
            self.progress.step(f"{backend}: device memory bandwidth (triad over 3 x 256 MiB)")
            try:
                bw = suite.submodule("probe").measure_on(fw, builders["triad"], repeats=3 if self.opts.quick else 10)
                bandwidth = bw.best_gbs
                summary["bandwidth_gbs"] = round(bw.best_gbs, 2)
            except Exception as exc:  # noqa: BLE001
                summary["bandwidth_error"] = _short(exc)
                bandwidth = None
        self.progress.step(f"{backend}: dispatch overhead")
        summary.update(self._dispatch(backend, pk, fw, builders, sync))
        rows = []
        for case in cases:
            for spec in self.opts.sizes:
                n = resolve_size(case, spec)
                self.progress.step(f"{backend}: {case.name} {case.shape(n)}")
                rows.append(self._row(backend, device, case, n, pk, fw, builders, sync, bandwidth))
        for r in rows:
            r["dispatch_us"] = summary.get("dispatch_us")
        return rows, summary

    def _dispatch(self, backend: str, pk: Any, fw: Any, builders: dict, sync: Callable) -> dict[str, Any]:
        out: dict[str, Any] = {"dispatch_us": None, "dispatch_baseline_us": None}
        case = self.cases_mod.TINY
        inputs = case.make(1, np.random.default_rng(0))
        cands: list[tuple[str, tuple[Callable, Callable]]] = []
        if pk is not None:
            try:
                cands.append(("dispatch_us", (pk.prepare(case, 1, inputs), sync)))
            except Exception as exc:  # noqa: BLE001
                out["dispatch_error"] = _short(exc)
        if fw is not None and "tiny" in builders:
            try:
                dev = {k: fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
                if backend in KEEP_INPUTS:
                    self._keepalive.append(dev)
                cands.append(("dispatch_baseline_us", (builders["tiny"](dev, 1, fw), sync)))
            except Exception as exc:  # noqa: BLE001
                out["dispatch_baseline_error"] = _short(exc)
        try:
            for (key, _), us in zip(cands, timing.launch_overheads([c for _, c in cands]), strict=True):
                out[key] = round(us, 2)
        except Exception as exc:  # noqa: BLE001
            out["dispatch_error"] = _short(exc)
        return out

    def _row(self, backend: str, device: str, case: Any, n: int, pk: Any, fw: Any, builders: dict,
             sync: Callable, bandwidth: float | None) -> dict[str, Any]:
        row: dict[str, Any] = {
            "kernel": case.name, "backend": backend, "device": device, "size": n, "shape": case.shape(n),
            "bound": case.bound, "status": "ok", "error": None,
            "median_s": None, "spread_s": None, "repeats": None, "gbps": None, "gflops": None,
            "bandwidth_fraction": None, "baseline_median_s": None, "baseline_spread_s": None,
            "baseline_status": None, "ratio_to_baseline": None, "dispatch_us": None,
            "compile_cold_s": None, "compile_warm_s": None, "first_launch_s": None,
        }
        try:
            inputs, ref = self._inputs(case, n)
        except MemoryError as exc:
            row.update(status="error", error=_short(exc))
            return row
        candidates: list[tuple[Callable, Callable]] = []
        estimates: list[float | None] = []
        pk_ok = base_ok = False
        pk_out: dict[str, Any] = {}
        if pk is not None:
            try:
                run = pk.prepare(case, n, inputs)
                t0 = time.perf_counter()
                outs = run()
                sync(outs)
                first_pk = time.perf_counter() - t0
                row["first_launch_s"] = round(first_pk, 4)
                pk_out = {k: pk.to_host(v) for k, v in outs.items()}
                why = case.check(pk_out, ref)
                if why is None:
                    candidates.append((run, sync))
                    # The checked run (compile included) over-estimates a run: it only ever lowers
                    # the repetitions of a slow kernel, never those of a fast one.
                    estimates.append(first_pk if first_pk > self.plan.budget_s else None)
                    pk_ok = True
                else:
                    row.update(status="mismatch", error=why)
            except Exception as exc:  # noqa: BLE001 - recorded in the row
                row.update(status="error", error=_short(exc))
                if self.opts.quick is False:
                    row["traceback"] = traceback.format_exc(limit=4)
        else:
            row.update(status="error", error="portakern backend unavailable")
        builder = builders.get(case.name)
        if fw is not None and builder is not None:
            try:
                dev = {k: fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
                if backend in KEEP_INPUTS:
                    self._keepalive.append(dev)
                brun = builder(dev, n, fw)
                t0 = time.perf_counter()
                outs = brun()
                sync(outs)
                first = time.perf_counter() - t0
                why = case.check({k: fw.to_host(v) for k, v in outs.items()}, ref)
                if why is None:
                    candidates.append((brun, sync))
                    estimates.append(first if first > self.plan.budget_s else None)
                    base_ok = True
                    row["baseline_status"] = "ok"
                else:
                    row["baseline_status"] = f"mismatch: {why}"
            except Exception as exc:  # noqa: BLE001
                row["baseline_status"] = f"error: {_short(exc)}"
        else:
            row["baseline_status"] = "none"
        if not candidates:
            return row
        try:
            times = timing.side_by_side(candidates, self.plan, estimates)
        except Exception as exc:  # noqa: BLE001
            row.update(status="error", error=f"while timing: {_short(exc)}")
            return row
        if pk_ok:
            t = times[0]
            row.update(median_s=t.median_s, spread_s=t.spread_s, repeats=t.repeats)
            row["gbps"] = case.traffic(n) / t.median_s / 1e9
            flops = case.flops(n, pk_out)
            row["gflops"] = flops / t.median_s / 1e9 if flops else None
            if bandwidth:
                row["bandwidth_fraction"] = row["gbps"] / bandwidth
        if base_ok:
            b = times[-1]
            row.update(baseline_median_s=b.median_s, baseline_spread_s=b.spread_s)
            if pk_ok:
                # Paired: the median of per-round ratios of the interleaved runs (robust to load).
                row["ratio_to_baseline"] = timing.paired_ratio(times[0].times, b.times)
                row["ratio_of_medians"] = row["median_s"] / b.median_s
        return row


def run(opts: Options, progress: Progress | None = None,
        compile_probe: Callable[[str, list[str]], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run everything ``opts`` asks for and return the report (the JSON document)."""
    progress = progress or Progress(0, enabled=False)
    runner = Runner(opts, progress)
    cases = runner.cases()
    for spec in opts.sizes:
        if spec not in runner.cases_mod.SIZE_NAMES and not (spec.isdigit() and int(spec) > 0):
            raise ValueError(f"unknown size {spec!r}; use {', '.join(runner.cases_mod.SIZE_NAMES)} or a positive integer")
    backends, skipped = available_backends(opts.backends)
    peer_list: list[Any] = []
    if opts.peers is not None:
        from . import peers as P

        peer_list, peer_skips = P.load_peers(opts.peers)
        skipped.update(peer_skips)
    steps = len(backends) * (len(cases) * len(opts.sizes) + 1 + (2 if opts.compile_times else 0)) + (1 if opts.probe else 0)
    if opts.peers is not None:
        steps += len(cases) * len(opts.sizes)
    steps += sum(1 for b in backends if b in GPU_BACKENDS) if opts.probe else 0
    progress.reset(steps)
    report: dict[str, Any] = {"machine": {**machine.describe(), "load_average_start": machine.load_average()},
                              "results": [], "backends": [], "skipped": skipped,
                              "options": {"quick": opts.quick, "sizes": opts.sizes, "kernels": [c.name for c in cases],
                                          "backends": backends, "plan": dataclasses.asdict(runner.plan),
                                          "peers": [p.name for p in peer_list] if opts.peers is not None else None,
                                          "boundscheck": _boundscheck_default()}}
    bandwidth = None
    if opts.probe:
        progress.step("measuring memory bandwidth (triad over 3 x 256 MiB)")
        bw = suite.submodule("probe").measure(repeats=2 if opts.quick else 10)
        bandwidth = bw.best_gbs
        report["machine"].update(bandwidth_gbs=round(bw.best_gbs, 2), bandwidth_median_gbs=round(bw.median_gbs, 2),
                                 bandwidth_method=f"{bw.method}, 3 x {bw.array_mib} MiB float64, best of {bw.repeats}")
    else:
        report["machine"]["bandwidth_gbs"] = None
    started = time.perf_counter()
    for backend in backends:
        rows, summary = runner.run_backend(backend, cases, bandwidth)
        if opts.compile_times and compile_probe is not None and "portakern_error" not in summary:
            names = [c.name for c in cases] if not opts.quick else [c.name for c in cases][:1]
            progress.step(f"{backend}: cold compile (new process, empty cache)")
            try:
                times = compile_probe(backend, names)
                progress.step(f"{backend}: warm start (new process, filled cache)")
                summary["compile"] = times
                warm_cache = (times.get("_process") or {}).get("warm_cache") or {}
                for r in rows:
                    t = times.get(r["kernel"], {})
                    r["compile_cold_s"], r["compile_warm_s"] = t.get("cold"), t.get("warm")
                    stats = warm_cache.get(r["kernel"])
                    if stats:   # proof the warm process loaded from disk instead of compiling
                        r["warm_from_disk"] = (bool(stats.get("disk_hits")) and not stats.get("builds")
                                               and not stats.get("framework_builds"))
            except Exception as exc:  # noqa: BLE001
                summary["compile_error"] = _short(exc)
                progress.step(f"{backend}: compile probe failed")
        report["results"].extend(rows)
        report["backends"].append(summary)
    if opts.peers is not None:
        cpu = [b for b in backends if b not in GPU_BACKENDS]
        report["peers"] = P.run(runner, cases, cpu, peer_list, progress)
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    report["machine"]["load_average_end"] = machine.load_average()
    from .report import ranking

    report["cpu_ranking"] = ranking(report)
    progress.done()
    return report
