"""The compile caches: memory hits on the fast path, disk hits in a new process, recompiling when the
source, a global or the signature changes, and surviving corrupted entries and concurrent writers;
and trust: private folders, folders others can write refused, swapped, forged, FIFO and symlinked
entries never loaded (docs/safety.md)."""
from __future__ import annotations

import hashlib
import os
import stat
import struct
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import cache
from portakern.runtime.testing import make_fake_backend

ROOT = Path(__file__).resolve().parents[2]
SCALE = 2


@pk.kernel
def scaled(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] * SCALE


@pytest.fixture
def fresh(fake_backend, tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    fake_backend.impls["scaled"] = lambda g, x, out: out.__setitem__(slice(None), x * SCALE)
    scaled.clear_cache()
    before = scaled.cache_info()
    yield fake_backend, tmp_path, before


def _delta(before, after):
    return {k: after[k] - before[k] for k in before if k != "entries"}


def _entries(tmp_path):
    return sorted(p for p in tmp_path.rglob("*.bin"))


def test_second_launch_is_a_memory_hit(fresh):
    _, _, before = fresh
    x, out = np.arange(4.0), np.zeros(4)
    scaled.on("fake")[4](x, out)
    scaled.on("fake")[4](x, out)
    d = _delta(before, scaled.cache_info())
    assert d["builds"] == 1 and d["memory_hits"] == 1


def test_a_new_signature_compiles_again(fresh):
    _, _, before = fresh
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    scaled.on("fake")[4](np.arange(4, dtype=np.float32), np.zeros(4, np.float32))
    scaled.on("fake")[4](np.arange(4, dtype=np.int32), np.zeros(4, np.int32))
    assert _delta(before, scaled.cache_info())["builds"] == 3
    assert scaled.cache_info()["entries"] == 3


def test_changing_a_global_the_kernel_reads_recompiles(fresh):
    global SCALE
    _, _, before = fresh
    x, out = np.arange(4.0), np.zeros(4)
    scaled.on("fake")[4](x, out)
    SCALE = 3
    try:
        scaled.on("fake")[4](x, out)
    finally:
        SCALE = 2
    assert _delta(before, scaled.cache_info())["builds"] == 2


def test_a_memory_miss_loads_the_build_from_disk(fresh):
    fake, tmp_path, before = fresh
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    assert len(_entries(tmp_path)) == 1
    scaled.clear_cache()
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    d = _delta(before, scaled.cache_info())
    assert d["builds"] == 1 and d["disk_hits"] == 1
    assert [c[0] for c in fake.calls].count("build") == 1


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_a_corrupted_disk_entry_is_detected_and_rebuilt(fresh, damage):
    _, tmp_path, before = fresh
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    (entry,) = _entries(tmp_path)
    blob = entry.read_bytes()
    damaged = {"truncate": blob[:-5], "flip": blob[:-1] + bytes([blob[-1] ^ 1]), "empty": b"",
               "garbage": b"x" * len(blob)}[damage]
    entry.write_bytes(damaged)
    scaled.clear_cache()
    out = np.zeros(4)
    scaled.on("fake")[4](np.arange(4.0), out)
    d = _delta(before, scaled.cache_info())
    assert d["disk_rejected"] == 1 and d["builds"] == 2 and d["disk_hits"] == 0
    assert entry.read_bytes() == blob            # the rebuilt entry replaced the damaged one
    np.testing.assert_array_equal(out, 2 * np.arange(4.0))


def test_disk_cache_can_be_turned_off(fresh, monkeypatch):
    _, tmp_path, _ = fresh
    monkeypatch.setenv("PORTAKERN_DISK_CACHE", "0")
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    assert _entries(tmp_path) == []


def test_an_unwritable_cache_directory_only_costs_the_cache(fresh, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(blocker / "sub"))
    out = np.zeros(4)
    scaled.on("fake")[4](np.arange(4.0), out)
    np.testing.assert_array_equal(out, 2 * np.arange(4.0))


def test_disk_entries_round_trip_and_reject_foreign_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    digest = cache.disk_key("src", ("key",), "b", "1", None)
    assert cache.disk_load("b", digest) is None
    assert cache.disk_store("b", digest, b"payload")
    assert cache.disk_load("b", digest) == b"payload"
    assert digest != cache.disk_key("src2", ("key",), "b", "1", None)
    assert digest != cache.disk_key("src", ("key",), "b", "2", None)
    assert digest != cache.disk_key("src", ("key",), "b", "1", "sm_90")


# ------------------------------------------------------------------------- across processes
SCRIPT = """
import sys
import numpy as np
import portakern as pk
from portakern.runtime import registry
from portakern.runtime.testing import make_fake_backend

cls = make_fake_backend("fake-p")
cls.impls["{name}"] = lambda g, x, out: out.__setitem__(slice(None), x * {factor})
registry.register_backend("fake-p", cls)

@pk.kernel
def {name}(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] * {factor}

out = np.zeros(4)
{name}.on("fake-p")[4](np.arange(4.0), out)
assert (out == np.arange(4.0) * {factor}).all()
info = {name}.cache_info()
print(info["builds"], info["disk_hits"])
"""


def _run(tmp_path: Path, cache_dir: Path, name: str = "kern", factor: int = 2) -> subprocess.Popen:
    script = tmp_path / f"{name}_{factor}.py"
    script.write_text(textwrap.dedent(SCRIPT.format(name=name, factor=factor)))
    env = dict(os.environ, PORTAKERN_CACHE_DIR=str(cache_dir),
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen) -> tuple[int, int]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    builds, disk_hits = out.split()
    return int(builds), int(disk_hits)


def test_a_second_process_loads_the_kernel_from_disk(tmp_path):
    cache_dir = tmp_path / "cache"
    assert _result(_run(tmp_path, cache_dir)) == (1, 0)
    assert _result(_run(tmp_path, cache_dir)) == (0, 1)


def test_a_changed_kernel_source_recompiles_in_a_new_process(tmp_path):
    cache_dir = tmp_path / "cache"
    assert _result(_run(tmp_path, cache_dir, factor=2)) == (1, 0)
    assert _result(_run(tmp_path, cache_dir, factor=3)) == (1, 0)
    assert _result(_run(tmp_path, cache_dir, factor=2)) == (0, 1)


def test_two_processes_compiling_at_once_leave_one_valid_entry(tmp_path):
    cache_dir = tmp_path / "cache"
    procs = [_run(tmp_path, cache_dir), _run(tmp_path, cache_dir)]
    results = [_result(p) for p in procs]
    assert all(r in ((1, 0), (0, 1)) for r in results)
    entries = list(cache_dir.rglob("*.bin"))
    assert len(entries) == 1 and not list(cache_dir.rglob("*.tmp"))
    assert _result(_run(tmp_path, cache_dir)) == (0, 1)


def test_fake_backend_factory_names_the_backend():
    assert make_fake_backend("xyz").name == "xyz"


# ------------------------------------------------------------------ trust: who may write the cache
def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _launch_twice(out: np.ndarray) -> None:
    scaled.on("fake")[4](np.arange(4.0), out)
    scaled.clear_cache()
    scaled.on("fake")[4](np.arange(4.0), out)


def test_cache_folders_secret_and_entries_are_private_to_the_user(fresh, monkeypatch):
    _, tmp_path, _ = fresh
    root = tmp_path / "new" / "cache"
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(root))
    old = os.umask(0o002)                          # a umask that makes group-writable folders
    try:
        scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    finally:
        os.umask(old)
    (entry,) = _entries(root)
    assert _mode(root) == 0o700 and _mode(entry.parent) == 0o700
    assert _mode(entry) == 0o600 and _mode(root / "secret") == 0o600


@pytest.mark.parametrize("how", ["world-writable", "group-writable", "another-owner"])
def test_a_cache_folder_others_can_write_is_refused_with_one_warning(fresh, monkeypatch, how):
    _, tmp_path, before = fresh
    root = tmp_path / "shared"
    root.mkdir()
    if how == "another-owner":                     # the uid check's seam: as if root belonged to someone else
        monkeypatch.setattr(cache, "_current_uid", lambda: os.getuid() + 1)
        root.chmod(0o700)
    else:
        root.chmod(0o777 if how == "world-writable" else 0o770)
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(root))
    out = np.zeros(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _launch_twice(out)
    refusals = [w for w in caught if issubclass(w.category, cache.CacheWarning)]
    assert len(refusals) == 1 and str(root) in str(refusals[0].message)
    assert list(root.iterdir()) == []              # nothing read from or written to it
    d = _delta(before, scaled.cache_info())
    assert d["builds"] == 2 and d["disk_hits"] == 0
    np.testing.assert_array_equal(out, 2 * np.arange(4.0))


def _forge(blob: bytes, payload: bytes) -> bytes:
    """What someone without the user's secret can write: the payload and every checksum field
    computable from it (the sha256 of the old format; the length of the signed one)."""
    if blob[:4] == b"PKC1":
        return struct.pack("<4sQ32s", b"PKC1", len(payload), hashlib.sha256(payload).digest()) + payload
    head = bytearray(blob[:cache._HEADER.size])
    struct.pack_into("<Q", head, 4 + 32 + 32, len(payload))
    return bytes(head) + payload


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """The digest of an entry b"payload" stored for source "src" of backend "b" in a fresh cache."""
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    digest = cache.disk_key("src", ("key",), "b", "1", None)
    assert cache.disk_store("b", digest, b"payload", source="src")
    assert cache.disk_load("b", digest, source="src") == b"payload"
    return digest


def test_a_tampered_entry_with_recomputed_checksums_is_refused(stored):
    entry = cache.entry_path("b", stored)
    entry.write_bytes(_forge(entry.read_bytes(), b"print('written by someone else')"))
    assert cache.disk_load("b", stored, source="src") is None


def test_an_entry_copied_over_another_key_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    a = cache.disk_key("source a", ("key",), "b", "1", None)
    b = cache.disk_key("source b", ("key",), "b", "1", None)
    assert cache.disk_store("b", a, b"payload a", source="source a")
    assert cache.disk_store("b", b, b"payload b", source="source b")
    cache.entry_path("b", a).write_bytes(cache.entry_path("b", b).read_bytes())
    assert cache.disk_load("b", a, source="source a") is None
    assert cache.disk_load("b", b, source="source b") == b"payload b"


def test_an_entry_of_the_right_key_but_another_source_is_refused(stored):
    assert cache.disk_load("b", stored, source="other src") is None


def test_an_entry_signed_with_another_users_secret_is_refused(stored, tmp_path, monkeypatch):
    (tmp_path / "secret").write_bytes(os.urandom(32))      # the folder copied from someone else, say
    monkeypatch.setattr(cache, "_secrets", {})             # as a new process would read it
    assert cache.disk_load("b", stored, source="src") is None


def test_a_fifo_in_place_of_an_entry_does_not_block_and_is_rebuilt(fresh):
    _, tmp_path, before = fresh
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    (entry,) = _entries(tmp_path)
    entry.unlink()
    os.mkfifo(entry)
    out = np.zeros(4)
    worker = threading.Thread(target=lambda: (scaled.clear_cache(), scaled.on("fake")[4](np.arange(4.0), out)),
                              daemon=True)
    worker.start()
    worker.join(timeout=30)
    if worker.is_alive():                               # blocked in open(): unblock it, then fail
        os.close(os.open(entry, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=30)
        pytest.fail("a launch blocked on a FIFO in the cache folder")
    d = _delta(before, scaled.cache_info())
    assert d["disk_rejected"] == 1 and d["builds"] == 2
    assert stat.S_ISREG(os.lstat(entry).st_mode)        # replaced by a rebuilt entry
    np.testing.assert_array_equal(out, 2 * np.arange(4.0))


def test_a_symlink_out_of_the_cache_folder_is_not_followed(fresh):
    _, tmp_path, before = fresh
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    (entry,) = _entries(tmp_path)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.bin"
    outside.write_bytes(entry.read_bytes())              # even a copy of the valid entry
    entry.unlink()
    entry.symlink_to(outside)
    scaled.clear_cache()
    scaled.on("fake")[4](np.arange(4.0), np.zeros(4))
    d = _delta(before, scaled.cache_info())
    assert d["disk_rejected"] == 1 and d["disk_hits"] == 0 and d["builds"] == 2
    assert not entry.is_symlink()


def test_a_secret_others_can_read_is_replaced_and_its_entries_refused(stored, tmp_path, monkeypatch):
    (tmp_path / "secret").chmod(0o644)
    monkeypatch.setattr(cache, "_secrets", {})
    assert cache.disk_load("b", stored, source="src") is None
    assert _mode(tmp_path / "secret") == 0o600
