"""One launch, end to end: grid checks, backend choice, cache lookup, compile on a miss, the call, and
copying results back into the caller's NumPy arrays.

The cached path is kept short on purpose (it is the dispatch overhead every benchmark measures):
classify the arguments, build the key, one dict lookup, prepare native arrays, call the launcher.
"""
from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..errors import BackendUnavailable, CompileError, LaunchError, PortakernError
from ..ir import nodes as ir
from ..ir.launch_local import LaunchSizes
from . import args as A
from . import cache, config, fastpath, registry
from .backend import Backend, Capabilities, Device, LaunchGrid
from .launch_checks import check_constant_aliasing, check_local_memory

__all__ = ["parse_grid", "current_backend", "run", "Compiled", "prepare", "specialize_for"]

from .fastpath import current_backend  # noqa: E402 - (backend name, device spec) of ``pk.use``


# ----------------------------------------------------------------------------------------- grids
def _dims(value: Any, what: str, kname: str, minimum: int) -> tuple[int, ...]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not 1 <= len(items) <= 3:
        raise LaunchError(f"kernel '{kname}': {what} must be an int or a tuple of 1 to 3 ints, got {value!r}")
    out = []
    for v in items:
        if isinstance(v, (bool, np.bool_)):
            raise LaunchError(f"kernel '{kname}': {what} must contain ints, got {value!r}")
        try:
            n = operator.index(v)
        except TypeError:
            raise LaunchError(f"kernel '{kname}': {what} must be an int or a tuple of 1 to 3 ints, "
                              f"got {value!r}") from None
        if n < minimum:
            need = "non-negative" if minimum == 0 else "positive"
            raise LaunchError(f"kernel '{kname}': {what} sizes must be {need} ints, got {value!r}")
        out.append(n)
    return tuple(out)


def parse_grid(item: Any, kname: str) -> tuple[tuple[int, ...], tuple[int, ...] | None, bool]:
    """``kernel[item]`` -> (ndrange, workgroup or None, ambiguous).

    ``kernel[n]``, ``kernel[(a, b)]`` ... ``kernel[n, wg]``, ``kernel[(a, b), (c, d)]``,
    ``kernel[(a, b), None]``. Python cannot tell ``kernel[(a, b)]`` from ``kernel[a, b]``: two plain
    ints are returned as (ndrange, workgroup) with ``ambiguous`` set, and the launch reads them as a
    2-D ndrange when the kernel indexes two or more dimensions (``frontend`` ``index_dims``).
    """
    if isinstance(item, tuple) and len(item) == 2 and not isinstance(item[0], (tuple, list)):
        nd = _dims(item[0], "ndrange", kname, 0)
        ambiguous = item[1] is not None and not isinstance(item[1], (tuple, list))
        # an ambiguous second int may yet be an ndrange size (0 allowed): checked at launch
        wg = None if item[1] is None else _dims(item[1], "workgroup", kname, 0 if ambiguous else 1)
    elif isinstance(item, tuple) and len(item) == 2:
        nd = _dims(item[0], "ndrange", kname, 0)
        wg = None if item[1] is None else _dims(item[1], "workgroup", kname, 1)
        ambiguous = False
    elif isinstance(item, tuple) and len(item) == 1 and isinstance(item[0], (tuple, list)):
        nd, wg, ambiguous = _dims(item[0], "ndrange", kname, 0), None, False
    else:
        nd, wg, ambiguous = _dims(item, "ndrange", kname, 0), None, False
    total = 1
    for n in nd:
        total *= n
    if total >= 2 ** 63 or any(n >= 2 ** 31 for n in wg or ()):
        raise LaunchError(f"kernel '{kname}': ndrange {nd} has {total} work-items; indices are int64, so at "
                          "most 2**63 - 1 (and workgroup sizes below 2**31)")
    if wg is not None and len(wg) != len(nd):
        raise LaunchError(f"kernel '{kname}': workgroup {wg} and ndrange {nd} must have the same number of "
                          "dimensions")
    return nd, wg, ambiguous


_grids: dict[Any, tuple[tuple[int, ...], tuple[int, ...] | None, bool]] = {}
_launch_grids: dict[tuple[Any, Any], LaunchGrid] = {}     # frozen dataclasses are slow to build


def parsed_grid(item: Any, kname: str) -> tuple[tuple[int, ...], tuple[int, ...] | None, bool]:
    """``parse_grid`` memoised on the subscript (launch loops reuse a few grids)."""
    if plain_grid(item):                         # True == 1 and 1.0 == 1: only exact ints are memoised
        hit = _grids.get(item)
        if hit is None:
            hit = parse_grid(item, kname)
            if len(_grids) > 4096:
                _grids.clear()
            _grids[item] = hit
        return hit
    return parse_grid(item, kname)


def plain_grid(x: Any) -> bool:
    """Whether a grid subscript is made of exact ints, None and tuples only (safe to memoise by value)."""
    t = type(x)
    if t is int or x is None:
        return True
    if t is not tuple:
        return False
    for v in x:                                  # (a loop, not all(...): no generator on the launch path)
        if type(v) is not int and not plain_grid(v):
            return False
    return True


def check_grid(c: Compiled, nd: tuple[int, ...], wg: tuple[int, ...] | None, kname: str) -> None:
    """Barrier/local kernels need an explicit workgroup dividing the ndrange; any workgroup must fit."""
    if c.needs_workgroup:
        why = ("pk.barrier()" if c.ir.uses_barrier else "pk.local_array" if c.ir.uses_local
               else "sub-group operations")
        if wg is None:
            raise LaunchError(f"kernel '{kname}' uses {why}, so it needs an explicit workgroup: "
                              f"kernel[ndrange, workgroup]; got ndrange {nd} and no workgroup")
        if any(n % w for n, w in zip(nd, wg)):
            raise LaunchError(f"kernel '{kname}' uses {why}: ndrange {nd} must be a multiple of the "
                              f"workgroup {wg} in every dimension")
    if wg is not None:
        size = 1
        for w in wg:
            size *= w
        if c.ir.uses_subgroup:
            check_subgroup_workgroup(c, wg, size, kname)
        if size > c.caps.max_workgroup_size:
            raise LaunchError(f"kernel '{kname}': workgroup {wg} has {size} work-items; backend "
                              f"'{c.backend.name}' allows at most {c.caps.max_workgroup_size}")


def check_subgroup_workgroup(c: Compiled, wg: tuple[int, ...], size: int, kname: str) -> None:
    """A kernel with sub-group operations runs whole sub-groups of the portable size (docs/language.md)."""
    sg = ir.SUBGROUP_SIZE
    if c.caps.subgroup_size != sg:
        raise LaunchError(f"kernel '{kname}' uses sub-group operations, but backend '{c.backend.name}' has "
                          f"sub-groups of {c.caps.subgroup_size} work-items, not the portable {sg}")
    if size % sg or size > ir.SUBGROUP_MAX_WORKGROUP:
        raise LaunchError(f"kernel '{kname}' uses sub-group operations: its workgroup {wg} has {size} "
                          f"work-items, which must be a multiple of the sub-group size {sg} and at most "
                          f"{ir.SUBGROUP_MAX_WORKGROUP}, e.g. kernel[ndrange, 256]")


# --------------------------------------------------------------------------------------- backends
_device_cache: dict[tuple[int, Any], tuple[Backend, Device, Capabilities]] = {}


def resolve_backend(name: str, device_spec: Any) -> tuple[Backend, Device, Capabilities]:
    """(backend, device, capabilities) for running on ``name``; cached per hashable device spec."""
    backend = registry.get_backend(name)
    try:
        key = (id(backend), device_spec)
        hit = _device_cache.get(key)
    except TypeError:                    # an unhashable framework object: resolve every time
        key, hit = None, None
    if hit is not None and hit[0] is backend:
        return hit
    device = registry.require_device(backend, device_spec)
    try:
        caps = backend.capabilities(device)
    except PortakernError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise BackendUnavailable(f"backend '{backend.name}' could not describe device {device.name!r}: "
                                 f"{type(exc).__name__}: {exc}") from exc
    result = (backend, device, caps)
    if key is not None:
        _device_cache[key] = result
    return result


def choose_backend(bound_name: str | None, bound_device: Any, b: A.Bound, params: Sequence[Any],
                   kname: str) -> tuple[str, Any, str]:
    """(backend name, device spec, how it was chosen): ``.on`` > ``pk.use`` > PORTAKERN_BACKEND > the arrays."""
    if bound_name is not None:
        if not b.owners:                       # the fast path: kernel.on(...) with host arrays only
            return bound_name, bound_device, "kernel.on(...)"
        name, dev, how = bound_name, bound_device, "kernel.on(...)"
    else:
        ctx = current_backend.get()
        if ctx is not None:
            name, dev, how = ctx[0], ctx[1], "pk.use(...)"
        else:
            env = config.default_backend()
            if env:
                name, dev, how = env, None, "PORTAKERN_BACKEND"
            elif b.owners:
                if len(b.owners) > 1:
                    parts = ", ".join(f"'{p}' belongs to '{o}'" for o, p in b.owners.items())
                    raise LaunchError(f"kernel '{kname}': arrays of two backends in one launch ({parts}); "
                                      "move them to one backend first")
                return next(iter(b.owners)), None, "the arrays"
            elif A.FOREIGN in b.kinds:
                return "cuda", None, "the arrays"
            else:
                return registry.default_cpu_backend(), None, fastpath.DEFAULT_CPU
    if how == "PORTAKERN_BACKEND":
        name = registry.canonical_name(name)
    for owner, pname in b.owners.items():
        if owner != name:
            raise LaunchError(f"kernel '{kname}', parameter '{pname}': an array of backend '{owner}', but the "
                              f"launch runs on '{name}' (chosen by {how}); move it to '{name}' or to NumPy")
    return name, dev, how


# --------------------------------------------------------------------------------------- compiling
@dataclass(slots=True)
class Compiled:
    """A loaded specialisation: what the cached fast path needs."""

    ir: Any
    launcher: Any
    written: tuple[int, ...]          # indices of written array params
    needs_workgroup: bool
    backend: Backend
    device: Device
    caps: Capabilities
    artifact: bytes
    source: str
    names: tuple[str, ...]            # every parameter's name (constexprs included), by index
    sized: Any = ()                   # LaunchSizes: the local arrays sized at launch (checked per launch)
    constants: tuple[int, ...] = ()   # indices of pk.constant params (no written array may alias them)
    relations: tuple[tuple[int, int, int, int], ...] = ()   # shape relations specialised on (param indices)
    facts: tuple[bool, ...] = ()      # which of them hold for this specialisation (args.shape_facts)


def specialize_for(kernel: Any, src: Any, sig: tuple[Any, ...], constexprs: dict[str, Any],
                   grid_ndim: int) -> Any:
    """The typed IR of ``kernel`` for one signature (front end errors pass through as CompileError)."""
    from .. import frontend

    params = src.params
    try:
        return frontend.specialize(src, A.arg_types(params, sig), constexprs, grid_ndim, kernel.debug,
                                  kernel.boundscheck)
    except PortakernError:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        raise CompileError(f"internal error while compiling kernel '{kernel.__name__}': "
                           f"{type(exc).__name__}: {exc} (please report)") from exc


def assume_shapes(kir: Any, b: A.Bound, params: Sequence[Any], backend: Backend,
                  caps: Capabilities) -> tuple[Any, tuple[tuple[int, int, int, int], ...], tuple[bool, ...]]:
    """``kir`` specialised on the shape relations that hold for this launch's arrays (docs/safety.md,
    "Accesses the guards prove"), the relations as parameter indices, and which of them hold."""
    if not (caps.specialises_shapes and kir.checks_bounds):
        return kir, (), ()
    from ..codegen.bounds_facts import shape_relations

    rels = shape_relations(kir)
    if not rels:
        return kir, (), ()
    index = {p.name: i for i, p in enumerate(params)}
    relations = tuple((index[x], e, index[y], d) for x, e, y, d in rels)
    facts = A.shape_facts(relations, b.kinds, b.values, backend)
    return replace(kir, shape_ge=tuple(r for r, held in zip(rels, facts) if held)), relations, facts


def build(kernel: Any, src: Any, kir: Any, key: tuple[Any, ...], backend: Backend, device: Device,
          target: str | None = None) -> tuple[str, bytes, bool]:
    """(source, artifact, from_disk): render, then the disk cache or ``backend.build``."""
    stats = kernel._stats
    with _framework_errors(backend, kernel, "render"):
        source = backend.render(kir)
    digest = cache.disk_key(source, (src.source_hash, kernel.options, key), backend.name, _version(backend),
                            target)
    payload = cache.disk_load(backend.name, digest, stats, source)
    if payload is not None:
        cache.bump(stats, "disk_hits")
        return source, payload, True
    with _framework_errors(backend, kernel, "build"):
        payload = backend.build(kir, source, device, target)
    if not isinstance(payload, (bytes, bytearray)):
        raise CompileError(f"backend '{backend.name}' returned {type(payload).__name__} from build(); "
                           "expected bytes (a backend bug)")
    cache.bump(stats, "builds")
    cache.disk_store(backend.name, digest, bytes(payload), stats, source)
    return source, bytes(payload), False


def compile_entry(kernel: Any, src: Any, key: tuple[Any, ...], sig: tuple[Any, ...], b: A.Bound,
                  grid_ndim: int, backend: Backend, device: Device, caps: Capabilities,
                  memo: tuple[Any, ...] | None = None) -> Compiled:
    """Specialise, build (or load from disk) and load one signature; store it in the memory cache
    under ``memo`` (default ``key``; a shape-relation variant adds its pattern there, while its disk
    entry is told apart by its source).

    Under the kernel cache's lock: threads that miss on the same signature at once wait for the
    first one's result instead of each compiling it."""
    memo = key if memo is None else memo
    with kernel._compiled.lock:
        c = kernel._compiled.get(memo)
        if c is not None and c.backend is backend:
            return c
        return _compile_entry(kernel, src, key, memo, sig, b, grid_ndim, backend, device, caps)


def _compile_entry(kernel: Any, src: Any, key: tuple[Any, ...], memo: tuple[Any, ...], sig: tuple[Any, ...],
                   b: A.Bound, grid_ndim: int, backend: Backend, device: Device, caps: Capabilities) -> Compiled:
    kir = specialize_for(kernel, src, sig, b.constexprs, grid_ndim)
    kir, relations, facts = assume_shapes(kir, b, src.params, backend, caps)
    source, payload, from_disk = build(kernel, src, kir, key, backend, device)
    try:
        with _framework_errors(backend, kernel, "load"):
            launcher = backend.load(kir, payload, device)
    except CompileError:
        if not from_disk:
            raise
        # A stale or foreign entry that passed its checksum: rebuild it once from the source.
        with _framework_errors(backend, kernel, "build"):
            payload = backend.build(kir, source, device, None)
        cache.bump(kernel._stats, "builds")
        with _framework_errors(backend, kernel, "load"):
            launcher = backend.load(kir, payload, device)
    names = [p.name for p in src.params]
    written = tuple(names.index(w) for w in kir.written if w in names)
    c = Compiled(kir, launcher, written, bool(kir.uses_barrier or kir.uses_local or kir.uses_subgroup), backend,
                 device, caps, payload, source, tuple(names), LaunchSizes(kir),
                 tuple(i for i, p in enumerate(src.params) if getattr(p.annotation, "constant", False)),
                 relations, facts)
    kernel._compiled.put(memo, c, kernel._plans)
    return c


def _version(backend: Backend) -> str:
    try:
        return str(backend.version())
    except Exception:  # noqa: BLE001
        return ""


class _framework_errors:
    """Map an exception escaping a backend's render/build/load to CompileError (PortakernErrors pass)."""

    def __init__(self, backend: Backend, kernel: Any, step: str) -> None:
        self.backend, self.kernel, self.step = backend, kernel, step

    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: Any, exc: Any, tb: Any) -> None:
        if exc is None or isinstance(exc, (PortakernError, MemoryError)) or not isinstance(exc, Exception):
            return
        raise CompileError(f"backend '{self.backend.name}' failed to {self.step} kernel "
                           f"'{self.kernel.__name__}': {type(exc).__name__}: {exc}") from exc


# ---------------------------------------------------------------------------------------- launching
def prepare(b: A.Bound, c: Compiled) -> tuple[list[Any], dict[int, np.ndarray]]:
    """Native arguments for the launcher, and {index: contiguous copy} of strided host arrays."""
    backend, device = c.backend, c.device
    natives: list[Any] = []
    staged: dict[int, np.ndarray] = {}
    strided = c.caps.strided_arrays
    moved: dict[int, Any] = {}           # id(host array) -> native: one array passed twice stays one
    for i, kind in enumerate(b.kinds):
        v = b.values[i]
        if kind == A.HOST:
            same = moved.get(id(v))
            if same is not None:
                natives.append(same)
                continue
            key = id(v)
            if not strided and not v.flags.c_contiguous:
                v = np.ascontiguousarray(v)
                staged[i] = v
            try:
                v = moved[key] = backend.from_host(v, device)
            except PortakernError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise LaunchError(f"backend '{backend.name}' could not copy an argument to its device: "
                                  f"{type(exc).__name__}: {exc}") from exc
        elif kind == A.CONST:
            continue
        natives.append(v)
    return natives, staged


def run(kernel: Any, nd: tuple[int, ...], wg: tuple[int, ...] | None, ambiguous: bool, args: Sequence[Any],
        bound_name: str | None, bound_device: Any) -> Any:
    """Launch ``kernel`` over ``nd``/``wg`` with ``args``; return the written arrays (see docs/language.md)."""
    try:
        plan_key: Any = (bound_name, bound_device, nd, wg, ambiguous)
        plan = kernel._plans.get(plan_key)
    except TypeError:                                # an unhashable device object: no fast path
        plan_key = plan = None
    if plan is not None:
        result = plan.run(args, results_of)
        if result is not fastpath.MISS:
            return result
    src = kernel._src if kernel._src is not None else kernel._analyze()
    params = src.params
    kname = kernel.__name__
    if ambiguous and src.index_dims >= 2:
        # kernel[a, b] is kernel[(a, b)] to Python: for a kernel that indexes 2+ dimensions it is a
        # 2-D ndrange; for a 1-D kernel, (ndrange, workgroup) as in saxpy[n, 128].
        nd, wg = nd + wg, None  # type: ignore[operator]
    elif ambiguous and 0 in wg:  # type: ignore[operator]
        raise LaunchError(f"kernel '{kname}': workgroup sizes must be positive ints, got {wg[0]}")  # type: ignore[index]
    b = A.classify(params, args, kname)
    name, dev_spec, how = choose_backend(bound_name, bound_device, b, params, kname)
    try:
        backend, device, caps = resolve_backend(name, dev_spec)
    except BackendUnavailable as exc:
        raise BackendUnavailable(f"{exc} (backend '{name}' was chosen by {how})") from exc
    sig = A.signature(params, b, backend, device, caps, kname)
    frozen = src.frozen_values()
    key = (backend.name, device.key, sig, len(nd), frozen)
    c = _entry(kernel, src, key, None, sig, b, len(nd), backend, device, caps)
    if c.relations:                                  # specialised on shape relations: these arrays' own
        facts = A.shape_facts(c.relations, b.kinds, b.values, backend)
        if facts != c.facts:
            c = _entry(kernel, src, key, key + (facts,), sig, b, len(nd), backend, device, caps)
    if c.needs_workgroup or wg is not None:
        check_grid(c, nd, wg, kname)
    for i in c.written:
        if b.kinds[i] == A.HOST and not b.values[i].flags.writeable:
            raise LaunchError(f"kernel '{kname}', parameter '{params[i].name}': the kernel writes this array, "
                              "but a read-only array was given; pass a writeable array (e.g. a copy)")
    if c.constants and c.written:
        check_constant_aliasing(c, b.values, c.names, kname)
    if 0 in nd:                                      # an empty index space: nothing runs
        return _results(c, b, None, {})
    natives, staged = prepare(b, c)
    if c.sized:
        check_local_memory(c, natives, kname)
    try:
        grid = _launch_grids.get((nd, wg))
        if grid is None:
            grid = _launch_grids[(nd, wg)] = LaunchGrid(nd, wg)
            if len(_launch_grids) > 4096:
                _launch_grids.clear()
        out = c.launcher(grid, natives)
    except PortakernError:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        raise LaunchError(f"backend '{backend.name}' failed to run kernel '{kname}': "
                          f"{type(exc).__name__}: {exc}") from exc
    result = _results(c, b, out, staged)
    if plan_key is not None and not staged:
        fastpath.record(kernel, plan_key, c, b, params, grid, src, frozen, how)
    return result


def _entry(kernel: Any, src: Any, key: tuple[Any, ...], memo: tuple[Any, ...] | None, sig: tuple[Any, ...],
           b: A.Bound, grid_ndim: int, backend: Backend, device: Device, caps: Capabilities) -> Compiled:
    """The memory cache's entry under ``memo`` (default ``key``), compiled on a miss."""
    c = kernel._compiled.get(key if memo is None else memo)
    if c is None or c.backend is not backend:        # (a re-registered backend of the same name)
        return compile_entry(kernel, src, key, sig, b, grid_ndim, backend, device, caps, memo)
    kernel._stats.memory_hits += 1
    cache._GLOBAL.memory_hits += 1
    return c


def _results(c: Compiled, b: A.Bound, out: Any, staged: dict[int, np.ndarray]) -> Any:
    """Copy results into host arrays and build the return value (one array, a tuple, or None)."""
    return results_of(c, b.kinds, b.values, b.originals, out)


def results_of(c: Compiled, kinds: Sequence[int], values: Sequence[Any], originals: Sequence[Any], out: Any) -> Any:
    """:func:`_results` from the classified arguments themselves (the fast path has no ``Bound``)."""
    written = c.written
    if not written:
        return None
    backend = c.backend
    ret = []
    for i in written:
        kind = kinds[i]
        if out is None:                                   # nothing ran (an empty ndrange)
            ret.append(originals[i])
            continue
        name = c.names[i]
        try:
            res = out[name]
        except (KeyError, TypeError) as exc:
            raise LaunchError(f"backend '{backend.name}' did not return written array '{name}' "
                              "(a backend bug)") from exc
        if kind == A.HOST:
            host = values[i]
            if res is not host:
                try:
                    data = backend.to_host(res)
                except Exception as exc:  # noqa: BLE001
                    raise LaunchError(f"backend '{backend.name}' could not copy '{name}' back: {exc}") from exc
                if data is not host:
                    if data.dtype != host.dtype and data.dtype == np.uint16:
                        host = host.view(np.uint16)       # a backend keeps bfloat16 as its bits (cuda)
                    np.copyto(host, data.reshape(host.shape), casting="no")
            ret.append(originals[i])
        elif c.caps.in_place:
            ret.append(originals[i])
        else:
            ret.append(res)
    return ret[0] if len(ret) == 1 else tuple(ret)

