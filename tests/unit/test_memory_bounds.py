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


@pytest.mark.parametrize("backend", ["numpy", "numba", "jax"])
def test_repeated_identical_launches_do_not_grow_memory(backend: str) -> None:
    _runnable(backend)
    k = _scale_kernel().on(backend)
    y = np.zeros(64)
    for _ in range(2000):                     # (fills the frameworks' own bounded caches first)
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


# --------------------------------------------------------------------------- numpy: chunked ndranges
def test_numpy_launch_memory_is_bounded_by_the_chunk_not_the_ndrange() -> None:
    @pk.kernel
    def first_sixteen(y):
        i = pk.global_id(0)
        if i < 16:
            y[i] = i * 2

    y = np.zeros(16, np.int64)
    first_sixteen.on("numpy")[16](y)
    tracemalloc.start()
    try:
        first_sixteen.on("numpy")[2 ** 23](y)          # 8M work-items: ~160 MB of lanes unchunked
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert np.array_equal(y, np.arange(16) * 2)
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"


@pytest.fixture
def small_chunks(monkeypatch):
    import portakern_numpy.launch as numpy_launch

    monkeypatch.setattr(numpy_launch, "CHUNK_LANES", 1000)


def test_chunked_numpy_launches_give_the_whole_index_space_results(small_chunks) -> None:
    @pk.kernel
    def saxpy(a, x, y):
        i = pk.global_id(0)
        y[i] = a * x[i] + y[i]

    @pk.kernel
    def coords(y):
        i = pk.global_id(0)
        j = pk.global_id(1)
        y[i, j] = i * 1000 + j + pk.global_size(0) * 1000000 + pk.group_id(1) * 100000000

    n = 4321
    x = np.arange(n, dtype=np.float64)
    y = np.ones(n)
    saxpy.on("numpy")[n](np.float64(2.0), x, y)
    assert np.array_equal(y, 2 * x + 1)
    Y = np.zeros((37, 101), np.int64)
    coords.on("numpy")[(37, 101), (1, 64)](Y)
    i, j = np.indices(Y.shape)
    assert np.array_equal(Y, i * 1000 + j + 37 * 1000000 + (j // 64) * 100000000)


def test_chunked_numpy_private_arrays_are_per_work_item(small_chunks) -> None:
    @pk.kernel
    def reverse_digits(y):
        i = pk.global_id(0)
        p = pk.private_array(3, pk.int64)
        for d in range(3):
            p[d] = (i // 10 ** d) % 10
        y[i] = p[0] * 100 + p[1] * 10 + p[2]

    y = np.zeros(2600, np.int64)
    reverse_digits.on("numpy")[2600](y)
    i = np.arange(2600)
    assert np.array_equal(y, (i % 10) * 100 + (i // 10 % 10) * 10 + i // 100 % 10)


def test_chunked_numpy_atomics_apply_in_work_item_order(small_chunks) -> None:
    @pk.kernel
    def ticket(counter, order):
        i = pk.global_id(0)
        order[i] = pk.atomic_add(counter, 0, 1)

    counter = np.zeros(1, np.int64)
    order = np.zeros(5000, np.int64)
    ticket.on("numpy")[5000](counter, order)
    assert counter[0] == 5000 and np.array_equal(order, np.arange(5000))


def test_a_chunked_numpy_launch_that_fails_leaves_the_arrays_untouched(small_chunks) -> None:
    @pk.kernel
    def copy(x, y):
        i = pk.global_id(0)
        y[i] = x[i]

    x = np.arange(3000, dtype=np.int64)
    y = np.full(2500, -1, np.int64)                       # chunks 1 and 2 fit, chunk 3 does not
    with pytest.raises(pk.KernelIndexError):
        copy.on("numpy")[3000](x, y)
    assert np.all(y == -1)
