"""``portakern conformance``: the cross-backend conformance suite (docs/language.md section 6).

Per backend and operation class: examples run, bit-exact fraction, max ULP error, and every failure
with a shrunk, runnable reproducer (saved as a regression test). Exit status 1 when any backend
breaks the contract, or when a named backend cannot run here (unless ``--allow-unavailable``). While it
runs, one progress line per backend shows the programs done out of those planned and the time spent;
compiler and Hypothesis warnings are captured and counted at the end (listed in the ``--json`` report).
``--ulp-table`` measures the tier-1 ULP table instead (``--write-docs`` puts it
into docs/semantics.md and ``--record`` the bounds into portakern/conformance/bounds.json).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``conformance`` subcommand to ``subparsers``."""
    p = subparsers.add_parser("conformance", help="run the cross-backend conformance suite",
                              description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--backends", help="comma-separated backend names (default: every known backend)")
    p.add_argument("--examples", type=int, default=None,
                   help="generated kernels per backend (default: 100 quick, 1000 full, 10000 long)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0: derandomised)")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--quick", action="store_const", const="quick", dest="profile",
                      help="small programs, tiny sizes (the default; what CI runs)")
    prof.add_argument("--full", action="store_const", const="full", dest="profile",
                      help="bigger programs and sizes")
    prof.add_argument("--long", action="store_const", const="long", dest="profile",
                      help="the overnight run: the full profile's programs, 10000 per backend")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE")
    p.add_argument("--allow-unavailable", action="store_true",
                   help="pass even when a named backend cannot run here (default: only when --backends is "
                        "not given, i.e. every backend usable here)")
    p.add_argument("--regressions", metavar="DIR", default=None,
                   help="save shrunk failures as pytest files in DIR (default: tests/conformance/regressions "
                        "when that folder exists here)")
    p.add_argument("--time-budget", type=float, default=None, metavar="S",
                   help="stop generating new kernels for a backend after S seconds")
    p.add_argument("--shrink-seconds", type=float, default=60.0, metavar="S",
                   help="how long to shrink a failure (each step compiles a kernel; default 60)")
    p.add_argument("--ulp-table", action="store_true", help="measure the tier-1 ULP table instead")
    p.add_argument("--samples", type=int, default=20000, help="--ulp-table: float32 samples per function")
    p.add_argument("--write-docs", action="store_true",
                   help="--ulp-table: write the table into docs/semantics.md between its markers")
    p.add_argument("--record", action="store_true",
                   help="--ulp-table: record the measured bounds in portakern/conformance/bounds.json")
    p.set_defaults(func=main, profile="quick")
    return p


def main(args: argparse.Namespace) -> int:
    """Run the suite (or the ULP table) as the arguments say; return the exit status."""
    from ..conformance import require_dependencies

    require_dependencies()       # a one-line error naming the extra, never an ImportError traceback
    backends = [b.strip() for b in args.backends.split(",") if b.strip()] if args.backends else None
    if args.ulp_table:
        from ..conformance.ulp_table import main as ulp_main

        return ulp_main(backends, args.samples, args.seed, args.write_docs, args.record, args.json)
    from ..conformance import run
    from ..conformance.generate import DEFAULT_EXAMPLES

    examples = args.examples if args.examples is not None else DEFAULT_EXAMPLES[args.profile]
    regressions = args.regressions
    if regressions is None and Path("tests/conformance/regressions").is_dir():
        regressions = "tests/conformance/regressions"
    display = ProgressDisplay(sys.stderr)
    report = run(backends, examples=examples, seed=args.seed, profile=args.profile,
                 regressions_dir=regressions, time_budget=args.time_budget, progress=display.line,
                 shrink_seconds=args.shrink_seconds, tick=display.tick,
                 allow_unavailable=True if args.allow_unavailable else None)
    print(report.table())
    captured = {n: sum(w["count"] for w in r.warnings) for n, r in report.results.items() if r.warnings}
    if captured:
        print("\nwarnings captured (not errors; listed in --json): "
              + ", ".join(f"{n} {c}" for n, c in captured.items()))
    print(f"\n{'PASS' if report.ok else 'FAIL'}: {len(report.results)} backend(s), profile {args.profile}, "
          f"seed {args.seed}, {report.seconds:.0f}s")
    if args.json:
        report.write_json(args.json)
        print(f"JSON report written to {args.json}")
    return 0 if report.ok else 1


class ProgressDisplay:
    """Per-backend progress on ``stream``: on a terminal one line rewritten in place; otherwise (a log
    file, CI) a line at most every ``every`` seconds, so a long run leaves a readable log."""

    def __init__(self, stream: TextIO, every: float = 30.0) -> None:
        self.stream, self.every = stream, every
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last: dict[str, float] = {}
        self.open_line = False

    def tick(self, backend: str, done: int, planned: int, seconds: float) -> None:
        """``done`` of ``planned`` generated programs have run on ``backend`` in ``seconds``."""
        text = f"{backend}: {min(done, planned)}/{planned} kernels, {seconds:.0f}s"
        if self.tty:
            self.stream.write("\r" + text.ljust(60))
            self.open_line = True
        elif seconds - self.last.get(backend, 0.0) >= self.every:
            self.last[backend] = seconds
            self.stream.write(text + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        """A backend finished: its one-line summary."""
        if self.open_line:
            self.stream.write("\r" + " " * 60 + "\r")
            self.open_line = False
        self.stream.write(text + "\n")
        self.stream.flush()
