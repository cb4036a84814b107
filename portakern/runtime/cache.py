"""Compiled-kernel caches: a dict on each Kernel (the launch fast path) and a disk cache of build bytes.

Disk entries live under ``config.cache_dir()/<backend>/<sha256>.bin``; the name hashes the rendered
source, the specialisation key, portakern's version and the backend framework's version, so a changed
kernel, global, signature or toolchain never loads a stale binary. Each file is
``MAGIC | length (8 bytes LE) | sha256(payload) | payload``: a truncated or corrupted file is detected,
ignored and rebuilt. Writes go to a temporary file in the same directory and are published with
``os.replace`` (atomic), so two processes compiling the same kernel at once both end up with a
valid entry and never read a half-written one.
"""
from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config

__all__ = ["CacheStats", "stats", "reset_stats", "disk_key", "disk_load", "disk_store", "entry_path"]

MAGIC = b"PKC1"
_HEADER = struct.Struct("<4sQ32s")


@dataclass
class CacheStats:
    """Counters proving what the caches did: memory hits, disk hits, builds, and disk writes."""

    memory_hits: int = 0
    disk_hits: int = 0
    builds: int = 0
    disk_writes: int = 0
    disk_rejected: int = 0          # entries found corrupted or truncated (then rebuilt)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return {"memory_hits": self.memory_hits, "disk_hits": self.disk_hits, "builds": self.builds,
                "disk_writes": self.disk_writes, "disk_rejected": self.disk_rejected}

    def bump(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


_GLOBAL = CacheStats()


def stats() -> dict[str, int]:
    """Process-wide cache counters (every kernel together)."""
    return _GLOBAL.as_dict()


def reset_stats() -> None:
    """Zero the process-wide counters (tests and benchmarks)."""
    for name in _GLOBAL.as_dict():
        setattr(_GLOBAL, name, 0)


def bump(local: CacheStats, name: str) -> None:
    """Count an event on a kernel's counters and on the process-wide ones."""
    local.bump(name)
    _GLOBAL.bump(name)


def disk_key(source: str, key: Any, backend_name: str, backend_version: str, target: str | None) -> str:
    """The hex digest naming a disk entry. ``key`` must have a repr that is stable across processes."""
    from .. import __version__

    h = hashlib.sha256()
    for part in (source, repr(key), backend_name, backend_version, __version__, repr(target)):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


def entry_path(backend_name: str, digest: str) -> Path:
    """Where the entry ``digest`` of ``backend_name`` lives."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in backend_name) or "_"
    return config.cache_dir() / safe / f"{digest}.bin"


def disk_load(backend_name: str, digest: str, counters: CacheStats | None = None) -> bytes | None:
    """The payload stored under ``digest``, or None when absent, disabled, truncated or corrupted."""
    if not config.disk_cache_enabled():
        return None
    path = entry_path(backend_name, digest)
    try:
        blob = path.read_bytes()
    except OSError:
        return None
    payload = _unpack(blob)
    if payload is None and counters is not None:
        bump(counters, "disk_rejected")
    return payload


def _unpack(blob: bytes) -> bytes | None:
    if len(blob) < _HEADER.size:
        return None
    magic, length, checksum = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size:]
    if magic != MAGIC or length != len(payload) or hashlib.sha256(payload).digest() != checksum:
        return None
    return payload


def disk_store(backend_name: str, digest: str, payload: bytes, counters: CacheStats | None = None) -> bool:
    """Store ``payload`` atomically; True on success. A read-only or full disk only costs the cache."""
    if not config.disk_cache_enabled():
        return False
    path = entry_path(backend_name, digest)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = _HEADER.pack(MAGIC, len(payload), hashlib.sha256(payload).digest())
        fd, tmp = tempfile.mkstemp(prefix=f".{digest[:16]}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(payload)
        os.replace(tmp, path)
        tmp = None
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    if counters is not None:
        bump(counters, "disk_writes")
    return True
