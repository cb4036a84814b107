"""The disk cache on real backends: an entry is never another kernel's, a damaged numba cache never
breaks a kernel, numba needs no writable folder, cold first launches from threads and processes
all succeed, and generated source is the same in every process (docs/safety.md)."""
from __future__ import annotations

import importlib.util
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from portakern.runtime import cache, registry

ROOT = Path(__file__).resolve().parents[2]
KERNEL = """
import portakern as pk


@pk.kernel
def scale(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] * {factor}
"""


def _kernel(folder: Path, tag: str, factor: float):
    """A fresh kernel named ``scale`` (read from its own file, as a user's module would be)."""
    path = folder / f"{tag}.py"
    path.write_text(KERNEL.format(factor=factor))
    spec = importlib.util.spec_from_file_location(f"pk_cache_trust_{tag}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scale


def _available(backend: str) -> bool:
    try:
        return bool(registry.get_backend(backend).is_available())
    except Exception:  # noqa: BLE001 - not registered
        return False


def _need(backend: str) -> None:
    if not _available(backend):
        pytest.skip(f"backend {backend!r} unavailable here")


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*.bin")}


@pytest.mark.parametrize("backend", ["numpy", "numba", "jax", "numba-cuda", "opencl"])
def test_another_kernels_entry_copied_over_this_ones_is_rebuilt(backend, tmp_path, monkeypatch):
    """Two kernels of the same name in different files (the OpenCL entry point has the kernel's name):
    B's entries copied over A's must not make A return B's results."""
    _need(backend)
    root = tmp_path / "cache"
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(root))
    tag = backend.replace("-", "_")
    a, b = _kernel(tmp_path, f"a_{tag}", 2.0), _kernel(tmp_path, f"b_{tag}", 3.0)
    x, out = np.arange(8.0), np.zeros(8)
    a.on(backend)[8](x, out)
    files_a = _files(root)
    b.on(backend)[8](x, out)
    files_b = _files(root) - files_a
    assert files_a and files_b
    for fa in files_a:                       # every entry of A replaced by one of B from the same folder
        same = [fb for fb in files_b if fb.parent == fa.parent]
        if same:
            shutil.copyfile(same[0], fa)
    a.clear_cache()
    rejected = cache.stats()["disk_rejected"]
    out[:] = 0
    a.on(backend)[8](x, out)
    np.testing.assert_array_equal(out, 2.0 * x)
    assert cache.stats()["disk_rejected"] > rejected


# ------------------------------------------------------------------------------- numba, processes
SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {folder!r})
import {module} as m

x = np.arange(16.0)
out = np.zeros(16)
m.scale.on("numba")[16](x, out)
assert (out == x * {factor}).all(), out
assert not [n for n in sys.modules if n.startswith("pk_numba_")], "a generated module left in sys.modules"
print("ok")
"""


def _script(tmp_path: Path, tag: str, factor: float) -> Path:
    (tmp_path / f"{tag}.py").write_text(KERNEL.format(factor=factor))
    script = tmp_path / f"run_{tag}.py"
    script.write_text(SCRIPT.format(folder=str(tmp_path), module=tag, factor=factor))
    return script


def _env(cache_dir: Path, **extra: str) -> dict[str, str]:
    return dict(os.environ, PORTAKERN_CACHE_DIR=str(cache_dir), **extra,
                PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends")]))


def _check(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0 and proc.stdout.split()[-1:] == ["ok"], proc.stderr[-3000:]


class _Planted:
    """A pickle that, if anything ever unpickles it, leaves a file behind."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def warm_numba_cache(tmp_path_factory):
    """A cache folder a first process filled for the kernel of ``_script(..., "warm_k", 5.0)``."""
    _need("numba")
    folder = tmp_path_factory.mktemp("warm")
    script = _script(folder, "warm_k", 5.0)
    _check(subprocess.run([sys.executable, str(script)], env=_env(folder / "cache"), capture_output=True,
                          text=True, timeout=300))
    return folder, script


@pytest.mark.parametrize("damage", [pytest.param("garbage", marks=pytest.mark.slow),
                                    pytest.param("truncated", marks=pytest.mark.slow), "not-utf8", "planted-pickle"])
def test_a_damaged_numba_cache_never_breaks_a_new_process(warm_numba_cache, tmp_path, damage):
    """Every file of the numba folders (generated module, Numba's index and object files, whatever
    their format) damaged between two processes: the second still runs, nothing is unpickled."""
    folder, script = warm_numba_cache
    cache_dir = tmp_path / "cache"
    shutil.copytree(folder / "cache", cache_dir, symlinks=True)
    marker = tmp_path / "unpickled"
    damaged = 0
    for path in cache_dir.rglob("*"):
        if not path.is_file() or not path.parent.name.startswith(("numba", "__pycache__")):
            continue
        blob = path.read_bytes()
        path.write_bytes({"garbage": os.urandom(len(blob)), "truncated": blob[: len(blob) // 2],
                          "not-utf8": b"\xff\xfe\x00 not utf-8 " * 8,
                          "planted-pickle": pickle.dumps(_Planted(marker))}[damage])
        damaged += 1
    assert damaged >= 2
    _check(subprocess.run([sys.executable, str(script)], env=_env(cache_dir), capture_output=True, text=True,
                          timeout=300))
    assert not marker.exists()


@pytest.mark.parametrize("where", ["file-instead-of-folder", "read-only", "disk-cache-off"])
def test_numba_runs_without_a_usable_cache_folder(where, tmp_path, monkeypatch):
    _need("numba")
    if where == "read-only":
        root = tmp_path / "ro"
        root.mkdir(mode=0o700)
        for name in ("numba", "numba-object", "secret"):  # a file in each path it would create: as
            (root / name).write_text("x")                 # read-only as a folder gets for root too
        root.chmod(0o500)
        monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(root))
    else:
        blocker = tmp_path / "file"
        blocker.write_text("not a folder")
        monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(blocker if where != "disk-cache-off" else blocker / "sub"))
        if where == "disk-cache-off":
            monkeypatch.setenv("PORTAKERN_DISK_CACHE", "0")
    factor = {"file-instead-of-folder": 11.0, "read-only": 13.0, "disk-cache-off": 17.0}[where]
    k = _kernel(tmp_path, f"nocache_{where.replace('-', '_')}", factor)   # a source no other test loads
    x, out = np.arange(8.0), np.zeros(8)
    try:
        k.on("numba")[8](x, out)
    finally:
        if where == "read-only":
            (tmp_path / "ro").chmod(0o700)
    np.testing.assert_array_equal(out, x * factor)
    if where == "disk-cache-off":
        assert not (tmp_path / "file").is_dir()


def test_cold_first_launches_from_eight_threads_on_numba_all_succeed(tmp_path, monkeypatch):
    _need("numba")
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path / "cache"))
    k = _kernel(tmp_path, "threads", 19.0)
    start = threading.Barrier(8)
    results: list = [None] * 8

    def launch(n: int) -> None:
        x, out = np.arange(64.0) + n, np.zeros(64)
        start.wait()
        try:
            k.on("numba")[64](x, out)
            results[n] = bool((out == x * 19.0).all())
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            results[n] = exc

    threads = [threading.Thread(target=launch, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert results == [True] * 8


LOOP = """
import sys
import numpy as np
import portakern as pk

@pk.kernel
def strided(x, out, step):
    i = pk.global_id(0)
    acc = 0.0
    for j in range(0, x.shape[0], step):
        acc += x[j]
    out[i] = acc

args = (np.arange(8.0), np.zeros(4), np.int64(2))
print(repr(strided.source("numba", *args) + strided.source("numba-cuda", *args)))
"""


def test_generated_numba_source_is_the_same_in_every_process(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(LOOP)
    texts = [subprocess.run([sys.executable, str(script)], env=_env(tmp_path / "c"), capture_output=True,
                            text=True, timeout=120) for _ in range(2)]
    assert all(t.returncode == 0 for t in texts), texts[0].stderr[-2000:]
    assert "_pk_step" in texts[0].stdout             # the loop really has a run-time step
    assert texts[0].stdout == texts[1].stdout


# ---------------------------------------------------------------- four processes, one cold cache
MANY = """
import numpy as np
import portakern as pk

@pk.kernel
def axpb(a, x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + 1.0

x = np.arange(32, dtype=np.float32)
for backend in {backends!r}:
    out = np.zeros(32, np.float32)
    axpb.on(backend)[32](np.float32(3), x, out)
    assert (out == 3 * x + 1).all(), (backend, out)
print("ok")
"""


def test_four_processes_launching_at_once_on_one_cold_cache_all_succeed(tmp_path):
    backends = [b for b in ("numba", "numpy", "opencl", "jax") if _available(b)]
    script = tmp_path / "many.py"
    script.write_text(textwrap.dedent(MANY.format(backends=backends)))
    cache_dir = tmp_path / "cache"
    began = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(script)], env=_env(cache_dir), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    wall = time.perf_counter() - began
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0 and out.split()[-1:] == ["ok"], err[-3000:]
    assert not list(cache_dir.rglob("*.tmp"))
    print(f"4 cold processes x {backends}: {wall:.1f} s")
