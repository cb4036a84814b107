"""The bounded in-memory cache of one kernel's loaded specialisations.

Each entry holds a backend's loaded program (machine code, an OpenCL program, jax executables), a few
MB each, so a kernel launched with ever new ``pk.constexpr`` values would otherwise grow without end.
The cache keeps at most ``config.memory_cache_size()`` entries and drops the least recently used one
when a new one arrives; the fast-path plans that point at a dropped entry are dropped with it, so
nothing the runtime holds keeps it alive.

Threads: lookups take no lock (each ``OrderedDict`` operation is atomic under the GIL; an entry
evicted between a lookup and its ``move_to_end`` is simply not refreshed). Inserting and evicting
happen under ``lock``, which ``launch.compile_entry`` also holds while it compiles, so eight threads
launching a new specialisation at once compile it once and the other seven reuse it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from . import config

__all__ = ["SpecialisationCache"]


class SpecialisationCache:
    """Least-recently-used map from specialisation key to ``launch.Compiled``, bounded by
    ``PORTAKERN_MEMORY_CACHE_SIZE`` (read when an entry is added)."""

    __slots__ = ("_entries", "lock", "evictions")

    def __init__(self) -> None:
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.RLock()      # re-entrant: a compile may look the cache up again
        self.evictions = 0

    def get(self, key: Any) -> Any:
        """The entry for ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is not None:
            try:
                self._entries.move_to_end(key)
            except KeyError:               # evicted by another thread meanwhile: still valid to use
                pass
        return entry

    def put(self, key: Any, entry: Any, plans: dict[Any, Any]) -> None:
        """Add ``entry``; evict the least recently used entries beyond the bound, and the fast-path
        ``plans`` that launch them."""
        bound = config.memory_cache_size()
        with self.lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            evicted = []
            while len(self._entries) > bound:
                evicted.append(self._entries.popitem(last=False)[1])
            self.evictions += len(evicted)
        if evicted:
            gone = {id(c) for c in evicted}
            for plan_key, plan in list(plans.items()):
                if id(plan.c) in gone:
                    plans.pop(plan_key, None)

    def clear(self) -> None:
        """Forget every entry."""
        with self.lock:
            self._entries.clear()

    def values(self) -> list[Any]:
        """The entries, least recently used first."""
        return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: Any) -> bool:
        return key in self._entries
