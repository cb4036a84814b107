"""The launch API: ``@pk.kernel``, ``kernel[ndrange, workgroup](*args)``, ``kernel.on``, ``pk.use``,
and compile-without-launching (``kernel.source``, ``kernel.compile``, ``kernel.ir``)."""
from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any

from ..errors import CompileError, LaunchError, PortakernError
from . import args as A
from . import cache, config, fastpath, launch, registry
from .backend import Capabilities, Device
from .memory_cache import SpecialisationCache

__all__ = ["Kernel", "kernel", "use"]


class Kernel:
    """A kernel: a Python function in the kernel language, compiled per signature and backend.

    Launch with ``kernel[ndrange](*args)`` or ``kernel[ndrange, workgroup](*args)``.
    ``boundscheck`` (None: ``PORTAKERN_BOUNDSCHECK``, on unless set to 0) checks every array access;
    ``debug`` implies it and also restores the written arrays when a check fails.
    """

    def __init__(self, fn: Callable[..., Any], debug: bool = False, boundscheck: bool | None = None,
                 **options: Any) -> None:
        if not callable(fn) or not hasattr(fn, "__code__"):
            raise CompileError(f"@pk.kernel decorates a Python function (def ...), got {fn!r}")
        if boundscheck is not None and not isinstance(boundscheck, bool):
            raise CompileError(f"@pk.kernel(boundscheck=...) takes True, False or None, got {boundscheck!r}")
        self.fn = fn
        self.__name__: str = fn.__name__
        self.debug = bool(debug)
        self.boundscheck = self.debug or (config.boundscheck() if boundscheck is None else boundscheck)
        self.options: tuple[tuple[str, Any], ...] = tuple(sorted(options.items())) + (
            ("debug", self.debug), ("boundscheck", self.boundscheck))
        self._src: Any = None
        self._compiled = SpecialisationCache()   # bounded: PORTAKERN_MEMORY_CACHE_SIZE
        self._plans: dict[Any, Any] = {}      # fast-path plans (runtime/fastpath.py), same bound
        self._stats = cache.CacheStats()
        self._launches: dict[Any, _Launch] = {}   # kernel[grid] objects, by exact-int subscript
        self._bound: dict[str, BoundKernel] = {}  # kernel.on(name) objects (no device given)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    # -- front end ---------------------------------------------------------------------------------
    def _analyze(self) -> Any:
        """Parse the function once (``frontend.analyze``)."""
        from .. import frontend

        try:
            self._src = frontend.analyze(self.fn)
        except PortakernError:
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            raise CompileError(f"internal error while reading kernel '{self.__name__}': "
                               f"{type(exc).__name__}: {exc} (please report)") from exc
        return self._src

    # -- launching -----------------------------------------------------------------------------------
    def __getitem__(self, grid: Any) -> _Launch:
        return _launch_for(self._launches, self, grid, None, None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise LaunchError(f"kernel '{self.__name__}' is launched over an index space: "
                          f"{self.__name__}[ndrange](...) or {self.__name__}[ndrange, workgroup](...)")

    def on(self, backend: str, device: Any = None) -> BoundKernel:
        """This kernel bound to ``backend`` (and ``device``): ``kernel.on("opencl")[n](...)``."""
        if not isinstance(backend, str):
            raise LaunchError(f"kernel.on(backend): backend must be a name such as 'numpy', got {backend!r}")
        if device is None:                     # kept per name: ``kernel.on("numba")[n](x)`` in a loop
            hit = self._bound.get(backend)
            if hit is not None:
                return hit
        bound = BoundKernel(self, registry.canonical_name(backend), device)
        if device is None:
            if len(self._bound) >= _MEMO_SIZE:
                self._bound.clear()
            self._bound[backend] = bound
        return bound

    # -- compiling without launching -----------------------------------------------------------------
    def _grid_ndim(self, src: Any, ndrange: Any, ndim: Any) -> int:
        """The number of dimensions to specialise for: ``ndim``, else that of the ``ndrange`` (an int n
        is the 1-D ndrange (n,), as in ``kernel[n]``), else the highest dimension the kernel queries."""
        if ndim is not None:
            if type(ndim) is not int or not 1 <= ndim <= 3:
                raise LaunchError(f"kernel '{self.__name__}': ndim must be 1, 2 or 3, got {ndim!r}")
            if ndrange is not None and len(launch.parse_grid((ndrange, None), self.__name__)[0]) != ndim:
                raise LaunchError(f"kernel '{self.__name__}': ndim={ndim} but ndrange={ndrange!r}; give one")
            return ndim
        if ndrange is None:
            return max(1, int(src.index_dims))
        return len(launch.parse_grid((ndrange, None), self.__name__)[0])

    def _specialize(self, backend: str, args: tuple[Any, ...], ndrange: Any,
                    target: str | None, ndim: Any = None) -> tuple[Any, Any, Any, Any, tuple[Any, ...]]:
        src = self._src if self._src is not None else self._analyze()
        b = registry.get_backend(backend)
        try:
            device = registry.resolve_device(b, None)
        except PortakernError:
            device = Device(b.name, f"compile-only:{target or 'default'}", "no device (compile only)")
        try:
            caps = b.capabilities(device)
        except Exception:  # noqa: BLE001 - no device (cuda): the default capabilities, with the shape
            caps = Capabilities(specialises_shapes=True)   # specialisation every compiled backend does
        bound = A.classify(src.params, args, self.__name__)
        sig = A.signature(src.params, bound, b, device, caps, self.__name__)
        grid_ndim = self._grid_ndim(src, ndrange, ndim)
        kir = launch.specialize_for(self, src, sig, bound.constexprs, grid_ndim)
        kir = launch.assume_shapes(kir, bound, src.params, b, caps)[0]
        return src, b, device, kir, (b.name, device.key, sig, grid_ndim, src.frozen_values())

    def source(self, backend: str, *args: Any, ndrange: Any = None, ndim: int | None = None) -> str:
        """The source ``backend`` generates for these example arguments (CUDA C, OpenCL C, Python).
        ``ndrange`` (an int n is the 1-D ``(n,)``) or ``ndim`` (1 to 3) fixes the number of dimensions."""
        _, b, _, kir, _ = self._specialize(backend, args, ndrange, None, ndim)
        with launch._framework_errors(b, self, "render"):
            return b.render(kir)

    def compile(self, backend: str, *args: Any, target: str | None = None, ndrange: Any = None,
                ndim: int | None = None) -> bytes:
        """Compile for these example arguments without launching; returns the backend's ``build`` bytes
        (cached on disk). Works with no device for "cuda" (``target="sm_90"``) and "numba-cuda" (PTX)."""
        src, b, device, kir, key = self._specialize(backend, args, ndrange, target, ndim)
        return launch.build(self, src, kir, key, b, device, target)[1]

    def ir(self, *args: Any, ndrange: Any = None, ndim: int | None = None) -> str:
        """The typed IR for these example arguments, as text."""
        from ..ir import format_kernel  # the front end's printer

        src = self._src if self._src is not None else self._analyze()
        bound = A.classify(src.params, args, self.__name__)
        b = registry.get_backend("numpy")
        sig = A.signature(src.params, bound, b, Device("numpy", "ir", "ir"), Capabilities(strided_arrays=True),
                          self.__name__)
        grid_ndim = self._grid_ndim(src, ndrange, ndim)
        return str(format_kernel(launch.specialize_for(self, src, sig, bound.constexprs, grid_ndim)))

    # -- introspection -------------------------------------------------------------------------------
    def cache_info(self) -> dict[str, int]:
        """Counters of this kernel's caches: memory_hits, disk_hits, builds, disk_writes, disk_rejected,
        ``entries`` (specialisations loaded in memory, at most ``PORTAKERN_MEMORY_CACHE_SIZE``) and
        ``evictions`` (entries dropped to stay within that bound)."""
        info = self._stats.as_dict()
        info["entries"] = len(self._compiled)
        info["evictions"] = self._compiled.evictions
        return info

    def clear_cache(self) -> None:
        """Forget the in-memory specialisations and fast-path plans (the disk cache stays); the
        runtime then holds no reference to their loaded programs, so they can be freed."""
        self._plans.clear()
        self._compiled.clear()

    def __repr__(self) -> str:
        flag = " debug" if self.debug else "" if self.boundscheck else " boundscheck=False"
        return f"<portakern kernel {self.__name__}{flag}>"

    # -- pickling (runtime/portable.py) ----------------------------------------------------------------
    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by module and name, with the source as a fallback for workers that cannot import the
        kernel (``__main__``, notebooks, test files); the worker compiles it itself."""
        from .portable import kernel_reduce

        return kernel_reduce(self)


class BoundKernel:
    """A kernel bound to a backend and device by ``kernel.on(...)``."""

    __slots__ = ("kernel", "backend", "device", "_launches")

    def __init__(self, kernel: Kernel, backend: str, device: Any) -> None:
        self.kernel, self.backend, self.device = kernel, backend, device
        self._launches: dict[Any, _Launch] = {}

    def __getitem__(self, grid: Any) -> _Launch:
        return _launch_for(self._launches, self.kernel, grid, self.backend, self.device)

    def source(self, *args: Any, ndrange: Any = None, ndim: int | None = None) -> str:
        """The generated source on the bound backend."""
        return self.kernel.source(self.backend, *args, ndrange=ndrange, ndim=ndim)

    def compile(self, *args: Any, target: str | None = None, ndrange: Any = None,
                ndim: int | None = None) -> bytes:
        """Compile on the bound backend without launching."""
        return self.kernel.compile(self.backend, *args, target=target, ndrange=ndrange, ndim=ndim)

    def __repr__(self) -> str:
        return f"<portakern kernel {self.kernel.__name__} on {self.backend}>"


class _Launch:
    """``kernel[grid]``: call it with the arguments to run the kernel. Immutable, so one object serves
    every ``kernel[grid]`` with the same exact-int subscript (``_launch_for``), from any thread."""

    __slots__ = ("kernel", "nd", "wg", "ambiguous", "backend", "device", "plan_key")

    def __init__(self, kernel: Kernel, nd: tuple[int, ...], wg: tuple[int, ...] | None, ambiguous: bool,
                 backend: str | None, device: Any) -> None:
        self.kernel, self.nd, self.wg, self.ambiguous = kernel, nd, wg, ambiguous
        self.backend, self.device = backend, device
        key: Any = (backend, device, nd, wg, ambiguous)      # launch.run's key of the kernel's fast-path plans
        try:
            hash(key)
        except TypeError:                                     # an unhashable device object: no fast path
            key = _NO_PLAN
        self.plan_key = key

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args = _bind_keywords(self.kernel, args, kwargs)
        plan = self.kernel._plans.get(self.plan_key)         # launch.run's first step, without its call
        if plan is not None:
            result = plan.run(args, launch.results_of)
            if result is not fastpath.MISS:
                return result
        return launch.run(self.kernel, self.nd, self.wg, self.ambiguous, args, self.backend, self.device)


_NO_PLAN = object()      # never a key of Kernel._plans
_MEMO_SIZE = 64          # kept launch objects per kernel (and bound kernels per kernel); cleared beyond


def _launch_for(memo: dict[Any, _Launch], kernel: Kernel, grid: Any, backend: str | None, device: Any) -> _Launch:
    """The ``_Launch`` for ``kernel[grid]``, kept in ``memo`` when the subscript is exact ints (``True == 1``
    and ``1.0 == 1`` must not find an int's entry; ``launch.parsed_grid`` reports them)."""
    plain = launch.plain_grid(grid)
    if plain:
        hit = memo.get(grid)
        if hit is not None:
            return hit
    nd, wg, ambiguous = launch.parsed_grid(grid, kernel.__name__)
    made = _Launch(kernel, nd, wg, ambiguous, backend, device)
    if plain:
        if len(memo) >= _MEMO_SIZE:  # launch loops reuse a few grids; a sweep of sizes must not grow it
            memo.clear()
        memo[grid] = made
    return made


def _bind_keywords(kernel: Kernel, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Arguments passed by name, put in parameter order as a Python call would (LaunchError otherwise)."""
    try:
        bound = inspect.signature(kernel.fn).bind(*args, **kwargs)
    except TypeError as exc:
        raise LaunchError(f"kernel '{kernel.__name__}': {exc}") from None
    bound.apply_defaults()
    return tuple(bound.args)


def kernel(fn: Callable[..., Any] | None = None, *, debug: bool = False, boundscheck: bool | None = None,
           **options: Any) -> Any:
    """Decorate a kernel: ``@pk.kernel``, ``@pk.kernel(debug=True)`` (bounds checks, and the written
    arrays restored on a failure) or ``@pk.kernel(boundscheck=False)`` (no checks: an out-of-bounds
    access is undefined behaviour on numba, opencl and cuda; see docs/safety.md)."""
    if fn is None:
        return lambda f: Kernel(f, debug=debug, boundscheck=boundscheck, **options)
    return Kernel(fn, debug=debug, boundscheck=boundscheck, **options)


@contextlib.contextmanager
def use(backend: str, device: Any = None) -> Iterator[None]:
    """Run every launch in the block on ``backend`` (and ``device``): ``with pk.use("opencl"): ...``."""
    if not isinstance(backend, str):
        raise LaunchError(f"pk.use(backend): backend must be a name such as 'numpy', got {backend!r}")
    token = launch.current_backend.set((registry.canonical_name(backend), device))
    try:
        yield
    finally:
        launch.current_backend.reset(token)
