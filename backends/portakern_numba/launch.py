"""Loading and launching generated ``numba`` kernels (the only file of this backend importing Numba).

``load`` executes the generated module from memory: no ``.py`` file, no ``.pyc``, nothing Numba
finds on its own. Numba's own disk cache (``cache=True``: pickles in ``__pycache__`` that Numba
unpickles without any check) is not used; instead each kernel's dispatcher gets a
:class:`VerifiedCache`, which stores Numba's compiled object through portakern's disk cache
(``portakern.runtime.cache``: bound to the source and the Numba signature, HMAC-signed, read only
from a private folder) and unpickles an entry only after it verified. A second process therefore
still loads the machine code instead of compiling, and with ``PORTAKERN_DISK_CACHE=0``, a
read-only or refused folder, nothing touches the disk at all.

Generated modules are never left in ``sys.modules``: Numba looks a module up by name only while it
compiles or rebuilds a kernel, so the module is registered for exactly that time, under Numba's
compiler lock (threads compiling at once never see another thread's half-loaded module).
"""
from __future__ import annotations

import contextlib
import hashlib
import pickle
import sys
import threading
import types
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numba
import numpy as np
from numba.core.caching import NullCache
from numba.core.compiler_lock import global_compiler_lock
from numba.core.errors import NumbaError

from portakern.errors import CompileError
from portakern.ir import nodes as ir
from portakern.runtime import cache
from portakern.runtime.backend import Launcher, LaunchGrid, default_workgroup
from portakern.runtime.errrecord import new_record, raise_recorded, snapshot
from portakern.types import ArrayType

#: the modules whose compiled helpers generated kernels call; importable in any process, as is every
#: module of Numba itself (``min``/``max`` of the loop bounds live in numba.cpython.builtins, the
#: ``np.zeros``/``fill`` of a barrier kernel's local memory in numba.np.arrayobj)
HELPER_MODULES = ("portakern.codegen.pyprelude", "portakern_numba.prelude")


def importable(name: Any) -> bool:
    """Whether a compiled environment's module can be imported again in a new process."""
    return isinstance(name, str) and (name in HELPER_MODULES or name.startswith("numba."))

# Modules by name, weakly: the same source loaded twice shares one module while either is alive,
# and a module whose kernels were all dropped can be collected.
_modules: weakref.WeakValueDictionary[str, types.ModuleType] = weakref.WeakValueDictionary()
_modules_lock = threading.Lock()


def half_params(kernel: ir.Kernel) -> tuple[int, ...]:
    """Positions of the float16/bfloat16 array parameters: the generated code reads their uint16 bits."""
    return tuple(i for i, p in enumerate(kernel.params) if isinstance(p.type, ArrayType) and p.type.dtype.is_half)


def as_bits(args: Sequence[Any], half: tuple[int, ...]) -> Sequence[Any]:
    """``args`` with each half array replaced by its uint16 view (the same memory)."""
    if not half:
        return args
    out = list(args)
    for i in half:
        out[i] = out[i].view(np.uint16)
    return out


def import_source(source: str, prefix: str = "pk_numba") -> Any:
    """The module ``source`` defines, executed from memory (shared while alive, see ``_modules``)."""
    name = f"{prefix}_{hashlib.sha256(source.encode()).hexdigest()[:24]}"
    with _modules_lock:
        module = _modules.get(name)
        if module is not None:
            return module
        module = types.ModuleType(name)
        module.__dict__["__pk_source__"] = source
        try:
            exec(compile(source, f"<portakern {name}>", "exec"), module.__dict__)  # noqa: S102 - rendered or verified
        except SyntaxError as exc:
            raise CompileError(f"generated module {name} does not compile: {exc}") from exc
        _modules[name] = module
    return module


@contextlib.contextmanager
def registered(module: types.ModuleType) -> Iterator[None]:
    """``module`` in ``sys.modules`` for the block only, under Numba's (reentrant) compiler lock, which
    Numba holds whenever it compiles or loads: taking it first keeps one lock order, no deadlock."""
    with global_compiler_lock:
        name = module.__name__
        previous = sys.modules.get(name)
        sys.modules[name] = module
        try:
            yield
        finally:
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


class VerifiedCache(NullCache):
    """A Numba dispatcher cache kept in portakern's verified disk cache (see the module docstring).

    Numba calls ``load_overload`` before compiling a signature and ``save_overload`` after; entries
    are keyed by the module's source, the Numba signature and the code generator (CPU, features)."""

    FOLDER = "numba-object"

    def __init__(self, module: types.ModuleType, variant: str = "") -> None:
        self._module = weakref.ref(module)
        self._source = module.__dict__["__pk_source__"]
        self._variant = variant               # "serial": the parallel=False build of the same source

    def _digest(self, sig: Any, codegen: Any) -> str:
        parts: tuple[Any, ...] = (str(sig), codegen.magic_tuple())
        if self._variant:
            parts += (self._variant,)
        return cache.disk_key(self._source, parts, self.FOLDER, numba.__version__, None)

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        from numba.core.compiler import CompileResult

        target_context.refresh()
        module = self._module()
        if module is None:
            return None
        digest = self._digest(sig, target_context.codegen())
        payload = cache.disk_load(self.FOLDER, digest, None, self._source)
        if payload is None:
            return None
        try:            # verified above: written by this user's portakern for this very source
            with registered(module):
                return CompileResult._rebuild(target_context, *pickle.loads(payload))
        except Exception:  # noqa: BLE001 - an entry of another Numba build: compile instead
            cache.bump(None, "disk_rejected")
            return None

    def save_overload(self, sig: Any, cres: Any) -> None:
        from numba.core.serialize import dumps

        module = self._module()
        # An environment naming another module (compiled while this one was not registered) could
        # not be rebuilt in a new process: such a result is not stored. The prelude's helpers (the
        # bounds check every checked kernel calls, the atomics) name importable modules: they can.
        if module is None or cres.lifted or cres.library.has_dynamic_globals or any(
                env.globals.get("__name__") != module.__name__ and not importable(env.globals.get("__name__"))
                for env in (cres.environment, *cres._find_referenced_environments())):
            return
        try:
            payload = dumps(cres._reduce())
        except Exception:  # noqa: BLE001 - not picklable: the kernel just compiles next time
            return
        cache.disk_store(self.FOLDER, self._digest(sig, cres.codegen), payload, None, self._source)


class NumbaLauncher(Launcher):
    """Calls the generated ``_pk_kernel`` with the grid, the arguments and the error record.

    The hot path does as little Python as possible: each thread allocates its error record once
    and resets it only after a check fired (then the launch raises), and the grid tuple of the last
    launch is reused. The record is per
    thread because Python threads switch between the reset, the call and the read-back: a shared
    one would report another thread's index error (or lose this one).
    """

    def __init__(self, kernel: ir.Kernel, fn: Any, module: types.ModuleType) -> None:
        self.kernel = kernel
        self.fn = fn
        self.module = module                # compiles (first calls) happen with it registered
        self._serial = self._serial_build()  # made now (no compile yet): no thread can see a half-made one
        self._builds = (fn, self._serial)     # by "one work-group": the parallel build, the serial one
        self._cold = [True, True]             # per build: not yet compiled (or loaded) in this process
        arrays = [p.name for p in kernel.params]
        self.written = [(name, arrays.index(name)) for name in kernel.written]
        self.half = half_params(kernel)
        self._local = threading.local()       # .err: this thread's error record
        self._last: tuple[Any, tuple[tuple[int, ...], bool, bool]] = (None, ((), True, False))
        self.debug = kernel.debug             # only then a launch snapshots what it writes

    def _grid(self, grid: LaunchGrid) -> tuple[tuple[int, ...], bool, bool]:
        """(ndrange + workgroup as ints, whether the index space is empty, whether it is one work-group),
        kept for the last grid."""
        last = self._last                      # one read: another thread may replace it meanwhile
        if last[0] is grid or last[0] == grid:  # (the runtime passes the same LaunchGrid object again)
            return last[1]
        nd = tuple(int(n) for n in grid.ndrange)
        wg = tuple(int(w) for w in grid.workgroup) if grid.workgroup else default_workgroup(nd)
        flat = nd + wg
        one = all(n <= w for n, w in zip(nd, wg))
        self._last = (grid, (flat, 0 in flat, one))
        return flat, 0 in flat, one

    def framework_builds(self) -> int:
        """Numba compiles of either build that did not load machine code from the verified cache."""
        return sum(sum(fn.stats.cache_misses.values()) for fn in self._builds)

    def _serial_build(self) -> Any:
        """The generated kernel compiled with ``parallel=False``: a launch of one work-group runs one
        chunk, on one thread, either way, and this build neither wakes the OpenMP pool (45-56 us a launch
        under OMP_WAIT_POLICY=PASSIVE here, against 0.3-0.6 us) nor pays the parallel compile (1.48 s
        against 0.15 s for a one-store kernel). Same source, same operations: the same bits."""
        options = dict(self.fn.targetoptions)
        options["parallel"] = False
        options.pop("nopython", None)           # (njit is nopython already, and warns when told)
        fn = numba.njit(**options)(self.fn.py_func)
        fn._cache = VerifiedCache(self.module, "serial")
        return fn

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        last = self._last
        flat, empty, one = last[1] if last[0] is grid else self._grid(grid)
        try:
            err = self._local.err
        except AttributeError:
            err = self._local.err = new_record()
        saved = snapshot(self.kernel, args, np.copy) if self.debug else ()
        if not empty:
            call = as_bits(args, self.half) if self.half else args
            try:
                fn = self._builds[one]      # one work-group: the serial build (see _serial_build)
                if self._cold[one]:         # compile (or load) with the module registered, then run unlocked
                    with registered(self.module):
                        fn.compile(tuple(fn.typeof_pyval(a) for a in (*flat, *call, err)))
                    self._cold[one] = False
                fn(*flat, *call, err)
            except NumbaError as exc:
                raise CompileError(f"numba could not compile kernel '{self.kernel.name}': {exc}") from exc
            except BaseException:
                err[0] = 0                  # (an interrupted launch leaves no failure for the next one)
                raise
        if err[0]:                          # the record stays zeroed until a check fires: reset it then
            try:
                raise_recorded(self.kernel, err, saved, np.copyto)
            finally:
                err[0] = 0
        if len(self.written) == 1:          # (a literal: no comprehension frame)
            name, i = self.written[0]
            return {name: args[i]}
        return {name: args[i] for name, i in self.written}


def load(kernel: ir.Kernel, artifact: bytes) -> Launcher:
    """Execute the generated module (source bytes from ``build``) and wrap its kernel, with its
    compiled code kept in the verified disk cache."""
    try:
        source = artifact.decode()
    except UnicodeDecodeError as exc:
        raise CompileError(f"kernel '{kernel.name}': the numba artifact is not UTF-8 source ({exc})") from exc
    module = import_source(source)
    fn = module._pk_kernel
    if not isinstance(getattr(fn, "_cache", None), VerifiedCache):
        fn._cache = VerifiedCache(module)
    return NumbaLauncher(kernel, fn, module)
