"""opencl backend specifics: device choice, zero-copy pyopencl arrays, padding, debug bounds
errors, stored binaries, atomics the device lacks natively, capabilities queried from the device."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry
from portakern.runtime.backend import LaunchGrid

cl = pytest.importorskip("pyopencl")
cla = pytest.importorskip("pyopencl.array")


@pytest.fixture(scope="module")
def be():
    b = registry.get_backend("opencl")
    if not b.is_available():
        pytest.skip(f"opencl unavailable: {b.unavailable_reason()}")
    return b


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel
def fill_ids(out, sizes):
    i = pk.global_id(0)
    out[i] = i
    sizes[0] = pk.global_size(0)


def test_default_device_is_the_pocl_cpu_device(be, monkeypatch):
    monkeypatch.delenv("PORTAKERN_OPENCL_DEVICE", raising=False)
    monkeypatch.delenv("PYOPENCL_CTX", raising=False)
    dev = be.device()
    assert "portable computing language" in dev.name.lower()
    assert dev.key.startswith("opencl:")


def test_device_is_chosen_by_name_index_env_and_pyopencl_ctx_string(be, monkeypatch):
    default = be.device(None)
    assert be.device(0).key == default.key
    assert be.device("0:0").key == default.key
    assert be.device("portable/").key == default.key
    assert be.device(default.name.split(" / ")[1][:6]).key == default.key
    monkeypatch.setenv("PORTAKERN_OPENCL_DEVICE", "Portable Computing")
    assert be.device().key == default.key


def test_unknown_device_name_is_backend_unavailable_listing_the_devices(be):
    with pytest.raises(pk.BackendUnavailable) as info:
        be.device("no-such-gpu-anywhere")
    assert "no-such-gpu-anywhere" in str(info.value) and "[0]" in str(info.value)


def test_capabilities_come_from_the_device(be):
    dev = be.device()
    caps = be.capabilities(dev)
    d = dev.handle.device
    assert caps.fp64 == ("cl_khr_fp64" in d.extensions)
    assert caps.int64_atomics == ("cl_khr_int64_base_atomics" in d.extensions)
    assert caps.max_workgroup_size == d.max_work_group_size
    assert not caps.contracts_fma and not caps.native_float_atomics


@pk.kernel
def halve(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i] * 0.5


def test_declared_denormal_handling_matches_the_device(be):
    tiny = np.finfo(np.float32).smallest_subnormal
    x = np.array([tiny * 4, np.finfo(np.float32).tiny], np.float32)
    out = np.zeros_like(x)
    halve.on("opencl")[2](x, out)
    flushed = out[0] == 0
    assert be.capabilities(be.device()).flushes_denormals == flushed


def test_pyopencl_arrays_are_used_in_place_and_stay_on_the_device(be):
    queue = be.device().handle.queue
    x = cla.to_device(queue, np.arange(100, dtype=np.float32))
    y = cla.to_device(queue, np.ones(100, np.float32))
    out = cla.zeros(queue, 100, np.float32)
    res = saxpy.on("opencl")[100](np.float32(3), x, y, out)
    assert res is out
    np.testing.assert_array_equal(out.get(), 3 * np.arange(100, dtype=np.float32) + 1)


@pytest.mark.parametrize("n,wg", [(1000, None), (1000, 128), (7, 4), (1, None)])
def test_padded_work_items_do_nothing_and_global_size_is_the_ndrange(n, wg):
    out = np.full(n + 3, -1, np.int64)[:n]
    sizes = np.zeros(1, np.int64)
    k = fill_ids.on("opencl")
    (k[n] if wg is None else k[n, wg])(out, sizes)
    np.testing.assert_array_equal(out, np.arange(n))
    assert sizes[0] == n


def test_alternating_grids_on_one_launcher_each_run_their_own_size():
    """The launcher keeps its last grid by identity: switching between grids (new LaunchGrid objects
    of equal value included) must never reuse another grid's sizes."""
    k = fill_ids.on("opencl")
    for n, wg in [(10, None), (7, 4), (10, None), (10, 5), (7, 4), (7, None), (7, None)]:
        out = np.full(n, -1, np.int64)
        sizes = np.zeros(1, np.int64)
        (k[n] if wg is None else k[n, wg])(out, sizes)
        np.testing.assert_array_equal(out, np.arange(n))
        assert sizes[0] == n


@pk.kernel(debug=True)
def read_2d(img, out):
    i = pk.global_id(0)
    out[i] = img[i, i + 1]


def test_debug_bounds_error_names_kernel_array_index_and_shape(be):
    img = np.zeros((3, 3), np.float32)
    out = np.full(3, 7, np.float32)
    with pytest.raises(pk.KernelIndexError) as info:
        read_2d.on("opencl")[3](img, out)
    msg = str(info.value)
    assert "read_2d" in msg and "'img'" in msg and "(2, 3)" in msg and "(3, 3)" in msg
    assert "img[i, i + 1]" in msg
    np.testing.assert_array_equal(out, 7)   # a failed launch leaves NumPy arrays untouched


def test_build_returns_a_program_binary_that_loads_in_a_fresh_backend(be):
    x = np.arange(8, dtype=np.float32)
    blob = saxpy.compile("opencl", np.float32(2), x, x, x)
    assert blob.startswith(b"PKCL1\n") and len(blob) > 100
    fresh = type(be)()
    dev = fresh.device()
    kir = saxpy._specialize("opencl", (np.float32(2), x, x, x), None, None)[3]
    launcher = fresh.load(kir, blob, dev)
    args = [np.float32(2)] + [fresh.from_host(a, dev) for a in (x, x, np.zeros_like(x))]
    out = launcher(LaunchGrid((8,), None), args)["out"]
    np.testing.assert_array_equal(fresh.to_host(out), 3 * x)
    # a binary the driver refuses is rebuilt from the source kept beside it
    n = int.from_bytes(blob[6:14], "little")
    broken = blob[:14] + b"\0" * n + blob[14 + n:]
    launcher = fresh.load(kir, broken, dev)
    out = launcher(LaunchGrid((8,), None), args)["out"]
    np.testing.assert_array_equal(fresh.to_host(out), 3 * x)


@pk.kernel
def local_float_atomics(vals, acc):
    lid = pk.local_id(0)
    t = pk.local_array(3, pk.float32)
    if lid == 0:
        t[0] = 0.0
        t[1] = 1e30
        t[2] = -1e30
    pk.barrier()
    v = vals[pk.global_id(0)]
    pk.atomic_add(t, 0, v)
    pk.atomic_min(t, 1, v)
    pk.atomic_max(t, 2, v)
    pk.barrier()
    if lid == 0:
        pk.atomic_add(acc, 0, t[0])
        pk.atomic_min(acc, 1, t[1])
        pk.atomic_max(acc, 2, t[2])


def test_float_atomics_on_local_memory_via_compare_and_swap():
    vals = np.arange(-32, 32, dtype=np.float32) / 4
    acc = np.array([0.0, 1e30, -1e30], np.float32)
    local_float_atomics.on("opencl")[64, 16](vals, acc)
    assert acc[0] == vals.sum() and acc[1] == vals.min() and acc[2] == vals.max()


@pk.kernel
def float_min_max(vals, acc):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        pk.atomic_min(acc, 0, vals[i])
        pk.atomic_max(acc, 1, vals[i])


def test_float_atomic_min_max_propagate_nan_and_order_signed_zeros():
    acc = np.array([1.0, -1.0], np.float64)
    float_min_max.on("opencl")[3](np.array([0.5, np.nan, -0.5]), acc)
    assert np.isnan(acc).all()
    acc = np.array([0.0, -0.0], np.float32)
    float_min_max.on("opencl")[2](np.array([-0.0, 0.0], np.float32), acc)
    assert np.signbit(acc[0]) and not np.signbit(acc[1])


@pk.kernel
def int64_min_max(vals, acc):
    i = pk.global_id(0)
    if i < vals.shape[0]:
        pk.atomic_min(acc, 0, vals[i])
        pk.atomic_max(acc, 1, vals[i])


def test_int64_min_max_fall_back_to_compare_and_swap_without_extended_atomics(be):
    vals = np.array([5, -(2 ** 62), 2 ** 62, 3], np.int64)
    kir = int64_min_max._specialize("opencl", (vals, vals), None, None)[3]
    src = be.render(kir)
    assert "#if defined(cl_khr_int64_extended_atomics)" in src
    # pretend the device lacks the extension: the compare-and-swap branch must compute the same
    src = "#undef cl_khr_int64_extended_atomics\n" + src
    dev = be.device()
    launcher = be.load(kir, be.build(kir, src, dev), dev)
    acc = be.from_host(np.array([0, 0], np.int64), dev)
    launcher(LaunchGrid((4,), None), [be.from_host(vals, dev), acc])
    assert be.to_host(acc).tolist() == [-(2 ** 62), 2 ** 62]


@pk.kernel
def int_max_(int, kernel, out):  # noqa: A002 - parameter names that are C/OpenCL keywords
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = int[i] + kernel
        float = out[i]  # noqa: F841
        pk_x = float * 2
        out[i] = pk_x


def test_identifiers_that_clash_with_c_keywords_are_mangled(be):
    a = np.arange(4, dtype=np.int32)
    out = np.zeros_like(a)
    int_max_.on("opencl")[4](a, np.int32(1), out)
    np.testing.assert_array_equal(out, 2 * (a + 1))


@pk.kernel
def scalar_kinds(flag, s8, u16, f64, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        if flag:
            out[i] = s8 + u16 + f64
        else:
            out[i] = -1.0


@pytest.mark.parametrize("flag", [np.bool_(True), True, np.bool_(False)])
def test_bool_and_small_int_scalars_are_passed_by_value(flag):
    out = np.zeros(3)
    scalar_kinds.on("opencl")[3](flag, np.int8(-5), np.uint16(60000), 0.5, out)
    np.testing.assert_array_equal(out, 59995.5 if flag else -1.0)


def test_empty_arrays_and_empty_ndrange_run_nothing():
    x, y = np.zeros(0, np.float32), np.zeros(0, np.float32)
    halve.on("opencl")[0](x, y)
    halve.on("opencl")[4](x, y)            # guarded by x.shape[0] == 0: touches nothing
    assert y.size == 0


def test_a_users_own_queue_or_context_can_be_the_device(be):
    ctx = cl.Context([be.device().handle.device])
    queue = cl.CommandQueue(ctx)
    x = cla.to_device(queue, np.arange(4, dtype=np.float32))
    for spec in (queue, ctx):
        out = cla.zeros(queue, 4, np.float32)
        halve.on("opencl", device=spec)[4](x, out)
        np.testing.assert_array_equal(out.get(), np.arange(4, dtype=np.float32) * 0.5)
    assert be.device(queue).handle.context == ctx
