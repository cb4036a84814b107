"""``portakern port FILE.py [-o OUT.py] [--check]``: rewrite a numba.cuda module into native portakern.

Comments and layout are kept; each construct it could not translate is listed with its line (run those
through ``from portakern.compat import cuda`` instead, see docs/porting.md). ``--check`` runs the
module as the compat layer runs it and the port, on each CPU backend, with NumPy's global random
seed set to 0 before each run, and compares every array the two leave in their module namespace.
"""
from __future__ import annotations

import argparse
import random
import runpy
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, PortakernError
from .main import UsageError

CHECK_BACKENDS = ("numpy", "numba", "opencl")


def add_parser(subparsers: Any) -> None:
    """Register ``port``."""
    p = subparsers.add_parser("port", help="rewrite a numba.cuda module into native portakern source",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.py", help="a Python module that uses 'from numba import cuda'")
    p.add_argument("-o", "--output", help="write the port here (default: print it)")
    p.add_argument("--check", action="store_true",
                   help="run the module (through portakern.compat.cuda) and the port on the CPU backends and "
                        "compare their arrays")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..compat.port import compat_source, port_source

    path = Path(args.file)
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"portakern port: error: cannot read {path}: {exc.strerror}") from None
    try:
        ported = port_source(text, str(path))
    except SyntaxError as exc:
        raise UsageError(f"portakern port: error: {path}:{exc.lineno}: {exc.msg}") from None
    if args.output:
        Path(args.output).write_text(ported.text)
    else:
        sys.stdout.write(ported.text)
    for note in ported.untranslated:
        print(f"{path}:{note}", file=sys.stderr)
    if not args.check:
        return 0
    return _check(path, compat_source(text), ported.text)


def _arrays(namespace: dict[str, Any]) -> dict[str, np.ndarray]:
    out = {}
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if isinstance(value, np.ndarray) or hasattr(value, "copy_to_host"):
            try:
                out[name] = np.array(value)
            except Exception:  # noqa: BLE001 - not an array after all
                continue
    return out


def _run(text: str, where: Path, name: str, backend: str) -> dict[str, np.ndarray]:
    import portakern as pk

    file = where / name
    file.write_text(text)
    np.random.seed(0)
    random.seed(0)
    with pk.use(backend):
        return _arrays(runpy.run_path(str(file), run_name="__main__"))


def _check(path: Path, original: str, ported: str) -> int:
    failures = 0
    sys.path.insert(0, str(path.resolve().parent))
    try:
        with tempfile.TemporaryDirectory(prefix="portakern-port-") as tmp:
            for backend in CHECK_BACKENDS:
                try:
                    want = _run(original, Path(tmp), f"compat_{path.name}", backend)
                    got = _run(ported, Path(tmp), f"ported_{path.name}", backend)
                except BackendUnavailable:
                    print(f"check {backend}: skipped (not available)", file=sys.stderr)
                    continue
                except PortakernError as exc:
                    print(f"check {backend}: FAILED: {exc}", file=sys.stderr)
                    failures += 1
                    continue
                except Exception as exc:  # noqa: BLE001 - the user's module failed: say so, no traceback
                    print(f"check {backend}: FAILED: the module raised {type(exc).__name__}: {exc}", file=sys.stderr)
                    failures += 1
                    continue
                bad = [n for n in want if n not in got or want[n].shape != got[n].shape
                       or not np.array_equal(want[n], got[n], equal_nan=want[n].dtype.kind in "fc")]
                print(f"check {backend}: {len(want) - len(bad)} of {len(want)} arrays equal"
                      + (f"; differ: {', '.join(sorted(bad))}" if bad else ""), file=sys.stderr)
                failures += bool(bad)
    finally:
        sys.path.remove(str(path.resolve().parent))
    return 1 if failures else 0
