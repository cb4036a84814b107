"""numba runs a launch of one work-group with the ``parallel=False`` build of the same generated
source (no OpenMP wake-up, a cheaper compile), and every other launch with the parallel build. Both
give the same bits, report the same bounds errors, and keep separate disk-cache entries."""
from __future__ import annotations

import gc

import numpy as np
import pytest

import portakern as pk

pytest.importorskip("numba")

from portakern_numba.launch import NumbaLauncher, VerifiedCache  # noqa: E402


def _launcher(name: str) -> NumbaLauncher:
    found = [o for o in gc.get_objects() if type(o) is NumbaLauncher and o.kernel.name == name]
    assert found, f"no numba launcher of {name}"
    return found[-1]


WG = 16


@pk.kernel
def row_exp_sum(x, out):
    # one work-group per row: a strided loop per work-item, then a tree in local memory
    r = pk.group_id(0)
    lid = pk.local_id(0)
    red = pk.local_array(WG, pk.float32)
    acc = pk.float32(0.0)
    for c in range(lid, x.shape[1], WG):
        acc += pk.exp(x[r, c])
    red[lid] = acc
    pk.barrier()
    s = WG // 2
    while s > 0:
        if lid < s:
            red[lid] = red[lid] + red[lid + s]
        pk.barrier()
        s //= 2
    if lid == 0:
        out[r] = red[0]


def test_one_work_group_uses_the_serial_build_and_matches_the_parallel_one_bit_for_bit():
    row_exp_sum.clear_cache()
    x = np.random.default_rng(7).uniform(-4.0, 4.0, (3, 256)).astype(np.float32)
    one = np.zeros(1, np.float32)
    row_exp_sum.on("numba")[WG, WG](x[:1], one)                     # one group: serial
    lau = _launcher("row_exp_sum")
    assert not lau._cold[1] and lau._cold[0] and lau._serial.signatures and not lau.fn.signatures
    many = np.zeros(3, np.float32)
    row_exp_sum.on("numba")[3 * WG, WG](x, many)                    # three groups: parallel
    assert not lau._cold[0]
    assert lau._serial.signatures and lau.fn.signatures
    assert one[0] == many[0]                                        # the same row, the same bits
    np.testing.assert_allclose(many, np.exp(x.astype(np.float64)).sum(axis=1), rtol=1e-5)


@pk.kernel
def read_past(x, out, k: pk.int64):
    i = pk.global_id(0)
    out[i] = x[i + k]


def test_the_serial_build_reports_bounds_errors_and_recovers():
    x = np.arange(16, dtype=np.float32)
    out = np.zeros(8, np.float32)
    small = read_past.on("numba")[8]                                # 8 items: one default group
    with pytest.raises(pk.KernelIndexError, match=r"index \(16,\)"):
        small(x, out, 9)
    small(x, out, 1)
    np.testing.assert_array_equal(out, x[1:9])
    assert _launcher("read_past")._serial.signatures
    big_out = np.zeros(300, np.float32)
    with pytest.raises(pk.KernelIndexError, match="array 'x'"):     # 300 items: two groups, parallel
        read_past.on("numba")[300](np.arange(300, dtype=np.float32), big_out, 1)


def test_the_two_builds_have_separate_disk_cache_keys():
    import types

    import numba

    module = types.ModuleType("pk_test_serial")
    module.__dict__["__pk_source__"] = "def _pk_kernel(): pass\n"
    codegen = numba.core.registry.cpu_target.target_context.codegen()
    sig = "(int64,)"
    parallel, serial = VerifiedCache(module), VerifiedCache(module, "serial")
    assert parallel._digest(sig, codegen) != serial._digest(sig, codegen)
    assert parallel._digest(sig, codegen) == VerifiedCache(module)._digest(sig, codegen)
