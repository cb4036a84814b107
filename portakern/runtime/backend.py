"""The backend interface: what every backend, built-in or third-party, implements.

A backend is registered under the entry-point group ``portakern.backends`` as
``name = "package.module:BackendClass"`` and imported only when first used. The runtime owns
argument checking, caching and copying results back into NumPy arrays; a backend only

1. renders a typed :class:`portakern.ir.Kernel` to source (``render``: pure, no framework import),
2. builds that source into bytes that can be stored on disk (``build``),
3. loads the bytes into a :class:`Launcher` (``load``) that runs it on the backend's arrays,
4. moves arrays between the host and itself (``from_host``, ``to_host``, ``owns``, ``adopt``).

Launch protocol (``Launcher.__call__``): the runtime passes, in parameter order, each array
argument as one of the backend's native arrays (what ``from_host``/``adopt`` returned, or a native
array the user passed) and each scalar as a NumPy scalar of the parameter's type. The launcher
returns ``{param_name: native_array}`` for every name in ``kernel.written``; a backend that updates in
place returns the arrays it was given, one that cannot (jax) returns new arrays. The runtime copies
results into the user's NumPy arrays only after the launch succeeded.
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from ..ir.nodes import Kernel


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend on one device can do and how its numbers behave (docs/semantics.md)."""

    fp64: bool = True
    int64_atomics: bool = True
    native_float_atomics: bool = False
    flushes_denormals: bool = False
    contracts_fma: bool = False
    strided_arrays: bool = False          # indexes non-contiguous NumPy views natively (else the runtime copies)
    in_place: bool = True                 # updates arrays in place (False: returns new arrays, as jax)
    max_workgroup_size: int = 1024
    #: bytes of local (work-group) memory one work-group may use: the static local arrays plus those sized at launch
    max_local_memory: int = 64 * 1024
    #: constant memory for ``pk.constant`` arrays: bytes and arguments (0: none, the hint only makes them
    #: read-only); an array that does not fit, after the earlier parameters, is passed as a global one
    max_constant_memory: int = 0
    max_constant_args: int = 0
    subgroup_size: int = 32               # work-items per sub-group (ir.SUBGROUP_SIZE on every backend)
    needs_gpu: bool = False
    #: renders bounds checks that shape relations can prove away (codegen/bounds_facts.py): the runtime then
    #: specialises each kernel on which of its shape relations hold at the launch (one compile per pattern)
    specialises_shapes: bool = False
    extra: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d.update(dict(self.extra))
        return d


@dataclass(frozen=True, slots=True)
class Device:
    """A device of a backend. ``key`` is stable across processes and part of the cache key."""

    backend: str
    key: str
    name: str
    handle: Any = field(default=None, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class LaunchGrid:
    """The launch's index space. ``workgroup`` is None when the user left it to the backend (only
    for kernels without barriers or local arrays; then the backend pads and guards as it likes).
    With a workgroup and a barrier/local kernel, every ``ndrange[d] % workgroup[d] == 0``."""

    ndrange: tuple[int, ...]
    workgroup: tuple[int, ...] | None


#: the local memory a CPU backend (numpy, numba, jax) gives one work-group: host memory, allocated per group
HOST_LOCAL_MEMORY = 16 << 20

#: the work-group a backend uses when the launch gives none, by number of dimensions: 256 work-items,
#: the last (fastest, contiguous) dimension a multiple of a GPU warp (docs/language.md).
DEFAULT_WORKGROUPS = {1: (256,), 2: (8, 32), 3: (4, 4, 16)}


def default_workgroup(ndrange: tuple[int, ...], max_size: int = 256) -> tuple[int, ...]:
    """The one work-group every backend uses when the user gives none (kernels without barriers or
    local arrays): ``DEFAULT_WORKGROUPS`` clamped to the ndrange in each dimension (a small launch
    pads nothing and starts no idle threads), then halved from the slowest dimension while it
    exceeds the device's ``max_size``. One policy, so ``pk.local_id``, ``pk.local_size`` and
    ``pk.num_groups`` agree between backends."""
    wg = [max(1, min(b, int(n))) for b, n in zip(DEFAULT_WORKGROUPS[len(ndrange)], ndrange)]
    d = 0
    while math.prod(wg) > max(1, int(max_size)):
        if wg[d] == 1:
            d += 1
        else:
            wg[d] //= 2
    return tuple(wg)


class Launcher(abc.ABC):
    """A loaded kernel, ready to run."""

    @abc.abstractmethod
    def __call__(self, grid: LaunchGrid, args: Sequence[Any]) -> Mapping[str, Any]:
        """Run the kernel over ``grid`` with ``args`` (native arrays and NumPy scalars, in parameter
        order) and return ``{name: native_array}`` for every name in ``kernel.written``. With
        ``kernel.checks_bounds`` an out-of-bounds access raises :class:`portakern.KernelIndexError`
        (decode the record with ``portakern.runtime.errrecord.raise_recorded``)."""

    def framework_builds(self) -> int:
        """Compiles the framework itself ran at launch time, after portakern's build (a Numba
        dispatcher compiling instead of loading machine code from the disk cache); 0 by default.
        ``portakern bench`` counts a warm start as loaded from disk only when this stays 0."""
        return 0


class Backend(abc.ABC):
    """Base class of every backend. Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str] = ""
    #: the file extension of rendered source ("cl", "cu", "py") for ``portakern compile``.
    source_language: ClassVar[str] = "py"
    #: the pip extra that installs the backend's framework, quoted in BackendUnavailable.
    install_hint: ClassVar[str] = ""

    # -- availability and devices ---------------------------------------------------------------
    @abc.abstractmethod
    def is_available(self) -> bool:
        """True when the framework imports and a device exists. Never raises."""

    def unavailable_reason(self) -> str | None:
        """Why ``is_available()`` is False (and what fixes it), or None. Never raises."""
        return None

    def default_device_problem(self) -> str | None:
        """Why ``device()`` cannot resolve the default device, or None; probed once and remembered.
        A backend that is available exactly when it has a default device answers both
        ``is_available`` and ``unavailable_reason`` with this. Never raises."""
        if "_default_device_problem" not in self.__dict__:
            try:
                self.device()
                problem = None
            except Exception as exc:  # noqa: BLE001 - availability never raises
                problem = str(exc)
            self.__dict__["_default_device_problem"] = problem
        return self.__dict__["_default_device_problem"]

    @abc.abstractmethod
    def device(self, spec: Any = None) -> Device:
        """Resolve ``spec`` (None for the default, an index, a name or a framework object) to a Device.
        Raises BackendUnavailable when there is none."""

    def devices(self) -> list[Device]:
        """Every device this backend can run on (may be empty). Never raises."""
        try:
            return [self.device()]
        except Exception:  # noqa: BLE001 - listing devices never raises
            return []

    @abc.abstractmethod
    def capabilities(self, device: Device) -> Capabilities:
        """The capabilities of ``device``."""

    def version(self) -> str:
        """The framework's version string ("" when not installed). Never raises."""
        return ""

    # -- compilation ----------------------------------------------------------------------------
    @abc.abstractmethod
    def render(self, kernel: Kernel) -> str:
        """Render the typed kernel to source. Pure: imports no framework, needs no device."""

    def build(self, kernel: Kernel, source: str, device: Device, target: str | None = None) -> bytes:
        """Compile ``source`` to bytes storable on disk (the source itself by default). ``target``
        selects an architecture for compile-only use (``"sm_90"``)."""
        return source.encode()

    @abc.abstractmethod
    def load(self, kernel: Kernel, artifact: bytes, device: Device) -> Launcher:
        """Turn what ``build`` returned (possibly read back from disk) into a Launcher."""

    # -- arrays ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def owns(self, obj: Any) -> bool:
        """True when ``obj`` is this backend's native array type (routes launches to it). Never raises."""

    def adopt(self, obj: Any, device: Device) -> Any:
        """Wrap a foreign array (``__dlpack__``, ``__cuda_array_interface__``) zero-copy, or return None."""
        return None

    @abc.abstractmethod
    def from_host(self, array: np.ndarray, device: Device) -> Any:
        """A native array holding a copy of (or, for host backends, a view of) ``array``."""

    def from_host_identity(self, array: np.ndarray, device: Device) -> Any:
        """``from_host`` of a backend whose native arrays are NumPy's (``from_host = from_host_identity``):
        the array itself. The launch fast path sees this method and skips the call."""
        return array

    @abc.abstractmethod
    def to_host(self, native: Any) -> np.ndarray:
        """A NumPy array with the contents of ``native``."""

    def native_shape(self, native: Any) -> tuple[tuple[int, ...], np.dtype, bool]:
        """(shape, dtype, C-contiguous) of a native array."""
        return (tuple(native.shape), np.dtype(native.dtype), True)
