"""``portakern bench``: the benchmark suite on every available backend (docs/language.md section 6).

``portakern bench [--quick] [--backends ...] [--kernels ...] [--sizes ...] [--peers warp,taichi,torch]
[--json F] [--csv F] [--plot F.png]`` runs it; ``portakern bench compare A.json B.json`` compares two runs.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any


def _csv_list(text: str) -> list[str]:
    return [t.strip() for t in text.replace(" ", ",").split(",") if t.strip()]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` sub-command to ``subparsers`` (its handler is ``args.func(args) -> int``)."""
    p = subparsers.add_parser(
        "bench", help="run the benchmark suite (or: bench compare A.json B.json)",
        description="Benchmark every kernel of the suite on every available backend against hand-written "
                    "baselines. 'portakern bench compare A.json B.json' compares two runs.")
    configure(p)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    """Add bench's arguments to ``p`` and set its handler."""
    p.add_argument("compare", nargs="*", metavar="compare A.json B.json",
                   help="compare two JSON reports instead of running")
    p.add_argument("--quick", action="store_true", help="small sizes, few repetitions (about 2 minutes)")
    p.add_argument("--backends", type=_csv_list, default=None, help="comma-separated backends (default: all available)")
    p.add_argument("--kernels", type=_csv_list, default=None, help="comma-separated kernels (default: all)")
    p.add_argument("--sizes", type=_csv_list, default=None,
                   help="comma-separated size names (tiny, small, medium, large) or primary sizes "
                        "(default: medium; small with --quick)")
    p.add_argument("--json", metavar="FILE", default=None, help="write the full report as JSON")
    p.add_argument("--csv", metavar="FILE", default=None, help="write one CSV row per result")
    p.add_argument("--plot", metavar="FILE.png", default=None, help="draw the figure (needs matplotlib)")
    p.add_argument("--no-compile", action="store_true", help="skip cold/warm compile probes (new processes)")
    p.add_argument("--no-probe", action="store_true", help="skip the memory-bandwidth probe")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs")
    p.add_argument("--peers", type=_csv_list, default=None, metavar="warp,taichi,torch",
                   help="also time the suite written in these frameworks (torch = eager and torch.compile), "
                        "round-robin with portakern and the hand-written baselines; absent ones are skipped "
                        "with a note (extras: warp, taichi, torch, peers)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the command for parsed ``args``; returns the exit status."""
    from ..bench import report as R

    if args.compare:
        if len(args.compare) != 3 or args.compare[0] != "compare":
            print("usage: portakern bench compare A.json B.json", file=sys.stderr)
            return 2
        try:
            a, b = R.load(args.compare[1]), R.load(args.compare[2])
        except ValueError as exc:
            print(f"portakern bench compare: {exc}", file=sys.stderr)
            return 2
        print(R.compare(a, b, "A", "B"))
        return 0
    from ..runtime import config

    omp = config.bench_openmp_wait_policy()     # before the first framework import below
    from ..bench import compile_probe, runner
    from ..bench.progress import Progress

    if args.plot:
        from ..bench import plot
        from ..errors import MissingDependency

        try:
            plot.require()
        except MissingDependency as exc:   # before the run: never after minutes of measuring
            print(f"portakern bench: {exc}", file=sys.stderr)
            return 2
    sizes = args.sizes or (["small"] if args.quick else ["medium"])
    opts = runner.Options(backends=args.backends, kernels=args.kernels, sizes=sizes, quick=args.quick,
                          compile_times=not args.no_compile, probe=not args.no_probe, seed=args.seed,
                          peers=args.peers)
    try:
        data = runner.run(opts, Progress(0, enabled=not args.no_progress), compile_probe.measure)
    except ValueError as exc:   # unknown kernel or size: say which and what is known
        print(f"portakern bench: {exc}", file=sys.stderr)
        return 2
    data["options"]["omp_wait_policy"] = omp
    print(R.table(data))
    try:
        if args.json:
            R.write_json(data, args.json)
        if args.csv:
            R.write_csv(data, args.csv)
        if args.plot:
            from ..bench import plot

            plot.save(data, args.plot)
    except OSError as exc:   # an unwritable output path: say which, keep the table already printed
        print(f"portakern bench: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m portakern.cli.bench``: the same command without the ``portakern`` front."""
    p = argparse.ArgumentParser(prog="portakern bench")
    configure(p)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
