"""Reports of a benchmark run: the readable table, JSON, CSV and the comparison of two runs."""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: the per-result fields of the JSON schema (docs/benchmarks.md), in CSV column order.
FIELDS = ("kernel", "backend", "device", "size", "shape", "bound", "status", "median_s", "spread_s", "repeats",
          "gbps", "gflops", "bandwidth_fraction", "baseline_median_s", "baseline_spread_s", "baseline_status",
          "ratio_to_baseline", "ratio_of_medians", "dispatch_us", "compile_cold_s", "compile_warm_s", "warm_from_disk",
          "first_launch_s", "error")


def _time(s: Any) -> str:
    if s is None:
        return "-"
    s = float(s)
    if s < 1e-3:
        return f"{s * 1e6:.1f}us"
    if s < 1.0:
        return f"{s * 1e3:.2f}ms"
    return f"{s:.2f}s"


def _num(v: Any, fmt: str = "{:.1f}") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def _grid(header: list[str], rows: Iterable[list[str]], right: set[int]) -> str:
    rows = list(rows)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def ranking(report: dict[str, Any], backends: Iterable[str] = ("numpy", "numba", "opencl", "jax")) -> list[dict[str, Any]]:
    """CPU backends ordered by the geometric mean of their medians relative to the fastest backend
    per (kernel, size), over the results every ranked backend completed (the fair common ground).
    This is the measurement behind the default CPU backend for NumPy arrays."""
    rows = [r for r in report.get("results", []) if r.get("median_s") and r.get("backend") in set(backends)]
    present = sorted({r["backend"] for r in rows})
    by: dict[tuple[str, Any], dict[str, float]] = {}
    for r in rows:
        by.setdefault((r["kernel"], r.get("size")), {})[r["backend"]] = r["median_s"]
    common = [v for v in by.values() if len(v) == len(present)]
    if not common or len(present) < 2:
        return []
    logs: dict[str, float] = {b: 0.0 for b in present}
    wins: dict[str, int] = {b: 0 for b in present}
    for v in common:
        best = min(v.values())
        for b, t in v.items():
            logs[b] += math.log(t / best)
        wins[min(v, key=v.__getitem__)] += 1
    out = [{"backend": b, "geomean_vs_fastest": math.exp(logs[b] / len(common)), "fastest_count": wins[b],
            "kernels": len(common)} for b in present]
    return sorted(out, key=lambda d: d["geomean_vs_fastest"])


def table(report: dict[str, Any]) -> str:
    """The human-readable summary: machine line, per-result table, per-backend dispatch/compile table."""
    m = report.get("machine", {})
    bw = m.get("bandwidth_gbs")
    head = (f"machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, "
            f"measured bandwidth {_num(bw)} GB/s" + (f" ({m.get('bandwidth_method')})" if bw else "")
            + "".join(f", load average {' '.join(map(str, m[k]))} at the {k.rsplit('_', 1)[1]}"
                      for k in ("load_average_start", "load_average_end") if m.get(k)))
    rows = []
    for r in report.get("results", []):
        status = r.get("status", "ok")
        ratio = r.get("ratio_to_baseline")
        note = "" if status == "ok" else f"{status.upper()}: {r.get('error') or ''}"[:70]
        if status == "ok" and (r.get("baseline_status") or "ok") not in ("ok", "none"):
            note = f"baseline {r['baseline_status']}"[:70]
        rows.append([
            r["kernel"], r["backend"], str(r.get("shape", r.get("size"))), _time(r.get("median_s")),
            _time(r.get("spread_s")) if r.get("spread_s") is not None else "-",
            _num(r.get("gbps")), _num(None if r.get("bandwidth_fraction") is None else 100 * r["bandwidth_fraction"], "{:.0f}%")
            if r.get("bound") == "memory" else "", _num(r.get("gflops")) if r.get("bound") == "compute" else "",
            _time(r.get("baseline_median_s")), _num(ratio, "{:.2f}x"), note])
    main = _grid(["kernel", "backend", "size", "median", "spread", "GB/s", "%BW", "GFLOP/s", "hand-written",
                  "ratio", "note"], rows, {3, 4, 5, 6, 7, 8, 9})
    brows = []
    for b in report.get("backends", []):
        comp = b.get("compile") or {}
        first = next((k for k in comp if not k.startswith("_")), None)
        cold = comp.get(first, {}).get("cold") if first else None
        warm = comp.get(first, {}).get("warm") if first else None
        err = b.get("portakern_error") or b.get("dispatch_error") or b.get("compile_error") or ""
        brows.append([b["backend"], str(b.get("device", "?"))[:40], _num(b.get("dispatch_us")),
                      _num(b.get("dispatch_baseline_us")), first or "-", _time(cold), _time(warm), err[:60]])
    side = _grid(["backend", "device", "dispatch us", "hand-written us", "compiled", "cold", "warm", "note"],
                 brows, {2, 3, 5, 6})
    rank = ranking(report)
    if rank:
        side += ("\n\nCPU backends, geometric mean of time / fastest over " f"{rank[0]['kernels']} results all completed: "
                 + ", ".join(f"{d['backend']} {d['geomean_vs_fastest']:.2f}x (fastest {d['fastest_count']})" for d in rank))
    if report.get("peers") is not None:
        side += "\n\n" + peers_table(report["peers"])
    skipped = report.get("skipped") or {}
    tail = "".join(f"\nskipped {k}: {v}" for k, v in skipped.items())
    legend = ("\nratio = portakern time / hand-written time in the same framework, median over interleaved rounds "
              "(<1 is faster); "
              "%BW = GB/s / measured bandwidth; spread = IQR of the repetitions")
    return f"{head}\n\n{main}\n\n{side}{tail}{legend}\n"


def peers_table(entries: list[dict[str, Any]]) -> str:
    """The peers table: every side's median per (kernel, size), the best portakern backend, the fastest
    peer and the paired ratio between them (< 1: portakern is faster)."""
    kinds = {"portakern": 0, "hand": 1, "peer": 2}
    labels: dict[str, int] = {}
    for e in entries:
        for label, rec in e.get("times", {}).items():
            labels.setdefault(label, kinds.get(rec.get("kind"), 3))
    cols = sorted(labels, key=lambda k: labels[k])
    rows = []
    for e in entries:
        cells = []
        for label in cols:
            rec = e.get("times", {}).get(label)
            if rec is None:
                cells.append("")
            elif rec.get("median_s") is not None:
                cells.append(_time(rec["median_s"]) + ("*" if rec.get("library") else ""))
            else:
                cells.append({"mismatch": "WRONG", "error": "ERROR"}.get(rec.get("status", ""), "-"))
        rows.append([e["kernel"], str(e.get("shape", e.get("size"))), *cells, e.get("best_portakern") or "-",
                     e.get("fastest_peer") or "-", _num(e.get("ratio_to_fastest_peer"), "{:.2f}x")])
    grid = _grid(["kernel", "size", *cols, "best portakern", "fastest peer", "ratio"], rows,
                 set(range(2, 2 + len(cols))) | {4 + len(cols)})
    notes = sorted({f"{label}: {rec['error']}"[:160] for e in entries for label, rec in e.get("times", {}).items()
                    if rec.get("error")})
    legend = ("peers, timed round-robin in one interleaved measurement per row: pk:<backend> = portakern, "
              "<backend> = its hand-written baseline, others = peer frameworks; * = a library call (BLAS), "
              "never the fastest peer; ratio = best portakern / fastest peer, median of per-round ratios")
    return "\n".join([grid, *(f"  {n}" for n in notes), legend])


def write_json(report: dict[str, Any], path: str | Path) -> None:
    """Write the report as JSON (``{"machine": ..., "results": [...]}`` plus run details)."""
    Path(path).write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")


def write_csv(report: dict[str, Any], path: str | Path) -> None:
    """Write one CSV row per result, columns :data:`FIELDS` plus the machine's bandwidth."""
    bw = report.get("machine", {}).get("bandwidth_gbs")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([*FIELDS, "machine_bandwidth_gbs"])
        for r in report.get("results", []):
            w.writerow([("" if r.get(f) is None else r.get(f)) for f in FIELDS] + [bw])


def load(path: str | Path) -> dict[str, Any]:
    """Read a JSON report; raises ValueError naming the file when it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable benchmark JSON file ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError(f"{path}: not a portakern bench report (no 'results' list)")
    return data


def compare(a: dict[str, Any], b: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    """Side-by-side medians of two runs (same kernel, backend and size), with B's speed-up over A."""
    def key(r: dict[str, Any]) -> tuple[str, str, str]:
        return (r.get("kernel", "?"), r.get("backend", "?"), str(r.get("size")))

    ia = {key(r): r for r in a["results"]}
    ib = {key(r): r for r in b["results"]}
    rows, speedups = [], []
    for k in [*ia, *(k for k in ib if k not in ia)]:
        ra, rb = ia.get(k, {}), ib.get(k, {})
        ma, mb = ra.get("median_s"), rb.get("median_s")
        sp = (ma / mb) if ma and mb else None
        if sp:
            speedups.append(sp)
        rows.append([k[0], k[1], str(ra.get("shape") or rb.get("shape") or k[2]), _time(ma), _time(mb),
                     _num(sp, "{:.2f}x"), _num(ra.get("ratio_to_baseline"), "{:.2f}x"),
                     _num(rb.get("ratio_to_baseline"), "{:.2f}x")])
    ma_, mb_ = a.get("machine", {}), b.get("machine", {})
    head = "\n".join(f"{n}: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {_num(m.get('bandwidth_gbs'))} GB/s"
                     for n, m in ((name_a, ma_), (name_b, mb_)))
    body = _grid(["kernel", "backend", "size", f"median {name_a}", f"median {name_b}", f"{name_b} speed-up",
                  f"vs hand {name_a}", f"vs hand {name_b}"], rows, {3, 4, 5, 6, 7})
    geo = (f"\ngeometric-mean speed-up of {name_b} over {name_a}: "
           f"{math.exp(sum(map(math.log, speedups)) / len(speedups)):.2f}x over {len(speedups)} results") if speedups else ""
    return f"{head}\n\n{body}{geo}\n"
