"""The error record a bounds-checked launch writes is reused by the next launch on the same thread
(numba, opencl: the record is reset only after a check fired). A failure must never leak into a later
launch, also when the launch that failed was interrupted before its record was read."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def shifted_copy(x, out, k: pk.int64):
    i = pk.global_id(0)
    out[i] = x[i + k]


RAISING = ("numpy", "numba", "opencl")


@pytest.mark.parametrize("name", RAISING)
def test_fail_pass_fail_reports_each_launch_on_its_own(name):
    if name not in pk.available_backends():
        pytest.skip(f"{name} is not available")
    launch = shifted_copy.on(name)[8]
    x = np.arange(16, dtype=np.float32)
    out = np.zeros(8, np.float32)
    with pytest.raises(pk.KernelIndexError, match=r"index \(16,\)"):
        launch(x, out, 9)                                # only the last work-item reads past x
    for _ in range(3):                                   # clean launches after a failure stay clean
        res = launch(x, out, 2)
        np.testing.assert_array_equal(np.asarray(res) if res is not None else out, x[2:10])
    with pytest.raises(pk.KernelIndexError, match=r"index \(-1,\)"):
        launch(x, out, -1)                               # only the first: its own index, not the old one
    res = launch(x, out, 0)
    np.testing.assert_array_equal(np.asarray(res) if res is not None else out, x[:8])


def test_opencl_an_interrupted_failing_launch_leaves_nothing_for_the_next(monkeypatch):
    """The launch enqueues the kernel (which records its failure) and is interrupted before the
    record is read back: the next launch must refill the record, not report the stale failure."""
    if "opencl" not in pk.available_backends():
        pytest.skip("opencl is not available")
    import portakern_opencl.launch as ocl

    launch = shifted_copy.on("opencl")[8]
    x = np.arange(16, dtype=np.float32)
    out = np.zeros(8, np.float32)
    launch(x, out, 0)                                    # built, its record clean
    real_read = ocl.read_record
    calls = {"n": 0}

    def interrupted(queue, host, buf):
        if calls["n"] == 0:
            calls["n"] += 1
            queue.finish()                               # the failing kernel has run and recorded
            raise KeyboardInterrupt
        return real_read(queue, host, buf)

    monkeypatch.setattr(ocl, "read_record", interrupted)
    with pytest.raises(KeyboardInterrupt):
        launch(x, out, 10)
    assert calls["n"] == 1
    res = launch(x, out, 3)
    np.testing.assert_array_equal(np.asarray(res), x[3:11])


def test_opencl_both_record_readers_read_the_whole_record():
    """The direct read and PyOpenCL's enqueue_copy (the fallback) give the same words."""
    if "opencl" not in pk.available_backends():
        pytest.skip("opencl is not available")
    import portakern_opencl.launch as ocl
    import pyopencl as cl

    from portakern.runtime import registry

    dev = registry.resolve_device(registry.get_backend("opencl"), None)
    words = np.arange(1, 19, dtype=np.int64)
    buf = cl.Buffer(dev.handle.context, cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR, hostbuf=words)
    for read in (ocl.read_record, lambda q, h, b: cl.enqueue_copy(q, h, b)):
        host = np.zeros(18, np.int64)
        read(dev.handle.queue, host, buf)
        np.testing.assert_array_equal(host, words)
