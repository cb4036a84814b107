"""A warm start for the ``jax`` backend's own compiled launches: XLA executables serialized under
``config.cache_dir()/jax``.

JAX's persistent compilation cache is NOT used: it is process-global (``jax_compilation_cache_dir``
is read once, the first time any computation is compiled, and then holds for every later
computation), so turning it on for portakern's launches would also cache, or stop caching, the
user's own computations, i.e. change their JAX configuration. Instead the launcher lowers its
jitted function ahead of time, keys the executable by the lowered module's text, jax/jaxlib
versions and the device, and stores ``jax.experimental.serialize_executable``'s bytes.

A launcher passes ``basis`` as well: text that decides the lowering by itself (the generated source,
the kernel's IR, the grid, the argument types, jax's configuration and a digest of the code that
traces it, see :func:`launch_basis`). Entries are then keyed and bound by it, so that a warm process
finds its executable without tracing and lowering the kernel again (the lowering was most of a warm
first launch). Kernels that
cannot be serialized (debug host callbacks, captured constants) simply compile as before. A user's
own ``jax.jit`` around a launch compiles inline with the user's settings; nothing is stored then.
Entries go through ``portakern.runtime.cache`` (folder ``jax-xla``): each is bound to its key and to
the lowered module's text and HMAC-signed, and is unpickled only after it verified (docs/safety.md).
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jaxlib
from jax.experimental import serialize_executable

from portakern.runtime import cache

__all__ = ["compile_cached", "launch_basis", "signature"]


def signature(args: Sequence[Any]) -> tuple:
    """The argument types an ahead-of-time executable is specialised to."""
    sig: list[tuple] = []
    for a in args:      # per launch: dtype objects, not their names (str(dtype) costs ~3 us each)
        dt = getattr(a, "dtype", None)
        if dt is not None and hasattr(a, "shape"):
            sig.append((a.shape, dt, isinstance(a, jax.Array), getattr(a, "weak_type", False) is True))
        else:
            sig.append((type(a),))
    return tuple(sig)


FOLDER = "jax-xla"


def _key(text: str, opts: Any, dev: Any) -> str:
    target = (dev.platform, str(getattr(dev, "device_kind", "")), str(dev.client.platform_version), repr(opts),
              dev.id)
    return cache.disk_key(text, target, FOLDER, f"{jax.__version__}/{jaxlib.__version__}", None)


def _code_digest() -> str:
    """A digest of the code that turns a generated kernel into a jax computation (this package, the
    shared code generators and the IR): an entry keyed by ``basis`` is never reused by other code."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        h = hashlib.sha256()
        here = Path(__file__).resolve().parent
        core = Path(cache.__file__).resolve().parents[1]
        for folder in (here, core / "codegen", core / "ir"):
            for f in sorted(folder.glob("*.py")):
                h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
        _CODE_DIGEST = h.hexdigest()
    return _CODE_DIGEST


_CODE_DIGEST: str | None = None


def launch_basis(source: str, kernel: Any, grid: Any, sig: tuple) -> str:
    """The text that decides a launch's lowering, for :func:`compile_cached`'s ``basis``."""
    config = repr(sorted(jax.config.values.items()))
    return "\n".join((source, repr(kernel), repr(grid), repr(sig), config, _code_digest()))


def _load(key: str, bound: str, device: Any) -> Any:
    payload = cache.disk_load(FOLDER, key, None, bound)
    if payload is None:
        return None
    try:            # verified: written by this user's portakern for this very module text / basis
        # execution_devices: the executable runs on ``device``, not on every local device
        return serialize_executable.deserialize_and_load(*pickle.loads(payload), backend=device.client,
                                                         execution_devices=[device])
    except Exception:  # noqa: BLE001 - an entry of another jaxlib build: compile
        return None


def compile_cached(jitted: Any, args: Sequence[Any], opts: Any, device: Any = None, basis: str | None = None) -> Any:
    """An executable of ``jitted`` for ``args`` on ``device`` (jax's default device when None): loaded
    from the disk cache when an identical module was compiled for that device before (any process),
    else compiled and stored. With ``basis`` (:func:`launch_basis`) the entry is keyed and bound by it
    and found without lowering; without, by the lowered module's text. Any failure of the cache falls
    back to an ordinary compile."""
    device = device if device is not None else jax.devices()[0]
    if cache.cache_root() is None:             # off, unwritable or refused: no disk work at all
        return jitted.lower(list(args)).compile()
    if basis is not None:
        key = _key(basis, opts, device)
        exe = _load(key, basis, device)
        if exe is not None:
            return exe
    lowered = jitted.lower(list(args))
    if basis is None:
        basis = lowered.as_text()
        key = _key(basis, opts, device)
        exe = _load(key, basis, device)
        if exe is not None:
            return exe
    compiled = lowered.compile()
    try:
        blob = pickle.dumps(serialize_executable.serialize(compiled))
    except Exception:  # noqa: BLE001 - not serializable (host callbacks, constants)
        return compiled
    cache.disk_store(FOLDER, key, blob, None, basis)
    return compiled
