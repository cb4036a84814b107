"""Kernels that travel: pickling a :class:`~portakern.runtime.kernel.Kernel` to another process.

A worker process (Dask's processes scheduler, a ``dask.distributed`` worker, ``multiprocessing``)
gets a kernel as a pickle. A kernel cannot be pickled by reference alone: kernels defined in
``__main__``, in a notebook, in a test file or inside a function cannot be imported by a worker.
So a pickled kernel carries both:

- its module and qualified name: a worker that can import it uses the imported object (and so its
  memory cache), when the imported kernel has the same source and options;
- its source text, file name and first line, and the values of the names the body reads (numbers,
  ``@pk.func`` helpers, again by source, modules by name): otherwise the worker rebuilds the function
  from the source. The source is registered in ``linecache`` under the original file name, so
  compile errors on the worker name the same file and line as they would locally.

Either way the worker compiles the kernel itself (and uses its own disk cache): no compiled code is
shipped. Rebuilt kernels are memoised per process, so the tasks of one graph share one kernel and
its memory cache.
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import importlib
import inspect
import linecache
import pickle
import textwrap
import threading
import types as pytypes
from typing import Any

from ..errors import CompileError
from ..lang import Func

__all__ = ["kernel_reduce", "restore_kernel"]

_restored: dict[str, Any] = {}        # digest of a payload -> the kernel rebuilt from it (per process)
_lock = threading.Lock()


class _ModuleRef:
    """A module the kernel's body names (``pk``, ``math``, ``np``...): re-imported on the worker."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return (_ModuleRef, (self.name,))


class _FuncRef:
    """A ``@pk.func`` helper the body calls, carried by source like the kernel."""

    __slots__ = ("payload",)

    def __init__(self, payload: tuple[Any, ...]) -> None:
        self.payload = payload

    def __reduce__(self) -> tuple[Any, ...]:
        return (_FuncRef, (self.payload,))


def _function_payload(fn: Any, stack: frozenset[int]) -> tuple[Any, ...]:
    """(name, file name, first line, source lines, {free name: value}) of a Python function."""
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise CompileError(f"cannot pickle kernel '{fn.__name__}': its source is unavailable ({exc})",
                           hint="define kernels in a file, or register the source in linecache") from None
    from .. import frontend

    src = frontend.analyze(fn)
    values: dict[str, Any] = {}
    for chain in src._free_refs:
        name = chain[0]
        if name in values:
            continue
        found, v = src.lookup(name)
        if not found or (name not in fn.__globals__ and name not in fn.__code__.co_freevars):
            continue                                    # unbound, or a builtin the worker has too
        values[name] = _portable_value(v, stack | {id(fn)})
    return (fn.__name__, fn.__code__.co_filename, max(first, 1), tuple(lines), values)


def _portable_value(v: Any, stack: frozenset[int]) -> Any:
    if isinstance(v, pytypes.ModuleType):
        return _ModuleRef(v.__name__)
    if isinstance(v, Func):
        if id(v.fn) in stack:                             # a recursive helper: compile reports it
            return None
        return _FuncRef(_function_payload(v.fn, stack))
    return v                                              # numbers, NumPy scalars, tuples: by pickle


def kernel_reduce(kernel: Any) -> tuple[Any, ...]:
    """``Kernel.__reduce__``: rebuild by import when the worker can, from the source otherwise."""
    fn = kernel.fn
    options = tuple((k, v) for k, v in kernel.options if k != "debug")
    payload = _function_payload(fn, frozenset())
    return (restore_kernel, (fn.__module__, fn.__qualname__, kernel.debug, options, payload))


def restore_kernel(module: str, qualname: str, debug: bool, options: tuple[tuple[str, Any], ...],
                   payload: tuple[Any, ...]) -> Any:
    """The kernel a pickle describes: the importable one when it is the same kernel, else rebuilt."""
    from .kernel import Kernel

    imported = _import_kernel(module, qualname)
    if isinstance(imported, Kernel) and imported.debug == bool(debug) \
            and tuple((k, v) for k, v in imported.options if k != "debug") == tuple(options) \
            and _same_source(imported.fn, payload):
        return imported
    digest = hashlib.sha256(pickle.dumps((module, qualname, debug, options, payload))).hexdigest()
    with _lock:
        hit = _restored.get(digest)
        if hit is None:
            hit = _restored[digest] = Kernel(_rebuild_function(module, payload), debug=debug, **dict(options))
    return hit


def _import_kernel(module: str, qualname: str) -> Any:
    if "<locals>" in qualname:
        return None
    try:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:  # noqa: BLE001 - not importable here: rebuild from the source
        return None
    return obj


def _same_source(fn: Any, payload: tuple[Any, ...]) -> bool:
    try:
        lines, first = inspect.getsourcelines(fn)
    except (OSError, TypeError):
        return False
    return fn.__code__.co_filename == payload[1] and max(first, 1) == payload[2] and tuple(lines) == payload[3]


def _rebuild_function(module: str, payload: tuple[Any, ...]) -> Any:
    """The function of ``payload``, compiled from its source with its free names bound."""
    name, filename, first, lines, values = payload
    _register_source(filename, first, lines)
    tree = ast.parse(textwrap.dedent("".join(lines)), filename=filename)
    ast.increment_lineno(tree, first - 1)
    for node in tree.body:                   # the decorators (@pk.kernel, @pk.func) are re-applied here
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.decorator_list = []
    namespace: dict[str, Any] = {"__name__": module, "__builtins__": builtins}
    namespace.update({k: _restore_value(v) for k, v in values.items()})
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - the user's own kernel source
    return namespace[name]


def _restore_value(v: Any) -> Any:
    if isinstance(v, _ModuleRef):
        return importlib.import_module(v.name)
    if isinstance(v, _FuncRef):
        return Func(_rebuild_function("__portakern_restored__", v.payload))
    return v


def _register_source(filename: str, first: int, lines: tuple[str, ...]) -> None:
    """Put ``lines`` at line ``first`` of ``filename`` in linecache (inspect reads sources there),
    keeping what is already known of that file (other kernels of the same file)."""
    known = list(linecache.getlines(filename))
    end = first - 1 + len(lines)
    if known[first - 1:end] == list(lines):
        return                                  # the worker reads the same file: nothing to add
    known += ["\n"] * max(0, end - len(known))
    known[first - 1:end] = lines
    # mtime None: linecache.checkcache keeps the entry instead of re-reading the file from disk.
    linecache.cache[filename] = (sum(map(len, known)), None, known, filename)
