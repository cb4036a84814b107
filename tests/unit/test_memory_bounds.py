"""What a kernel keeps in memory: a bounded cache of specialisations (PORTAKERN_MEMORY_CACHE_SIZE),
``clear_cache()`` that lets the loaded programs be freed, launches that do not grow per call, and
constexpr keys exact enough that no value reuses a kernel built for another (-0.0 vs 0.0)."""
from __future__ import annotations

import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import config, registry


def _scale_kernel():
    @pk.kernel
    def scale(y, c: pk.constexpr):
        i = pk.global_id(0)
        y[i] = 1.0 / c
    return scale


def _runnable(name: str) -> None:
    b = registry.get_backend(name)
    if not b.is_available():
        pytest.skip(f"backend {name!r} cannot run here: {b.unavailable_reason()}")


# --------------------------------------------------------------------------- constexpr keys
@pytest.mark.parametrize("first, second", [(0.0, -0.0), (-0.0, 0.0)])
def test_a_negative_zero_constexpr_does_not_reuse_the_kernel_built_for_positive_zero(first, second) -> None:
    k = _scale_kernel().on("numpy")
    y = np.zeros(4)
    k[4](y, first)
    k[4](y, second)                     # the second launch takes the fast path when its guard allows
    assert np.all(y == math.copysign(math.inf, second))
    k[4](y, first)
    assert np.all(y == math.copysign(math.inf, first))


@pytest.mark.parametrize("values", [(1, 1.0, True), (0, 0.0, False), (0.0, -0.0, math.nan)])
def test_constexpr_values_that_compare_equal_get_their_own_specialisations(values) -> None:
    k = _scale_kernel()
    for v in values:
        k.on("numpy")[4](np.zeros(4), v)
    assert k.cache_info()["entries"] == len(values)


def test_numpy_scalar_constexprs_share_the_specialisation_of_their_python_value() -> None:
    k = _scale_kernel()
    y = np.zeros(4)
    k.on("numpy")[4](y, np.float64(-0.0))
    assert np.all(y == -math.inf)
    k.on("numpy")[4](y, -0.0)
    assert k.cache_info()["entries"] == 1


@pytest.mark.parametrize("value", [2 ** 64, -(2 ** 63) - 1, 2 ** 70])
def test_a_constexpr_int_beyond_64_bits_is_a_launch_error_naming_the_parameter(value) -> None:
    k = _scale_kernel()
    with pytest.raises(pk.LaunchError, match=r"parameter 'c' is pk.constexpr: the int .* does not fit in 64 bits"):
        k.on("numpy")[4](np.zeros(4), value)


# --------------------------------------------------------------------------- the bound
def test_memory_cache_size_is_read_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("PORTAKERN_MEMORY_CACHE_SIZE", raising=False)
    assert config.memory_cache_size() == config.DEFAULT_MEMORY_CACHE_SIZE
    monkeypatch.setenv("PORTAKERN_MEMORY_CACHE_SIZE", "5")
    assert config.memory_cache_size() == 5
    for bad in ("0", "-1", "many"):
        monkeypatch.setenv("PORTAKERN_MEMORY_CACHE_SIZE", bad)
        with pytest.raises(pk.LaunchError, match="PORTAKERN_MEMORY_CACHE_SIZE must be a positive int"):
            config.memory_cache_size()


def test_launches_with_ever_new_constexprs_keep_at_most_the_bound(monkeypatch) -> None:
    monkeypatch.setenv("PORTAKERN_MEMORY_CACHE_SIZE", "8")
    k = _scale_kernel()
    y = np.zeros(2)
    for i in range(2000):
        c = float(1 + i % 40)                 # 40 values cycling: each evicted before it comes back
        k.on("numpy")[2](y, c)
        assert y[0] == 1.0 / c
        assert k.cache_info()["entries"] <= 8 and len(k._plans) <= 8
    info = k.cache_info()
    assert info["entries"] == 8 and info["evictions"] == 2000 - 8


def test_the_most_recently_used_specialisation_is_kept(monkeypatch) -> None:
    monkeypatch.setenv("PORTAKERN_MEMORY_CACHE_SIZE", "2")
    k = _scale_kernel()

    def launch(n: int, c: float) -> int:
        """Launch; return how many specialisations were compiled or loaded from disk so far."""
        y = np.zeros(n)
        k.on("numpy")[n](y, c)
        assert np.all(y == 1.0 / c)
        return k.cache_info()["builds"] + k.cache_info()["disk_hits"]

    launch(2, 1.0)
    launch(2, 2.0)
    loaded = launch(3, 1.0)                   # another shape: a memory hit that makes 1.0 recent
    assert launch(2, 3.0) == loaded + 1       # evicts 2.0, the least recently used
    assert launch(5, 1.0) == loaded + 1       # 1.0 stayed
    assert launch(5, 2.0) == loaded + 2       # 2.0 did not


def test_repeated_identical_launches_do_not_grow_memory() -> None:
    k = _scale_kernel().on("numpy")
    y = np.zeros(64)
    for _ in range(50):
        k[64](y, 2.0)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            k[64](y, 2.0)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"2000 identical launches kept {grown} bytes"


# --------------------------------------------------------------------------- clear_cache frees
@pytest.mark.parametrize("backend", ["numpy", "numba", "opencl", "jax"])
def test_clear_cache_lets_the_loaded_program_be_freed(backend: str) -> None:
    _runnable(backend)
    k = _scale_kernel()
    y = np.zeros(4)
    k.on(backend)[4](y, 2.0)
    k.on(backend)[4](y, 2.0)                  # a fast-path plan too
    assert y[0] == 0.5
    (compiled,) = list(k._compiled.values())
    launcher = weakref.ref(compiled.launcher)
    del compiled
    k.clear_cache()
    gc.collect()
    assert k.cache_info()["entries"] == 0 and not k._plans
    assert launcher() is None, f"something still holds the {backend} launcher: {gc.get_referrers(launcher())!r:.300}"


def test_evicted_entries_can_be_freed(monkeypatch) -> None:
    monkeypatch.setenv("PORTAKERN_MEMORY_CACHE_SIZE", "1")
    k = _scale_kernel()
    k.on("numpy")[4](np.zeros(4), 2.0)
    first = weakref.ref(k._compiled.values()[0].launcher)
    k.on("numpy")[4](np.zeros(4), 4.0)
    gc.collect()
    assert first() is None
