"""portakern.compat.cuda: each numba.cuda construct, the launch mapping, and the constructs it refuses."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.compat import cuda
from portakern.compat.cuda import launch_geometry

BACKENDS = ["numpy", "numba", "opencl", "jax", "numba-cuda"]


@cuda.jit
def thread_ids(out):
    x, y, z = cuda.grid(3)
    if x < out.shape[2] and y < out.shape[1] and z < out.shape[0]:
        out[z, y, x] = (cuda.threadIdx.x + 10 * cuda.threadIdx.y + 100 * cuda.threadIdx.z
                        + 1000 * cuda.blockIdx.x + 10000 * cuda.blockIdx.y + 100000 * cuda.blockIdx.z
                        + 1000000 * (cuda.blockDim.x * cuda.gridDim.x))


def test_launch_geometry_reverses_cuda_axes_onto_the_ndrange() -> None:
    assert launch_geometry((2, 3), (4, 5)) == ((15, 8), (5, 4))
    assert launch_geometry(7, 32) == ((224,), (32,))
    assert launch_geometry((2, 2, 2), 8) == ((2, 2, 16), (1, 1, 8))


@pytest.mark.parametrize("backend", BACKENDS)
def test_thread_and_block_indices_follow_cuda_axis_order(backend: str) -> None:
    blocks, threads = (2, 3, 2), (4, 2, 3)
    out = np.zeros((6, 6, 8), dtype=np.int64)
    try:
        with pk.use(backend):
            thread_ids[blocks, threads](out)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))
    want = np.zeros_like(out)
    for z in range(6):
        for y in range(6):
            for x in range(8):
                want[z, y, x] = (x % 4 + 10 * (y % 2) + 100 * (z % 3) + 1000 * (x // 4) + 10000 * (y // 2)
                                 + 100000 * (z // 3) + 1000000 * 8)
    np.testing.assert_array_equal(out, want)


@cuda.jit(device=True)
def twice(v):
    return v * 2


@cuda.jit("void(float32[:], float32)", fastmath=True, lineinfo=True)
def scale(out, a):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = twice(out[i] * a)


def test_signature_casts_scalars_and_device_functions_inline() -> None:
    out = np.arange(5, dtype=np.float32)
    scale[1, 8](out, 0.1)     # numba converts 0.1 to float32 as the signature says
    np.testing.assert_array_equal(out, (np.arange(5, dtype=np.float32) * np.float32(0.1)) * np.float32(2))


@cuda.jit
def fill(out, v):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = v


def test_device_arrays_round_trip_as_numpy() -> None:
    d = cuda.device_array(6, dtype=np.int32)
    fill[2, 4](d, 7)
    host = d.copy_to_host()
    assert isinstance(host, np.ndarray) and host.dtype == np.int32
    np.testing.assert_array_equal(host, np.full(6, 7, np.int32))
    like = cuda.device_array_like(host)
    assert like.shape == (6,) and like.dtype == np.int32
    fill.forall(3)(cuda.to_device(host), 1)       # to_device copies: host is untouched
    np.testing.assert_array_equal(host, np.full(6, 7, np.int32))


@cuda.jit
def warp_shuffle_half_mask(out):
    i = cuda.grid(1)
    out[i] = cuda.shfl_down_sync(0xFFFF, i, 1)


@cuda.jit
def grid_sync(out):
    i = cuda.grid(1)
    out[i] = 1
    cuda.cg.this_grid().sync()


@cuda.jit
def compare_and_swap(out):
    cuda.atomic.cas(out, 0, 0, 1)


@cuda.jit
def two_dynamic(out):
    a = cuda.shared.array(0, np.float32)
    b = cuda.shared.array(0, np.int32)
    a[0] = 1
    b[0] = 1
    out[0] = a[0] + b[0]


@cuda.jit
def dynamic_one(out):
    a = cuda.shared.array(0, np.float32)
    a[0] = 1
    out[0] = a[0]


@cuda.jit
def fence(out):
    out[0] = 1
    cuda.threadfence()


@pytest.mark.parametrize("kernel, config, construct", [
    (warp_shuffle_half_mask, (1, 32), "cuda.shfl_down_sync: only the full mask 0xffffffff is supported"),
    (grid_sync, (1, 4), "cuda.cg.this_grid is not supported"),
    (fence, (1, 1), "cuda.threadfence is not supported"),
    (two_dynamic, (1, 1, 0, 64), "a second dynamic cuda.shared.array"),
    (dynamic_one, (1, 1), "cuda.shared.array(0, ...) is dynamic shared memory, but the launch gives 0 bytes"),
])
def test_inexpressible_constructs_are_compile_errors_naming_them_and_the_line(kernel, config, construct) -> None:
    out = np.zeros(4, dtype=np.float32)
    with pytest.raises(pk.CompileError) as info:
        kernel[config](out)
    assert construct in str(info.value)
    assert "test_cuda_constructs.py" in str(info.value)


def test_cuda_atomic_cas_maps_to_pk_atomic_cas_or_names_it_missing() -> None:
    from portakern import lang

    out = np.zeros(1, dtype=np.int32)
    if "atomic_cas" not in lang.BUILTINS:   # before the language has it (another branch adds it)
        with pytest.raises(pk.CompileError, match=r"cuda.atomic.cas needs pk.atomic_cas"):
            compare_and_swap[1, 1](out)
        return
    compare_and_swap[1, 4](out)    # cas(ary, idx, old, val), numba's order, is pk.atomic_cas's
    assert out[0] == 1


def test_bad_launch_configurations_are_launch_errors() -> None:
    out = np.zeros(4, dtype=np.float32)
    with pytest.raises(pk.LaunchError, match="launch with kernel"):
        fill[4](out, 1.0)
    with pytest.raises(pk.LaunchError, match="threads per block"):
        fill[1, 0](out, 1.0)
    with pytest.raises(pk.LaunchError, match="dynamic shared memory"):
        fill[1, 4, 0, -1](out, 1.0)
    with pytest.raises(pk.LaunchError, match="is launched with a configuration"):
        fill(out, 1.0)


def test_kernel_only_names_refuse_host_use() -> None:
    with pytest.raises(pk.PortakernError, match="inside a @cuda.jit"):
        cuda.grid(1)


@cuda.jit
def atomics_and_const(vals, consts, out):
    i = cuda.grid(1)
    c = cuda.const.array_like(consts)
    cuda.atomic.max(out, 0, vals[i])
    cuda.atomic.min(out, 1, vals[i])
    cuda.atomic.sub(out, 2, c[i % 2])
    out[3 + i] = cuda.gridsize(1) + cuda.warpsize


@pytest.mark.parametrize("backend", BACKENDS)
def test_atomics_const_arrays_and_sizes(backend: str) -> None:
    vals = np.array([5, -3, 9, 2, 7, 0, -8, 4], dtype=np.int32)
    out = np.zeros(11, dtype=np.int32)
    out[1] = 100
    try:
        with pk.use(backend):
            atomics_and_const[2, 4](vals, np.array([1, 10], dtype=np.int32), out)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))
    np.testing.assert_array_equal(out, [9, -8, -44] + [8 + 32] * 8)


@cuda.jit
def count_in_loop(flags, out):
    i = cuda.grid(1)
    total = 0
    for r in range(3):
        total += cuda.syncthreads_count(flags[i] > r)
    out[i] = total


@pytest.mark.parametrize("backend", BACKENDS)
def test_syncthreads_count_in_a_loop(backend: str) -> None:
    flags = np.array([0, 1, 2, 3, 3, 2, 1, 0], dtype=np.int32)
    out = np.zeros(8, dtype=np.int32)
    try:
        with pk.use(backend):
            count_in_loop[2, 4](flags, out)
    except pk.BackendUnavailable as exc:
        pytest.skip(str(exc))
    # block 0 holds flags 0,1,2,3: 3 true at r=0, 2 at r=1, 1 at r=2; block 1 the same values
    np.testing.assert_array_equal(out, [6] * 8)


@cuda.jit(debug=True)
def off_by_one(out):
    i = cuda.grid(1)
    out[i + 1] = 1


def test_debug_turns_on_bounds_checks() -> None:
    with pytest.raises(pk.KernelIndexError):
        off_by_one[1, 4](np.zeros(4, dtype=np.int32))


def test_a_scalar_the_signature_cannot_hold_is_a_launch_error() -> None:
    out = np.zeros(4, dtype=np.float32)
    with pytest.raises(pk.LaunchError, match="argument 1: cannot convert 'x' to float32"):
        scale[1, 4](out, "x")
    with pytest.raises(pk.LaunchError, match="not a dtype"):
        cuda.device_array(3, dtype="no-such-type")


def test_numba_cuda_names_the_module_lacks_are_clear_errors() -> None:
    with pytest.raises(pk.CompileError, match=r"numba.cuda.declare_device is not supported"):
        cuda.declare_device("mul", "float32(float32, float32)")
    assert not hasattr(cuda, "declare_device")
    with pytest.raises(pk.CompileError, match="linking external CUDA"):
        cuda.jit(link=["functions.cu"])
