"""numba's vectorisable float32 exp and log (portakern_numba/vmath.py): C's special values, and the
correctly rounded result (against float64 libm rounded once) on a wide sample and at the edges."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

pytest.importorskip("numba")


@pk.kernel
def exp_log(x, e, lg):
    i = pk.global_id(0)
    if i < x.shape[0]:
        e[i] = pk.exp(x[i])
        lg[i] = pk.log(x[i])


def _run(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e, lg = np.zeros_like(x), np.zeros_like(x)
    exp_log.on("numba")[x.size](x, e, lg)
    return e, lg


def _ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Distance in float32 steps (same-sign finite values)."""
    return np.abs(got.view(np.int32).astype(np.int64) - want.view(np.int32).astype(np.int64))


def test_special_values_follow_c():
    tiny = np.float32(1e-45)
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 1.0, tiny, 89.0, 88.72, -87.4, -103.9, -104.0, -200.0],
                 np.float32)
    e, lg = _run(x)
    with np.errstate(all="ignore"):
        want_e = np.exp(x.astype(np.float64)).astype(np.float32)
        want_lg = np.log(x.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(e, want_e)          # nan, inf, 0, denormals and overflow included
    np.testing.assert_array_equal(lg, want_lg)        # log(0) = log(-0) = -inf, log(-1) = nan, log(inf) = inf
    assert e[3] == 1.0 and lg[6] == 0.0 and np.signbit(lg[6]) == 0


def test_results_are_rounded_once_from_float64():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-104, 89, 200_000), rng.uniform(-1, 1, 50_000),
                        np.exp(rng.uniform(-103, 88, 50_000))]).astype(np.float32)
    e, lg = _run(x)
    with np.errstate(all="ignore"):
        want_e = np.exp(x.astype(np.float64)).astype(np.float32)
        want_lg = np.log(x.astype(np.float64)).astype(np.float32)
    ok = x > 0
    # equal but for the rare double-rounding ties, and never more than one step away
    assert _ulps(e, want_e).max() <= 1 and (e != want_e).mean() < 1e-4
    assert _ulps(lg[ok], want_lg[ok]).max() <= 1 and (lg[ok] != want_lg[ok]).mean() < 1e-4


def test_float32_calls_use_them_and_float64_keeps_libm():
    f32 = exp_log.source("numba", *(np.zeros(4, np.float32) for _ in range(3)))
    f64 = exp_log.source("numba", *(np.zeros(4, np.float64) for _ in range(3)))
    assert "expf_v(" in f32 and "logf_v(" in f32 and "math.exp(" not in f32
    assert "expf_v(" not in f64 and "math.exp(" in f64 and "math.log(" in f64


def _library_irs(lib, seen: set) -> list[tuple[str, str]]:  # noqa: ANN001 - a Numba CodeLibrary
    out = []
    for sub in lib._linking_libraries:
        if id(sub) not in seen:
            seen.add(id(sub))
            out.append((sub.name, sub.get_llvm_str()))
            out.extend(_library_irs(sub, seen))
    return out


def test_they_are_inlined_into_the_parallel_loop(monkeypatch):
    """A call that stays a call keeps the loop scalar and costs ~4x libm's time (LLVM's inliner left
    expf_v out of large gufuncs when it was a plain njit function: softmax 98 -> 20 ms single-threaded).
    No library of the kernel, its chunk function included, calls expf_v."""
    import gc
    import weakref

    from portakern_numba.launch import Launcher

    from benchmarks.kernels import softmax
    # compiled here: machine code loaded from the disk cache has no LLVM IR to read (Numba returns
    # a placeholder for cached code, and the test would pass without looking at anything)
    monkeypatch.setenv("PORTAKERN_DISK_CACHE", "0")
    softmax.clear_cache()
    x = np.random.default_rng(1).uniform(-3.0, 3.0, (4, 256)).astype(np.float32)
    out = np.zeros_like(x)
    softmax.on("numba")[(4, 16), (1, 16)](x, out, 16, 4)   # a row-strided loop between tree reductions
    e = np.exp(x.astype(np.float64) - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out, e / e.sum(axis=1, keepdims=True), rtol=2e-6)
    launchers = [o for o in gc.get_objects()      # (type first: a dead weakref proxy raises on isinstance)
                 if type(o) not in weakref.ProxyTypes and isinstance(o, Launcher) and o.kernel.name == "softmax"]
    assert launchers
    lib = launchers[-1].fn.overloads[launchers[-1].fn.signatures[0]].library
    irs = _library_irs(lib, set())
    # the work-groups' loops live in the chunk function the parallel loop calls (render._group_chunk)
    chunks = [ir for name, ir in irs if "_pk_chunk" in name]
    assert chunks, "the kernel's chunk function was not found"
    assert all("define " in ir for ir in chunks), "no LLVM IR to inspect"
    assert any("parfor_gufunc" in name for name, _ in irs), "the kernel's parallel loop was not found"
    for _, ir in irs:
        calls = [ln for ln in ir.splitlines() if "call " in ln and "expf_v" in ln]
        assert not calls, calls[:2]


@pytest.mark.slow
def test_every_float32_input_is_within_one_step_of_the_once_rounded_result():
    """All 2**32 inputs (5.5 minutes on this 2-core VM): what the sample above checks, everywhere."""
    differ = 0
    for lo in range(0, 1 << 32, 1 << 25):
        x = np.arange(lo, lo + (1 << 25), dtype=np.uint64).astype(np.uint32).view(np.float32)
        e, lg = _run(x)
        with np.errstate(all="ignore"):
            want_e = np.exp(x.astype(np.float64)).astype(np.float32)
            want_lg = np.log(x.astype(np.float64)).astype(np.float32)
        for got, want in ((e, want_e), (lg, want_lg)):
            nan = np.isnan(want)
            assert np.array_equal(np.isnan(got), nan), x[np.isnan(got) != nan][:4]
            same = got[~nan].view(np.uint32) == want[~nan].view(np.uint32)
            if not same.all():
                g, w = got[~nan][~same], want[~nan][~same]
                assert (np.sign(g) == np.sign(w)).all() and _ulps(g, w).max() <= 1, x[~nan][~same][:4]
                differ += int((~same).sum())
    assert differ < 2 ** 32 * 1e-5, differ      # the double-rounding ties only
