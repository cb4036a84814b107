"""The bounds-check error record every compiled backend shares, and restore-on-failure for ``debug``.

With bounds checks on (``ir.Kernel.checks_bounds``) the generated code receives one int64 record of
``ERR_WORDS`` words, zeroed when a launch starts (a launcher may keep one zeroed record and reset it
only after a failure), and the FIRST failing access writes into it
(``pk_check<n>`` of portakern/codegen/cprelude.py, ``pk_check`` of portakern/codegen/pyprelude.py):

- word 0: the flag, non-zero after a failure (the C code sets its low 32 bits by compare-and-swap so
  exactly one work-item writes the rest; the Python code tests it first, which is racy between
  threads only in the rare case of two failures at once: then the record is one of them);
- word 1: the site number (``portakern.ir.visit.access_sites``), which names the array and line;
- words 2 .. 2+nd: the indices; words 2+nd .. 2+2nd: the array's extents (nd = the site's ndim).

The failing access itself is skipped (a load reads 0, a store or atomic does nothing), so no memory
outside the arrays is ever touched. The launcher reads the record back after the launch and calls
:func:`raise_recorded`; with ``debug`` it first restores the arrays the kernel writes (``snapshot``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..errors import LaunchError
from ..ir import nodes as ir
from ..ir.visit import access_sites, index_error

#: int64 words of the record: flag, site, then up to 8 indices and 8 extents.
ERR_WORDS = 18


def new_record() -> np.ndarray:
    """A zeroed host record (the "no failure" state)."""
    return np.zeros(ERR_WORDS, np.int64)


def snapshot(kernel: ir.Kernel, args: Sequence[Any], copy: Callable[[Any], Any]) -> list[tuple[Any, Any]]:
    """With ``kernel.debug``: ``(array, copy(array))`` for every array argument the kernel writes, so a
    failed launch can put them back; nothing (no cost) otherwise."""
    if not kernel.debug:
        return []
    names = [p.name for p in kernel.params]
    return [(args[names.index(w)], copy(args[names.index(w)])) for w in kernel.written]


def raise_recorded(kernel: ir.Kernel, record: Any, saved: Sequence[tuple[Any, Any]] = (),
                   put: Callable[[Any, Any], None] | None = None) -> None:
    """Return when ``record`` (host int64 words) holds no failure; otherwise restore ``saved`` with
    ``put(array, copy)`` and raise the :class:`portakern.KernelIndexError` naming kernel, array, index,
    shape and source line."""
    if int(record[0]) == 0:
        return
    for arr, copy in saved:
        put(arr, copy)  # type: ignore[misc]
    number = int(record[1])
    site = next((s for s in access_sites(kernel).values() if s.number == number), None)
    if site is None:
        raise LaunchError(f"kernel '{kernel.name}': an access failed its bounds check, but the error record "
                          f"names site {number}, which the kernel does not have (a backend bug)")
    nd = site.ndim
    raise index_error(kernel, number, tuple(record[2:2 + nd]), tuple(record[2 + nd:2 + 2 * nd]))
