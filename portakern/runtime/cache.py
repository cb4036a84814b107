"""Compiled-kernel caches: a dict on each Kernel (the launch fast path) and a disk cache of build bytes.

The disk cache is trusted the way ``__pycache__`` is, and checked more (docs/safety.md, "The disk
cache: threat model"):

- The folder (``config.cache_dir()``) and its sub-folders are created 0700. A folder that is not a
  folder, not owned by the current user, or group/world-writable is refused with one
  :class:`CacheWarning` and nothing is read from or written to it (kernels still compile in memory).
- Entries live under ``<folder>/<backend>/<sha256>.bin``; the name hashes the rendered source, the
  specialisation key, portakern's, the framework's and Python's versions. Each file is
  ``MAGIC | key digest | sha256(source) | length | HMAC | payload``; the HMAC (SHA-256) is keyed by a
  per-user secret kept in ``<folder>/secret`` (0600), and covers everything before it and the
  payload. An entry is returned only when it is a regular file owned by the user (opened with
  ``O_NOFOLLOW | O_NONBLOCK``, so a symlink or FIFO never blocks or redirects a read), names the
  key that was asked for, the source it was built from, and carries a valid HMAC; anything else is
  counted in ``disk_rejected`` and rebuilt. Callers unpickle or execute a payload only after this.
- Every file is written by :func:`atomic_write` (a private temporary file in the same folder,
  published with ``os.replace``): two processes compiling the same kernel at once both end up
  with a valid entry, and nobody reads half of one.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config

__all__ = ["CacheStats", "CacheWarning", "stats", "reset_stats", "disk_key", "disk_load", "disk_store",
           "entry_path", "cache_root", "atomic_write"]

MAGIC = b"PKC2"
_HEADER = struct.Struct("<4s32s32sQ32s")     # magic, key digest, sha256(source), payload length, HMAC
_SECRET_BYTES = 32
_MAX_ENTRY = 1 << 31                        # a bigger "entry" is not one of ours: never read it whole


class CacheWarning(UserWarning):
    """The disk cache folder is refused (not yours, or writable by others); kernels compile in memory."""


@dataclass
class CacheStats:
    """Counters proving what the caches did: memory hits, disk hits, builds, and disk writes."""

    memory_hits: int = 0
    disk_hits: int = 0
    builds: int = 0
    disk_writes: int = 0
    disk_rejected: int = 0          # entries found corrupted, truncated, foreign or not regular files (rebuilt)
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


def bump(local: CacheStats | None, name: str) -> None:
    """Count an event on a kernel's counters (when given) and on the process-wide ones."""
    if local is not None:
        local.bump(name)
    _GLOBAL.bump(name)


def disk_key(source: str, key: Any, backend_name: str, backend_version: str, target: str | None) -> str:
    """The hex digest naming a disk entry. ``key`` must have a repr that is stable across processes."""
    from .. import __version__

    h = hashlib.sha256()
    for part in (source, repr(key), backend_name, backend_version, __version__, repr(target),
                 sys.implementation.cache_tag or ""):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


# ------------------------------------------------------------------------------- the folder
_warned: set[tuple[str, str]] = set()
_secrets: dict[str, bytes] = {}
_state_lock = threading.Lock()


def _current_uid() -> int | None:
    """The user entries must belong to (None where the OS has no uids). A seam for tests."""
    return os.getuid() if hasattr(os, "getuid") else None


def _untrusted(st: os.stat_result) -> str | None:
    """Why a cache folder with this ``stat`` may not be trusted (None when it may)."""
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    uid = _current_uid()
    if uid is not None and st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not by the current user (uid {uid})"
    if uid is not None and st.st_mode & 0o022:
        return f"is writable by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def _warn_once(path: Path, problem: str) -> None:
    with _state_lock:
        if (str(path), problem) in _warned:
            return
        _warned.add((str(path), problem))
    warnings.warn(f"portakern: the disk cache folder {path} {problem}, so it is not used and kernels compile "
                  f"in memory. Fix: 'chmod 700 {path}' if it is yours, or set PORTAKERN_CACHE_DIR to a folder "
                  "only you can write", CacheWarning, stacklevel=3)


def _private_folder(path: Path, follow: bool) -> Path | None:
    """``path`` created 0700 if missing; None (after one warning) if it may not be trusted. ``follow``:
    the root may be a symbolic link the user made; a sub-folder may not."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None                  # read-only, a file in the way: only the disk cache is lost
    problem = _untrusted(st)
    if problem is not None:
        _warn_once(path, problem)
        return None
    return path


def cache_root() -> Path | None:
    """The disk cache folder, or None when the disk cache is off, cannot be created, or is refused."""
    if not config.disk_cache_enabled():
        return None
    return _private_folder(config.cache_dir(), follow=True)


def _folder(backend_name: str) -> Path | None:
    root = cache_root()
    if root is None:
        return None
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in backend_name) or "_"
    return _private_folder(root / safe, follow=False)


def entry_path(backend_name: str, digest: str) -> Path:
    """Where the entry ``digest`` of ``backend_name`` lives (whether or not the folder may be used)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in backend_name) or "_"
    return config.cache_dir() / safe / f"{digest}.bin"


# --------------------------------------------------------------------------- reading, writing
def read_private(path: Path, limit: int = _MAX_ENTRY, private: bool = False) -> bytes | None:
    """The bytes of ``path``: None when it does not exist, b"" when it is not a regular file owned by
    the user (a symlink, FIFO, device, another user's file, or readable by others when ``private``).
    Opened without following links and without blocking, so no such file can hang or redirect a read."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None
    except OSError:                  # ELOOP (a symlink), EACCES, ENXIO (a socket)...
        return b""
    try:
        st = os.fstat(fd)
        uid = _current_uid()
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit or (uid is not None and st.st_uid != uid) \
                or (private and uid is not None and st.st_mode & 0o077):
            return b""
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return b""
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, exclusive: bool = False) -> bool:
    """Write ``data`` to ``path`` (mode 0600) so that readers see the old file or the whole new one; True
    on success. ``exclusive``: only create, never replace (False if ``path`` exists). Never raises OSError."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:16]}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if exclusive:
            os.link(tmp, path)       # fails when path exists: the first writer wins
        else:
            os.replace(tmp, path)
            tmp = None
        return True
    except OSError:
        return False
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _secret(root: Path) -> bytes | None:
    """The per-user key entries are signed with (made on first use); None if it cannot be kept."""
    path = root / "secret"
    with _state_lock:
        cached = _secrets.get(str(root))
    if cached is not None:
        return cached
    for _ in range(3):
        data = read_private(path, limit=_SECRET_BYTES, private=True)
        if data is not None and len(data) == _SECRET_BYTES:
            with _state_lock:
                _secrets[str(root)] = data
            return data
        if data is None:                            # absent: create it, unless another process wins
            atomic_write(path, os.urandom(_SECRET_BYTES), exclusive=True)
        else:                                       # unusable: replace it (old entries then rebuild)
            atomic_write(path, os.urandom(_SECRET_BYTES))
    return None


def _mac(secret: bytes, header: bytes, payload: bytes) -> bytes:
    h = hmac.new(secret, header, hashlib.sha256)
    h.update(payload)
    return h.digest()


def _digest_bytes(digest: str) -> bytes:
    return hashlib.sha256(digest.encode()).digest()   # any digest string, fixed width in the header


def disk_load(backend_name: str, digest: str, counters: CacheStats | None = None, source: str = "") -> bytes | None:
    """The payload stored under ``digest`` for ``source``, or None when absent, disabled or refused.
    A corrupted, truncated, foreign or swapped entry is counted in ``disk_rejected`` and ignored."""
    folder = _folder(backend_name)
    if folder is None:
        return None
    blob = read_private(folder / f"{digest}.bin")
    if blob is None:
        return None
    secret = _secret(folder.parent)
    if secret is None:                  # no secret can be kept here: nothing can be verified
        return None
    payload = _unpack(blob, digest, source, secret)
    if payload is None:
        bump(counters, "disk_rejected")
    return payload


def _unpack(blob: bytes, digest: str, source: str, secret: bytes) -> bytes | None:
    if len(blob) < _HEADER.size:
        return None
    magic, key, src, length, mac = _HEADER.unpack_from(blob)
    payload = blob[_HEADER.size:]
    if magic != MAGIC or length != len(payload) or key != _digest_bytes(digest) \
            or src != hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest():
        return None
    if not hmac.compare_digest(mac, _mac(secret, blob[:_HEADER.size - 32], payload)):
        return None
    return payload


def disk_store(backend_name: str, digest: str, payload: bytes, counters: CacheStats | None = None,
               source: str = "") -> bool:
    """Store ``payload`` for ``source`` atomically; True on success. A read-only, full or refused
    folder only costs the cache."""
    folder = _folder(backend_name)
    if folder is None:
        return False
    secret = _secret(folder.parent)
    if secret is None:
        return False
    head = _HEADER.pack(MAGIC, _digest_bytes(digest), hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest(),
                        len(payload), b"\0" * 32)[:-32]
    if not atomic_write(folder / f"{digest}.bin", head + _mac(secret, head, payload) + payload):
        return False
    bump(counters, "disk_writes")
    return True
