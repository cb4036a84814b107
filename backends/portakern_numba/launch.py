"""Loading and launching generated ``numba`` kernels (the only file of this backend importing Numba).

``load`` writes the generated module into ``config.cache_dir()/numba/<hash>.py`` (once: rewriting it
would change its mtime and invalidate Numba's cache) and imports it, so ``@njit(cache=True)`` keeps
its machine code in ``__pycache__`` beside it: a second process loads it from disk instead of
compiling. Numba compiles on the first call for the actual argument types.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numba.core.errors import NumbaError

from portakern.errors import CompileError
from portakern.ir import nodes as ir
from portakern.runtime import config
from portakern.runtime.backend import Launcher, LaunchGrid, default_workgroup
from portakern.runtime.errrecord import new_record, raise_recorded, snapshot


def module_dir() -> Path:
    """Where generated modules (and Numba's cache, in ``__pycache__``) live."""
    path = config.cache_dir() / "numba"
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_source(source: str, prefix: str = "pk_numba") -> Any:
    """Write ``source`` to ``module_dir()/<prefix>_<hash>.py`` atomically (unless it is already there
    with this content) and import it as a module."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    name = f"{prefix}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    path = module_dir() / f"{name}.py"
    if not path.exists() or path.read_text() != source:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            fh.write(source)
        os.replace(tmp, path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:  # pragma: no cover - a .py path always has a loader
        raise CompileError(f"cannot import generated module {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


class NumbaLauncher(Launcher):
    """Calls the generated ``_pk_kernel`` with the grid, the arguments and the error record.

    The hot path does as little Python as possible: the error record is allocated once and reset
    by one store (the compiled kernel holds the GIL, so launches of one launcher never overlap), and
    the grid tuple of the last launch is reused.
    """

    def __init__(self, kernel: ir.Kernel, fn: Any) -> None:
        self.kernel = kernel
        self.fn = fn
        arrays = [p.name for p in kernel.params]
        self.written = [(name, arrays.index(name)) for name in kernel.written]
        self.err = new_record()
        self._last: tuple[Any, tuple[int, ...]] = (None, ())

    def _grid(self, grid: LaunchGrid) -> tuple[int, ...]:
        key = (grid.ndrange, grid.workgroup)
        if self._last[0] == key:
            return self._last[1]
        nd = tuple(int(n) for n in grid.ndrange)
        wg = tuple(int(w) for w in grid.workgroup) if grid.workgroup else default_workgroup(nd)
        flat = nd + wg
        self._last = (key, flat)
        return flat

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        flat = self._grid(grid)
        err = self.err
        err[0] = 0
        saved = snapshot(self.kernel, args, np.copy)
        if 0 not in flat:
            try:
                self.fn(*flat, *args, err)
            except NumbaError as exc:
                raise CompileError(f"numba could not compile kernel '{self.kernel.name}': {exc}") from exc
        if err[0]:
            raise_recorded(self.kernel, err, saved, np.copyto)
        return {name: args[i] for name, i in self.written}


def load(kernel: ir.Kernel, artifact: bytes) -> Launcher:
    """Import the generated module (source bytes from ``build``) and wrap its kernel."""
    module = import_source(artifact.decode())
    return NumbaLauncher(kernel, module._pk_kernel)
