"""portakern kernels over Dask arrays: one launch per chunk, lazily, on any Dask scheduler.

``map_blocks`` runs a kernel once per chunk of its Dask-array arguments and returns Dask arrays for
the kernel's outputs; ``map_overlap`` does the same on chunks grown by a halo (Dask's ``overlap``)
and trims the halo from the results, for stencils. Nothing runs until the result is computed, and
the results compose with every other Dask operation. docs/scale.md has the worked examples, the
recipe for chunk-local reductions and the cost model.

Needs the optional extra ``portakern[dask]``. Kernels pickle (runtime/portable.py), so graphs run on
the threaded scheduler, the processes scheduler and ``dask.distributed`` workers alike; each worker
compiles the kernel itself and keeps it in its own caches.
"""
from __future__ import annotations

import operator
import pickle
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import LaunchError, PortakernError
from .runtime.kernel import BoundKernel, Kernel
from .runtime.launch import current_backend

try:
    import dask.array as da
    from dask.array.utils import meta_from_array
except ImportError as _exc:  # pragma: no cover - the extra is not installed
    raise ImportError(f'portakern.dask needs Dask: pip install "portakern[dask]" ({_exc})') from _exc

__all__ = ["map_blocks", "map_overlap", "per_chunk"]


@dataclass(frozen=True)
class per_chunk:  # noqa: N801 - reads as a declaration: outputs={"hist": per_chunk(np.int64, (16,))}
    """An output with one array of ``shape`` per chunk, e.g. a chunk's histogram or partial sum.

    The result is a Dask array of shape ``numblocks + shape`` (one block per chunk); combine it with
    Dask (``.sum(axis=...)``). The kernel receives a zero-filled array of ``shape`` for each chunk.
    """

    dtype: Any
    shape: tuple[int, ...] = (1,)


def map_blocks(kernel: Kernel | BoundKernel, *args: Any, outputs: Any, ndrange: Any = None,
               workgroup: Any = None, backend: str | None = None, device: Any = None) -> Any:
    """Launch ``kernel`` once per chunk of the Dask arrays in ``args``; return Dask arrays.

    ``args`` are the kernel's inputs in parameter order, skipping the output parameters: Dask arrays
    (all of one ndim, chunked alike; Dask rechunks same-shaped arrays to common chunks), and NumPy
    arrays or scalars, passed whole to every chunk's launch. ``outputs`` names the output parameters:

    - ``"out"`` or ``["a", "b"]``: zero-filled arrays of the first Dask argument's chunk shape and dtype;
    - ``{"out": np.float32}``: the same with that dtype;
    - ``{"out": dask_array}``: a template whose chunks give the kernel's initial contents of ``out``;
    - ``{"hist": per_chunk(np.int64, (16,))}``: one small array per chunk (see :class:`per_chunk`).

    ``ndrange`` defaults to the chunk's shape (the first Dask argument's); a callable receives the
    chunk's shape and returns the ndrange. ``workgroup`` is passed to every launch. The backend is
    ``backend`` (or ``kernel.on(...)``'s), else the one of ``pk.use`` around this call, else the
    launch routes on the chunks' types (CuPy chunks run on "cuda"). Returns one Dask array, or a
    tuple in the order of ``outputs``.
    """
    kernel, backend, device = _target(kernel, backend, device)
    layout, arrays, specs = _bind(kernel, args, outputs)
    return _launch_per_block(kernel, backend, device, layout, arrays, specs, ndrange, workgroup)


def map_overlap(kernel: Kernel | BoundKernel, *args: Any, outputs: Any, depth: Any, boundary: Any = "none",
                ndrange: Any = None, workgroup: Any = None, backend: str | None = None,
                device: Any = None) -> Any:
    """:func:`map_blocks` on chunks grown by a halo of ``depth`` cells (Dask's ``overlap``), for stencils.

    Each launch sees its chunk plus ``depth`` neighbouring cells on every side (``depth``: an int, a
    tuple per axis or ``{axis: depth}``); the halo is trimmed from the outputs. ``boundary`` is Dask's:
    "none" (the default: no halo past the array's edge, so the kernel's own edge handling applies and
    the whole result is bit-identical to one launch over the whole array), "periodic", "reflect",
    "nearest" or a constant (the interior is bit-identical; the edge follows the boundary rule).
    ``ndrange`` defaults to the grown chunk's shape. Every chunk must be at least ``depth`` long.
    """
    kernel, backend, device = _target(kernel, backend, device)
    layout, arrays, specs = _bind(kernel, args, outputs)
    ndim = arrays[0][1].ndim
    try:
        depth_ = da.overlap.coerce_depth(ndim, depth)
        boundary_ = da.overlap.coerce_boundary(ndim, boundary)
    except (TypeError, ValueError, KeyError) as exc:
        raise LaunchError(f"kernel '{kernel.__name__}': depth={depth!r} / boundary={boundary!r} do not fit "
                          f"{ndim}-d arrays ({type(exc).__name__}: {exc})") from None
    given_axes = depth.keys() if isinstance(depth, Mapping) else range(len(depth)) if isinstance(depth, tuple) \
        else range(ndim)
    if any(not isinstance(d, int) or d < 0 for d in depth_.values()) or set(given_axes) - set(range(ndim)):
        raise LaunchError(f"kernel '{kernel.__name__}': depth must be a non-negative int, a tuple of {ndim} or "
                          f"{{axis: depth}} for axes 0..{ndim - 1}; got {depth!r}")
    for b in boundary_.values():
        if b not in _BOUNDARIES and not isinstance(b, (int, float, np.number)):
            raise LaunchError(f"kernel '{kernel.__name__}': boundary must be one of {', '.join(_BOUNDARIES)} or a "
                              f"number, got {boundary!r}")
    for spec in specs:
        if isinstance(spec.spec, per_chunk):
            raise LaunchError(f"kernel '{kernel.__name__}', output '{spec.name}': per_chunk outputs are for "
                              "map_blocks; a halo has no meaning for them")
    grown = []
    for pname, arr in arrays + [(s.name, s.spec) for s in specs if isinstance(s.spec, da.Array)]:
        _check_halo(kernel.__name__, pname, arr, depth_)
        grown.append((pname, da.overlap.overlap(arr, depth_, boundary_, allow_rechunk=False)))
    arrays = grown[:len(arrays)]
    specs = [_Spec(s.name, dict(grown)[s.name]) if isinstance(s.spec, da.Array) else s for s in specs]
    results = _launch_per_block(kernel, backend, device, layout, arrays, specs, ndrange, workgroup)
    if isinstance(results, tuple):
        return tuple(da.overlap.trim_internal(r, depth_, boundary_) for r in results)
    return da.overlap.trim_internal(results, depth_, boundary_)


#: Dask's boundary rules (besides a constant); "none" adds no halo past the array's edge.
_BOUNDARIES = ("none", "periodic", "reflect", "nearest")


# ------------------------------------------------------------------------------------ binding
@dataclass(frozen=True)
class _Spec:
    name: str
    spec: Any            # a dtype, a Dask array (template) or a per_chunk


def _target(kernel: Any, backend: str | None, device: Any) -> tuple[Kernel, str | None, Any]:
    """(kernel, backend, device): ``kernel.on(...)`` > ``backend=`` > ``pk.use`` at graph-building time."""
    if isinstance(kernel, BoundKernel):
        return kernel.kernel, kernel.backend, kernel.device
    if not isinstance(kernel, Kernel):
        raise LaunchError(f"portakern.dask: the first argument must be a @pk.kernel, got {kernel!r}")
    if backend is None:
        ctx = current_backend.get()     # a context variable: it does not reach the workers, so read it now
        if ctx is not None:
            backend, device = ctx
    return kernel, backend, device


def _bind(kernel: Kernel, args: tuple[Any, ...], outputs: Any
          ) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]], list[_Spec]]:
    """(layout: (parameter name, static value or _DASK/_OUT marker), dask arrays by parameter, output specs)."""
    kname = kernel.__name__
    src = kernel._src if kernel._src is not None else kernel._analyze()
    names = [p.name for p in src.params]
    if isinstance(outputs, str):
        outputs = [outputs]
    if isinstance(outputs, Mapping):
        specs = [_Spec(str(k), v) for k, v in outputs.items()]
    elif isinstance(outputs, Sequence) and outputs and all(isinstance(o, str) for o in outputs):
        specs = [_Spec(o, None) for o in outputs]
    else:
        raise LaunchError(f"kernel '{kname}': outputs= must name the output parameters (a name, a list of "
                          f"names, or {{name: dtype, Dask array or per_chunk(...)}}), got {outputs!r}")
    for s in specs:
        if s.name not in names:
            raise LaunchError(f"kernel '{kname}': output '{s.name}' is not a parameter (parameters: "
                              f"{', '.join(names)})")
    inputs = [n for n in names if n not in {s.name for s in specs}]
    if len(args) != len(inputs):
        raise LaunchError(f"kernel '{kname}': {len(args)} input arguments given, expected {len(inputs)} "
                          f"({', '.join(inputs)}; the outputs {', '.join(s.name for s in specs)} are made per chunk)")
    given = dict(zip(inputs, args))
    arrays = [(n, v) for n, v in given.items() if isinstance(v, da.Array)]
    if not arrays:
        raise LaunchError(f"kernel '{kname}': no Dask array among the inputs; launch the kernel directly")
    ndims = {v.ndim for _, v in arrays} | {s.spec.ndim for s in specs if isinstance(s.spec, da.Array)}
    if len(ndims) > 1:
        parts = ", ".join(f"'{n}' has {v.ndim}" for n, v in arrays)
        raise LaunchError(f"kernel '{kname}': the Dask arrays must have one number of dimensions ({parts}); "
                          "reshape them, or pass the small ones as NumPy arrays")
    ref = arrays[0][1]
    specs = [_Spec(s.name, ref.dtype if s.spec is None else s.spec) for s in specs]
    for s in specs:
        if not isinstance(s.spec, (da.Array, per_chunk)):
            try:
                np.dtype(s.spec)
            except TypeError:
                raise LaunchError(f"kernel '{kname}', output '{s.name}': expected a dtype, a Dask array or "
                                  f"per_chunk(dtype, shape), got {s.spec!r}") from None
    layout = [(n, _DASK if isinstance(given.get(n), da.Array) else _OUT if n not in given else given[n])
              for n in names]
    return layout, arrays, specs


class _Marker:
    def __init__(self, what: str) -> None:
        self.what = what

    def __reduce__(self) -> str:
        return self.what          # pickled by reference to this module's constant


_DASK = _Marker("_DASK")
_OUT = _Marker("_OUT")


def _check_halo(kname: str, pname: str, arr: Any, depth: dict[int, int]) -> None:
    for axis, d in depth.items():
        for i, c in enumerate(arr.chunks[axis]):
            if c < d:
                raise LaunchError(f"kernel '{kname}', argument '{pname}': chunk {i} along axis {axis} has "
                                  f"{c} cells, fewer than the halo depth {d}; rechunk to chunks of at least "
                                  f"{d} (e.g. x.rechunk({max(d, 1)}...))")


# ---------------------------------------------------------------------------------- the graph
def _launch_per_block(kernel: Kernel, backend: str | None, device: Any, layout: list[tuple[str, Any]],
                      arrays: list[tuple[str, Any]], specs: list[_Spec], ndrange: Any, workgroup: Any) -> Any:
    """The graph: one task per chunk launching the kernel (a tuple of outputs), one per output and chunk
    picking its array out."""
    if ndrange is not None and not callable(ndrange):
        raise LaunchError(f"kernel '{kernel.__name__}': ndrange= must be None (the chunk's shape) or a "
                          f"function of the chunk's shape, got {ndrange!r}")
    templates = [s for s in specs if isinstance(s.spec, da.Array)]
    blocks_in = [a for _, a in arrays] + [s.spec for s in templates]
    try:
        blocks_in = list(da.core.unify_chunks(*[x for a in blocks_in for x in (a, 'ijk'[:a.ndim])])[1])
    except ValueError as exc:
        raise LaunchError(f"kernel '{kernel.__name__}': the Dask arguments cannot be chunked alike: {exc}") from None
    ref = blocks_in[0]
    task = _ChunkLaunch(kernel, backend, device, tuple(layout), tuple((s.name, s.spec if not isinstance(
        s.spec, da.Array) else None) for s in specs), len(arrays), ndrange, workgroup)
    packed = da.map_blocks(task, *blocks_in, dtype=object, meta=np.empty((0,) * ref.ndim, dtype=object),
                           token=f"portakern-{kernel.__name__}")
    results = []
    for i, s in enumerate(specs):
        if isinstance(s.spec, per_chunk):
            shape = tuple(int(n) for n in s.spec.shape)
            chunks = tuple((1,) * n for n in ref.numblocks) + tuple((n,) for n in shape)
            dtype = np.dtype(s.spec.dtype)
            out = packed.map_blocks(operator.getitem, i, dtype=dtype, chunks=chunks,
                                    new_axis=list(range(ref.ndim, ref.ndim + len(shape))),
                                    meta=meta_from_array(ref._meta, ndim=ref.ndim + len(shape), dtype=dtype))
        else:
            dtype = s.spec.dtype if isinstance(s.spec, da.Array) else np.dtype(s.spec)
            out = packed.map_blocks(operator.getitem, i, dtype=dtype,
                                    meta=meta_from_array(ref._meta, ndim=ref.ndim, dtype=dtype))
        results.append(out)
    return results[0] if len(results) == 1 else tuple(results)


class _ChunkLaunch:
    """The task run per chunk: allocate the outputs, launch, return them (a tuple, in ``outputs`` order)."""

    def __init__(self, kernel: Kernel, backend: str | None, device: Any, layout: tuple[tuple[str, Any], ...],
                 outputs: tuple[tuple[str, Any], ...], n_inputs: int, ndrange: Callable[..., Any] | None,
                 workgroup: Any) -> None:
        self.kernel, self.backend, self.device = kernel, backend, device
        self.layout, self.outputs, self.n_inputs = layout, outputs, n_inputs
        self.ndrange, self.workgroup = ndrange, workgroup

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        """Dask names a graph's keys after this token: equal only for the same launch (kernel, backend,
        static arguments, outputs, grid)."""
        return ("portakern.dask", id(self.kernel), self.kernel.__name__, self.backend, repr(self.device),
                self.layout, self.outputs, self.n_inputs, self.ndrange, self.workgroup)

    def __call__(self, *blocks: Any, block_id: tuple[int, ...] = ()) -> tuple[Any, ...]:
        ref = blocks[0]
        inputs = iter(blocks[:self.n_inputs])
        templates = iter(blocks[self.n_inputs:])
        made: dict[str, Any] = {}
        for name, spec in self.outputs:
            if spec is None:                                   # a template block: the initial contents
                made[name] = _writable_copy(next(templates))
            elif isinstance(spec, per_chunk):
                made[name] = _zeros(ref, tuple(spec.shape), spec.dtype)
            else:
                made[name] = _zeros(ref, ref.shape, spec)
        args = [next(inputs) if v is _DASK else made[n] if v is _OUT else v for n, v in self.layout]
        nd = tuple(ref.shape) if self.ndrange is None else self.ndrange(tuple(ref.shape))
        k = self.kernel if self.backend is None else self.kernel.on(self.backend, self.device)
        try:
            k[nd, self.workgroup](*args)
        except LaunchError as exc:           # name the chunk: a chunking problem shows here
            raise _portable(LaunchError(f"chunk {block_id} (shape {tuple(ref.shape)}): {exc}")) from None
        except PortakernError as exc:
            raise _portable(exc)             # noqa: B904 - the same error, its unpicklable causes dropped
        out = []
        for name, spec in self.outputs:
            a = made[name]
            if isinstance(spec, per_chunk):
                a = a.reshape((1,) * ref.ndim + a.shape)
            out.append(a)
        return tuple(out)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` without the causes that cannot be pickled (a framework's error holding a C handle):
    dask.distributed pickles an error with its causes (tblib) and, when that fails, sends a bare
    ``Exception`` instead of the CompileError the user expects. The message keeps what they said."""
    for attr in ("__cause__", "__context__"):
        inner = getattr(exc, attr)
        if inner is not None:
            try:
                pickle.dumps(inner)
            except Exception:  # noqa: BLE001 - any failure: drop the link, keep the error
                setattr(exc, attr, None)
    return exc


def _zeros(like: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Zeros of ``like``'s array library (NumPy, CuPy...), so CuPy chunks get CuPy outputs on their GPU."""
    if isinstance(like, np.ndarray):
        return np.zeros(shape, dtype=dtype)
    library = sys.modules.get(type(like).__module__.partition(".")[0])
    zeros = getattr(library, "zeros", None)
    return zeros(shape, dtype=dtype) if callable(zeros) else np.zeros(shape, dtype=dtype)


def _writable_copy(block: Any) -> Any:
    return block.copy()
