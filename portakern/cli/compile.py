"""``portakern compile FILE.py:KERNEL --backend B --signature "float32[:], float32[:], int64"``.

Prints the generated source (the code a user can take away), or with ``-o OUT`` writes what the
backend's ``build`` produces (a cubin for "cuda" with ``--target sm_90``, PTX for "numba-cuda",
the source for the Python backends). Signature items: an array ``dtype[:]`` / ``dtype[:, :]``, a
scalar ``dtype``, or a literal (``16``, ``0.5``, ``True``) for a ``pk.constexpr`` parameter.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import LaunchError, PortakernError
from ..types import SCALAR_TYPES, as_scalar_type
from .main import UsageError

_TYPE_NAMES = {t.name for t in SCALAR_TYPES} | {"bool", "float", "int"}


def add_parser(subparsers: Any) -> None:
    """Register ``compile``."""
    p = subparsers.add_parser("compile", help="print a kernel's generated source, or write its binary",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target_kernel", metavar="FILE.py:KERNEL", help="the file and the kernel's name in it")
    p.add_argument("--backend", "-b", required=True, help="numpy, numba, opencl, cuda, numba-cuda, jax, ...")
    p.add_argument("--signature", "-s", required=True,
                   help='argument types, e.g. "float32, float32[:], float32[:, :], 16"')
    p.add_argument("-o", "--output", help="write build()'s bytes to this file instead of printing the source")
    p.add_argument("--target", help='an architecture for compile-only builds, e.g. "sm_90"')
    p.add_argument("--ndim", type=int, default=None, help="the launch's number of dimensions (1 to 3; default: "
                                                          "the highest index dimension the kernel uses)")
    p.set_defaults(func=run)


def split_signature(text: str) -> list[str]:
    """Split at top-level commas: ``"float32[:, :], int64"`` -> ``["float32[:, :]", "int64"]``."""
    items: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    last = "".join(cur).strip()
    if last or items:
        items.append(last)
    if any(not i for i in items):
        raise UsageError(f"portakern compile: error: empty item in --signature {text!r}")
    return items


def example_argument(item: str) -> Any:
    """An example value for one signature item (an array, a NumPy scalar, or a constexpr literal)."""
    if "[" in item:
        name, _, dims = item.partition("[")
        if not dims.endswith("]"):
            raise UsageError(f"portakern compile: error: bad array type {item!r}; expected e.g. float32[:, :]")
        parts = [d.strip() for d in dims[:-1].split(",")]
        if not 1 <= len(parts) <= 8 or any(d not in (":", "::1") for d in parts):
            raise UsageError(f"portakern compile: error: bad array type {item!r}; write one ':' per dimension")
        return np.zeros((1,) * len(parts), dtype=_dtype(name.strip(), item))
    if item in _TYPE_NAMES:
        return _dtype(item, item).type(0)
    try:
        value = ast.literal_eval(item)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, (bool, int, float)):
        return value
    raise UsageError(f"portakern compile: error: {item!r} is neither a type (float32, int64[:], ...) "
                     "nor a literal for a pk.constexpr parameter")


def _dtype(name: str, item: str) -> np.dtype:
    try:
        return as_scalar_type({"bool": "bool", "float": "float64", "int": "int64"}.get(name, name)).dtype
    except TypeError:
        raise UsageError(f"portakern compile: error: unknown type {name!r} in {item!r}; expected one of "
                         f"{', '.join(sorted(_TYPE_NAMES))}") from None


def load_kernel(spec: str) -> Any:
    """Import FILE.py and return its kernel KERNEL (a plain function is wrapped with ``pk.kernel``)."""
    from ..runtime.kernel import Kernel

    path_text, sep, name = spec.rpartition(":")
    if not sep or not path_text or not name:
        raise UsageError(f"portakern compile: error: expected FILE.py:KERNEL, got {spec!r}")
    path = Path(path_text)
    if not path.is_file():
        raise UsageError(f"portakern compile: error: no such file: {path}")
    mod_name = f"_portakern_cli_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise UsageError(f"portakern compile: error: cannot import {path}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(path.resolve().parent))
    try:
        module_spec.loader.exec_module(module)
    except PortakernError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's file failed: say so, no traceback
        raise PortakernError(f"importing {path} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.resolve().parent))
    obj = getattr(module, name, None)
    if obj is None:
        raise UsageError(f"portakern compile: error: {path} has no kernel named {name!r}")
    if isinstance(obj, Kernel):
        return obj
    if callable(obj) and hasattr(obj, "__code__"):
        return Kernel(obj)
    raise UsageError(f"portakern compile: error: {path}:{name} is a {type(obj).__name__}, not a kernel")


def run(args: argparse.Namespace) -> int:
    """Print the source, or write the binary."""
    if args.ndim is not None and not 1 <= args.ndim <= 3:
        raise UsageError("portakern compile: error: --ndim must be 1, 2 or 3")
    kernel = load_kernel(args.target_kernel)
    examples = [example_argument(i) for i in split_signature(args.signature)]
    ndrange = None if args.ndim is None else (1,) * args.ndim
    try:
        return _emit(kernel, args, examples, ndrange)
    except LaunchError as exc:
        raise UsageError(f"portakern compile: error: --signature does not fit the kernel: {exc}") from exc


def _emit(kernel: Any, args: argparse.Namespace, examples: list[Any], ndrange: Any) -> int:
    if args.output:
        data = kernel.compile(args.backend, *examples, target=args.target, ndrange=ndrange)
        Path(args.output).write_bytes(data)
        print(f"wrote {len(data)} bytes to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(kernel.source(args.backend, *examples, ndrange=ndrange).rstrip("\n") + "\n")
    return 0
