"""The machine's memory bandwidth, measured by the tool itself: a STREAM triad ``a = b + s*c``.

The arrays are far larger than any cache (this VM's 32 MiB L3 keeps smaller arrays resident and
would report cache bandwidth): three float64 arrays of ``MIB`` MiB each, 768 MiB in all (24x the
L3). The triad runs on every core (Numba ``prange``; NumPy in place when Numba is missing,
counting its extra passes), and the best of the repetitions is reported, as STREAM does. Bytes are counted as STREAM counts them
(24 per element: two reads, one write; the write-allocate read is not counted).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

MIB = 256   # per array: the triad streams 3 x 256 MiB = 768 MiB (at least 512 MiB, as the issue asks)


@dataclass(frozen=True)
class Bandwidth:
    """Result of the probe: best and median GB/s (1e9 bytes/s) and how it was measured."""

    best_gbs: float
    median_gbs: float
    array_mib: int
    repeats: int
    method: str


try:   # numba is optional here: without it the probe falls back to NumPy
    from numba import njit, prange
except ImportError:  # pragma: no cover - numba is installed with portakern[numba]
    njit = None


if njit is not None:
    @njit(parallel=True, cache=__name__.startswith("portakern_benchmarks."))   # see baselines/numba_.py
    def _triad(a, b, c, s):  # noqa: ANN001 - a numba kernel
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]


def _numba_triad():  # noqa: ANN202 - returns a numba dispatcher
    if njit is None:
        raise ImportError("numba is not installed")
    return _triad


def measure(repeats: int = 5, mib: int = MIB) -> Bandwidth:
    """Run the triad ``repeats`` times over three arrays of ``mib`` MiB each (never below ``MIB``)."""
    n = max(mib, MIB) * (1 << 20) // 8
    b = np.full(n, 1.0)
    c = np.full(n, 2.0)
    a = np.empty(n)         # first touch happens in the warm-up run below
    try:
        triad = _numba_triad()
        method = "numba prange triad"
        passes = 3.0

        def run() -> None:
            triad(a, b, c, 3.0)
    except ImportError:  # pragma: no cover - numba is installed with portakern[numba]
        method = "numpy in-place triad (5 passes)"
        passes = 5.0

        def run() -> None:
            np.multiply(c, 3.0, out=a)
            np.add(a, b, out=a)
    run()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    if a[n // 2] != 7.0:  # the probe checks its own answer before reporting it
        raise RuntimeError("bandwidth probe computed a wrong triad")
    bytes_moved = passes * 8.0 * n
    times.sort()
    return Bandwidth(bytes_moved / times[0] / 1e9, bytes_moved / times[len(times) // 2] / 1e9,
                     max(mib, MIB), len(times), method)


def measure_on(framework: object, triad_builder: object, repeats: int = 5, mib: int = MIB) -> Bandwidth:
    """The same triad on a framework's own device (a GPU's memory for cuda and numba-cuda), run by
    that framework's hand-written triad baseline and synchronised after every run."""
    n = max(mib, MIB) * (1 << 20) // 8
    fw: Any = framework
    d = {"a": fw.to_dev(np.zeros(n)), "b": fw.to_dev(np.full(n, 1.0)), "c": fw.to_dev(np.full(n, 2.0)),
         "s": np.float64(3.0)}
    run = triad_builder(d, n, fw)  # type: ignore[operator]
    fw.sync(list(run().values()))
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        fw.sync(list(run().values()))
        times.append(time.perf_counter() - t0)
    out = fw.to_host(run()["a"])
    fw.sync([])
    if out[n // 2] != 7.0:
        raise RuntimeError("device bandwidth probe computed a wrong triad")
    times.sort()
    bytes_moved = 24.0 * n
    return Bandwidth(bytes_moved / times[0] / 1e9, bytes_moved / times[len(times) // 2] / 1e9,
                     max(mib, MIB), len(times), f"{fw.name} hand-written triad on the device")
