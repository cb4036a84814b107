"""``portakern conformance``: the cross-backend conformance suite (docs/language.md section 6).

Per backend and operation class: examples run, bit-exact fraction, max ULP error, and every failure
with a shrunk, runnable reproducer (saved as a regression test). Exit status 1 when any backend
breaks the contract. ``--ulp-table`` measures the tier-1 ULP table instead (``--write-docs`` puts it
into docs/semantics.md and ``--record`` the bounds into portakern/conformance/bounds.json).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``conformance`` subcommand to ``subparsers``."""
    p = subparsers.add_parser("conformance", help="run the cross-backend conformance suite",
                              description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--backends", help="comma-separated backend names (default: every known backend)")
    p.add_argument("--examples", type=int, default=None,
                   help="generated kernels per backend (default: 100 quick, 1000 full)")
    p.add_argument("--seed", type=int, default=0, help="Hypothesis seed (default 0: derandomised)")
    prof = p.add_mutually_exclusive_group()
    prof.add_argument("--quick", action="store_const", const="quick", dest="profile",
                      help="small programs, tiny sizes (the default; what CI runs)")
    prof.add_argument("--full", action="store_const", const="full", dest="profile",
                      help="the long profile: bigger programs and sizes")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE")
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
    backends = [b.strip() for b in args.backends.split(",")] if args.backends else None
    if args.ulp_table:
        from ..conformance.ulp_table import main as ulp_main

        return ulp_main(backends, args.samples, args.seed, args.write_docs, args.record, args.json)
    from ..conformance import run

    examples = args.examples if args.examples is not None else (100 if args.profile == "quick" else 1000)
    regressions = args.regressions
    if regressions is None and Path("tests/conformance/regressions").is_dir():
        regressions = "tests/conformance/regressions"

    def progress(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    report = run(backends, examples=examples, seed=args.seed, profile=args.profile,
                 regressions_dir=regressions, time_budget=args.time_budget, progress=progress,
                 shrink_seconds=args.shrink_seconds)
    print(report.table())
    print(f"\n{'PASS' if report.ok else 'FAIL'}: {len(report.results)} backend(s), profile {args.profile}, "
          f"seed {args.seed}, {report.seconds:.0f}s")
    if args.json:
        report.write_json(args.json)
        print(f"JSON report written to {args.json}")
    return 0 if report.ok else 1
