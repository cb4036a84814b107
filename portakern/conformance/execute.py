"""Turning a generated :class:`Case` into a real kernel and launching it through the public API.

The source is registered in ``linecache`` under a unique fake file name and executed with
``import portakern as pk`` in its namespace, so the front end reads it exactly as it reads a user's
file, and a failure's reproducer is that same source.
"""
from __future__ import annotations

import hashlib
import linecache
from dataclasses import dataclass
from typing import Any

import numpy as np

from .program import Batch, Case, prefix, render_source

__all__ = ["Built", "build_kernel", "make_args", "launch_case", "GAP_FILL"]

#: what the gaps of strided views hold; a backend that writes outside the view changes them.
GAP_FILL = 0x5A


@dataclass
class Built:
    """A generated kernel: its name, source, fake file name and the ``pk.Kernel`` object."""

    name: str
    source: str
    filename: str
    kernel: Any


def case_key(batch: Batch) -> str:
    """A stable digest of the programs and their inputs."""
    h = hashlib.sha1(render_source(batch, "k").encode())
    for k, case in enumerate(batch.programs):
        for name in sorted(case.values):
            a = case.values[name]
            h.update(f"{k}{name}".encode() + a.dtype.str.encode() + a.tobytes())
        h.update(repr((case.n, case.wg, sorted(case.strided), sorted(case.constant), case.scalars())).encode())
    return h.hexdigest()[:12]


def build_kernel(case: Batch) -> Built:
    """Render ``case`` and execute the source (``@pk.kernel`` runs; nothing compiles yet)."""
    import portakern as pk

    key = case_key(case)
    name = f"conf_{key}"
    source = render_source(case, name)
    filename = f"<portakern-conformance-{key}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace: dict[str, Any] = {"pk": pk, "__name__": "portakern_conformance_generated"}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - the suite's own generated source
    return Built(name, source, filename, namespace[name])


def make_args(batch: Batch) -> tuple[list[Any], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fresh launch arguments in parameter order, the NumPy arrays by (prefixed) name, views as
    passed, and, for strided views, their base arrays (to check the gaps afterwards)."""
    args: list[Any] = []
    arrays: dict[str, np.ndarray] = {}
    bases: dict[str, np.ndarray] = {}
    for k, case in enumerate(batch.programs):
        p = prefix(k, len(batch.programs))
        for nm in case.param_names():
            _add_arg(case, nm, p + nm, args, arrays, bases)
    return args, arrays, bases


def _add_arg(case: Case, nm: str, name: str, args: list[Any], arrays: dict[str, np.ndarray],
             bases: dict[str, np.ndarray]) -> None:
    scalar = case.scalars().get(nm)
    if scalar is not None:
        args.append(scalar)
        return
    value = case.values[nm]
    if nm in case.strided:
        base = np.empty(2 * value.size, dtype=value.dtype)
        base.view(np.uint8)[:] = GAP_FILL
        view = base[::2]
        view[:] = value
        bases[name] = base
        arr = view
    else:
        arr = value.copy()
    arrays[name] = arr
    args.append(arr)


def launch_case(case: Batch, built: Built, backend: str) -> dict[str, np.ndarray]:
    """Launch ``built`` on ``backend`` with fresh arguments; return every written array's contents.

    Raises whatever the launch raises. A write into the gaps of a strided view is reported as a
    ``RuntimeError`` naming the array.
    """
    args, arrays, bases = make_args(case)
    bound = built.kernel.on(backend)
    launcher = bound[case.ndrange] if case.wg is None else bound[(case.ndrange,), (case.wg,)]
    launcher(*args)
    for name, base in bases.items():
        gaps = np.ascontiguousarray(base[1::2]).view(np.uint8)
        if name in case.written() and not (gaps == GAP_FILL).all():
            raise RuntimeError(f"the launch wrote into the gaps of the strided view '{name}'")
    return {name: np.ascontiguousarray(arrays[name]).copy() for name in case.written()}


def compile_case(case: Batch, built: Built, backend: str) -> None:
    """Render and compile ``built`` for ``backend`` without launching (no device needed)."""
    args, _, _ = make_args(case)
    built.kernel.compile(backend, *args, ndrange=case.ndrange)
