"""The guarded fast path of cached launches never changes what a launch does: every change that the
general path would react to (types, layout, globals, constexprs, backend choice, read-only arrays,
argument count) still gets the general path's answer on the second and later launches."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.testing import FakeDeviceArray, make_fake_backend

OFFSET = 1


@pk.kernel
def add_offset(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] + OFFSET


@pk.kernel
def add_const(n: pk.constexpr, x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] + n


@pytest.fixture
def fakes():
    made = []
    for name, kw in (("fp-a", {}), ("fp-b", {"device_arrays": True})):
        cls = make_fake_backend(name, **kw)
        cls.impls["add_offset"] = lambda g, x, out: out.__setitem__(slice(None), x + OFFSET)
        cls.impls["add_const"] = lambda g, x, out: out.__setitem__(slice(None), x + 100)
        registry.register_backend(name, cls)
        made.append(cls)
    add_offset.clear_cache()
    add_const.clear_cache()
    yield made
    for cls in made:
        registry.unregister_backend(cls.name)


def _compiles(kernel):
    """Specialisations loaded (built, or read back from the disk cache)."""
    info = kernel.cache_info()
    return info["builds"] + info["disk_hits"]


def _launches(cls):
    return sum(1 for c in cls.calls if c[0] == "launch")


def test_repeated_launches_hit_the_memory_cache_and_run_each_time(fakes):
    a, _ = fakes
    x, out = np.arange(4.0), np.zeros(4)
    before, hits = _compiles(add_offset), add_offset.cache_info()["memory_hits"]
    for _ in range(5):
        assert add_offset.on("fp-a")[4](x, out) is out
    assert _launches(a) == 5
    assert _compiles(add_offset) - before == 1 and add_offset.cache_info()["memory_hits"] - hits == 4


def test_a_new_dtype_after_cached_launches_compiles_a_new_specialisation(fakes):
    k = add_offset.on("fp-a")
    before = _compiles(add_offset)
    k[4](np.arange(4.0), np.zeros(4))
    k[4](np.arange(4.0), np.zeros(4))
    k[4](np.arange(4, dtype=np.int32), np.zeros(4, np.int32))
    assert _compiles(add_offset) - before == 2


def test_a_changed_global_recompiles_after_cached_launches(fakes):
    global OFFSET
    k = add_offset.on("fp-a")
    x, out = np.arange(4.0), np.zeros(4)
    before = _compiles(add_offset)
    k[4](x, out)
    k[4](x, out)
    OFFSET = 5
    try:
        k[4](x, out)
        np.testing.assert_array_equal(out, x + 5)
    finally:
        OFFSET = 1
    assert _compiles(add_offset) - before == 2


def test_a_changed_constexpr_recompiles_after_cached_launches(fakes):
    k = add_const.on("fp-a")
    x, out = np.arange(4.0), np.zeros(4)
    before = _compiles(add_const)
    k[4](1, x, out)
    k[4](1, x, out)
    k[4](2, x, out)
    k[4](True, x, out)                          # True == 1, but a bool is another constexpr value
    assert _compiles(add_const) - before == 3


def test_read_only_output_after_cached_launches_is_still_an_error(fakes):
    k = add_offset.on("fp-a")
    x, out = np.arange(4.0), np.zeros(4)
    k[4](x, out)
    k[4](x, out)
    out.setflags(write=False)
    with pytest.raises(pk.LaunchError, match="read-only"):
        k[4](x, out)


def test_wrong_argument_count_after_cached_launches_is_still_an_error(fakes):
    k = add_offset.on("fp-a")
    x, out = np.arange(4.0), np.zeros(4)
    k[4](x, out)
    k[4](x, out)
    with pytest.raises(pk.LaunchError, match="takes 2 argument"):
        k[4](x)


def test_strided_view_after_cached_launches_is_copied_back(fakes):
    _, b = fakes                                   # fp-b needs contiguous arrays
    k = add_offset.on("fp-b")
    k[4](np.arange(4.0), np.zeros(4))
    k[4](np.arange(4.0), np.zeros(4))
    base = np.zeros(8)
    k[4](np.arange(4.0), base[::2])
    np.testing.assert_array_equal(base, [1, 0, 2, 0, 3, 0, 4, 0])


def test_a_new_use_block_or_environment_reroutes_cached_launches(fakes, monkeypatch):
    a, b = fakes
    x, out = np.arange(4.0), np.zeros(4)
    with pk.use("fp-a"):
        add_offset[4](x, out)
        add_offset[4](x, out)
    with pk.use("fp-b"):
        add_offset[4](x, out)
    monkeypatch.setenv("PORTAKERN_BACKEND", "fp-a")
    add_offset[4](x, out)
    add_offset[4](x, out)
    monkeypatch.setenv("PORTAKERN_BACKEND", "fp-b")
    add_offset[4](x, out)
    assert (_launches(a), _launches(b)) == (4, 2)


def test_a_reregistered_backend_is_used_by_cached_launches(fakes):
    x, out = np.arange(4.0), np.zeros(4)
    add_offset.on("fp-a")[4](x, out)
    add_offset.on("fp-a")[4](x, out)
    fresh = make_fake_backend("fp-a")
    fresh.impls["add_offset"] = lambda g, x, out: out.__setitem__(slice(None), -1)
    registry.register_backend("fp-a", fresh)
    add_offset.on("fp-a")[4](x, out)
    assert (out == -1).all() and _launches(fresh) == 1


def test_mixing_device_arrays_after_cached_launches_is_still_an_error(fakes):
    x = FakeDeviceArray(np.arange(4.0), "fp-b")
    out = FakeDeviceArray(np.zeros(4), "fp-b")
    add_offset[4](x, out)
    add_offset[4](x, out)
    with pytest.raises(pk.LaunchError, match="two backends"):
        add_offset[4](FakeDeviceArray(np.arange(4.0), "fp-a"), out)


def test_a_failing_launch_on_the_fast_path_is_wrapped_and_leaves_inputs_untouched(fakes):
    _, b = fakes
    k = add_offset.on("fp-b")
    x, out = np.arange(4.0), np.zeros(4)
    k[4](x, out)
    k[4](x, out)

    def explode(g, x, out):
        out[:] = 99
        raise RuntimeError("device lost")

    b.impls["add_offset"] = explode
    out[:] = 7
    with pytest.raises(pk.LaunchError, match="device lost"):
        k[4](x, out)
    assert (out == 7).all()


def test_cached_launches_follow_a_changed_default_cpu_preference(fakes, monkeypatch):
    a, b = fakes
    x, out = np.arange(4.0), np.zeros(4)
    monkeypatch.setattr(registry, "CPU_PREFERENCE", ("fp-a",))
    add_offset[4](x, out)
    add_offset[4](x, out)
    monkeypatch.setattr(registry, "CPU_PREFERENCE", ("fp-b",))
    add_offset[4](x, out)
    assert (_launches(a), _launches(b)) == (2, 1)


def test_cached_launches_on_the_default_backend_notice_a_new_registration(fakes, monkeypatch):
    a, _ = fakes
    x, out = np.arange(4.0), np.zeros(4)
    monkeypatch.setattr(registry, "CPU_PREFERENCE", ("fp-new", "fp-a"))
    add_offset[4](x, out)
    add_offset[4](x, out)
    new = make_fake_backend("fp-new")
    new.impls["add_offset"] = lambda g, x, out: out.__setitem__(slice(None), 0)
    registry.register_backend("fp-new", new)
    try:
        add_offset[4](x, out)
    finally:
        registry.unregister_backend("fp-new")
    assert (_launches(a), _launches(new)) == (2, 1)


def test_a_subscript_of_exact_ints_gives_one_launch_object_and_nothing_else_shares_it():
    """kernel[grid] is kept per subscript (launch loops reuse a few grids), but only for exact ints:
    True == 1 and 1.0 == 1, and those must still get the general path's error."""
    assert add_offset[4] is add_offset[4] and add_offset[(4,), (2,)] is add_offset[(4,), (2,)]
    assert add_offset[4] is not add_offset[(4,)]           # equal grids, separate entries: both work
    assert add_offset.on("numpy") is add_offset.on("numpy")
    assert add_offset.on("numpy")[4] is add_offset.on("numpy")[4]
    assert add_offset.on("numpy")[4] is not add_offset[4]  # the route is part of the object
    add_offset[1]
    for bad, word in ((True, "ndrange must contain ints"), (1.0, "ndrange must be an int"),
                      ((1, True), "workgroup must contain ints")):
        with pytest.raises(pk.LaunchError, match=word):
            add_offset[bad](np.zeros(1), np.zeros(1))
    with pytest.raises(pk.LaunchError, match="backend must be a name"):
        add_offset.on(["numpy"])                           # unhashable: the usual error, not a TypeError
    for n in range(1, 300):                                # a sweep of sizes keeps the memo bounded
        add_offset[n]
    assert len(add_offset._launches) <= 64


def test_a_backend_overriding_an_identity_from_host_is_still_called(fakes):
    """The fast path skips from_host only for a backend class whose from_host is
    Backend.from_host_identity itself, never for a subclass that overrides it."""
    from portakern.runtime.backend import Backend

    base = make_fake_backend("fp-ident")
    base.impls["add_offset"] = lambda g, x, out: out.__setitem__(slice(None), x + OFFSET)
    base.from_host = Backend.from_host_identity
    seen = []

    class Overriding(base):
        name = "fp-over"

        def from_host(self, array, device):
            seen.append(array.shape)
            return array

    for cls, calls in ((base, 0), (Overriding, 6)):                     # 2 arrays x 3 launches
        registry.register_backend(cls.name, cls)
        try:
            seen.clear()
            hits = add_offset.cache_info()["memory_hits"]
            x, out = np.arange(3.0), np.zeros(3)
            for _ in range(3):
                out[:] = 0
                add_offset.on(cls.name)[3](x, out)
                np.testing.assert_array_equal(out, x + OFFSET)
            assert add_offset.cache_info()["memory_hits"] - hits == 2        # launches 2 and 3: the fast path
            assert len(seen) == calls
        finally:
            registry.unregister_backend(cls.name)
