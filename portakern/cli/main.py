"""The ``portakern`` command: dispatches to ``info``, ``compile``, ``bench``, ``conformance`` and ``port``.

Each subcommand module exposes ``add_parser(subparsers)``, which adds its parser and sets ``func``
(called with the parsed arguments; returns the exit status). ``bench`` and ``conformance`` are
imported only when asked for, so ``portakern info`` stays fast and a broken optional piece never
breaks the others. Bad usage prints a message and exits 2; a PortakernError exits 1; never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import PortakernError

#: subcommand -> (module, one-line help). Modules are imported lazily.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "info": ("portakern.cli.info", "backends, versions, devices and capabilities"),
    "compile": ("portakern.cli.compile", "print a kernel's generated source, or write its binary"),
    "bench": ("portakern.cli.bench", "run the benchmark suite on every available backend"),
    "conformance": ("portakern.cli.conformance", "run the cross-backend conformance suite"),
    "port": ("portakern.cli.port", "rewrite a numba.cuda module into native portakern source"),
}


class UsageError(Exception):
    """Bad command-line usage (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors routed through our own exit path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: error: {message}")


def build_parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser. Only the subcommand ``wanted`` imports its module; the others get a
    placeholder parser so that ``--help`` lists them without importing them."""
    parser = _Parser(prog="portakern", description="portakern: portable kernels for Python.")
    parser.add_argument("--version", action="version", version=f"portakern {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in SUBCOMMANDS.items():
        if name == wanted:
            try:
                mod = importlib.import_module(module)
            except ImportError as exc:
                raise PortakernError(f"'portakern {name}' is not available: {exc}") from exc
            mod.add_parser(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(wanted if wanted in SUBCOMMANDS else None)
        args = parser.parse_args(argv)
        if args.command is None or not hasattr(args, "func"):
            parser.print_help(sys.stderr)
            return 2
        status = args.func(args)
        return int(status or 0)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    except PortakernError as exc:
        print(f"portakern: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("portakern: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
