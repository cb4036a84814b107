"""Kernels that travel: pickling a :class:`~portakern.runtime.kernel.Kernel` to another process.

A worker process (Dask's processes scheduler, a ``dask.distributed`` worker, ``multiprocessing``)
gets a kernel as a pickle. A kernel cannot be pickled by reference alone: kernels defined in
``__main__``, in a notebook, in a test file or inside a function cannot be imported by a worker.
So a pickled kernel carries both:

- its module and qualified name: a worker that can import it uses the imported object (and so its
  memory cache), when the imported kernel has the same source, options and values of the names its
  body reads;
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


def _function_payload(src: Any, stack: frozenset[int]) -> tuple[Any, ...]:
    """(name, file name, first line, source lines, {free name: value}) of an analysed function."""
    fn = src.fn
    n_lines = len(src.text.splitlines())
    lines = linecache.getlines(src.filename)[src.first_line - 1:src.first_line - 1 + n_lines]
    if len(lines) != n_lines:                # the file changed since the analysis: read it again
        lines, _ = inspect.getsourcelines(fn)
    values: dict[str, Any] = {}
    for chain in src._free_refs:
        name = chain[0]
        if name in values:
            continue
        found, v = src.lookup(name)
        if not found or (name not in fn.__globals__ and name not in fn.__code__.co_freevars):
            continue                                    # unbound, or a builtin the worker has too
        values[name] = _portable_value(v, stack | {id(fn)})
    return (fn.__name__, fn.__code__.co_filename, src.first_line, tuple(lines), values)


def _portable_value(v: Any, stack: frozenset[int]) -> Any:
    if isinstance(v, pytypes.ModuleType):
        return _ModuleRef(v.__name__)
    if isinstance(v, Func):
        if id(v.fn) in stack:                             # a recursive helper: compile reports it
            return None
        from ..frontend.source import func_source

        return _FuncRef(_function_payload(func_source(v), stack))
    return v                                              # numbers, NumPy scalars, tuples: by pickle


def kernel_reduce(kernel: Any) -> tuple[Any, ...]:
    """``Kernel.__reduce__``: rebuild by import when the worker can, from the source otherwise."""
    fn = kernel.fn
    options = tuple((k, v) for k, v in kernel.options if k != "debug")
    payload = _function_payload(kernel._src if kernel._src is not None else kernel._analyze(), frozenset())
    return (restore_kernel, (fn.__module__, fn.__qualname__, kernel.debug, options, payload))


def restore_kernel(module: str, qualname: str, debug: bool, options: tuple[tuple[str, Any], ...],
                   payload: tuple[Any, ...]) -> Any:
    """The kernel a pickle describes: the importable one when it is the same kernel, else rebuilt."""
    from .kernel import Kernel

    imported = _import_kernel(module, qualname)
    if isinstance(imported, Kernel) and imported.debug == bool(debug) \
            and tuple((k, v) for k, v in imported.options if k != "debug") == tuple(options) \
            and _same_kernel(imported, payload):
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


def _same_kernel(kernel: Any, payload: tuple[Any, ...]) -> bool:
    """Whether the importable ``kernel`` is the pickled one: the same source **and** the same values
    of the globals its body reads (the sender may have changed a module constant since import)."""
    try:
        src = kernel._src if kernel._src is not None else kernel._analyze()
        return pickle.dumps(_function_payload(src, frozenset())) == pickle.dumps(payload)
    except Exception:  # noqa: BLE001 - unreadable or unpicklable here: rebuild from the payload
        return False


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
