"""The numba backend loads generated modules safely from several threads at once (Dask's threaded
scheduler launches the chunks of one graph concurrently, each compiling the same kernel)."""
from __future__ import annotations

import threading

import pytest

pytest.importorskip("numba")
launch = pytest.importorskip("portakern_numba.launch")


def test_threads_importing_one_generated_module_all_get_it_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    # A module whose body takes a while: without the lock, a second thread finds it in sys.modules
    # before '_pk_kernel' is defined.
    source = "import time\ntime.sleep(0.3)\n_pk_kernel = 'ready'\n"
    start = threading.Barrier(4)
    got: list = []

    def load() -> None:
        start.wait()
        got.append(getattr(launch.import_source(source, prefix="pk_numba_thread_test"), "_pk_kernel", None))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == ["ready"] * 4
