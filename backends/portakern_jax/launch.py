"""Loading and launching for the ``jax`` backend (the only module importing jax at launch time).

A launch traces the generated kernel with :class:`JaxOps` under 64-bit mode (float64/int64 are
real 64-bit types; the user's global ``jax_enable_x64`` setting is left untouched: the
``jax.enable_x64`` context is entered only around tracing and the call; a repeated cached launch
enters it only when a 64-bit NumPy scalar needs it, see ``_remember``) and runs it through
``jax.jit`` (one compiled function per grid). Called with tracers (inside the user's
``jax.jit``/``grad``/``vmap``), the kernel is traced inline instead, so it composes.

FMA contraction: XLA's CPU backend contracts ``a*b+c``; every float product of a kernel is
passed through ``select(p == p, p, NaN)`` (``JaxOps.fmul``), which is ``p`` but opaque to the
contraction: pure XLA, so it works the same inside a user's ``jax.jit``/``grad``/``vmap`` and on
any device (``lax.optimization_barrier``, ``lax.reduce_precision`` and a bitcast round trip were
measured not to stop it).

One optimisation level for every launch: XLA's cheap pipeline (``xla_backend_optimization_level=0``)
compiles ~35% faster, but its code generator never contracts ``a*b+c`` while the full pipeline does
wherever a product is not guarded, i.e. inside XLA's and jax's own float64 functions (atan, tanh,
hypot, erfc, ... measured up to 6147 of 16384 results changed): a launch compiled cheaply and one
compiled fully (a tier-up, or a bigger grid) would not give the same bits.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from portakern.codegen.vectorize import spin_wait_rows, spins_on_atomics
from portakern.errors import CompileError, LaunchError
from portakern.ir.launch_local import LaunchSizes
from portakern.ir.nodes import ArrayType, Kernel
from portakern.ir.visit import index_error
from portakern.runtime.backend import Launcher, LaunchGrid
from portakern.types import SCALAR_TYPES

from .diskcache import compile_cached, launch_basis, signature
from .ops import JaxOps
from .steps import StepOps

#: a kernel that spins on a lock is traced step after step (``JaxLauncher._steps``): at most this many
MAX_SPIN_STEPS = 256

__all__ = ["JaxLauncher", "constant", "from_host", "to_host"]


def constant(tname: str, value: object) -> Any:
    """A typed NumPy scalar for a kernel constant (jax treats it as strongly typed)."""
    return np.dtype("bool" if tname == "bool_" else tname).type(value)


#: grids whose executables one launcher keeps (all are dropped when a new grid would exceed it)
MAX_GRIDS = 32


def x64() -> Any:
    """The context that turns 64-bit types on for the duration of a trace or call."""
    return jax.enable_x64(True)


def from_host(array: np.ndarray, device: Any = None) -> Any:
    """A new jax.Array on ``device`` (jax's default device when None) with a copy of ``array``
    (64-bit dtypes preserved)."""
    with x64():
        return jax.device_put(jnp.array(array, copy=True), device)


def to_host(native: Any) -> np.ndarray:
    """A NumPy array with the contents of ``native``."""
    return np.asarray(native)


def _compile(jitted: Any, args: list, opts: Any, device: Any, basis: str | None = None) -> Any:
    """``jitted`` compiled for ``args`` on ``device`` (through the disk cache), or ``jitted`` itself
    when that fails: the ordinary jit path then raises or runs."""
    try:
        return compile_cached(jitted, args, opts, device, basis)
    except Exception:  # noqa: BLE001 - let the ordinary jit path raise or run
        return jitted


#: NumPy scalar classes an executable takes as they are
_SCALARS = frozenset(t.dtype.type for t in SCALAR_TYPES)


def _is_tracer(x: Any) -> bool:
    return isinstance(x, jax.core.Tracer)


class JaxLauncher(Launcher):
    """Runs a rendered vectorised kernel over jax arrays; returns new arrays."""

    def __init__(self, kernel: Kernel, source: str, device: Any = None) -> None:
        self.kernel = kernel
        self.device = device if device is not None else jax.devices()[0]   # where every launch runs
        namespace: dict[str, Any] = {}
        try:
            exec(compile(source, f"<portakern jax {kernel.name}>", "exec"), namespace)  # noqa: S102
        except SyntaxError as exc:  # pragma: no cover - a renderer bug
            raise CompileError(f"jax backend: generated source does not compile: {exc}") from exc
        self.fn = namespace["build"](constant)
        self.source = source                # with the IR, what decides a launch's lowering (diskcache)
        self.array_params = [i for i, p in enumerate(kernel.params) if isinstance(p.type, ArrayType)]
        self.sized = LaunchSizes(kernel)           # local arrays sized at launch: one trace per size
        self._jitted: dict[LaunchGrid, Any] = {}
        self._aot: dict[tuple, Any] = {}
        # debug: XLA runs the index-error callbacks on its own threads, into the one ``errors`` list
        # of the grid; launches that clear, run and read it are serialised so that an error reaches
        # the thread whose launch raised it (launches without debug share nothing mutable)
        self._debug_lock = threading.Lock() if kernel.debug else contextlib.nullcontext()
        self._compile_lock = threading.Lock()
        # the last cached launch, to repeat without the signature and device work (``_again``)
        self._last: tuple | None = None
        self._home = frozenset((self.device,))

    def trace(self, grid: LaunchGrid, args: Sequence[Any],
              errors: list | None = None, sizes: tuple[int, ...] = ()) -> dict[str, Any]:
        """Trace the kernel over ``grid`` (pure: usable under any jax transformation); ``sizes``: the
        element counts of the local arrays sized at launch (static: XLA shapes are)."""
        biggest = max((int(np.prod(np.shape(a))) for a in args if np.ndim(a) > 0), default=0)
        ops = JaxOps(self.kernel, grid, errors, biggest)
        ops.launch_sizes = sizes
        spin = spin_wait_rows(self.kernel, ops.workgroup) if spins_on_atomics(self.kernel) else None
        with np.errstate(all="ignore"):     # constant folding in NumPy scalars wraps silently
            if spin is None:
                return self.fn(ops, list(args))
            return self._steps(grid, list(args), errors, biggest, spin, sizes)

    def _steps(self, grid: LaunchGrid, args: list, errors: list | None, biggest: int, rows: int,
               sizes: tuple[int, ...] = ()) -> dict[str, Any]:
        """A kernel that spins on an atomic (a lock): its steps of ``rows`` rows one after another in
        one trace (``spin_wait_rows``), each step's written arrays the next one's arguments."""
        n0 = grid.ndrange[0]
        if -(-n0 // rows) > MAX_SPIN_STEPS:
            raise LaunchError(
                f"jax: kernel '{self.kernel.name}' waits on a lock (a while loop over atomic_cas/atomic_xchg), "
                f"so it runs in steps of {rows} row(s), one traced after another; {n0} rows exceed the "
                f"{MAX_SPIN_STEPS} steps jax traces (use the numpy, numba or opencl backend, or fewer rows)")
        index = {p.name: i for i, p in enumerate(self.kernel.params)}
        out: dict[str, Any] = {}
        for lo in range(0, n0, rows):
            step_ops = StepOps(self.kernel, grid, errors, biggest, rows=(lo, min(lo + rows, n0)))
            step_ops.launch_sizes = sizes
            out = self.fn(step_ops, args)
            for name, value in out.items():
                args[index[name]] = value
        return out

    def _compiled(self, grid: LaunchGrid, sizes: tuple[int, ...] = ()) -> Any:
        f = self._jitted.get((grid, sizes))
        if f is None:
            if len(self._jitted) >= MAX_GRIDS:    # a launcher keeps the executables of a few grids
                self._jitted.clear()
                self._aot.clear()
            errors: list = []

            def run(args: Sequence[Any]) -> dict[str, Any]:
                return self.trace(grid, args, errors if self.kernel.debug else None, sizes)

            f = self._jitted[(grid, sizes)] = (jax.jit(run), errors)
        return f

    def _executable(self, grid: LaunchGrid, args: list, sizes: tuple[int, ...] = ()) -> Any:
        """The compiled launch for these argument types: from the disk cache (diskcache.py) unless
        the kernel reports index errors through host callbacks (debug), which cannot be stored."""
        jitted = self._compiled(grid, sizes)[0]
        if self.kernel.debug:
            return jitted
        key = (grid, sizes, signature(args))
        exe = self._aot.get(key)
        if exe is None:
            with self._compile_lock:             # threads missing at once: one XLA compile
                exe = self._aot.get(key)
                if exe is None:
                    basis = launch_basis(self.source, self.kernel, grid, key[1:])   # sizes and types
                    exe = self._aot[key] = _compile(jitted, args, None, self.device, basis)
        return exe

    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        last = self._last
        if last is not None and last[0] is grid and self._again(last[1], args):
            try:
                if last[3]:
                    with x64():
                        return last[2](args)
                return last[2](args)
            except (TypeError, ValueError):   # e.g. arrays committed elsewhere: the full path
                pass
        with x64():
            # the runtime checked that every size is concrete (launch_local: a traced one is a LaunchError)
            sizes = self.sized.counts(args) if self.sized else ()
            for a in args:
                if isinstance(a, jax.core.Tracer):
                    return self.trace(grid, args, sizes=sizes)
            args = self._on_device(args)
            if not self.kernel.debug:           # a cached launch: one lookup, then the executable
                exe = self._aot.get((grid, sizes, signature(args)))
                if exe is not None and exe is not self._jitted.get((grid, sizes), (None,))[0]:
                    try:
                        out = exe(args)
                    except (TypeError, ValueError):   # e.g. arrays committed elsewhere: the full path
                        pass
                    else:
                        if not sizes:
                            self._remember(grid, args, exe)
                        return out
            with self._debug_lock:
                return self._run(grid, args, sizes)

    def _remember(self, grid: LaunchGrid, args: list, exe: Any) -> None:
        """Keep ``exe`` as the last cached launch, keyed by each argument's exact type and, for a jax
        array (already on ``self.device``), its aval (shape, dtype, weak type) and sharding object.
        64-bit mode is entered around a repeat only when a scalar needs it: an executable checks its
        arguments' types, and outside that mode jax reads a float64/int64 NumPy scalar as 32-bit
        (jax arrays keep their dtype)."""
        keys = []
        wide = False
        for a in args:
            t = type(a)
            if t in _SCALARS:
                keys.append((t, None, None))
                wide = wide or np.dtype(t).itemsize >= 8
            elif isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer):
                keys.append((t, a.aval, a.sharding))
            else:
                return                          # anything else: the full path every time
        # what ``exe(args)`` calls once it has run (jax.stages.Compiled: its C++ call), one Python
        # frame less a launch; ``exe`` itself where that attribute is missing
        call = getattr(exe, "_call", None)
        self._last = (grid, tuple(keys), call if callable(call) else exe, wide)

    def _again(self, keys: tuple, args: Sequence[Any]) -> bool:
        """True when ``args`` have the types ``_remember`` recorded (the same executable takes them
        as they are): exact types, equal avals, and jax arrays on this launcher's device alone."""
        if len(args) != len(keys):
            return False
        home = self._home
        for a, (t, aval, sharding) in zip(args, keys):
            if type(a) is not t:
                return False
            if aval is not None and (a.aval != aval or (a.sharding is not sharding
                                                        and a.sharding.device_set != home)):
                return False
        return True

    def _run(self, grid: LaunchGrid, args: list, sizes: tuple[int, ...] = ()) -> Mapping[str, Any]:
        """One launch outside any trace: the compiled executable, then (debug) its index errors."""
        errors = self._compiled(grid, sizes)[1]
        errors.clear()
        exe = self._executable(grid, list(args), sizes)
        try:
            out = exe(list(args))
            if not self.kernel.debug and not sizes and exe is not self._compiled(grid, sizes)[0]:
                self._remember(grid, list(args), exe)
        except (TypeError, ValueError):     # e.g. arrays committed elsewhere: jit handles them
            jitted = self._compiled(grid, sizes)[0]
            if exe is jitted:
                raise
            key = (grid, sizes, signature(list(args)))
            self._aot[key] = jitted
            out = jitted(list(args))
        if self.kernel.debug:
            jax.effects_barrier()
            if errors:
                site, index, shape = errors[0]
                errors.clear()
                raise index_error(self.kernel, site, index, shape)
        return out

    # -- devices: a launch runs on the device the launcher was loaded for ---------------------------
    def _on_device(self, args: Sequence[Any]) -> list[Any]:
        """``args`` with every array on ``self.device``: NumPy arrays and jax arrays committed to
        another device are copied there; an array sharded over several devices is a LaunchError
        (a kernel launch runs on one device: jax.shard_map runs it per shard)."""
        dev = self.device
        out = list(args)
        for i in self.array_params:
            a = out[i]
            if isinstance(a, np.ndarray):
                out[i] = jax.device_put(a, dev)
            elif isinstance(a, jax.Array):
                devices = a.sharding.device_set
                if len(devices) > 1:
                    raise LaunchError(
                        f"kernel '{self.kernel.name}', parameter '{self.kernel.params[i].name}': a jax.Array "
                        f"sharded over {len(devices)} devices, but a kernel launch runs on one device "
                        f"({dev}). Launch the kernel on each shard inside jax.shard_map (see docs/scale.md), "
                        "or gather the array to one device first (jax.device_put(x, device))")
                if dev not in devices:
                    out[i] = jax.device_put(a, dev)
        return out
