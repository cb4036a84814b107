"""The compile caches: memory hits on the fast path, disk hits in a new process, recompiling when the
source, a global or the signature changes, and surviving corrupted entries and concurrent writers."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
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
