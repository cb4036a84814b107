"""Bounds checks are on by default (docs/safety.md "Bounds checking"): an out-of-bounds read, write or
atomic raises KernelIndexError in-process on the compiled backends instead of corrupting the heap or
wrapping around; ``@pk.kernel(boundscheck=False)`` and ``PORTAKERN_BOUNDSCHECK=0`` turn them off."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import portakern as pk
from portakern.errors import LaunchError
from portakern.ir.visit import access_sites
from portakern.runtime.backend import default_workgroup
from portakern.runtime.errrecord import ERR_WORDS, new_record, raise_recorded, snapshot

# Each of these crashed the interpreter (free(): invalid pointer, SIGSEGV) or wrapped silently on
# numba and opencl before checks were on by default. Run in a child so a crash fails the test.
_CHILD = textwrap.dedent('''
    import sys
    import numpy as np
    import portakern as pk

    @pk.kernel
    def far_read(x, out):
        i = pk.global_id(0)
        out[i] = x[i + 100000000]

    @pk.kernel
    def far_negative_write(x, out):
        i = pk.global_id(0)
        out[i - 50000000] = x[i]

    @pk.kernel
    def wrapping_atomic(x, out):
        i = pk.global_id(0)
        pk.atomic_add(out, i + 2**62, x[i])   # i + 2**62 times 4 bytes wraps the address

    @pk.kernel
    def negative_one(x, out):
        i = pk.global_id(0)
        out[i] = x[i - 1]                     # x[-1] is out of bounds, never wrapped

    for kern in (far_read, far_negative_write, wrapping_atomic, negative_one):
        x = np.ones(1000, np.int32)
        out = np.zeros(1000, np.int32)
        try:
            kern.on(sys.argv[1])[1000](x, out)
        except pk.KernelIndexError as exc:
            print("RAISED", kern.__name__, exc)
        else:
            print("SILENT", kern.__name__)
''')


@pytest.mark.parametrize("backend", ["numba", "opencl"])
def test_out_of_bounds_with_default_settings_raises_in_process(backend, tmp_path, checkout_env):
    if backend not in pk.available_backends():
        pytest.skip(f"{backend} is not available")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.run([sys.executable, str(script), backend], capture_output=True, text=True,
                          env=checkout_env, timeout=600)
    if "unknown target CPU" in proc.stderr:          # PoCL's LLVM does not know this machine's CPU
        pytest.skip("the OpenCL device cannot build any kernel here: " + proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, f"the child died (rc {proc.returncode}): {proc.stderr[-2000:]}"
    lines = proc.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("RAISED") for line in lines), proc.stdout + proc.stderr[-2000:]
    far, neg, atomic, minus_one = lines
    assert "array 'x'" in far and "shape (1000,)" in far and "x[i + 100000000]" in far
    assert "array 'out'" in neg and "index (-" in neg
    assert "46116860184273" in atomic and "i + 2**62" in atomic          # the unwrapped int64 index
    assert "index (-1,)" in minus_one and "x[i - 1]" in minus_one


def _copy(x, out):
    i = pk.global_id(0)
    out[i] = x[i]


def test_boundscheck_is_on_by_default_and_the_decorator_turns_it_off(monkeypatch):
    monkeypatch.delenv("PORTAKERN_BOUNDSCHECK", raising=False)
    x = np.ones(8, np.float32)
    checked, unchecked = pk.kernel(_copy), pk.kernel(_copy, boundscheck=False)
    assert checked.boundscheck and not unchecked.boundscheck
    assert "pk_check" in checked.source("numba", x, x.copy())
    assert "pk_check" not in unchecked.source("numba", x, x.copy())
    out = np.zeros(8, np.float32)
    unchecked.on("numba")[8](np.arange(8, dtype=np.float32), out)           # in bounds: same answer
    np.testing.assert_array_equal(out, np.arange(8))


@pytest.mark.parametrize("value, expected", [("0", False), ("off", False), ("1", True), ("", True)])
def test_env_var_sets_the_default_and_the_decorator_wins(monkeypatch, value, expected):
    monkeypatch.setenv("PORTAKERN_BOUNDSCHECK", value)
    assert pk.kernel(_copy).boundscheck is expected
    assert pk.kernel(_copy, boundscheck=True).boundscheck is True
    assert pk.kernel(_copy, debug=True).boundscheck is True                  # debug always checks
    x = np.ones(8, np.float32)
    assert ("pk_check" in pk.kernel(_copy).source("opencl", x, x.copy())) is expected


def test_boundscheck_must_be_a_bool():
    with pytest.raises(pk.CompileError, match="boundscheck"):
        pk.kernel(_copy, boundscheck="yes")


@pytest.mark.parametrize("backend", ["cuda", "opencl", "numba-cuda"])
def test_gpu_backends_render_the_checks_by_default(backend):
    x = np.ones(8, np.float32)
    src = pk.kernel(_copy).source(backend, x, x.copy())
    assert "pk_check" in src and "pk_err" in src
    assert "pk_check" not in pk.kernel(_copy, boundscheck=False).source(backend, x, x.copy())


def test_cuda_compiles_the_checked_kernel_with_nvrtc():
    pytest.importorskip("cupy")
    x = np.ones(8, np.float32)
    cubin = pk.kernel(_copy).compile("cuda", x, x.copy(), target="sm_90")
    assert isinstance(cubin, bytes) and len(cubin) > 0


def test_numba_cuda_raises_without_debug_in_the_simulator():
    if "numba-cuda" not in pk.available_backends():
        pytest.skip("numba-cuda is not available")

    def shifted(x, out):
        i = pk.global_id(0)
        out[i] = x[i + 1]

    x, out = np.ones(4, np.float32), np.zeros(4, np.float32)
    with pytest.raises(pk.KernelIndexError, match=r"index \(4,\)"):
        pk.kernel(shifted).on("numba-cuda")[4](x, out)


# ------------------------------------------------------------------ the shared launcher plumbing
def _kernel_ir():
    x = np.ones(8, np.float32)
    return pk.kernel(_copy)._specialize("numpy", (x, x.copy()), None, None)[3]


def test_error_record_decodes_site_index_and_shape():
    kir = _kernel_ir()
    assert kir.checks_bounds and len(access_sites(kir)) == 2
    rec = new_record()
    assert rec.shape == (ERR_WORDS,)
    raise_recorded(kir, rec)                                                  # no failure: returns
    rec[:4] = [1, 0, 9, 8]                                                    # site 0: out[i], index 9 of 8
    with pytest.raises(pk.KernelIndexError, match=r"index \(9,\).*'out' of shape \(8,\)"):
        raise_recorded(kir, rec)
    rec[1] = 7
    with pytest.raises(LaunchError, match="site 7"):
        raise_recorded(kir, rec)


def test_restore_on_failure_only_with_debug():
    kir = _kernel_ir()
    out = np.arange(8.0)
    assert snapshot(kir, [np.ones(8), out], np.copy) == []                   # boundscheck alone: no copy
    dbg = pk.kernel(_copy, debug=True)._specialize("numpy", (np.ones(8), out), None, None)[3]
    saved = snapshot(dbg, [np.ones(8), out], np.copy)
    out[:] = -1
    rec = new_record()
    rec[:4] = [1, 1, 9, 8]
    with pytest.raises(pk.KernelIndexError):
        raise_recorded(dbg, rec, saved, np.copyto)
    np.testing.assert_array_equal(out, np.arange(8.0))


@pytest.mark.parametrize("ndrange, expected", [
    ((1000,), (256,)), ((10,), (10,)), ((3, 5), (3, 5)), ((4096, 4096), (8, 32)),
    ((4096, 16), (8, 16)), ((5, 70), (5, 32)), ((7, 8, 9), (4, 4, 9)), ((100, 100, 100), (4, 4, 16)),
])
def test_one_default_workgroup_policy(ndrange, expected):
    assert default_workgroup(ndrange) == expected
    assert int(np.prod(default_workgroup(ndrange, 64))) <= 64               # a device's limit is kept
    assert default_workgroup((4096, 4096), 64) == (2, 32)                    # halved from the slowest dim


def _row_of_ids(out):
    i = pk.global_id(0)
    out[0, i] = i                      # (constant, prange id): Numba types them int64 and uint64


@pytest.mark.parametrize("debug", [False, True])
def test_checked_access_with_a_constant_and_an_id_compiles_on_numba(debug):
    if "numba" not in pk.available_backends():
        pytest.skip("numba is not available")
    out = np.zeros((2, 8), np.int64)
    pk.kernel(_row_of_ids, debug=debug).on("numba")[8](out)
    np.testing.assert_array_equal(out[0], np.arange(8))


def _shift_both(x, out):
    i = pk.global_id(0)
    out[i + 2] = x[i + 2]


def test_jax_default_reads_zero_and_drops_out_of_bounds_stores_without_raising():
    if "jax" not in pk.available_backends():
        pytest.skip("jax is not available")
    x, out = np.arange(1.0, 5.0, dtype=np.float32), np.full(4, -1.0, np.float32)
    res = np.asarray(pk.kernel(_shift_both).on("jax")[4](x, out))
    np.testing.assert_array_equal(res, [-1, -1, 3, 4])        # items 2, 3 read and wrote past the end
    with pytest.raises(pk.KernelIndexError):
        pk.kernel(_shift_both, debug=True).on("jax")[4](x, out)
