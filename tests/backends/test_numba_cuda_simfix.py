"""The simulator's shared arrays under the mend of ``portakern_numba_cuda/simfix.py``: every thread of
a block that reaches one ``cuda.shared.array`` line gets the same array, even when a thread switch
falls between the lookup and the allocation (the race that gave one sub-group's wrong sums)."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

kernelapi = pytest.importorskip("numba.cuda.simulator.kernelapi")
simfix = pytest.importorskip("portakern_numba_cuda.simfix")


def _gather(shared, threads: int) -> list:
    got, barrier = [], threading.Barrier(threads)

    def worker():
        barrier.wait()
        got.append(shared.array((4,), np.float32))     # one line: one shared array for the block

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return got


def test_threads_reaching_one_line_together_share_one_array(monkeypatch):
    simfix.install()
    real_empty = np.empty

    def slow_empty(*args, **kwargs):
        time.sleep(0.002)                              # a thread switch inside the lookup's window
        return real_empty(*args, **kwargs)

    monkeypatch.setattr(np, "empty", slow_empty)
    got = _gather(kernelapi.FakeCUDAShared(0), 16)
    assert len(got) == 16 and len({id(a) for a in got}) == 1


def test_the_key_is_the_calling_line_as_in_the_simulator():
    simfix.install()
    shared = kernelapi.FakeCUDAShared(64)
    a = shared.array((4,), np.float32)
    b = shared.array((4,), np.float32)
    again = [shared.array((4,), np.int32) for _ in range(2)]
    assert a is not b and again[0] is again[1] and again[0].dtype == np.int32
    dyn = shared.array(0, np.dtype(np.float32))         # dynamic shared memory: the simulator's own buffer
    assert dyn.size == 16
    with pytest.raises(RuntimeError, match="alignment"):
        shared.array((4,), np.float32, alignment=16)


def test_install_is_idempotent():
    simfix.install()
    simfix.install()
    assert kernelapi.FakeCUDAShared.array is simfix.locked_shared_array
    assert simfix._ORIGINAL[0] is not simfix.locked_shared_array
