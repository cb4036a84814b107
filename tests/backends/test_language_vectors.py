"""Short vector values (float4/uint4 style): ``pk.vec``, ``pk.vload``/``pk.vstore`` on the last axis,
lanes and swizzles, lanewise operators and math with scalar broadcast, ``pk.vsum``/``pk.vmin``/
``pk.vmax``/``pk.dot``, vectors through ``@pk.func`` helpers, bounds checks, and the compile errors
for misuse. References are NumPy computations written independently of the kernels."""
from __future__ import annotations

import os

import numpy as np
import pytest

import portakern as pk

# ----------------------------------------------------------------------------- ports of real kernels


@pk.kernel
def saxpy_float4(a, x, y, out):
    # the CUDA float4 saxpy: each thread handles four consecutive floats through a float4
    i = pk.global_id(0) * 4
    if i + 3 < x.shape[0]:
        v = pk.vload(x, i, 4)
        w = pk.vload(y, i, 4)
        pk.vstore(out, i, a * v + w)


@pk.func
def body_body(bi, bj, acc, eps2):
    # GPU Gems 3, ch. 31 (CUDA samples nbody), bodyBodyInteraction on float4 positions, w = mass
    r = bj.xyz - bi.xyz
    dist_sqr = pk.dot(r, r) + eps2
    inv_dist = 1.0 / pk.sqrt(dist_sqr)
    s = bj.w * (inv_dist * inv_dist * inv_dist)
    return acc + r * s


@pk.kernel
def nbody_step(pos, vel, new_pos, new_vel, dt, eps2):
    i = pk.global_id(0)
    p = pk.vload(pos, (i, 0), 4)
    acc = pk.vec(pk.float32(0), 0, 0)
    for j in range(pos.shape[0]):
        acc = body_body(p, pk.vload(pos, (j, 0), 4), acc, eps2)
    v = pk.vload(vel, (i, 0), 4)
    v3 = (v.xyz + acc * dt) * 0.99
    pk.vstore(new_vel, (i, 0), pk.vec(v3, v.w))
    pk.vstore(new_pos, (i, 0), pk.vec(p.xyz + v3 * dt, p.w))


def test_float4_saxpy_port(backend, run):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(32).astype(np.float32)
    y = rng.standard_normal(32).astype(np.float32)
    out = np.zeros(32, np.float32)
    run(saxpy_float4, backend, 8, None, np.float32(1.5), x, y, out)
    # one rounding or two (a backend may contract a*x+y into an FMA, docs/semantics.md)
    np.testing.assert_allclose(out, np.float32(1.5) * x + y, rtol=2e-7, atol=1e-7)


def test_nbody_step_with_float4_positions_port(backend, run):
    rng = np.random.default_rng(7)
    n = 8
    pos = rng.standard_normal((n, 4)).astype(np.float32)
    pos[:, 3] = rng.uniform(0.5, 2.0, n)
    vel = rng.standard_normal((n, 4)).astype(np.float32)
    new_pos, new_vel = np.zeros_like(pos), np.zeros_like(vel)
    dt, eps2 = np.float32(0.01), np.float32(0.01)
    run(nbody_step, backend, n, None, pos, vel, new_pos, new_vel, dt, eps2)
    p = pos.astype(np.float64)
    r = p[None, :, :3] - p[:, None, :3]                    # r[i, j] = pos[j] - pos[i]
    inv = 1.0 / np.sqrt((r * r).sum(-1) + float(eps2))
    acc = (r * (p[None, :, 3] * inv ** 3)[:, :, None]).sum(1)
    v3 = (vel[:, :3] + acc * float(dt)) * 0.99
    np.testing.assert_allclose(new_vel[:, :3], v3, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(new_vel[:, 3], vel[:, 3])
    np.testing.assert_allclose(new_pos[:, :3], pos[:, :3] + v3 * float(dt), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(new_pos[:, 3], pos[:, 3])


# ----------------------------------------------------------------------------- the surface, exactly


@pk.func
def prefix4(v):
    # the uint4 scan helper of the CUDA scan samples: an inclusive prefix sum of four lanes
    v.y += v.x
    v.z += v.y
    v.w += v.z
    return v


@pk.kernel
def uint4_ops(x, out, s):
    i = pk.global_id(0)
    v = pk.vload(x, (i, 0), 4)
    m = (v << 3) ^ (v >> 1) | pk.uint32(1)
    m &= 0xFFFF
    pk.vstore(out, (i, 0), prefix4(m))
    s[i, 8] = m.w                             # the helper updated its own copy
    s[i, 0] = pk.vsum(v)
    s[i, 1] = pk.vmin(v)
    s[i, 2] = pk.vmax(v)
    s[i, 3] = pk.dot(v, pk.vec(1, 2, 3, 4))
    big = pk.where(v > 100, v, pk.uint32(0))
    s[i, 4] = big.x + big.y + big.z + big.w
    a, b, c, d = v.wzyx
    s[i, 5] = a - d if a > d else d - a
    s[i, 6] = len(v) + v[-1] % 7
    s[i, 7] = pk.vsum(pk.uint32(v == v.yzwx))


def test_uint4_bitwise_shifts_reductions_and_a_scan_helper(backend, run):
    rng = np.random.default_rng(3)
    x = rng.integers(0, 2**32, (6, 4), dtype=np.uint64).astype(np.uint32)
    x[0] = [5, 5, 5, 5]
    x[1] = [200, 7, 300, 2]
    out, s = np.zeros_like(x), np.zeros((6, 9), np.uint32)
    run(uint4_ops, backend, 6, None, x, out, s)
    m = ((x << np.uint32(3)) ^ (x >> np.uint32(1)) | np.uint32(1)) & np.uint32(0xFFFF)
    np.testing.assert_array_equal(out, np.cumsum(m, axis=1, dtype=np.uint32))
    np.testing.assert_array_equal(s[:, 0], x.sum(1, dtype=np.uint32))
    np.testing.assert_array_equal(s[:, 1], x.min(1))
    np.testing.assert_array_equal(s[:, 2], x.max(1))
    np.testing.assert_array_equal(s[:, 3], (x.astype(np.int64) * [1, 2, 3, 4]).sum(1).astype(np.uint32))
    np.testing.assert_array_equal(s[:, 4], np.where(x > 100, x, 0).sum(1, dtype=np.uint32))
    np.testing.assert_array_equal(s[:, 5], np.abs(x[:, 3].astype(np.int64) - x[:, 0]).astype(np.uint32))
    np.testing.assert_array_equal(s[:, 6], 4 + x[:, 3] % 7)
    np.testing.assert_array_equal(s[:, 7], (x == np.roll(x, -1, axis=1)).sum(1))
    np.testing.assert_array_equal(s[:, 8], m[:, 3])


@pk.func
def scale_both(v, f):
    return v * f, pk.vsum(v)


FLAG = False


@pk.kernel
def float_surface(x, out, s):
    i = pk.global_id(0)
    v = pk.vload(x, (i, 0), 4)
    w = pk.vec(1.0, 2.0, 3.0, 4.0) * v       # weak literals take the float32 of the loaded lanes
    w.x = 7                                   # one lane, converted to the lane type
    w[3] -= 0.5
    pk.vstore(out, (i, 0), w)
    acc = pk.vec(0.0, 0.0)
    for k in range(3):                        # a vector carried around a loop
        acc += v.xy * (k + 1)
    s[i, 0] = acc.x
    s[i, 1] = acc.y
    q = pk.sqrt(pk.abs(v)) + pk.min(v, 0.0)   # lanewise math, scalars broadcast
    s[i, 2] = q.z
    sc, total = scale_both(v.zw, 2.0)
    s[i, 3] = sc.y
    s[i, 4] = total
    t = v.yx
    t = t.yx                                  # a swizzle of the vector being reassigned
    s[i, 5] = t.y
    c = pk.where(-v < 0, pk.float64(v) * 2, pk.float64(0))
    s[i, 6] = c.w
    total = 0.0
    for k in range(3):                        # read in the loop before its first assignment
        if k > 0:
            total += prev.x * prev.y          # noqa: F821
        prev = v.yx * k                       # noqa: F841 - read in the next iteration
    s[i, 7] = total
    e = pk.vec(v, v * 10)                     # eight lanes: OpenCL's names
    e.s6 = -1.0
    s[i, 8] = e.s5 + e.hi.x * 100
    s[i, 9] = pk.vsum(e.s73 * pk.vec(1.0, 1000.0)) + pk.dot(e.even, e.odd) * 0 + e.lo.lo.hi
    s[i, 9] += (v if FLAG else 0.5).w + (0.5 if FLAG else v).w * 1000   # a vector either way
    pk.vstore(out, (i, 4), pk.vec(pk.int32(v.xy), 9, -1))


def test_lanes_swizzles_loops_helpers_and_lanewise_math(backend, run):
    x = np.array([[1, -4, 9, 16.5], [-2, 3, 0.25, -1]], np.float32)
    out = np.zeros((2, 8), np.float32)
    s = np.zeros((2, 10), np.float64)
    run(float_surface, backend, 2, None, x, out, s)
    w = x * [1, 2, 3, 4]
    w[:, 0] = 7
    w[:, 3] -= 0.5
    np.testing.assert_array_equal(out[:, :4], w)
    np.testing.assert_array_equal(out[:, 4:], np.c_[np.trunc(x[:, :2]), [9, 9], [-1, -1]])
    np.testing.assert_array_equal(s[:, 0], x[:, 0] * 6)
    np.testing.assert_array_equal(s[:, 1], x[:, 1] * 6)
    np.testing.assert_array_equal(s[:, 2], np.sqrt(np.abs(x[:, 2])) + np.minimum(x[:, 2], 0))
    np.testing.assert_array_equal(s[:, 3], x[:, 3] * 2)
    np.testing.assert_array_equal(s[:, 4], x[:, 2] + x[:, 3])
    np.testing.assert_array_equal(s[:, 5], x[:, 1])
    np.testing.assert_array_equal(s[:, 6], np.where(x[:, 3] > 0, x[:, 3].astype(np.float64) * 2, 0))
    np.testing.assert_array_equal(s[:, 7], (x[:, 1] * 0) * (x[:, 0] * 0) + (x[:, 1] * 1) * (x[:, 0] * 1))
    e = np.c_[x, x * 10]
    e[:, 6] = -1
    np.testing.assert_array_equal(s[:, 8], e[:, 5] + e[:, 4] * 100)
    np.testing.assert_array_equal(s[:, 9], e[:, 7] + e[:, 3] * 1000 + e[:, 1] + np.float32(0.5) + x[:, 3] * 1000)


@pk.kernel
def overlapping_copy(x):
    # every lane is read before any is stored: a shift by one element inside one vector
    pk.vstore(x, 1, pk.vload(x, 0, 4))


def test_vstore_reads_every_lane_before_storing(backend, run):
    x = np.arange(6, dtype=np.int64)
    run(overlapping_copy, backend, 1, None, x)
    np.testing.assert_array_equal(x, [0, 0, 1, 2, 3, 5])


@pk.kernel(debug=True)
def vload_past_the_end(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, i * 4 + 1, 4)
    out[i] = pk.vsum(v)


def test_vload_checks_every_lane_like_scalar_loads(backend):
    if backend in ("cuda", "numba-cuda") and not pk.get_backend(backend).is_available():
        pytest.skip(f"bounds errors are reported at launch; {backend} here is compile-only")
    x = np.arange(8, dtype=np.float32)
    with pytest.raises(pk.KernelIndexError) as info:
        vload_past_the_end.on(backend)[2](x, np.zeros(2, np.float32))
    assert "x" in str(info.value) and "8" in str(info.value)


# ----------------------------------------------------------------------------- compile errors

def lane_not_constant(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 4)
    out[i] = v[i]  # BAD


def length_mismatch(x, out):
    i = pk.global_id(0)
    out[i] = pk.vsum(pk.vload(x, 0, 4) + pk.vec(1.0, 2.0))  # BAD


def vector_into_element(x, out):
    i = pk.global_id(0)
    out[i] = pk.vload(x, 0, 2)  # BAD


def bad_length(x, out):
    i = pk.global_id(0)
    out[i] = pk.vsum(pk.vload(x, 0, 5))  # BAD


def count_not_constant(x, out):
    i = pk.global_id(0)
    out[i] = pk.vsum(pk.vload(x, 0, i))  # BAD


def vstore_a_number(x, out):
    i = pk.global_id(0)
    pk.vstore(out, 0, x[i])  # BAD


def truth_of_vector(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 2)
    if v > 0:  # BAD
        out[i] = 1.0


def ifexp_vector_test(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 2)
    out[i] = 1.0 if v > 0 else 0.0  # BAD


def no_such_lane(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 2)
    out[i] = v.z  # BAD


def vector_becomes_number(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 2)
    v = x[i]  # BAD
    out[i] = v


def vector_changes_length(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 2)
    v = pk.vload(x, 0, 3)  # BAD
    out[i] = v.x


def not_a_vector(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 0, 2)
    out[i] = not v  # BAD


@pk.func
def vector_or_number(v, k):
    if k > 0:
        return v
    return v.x


def helper_mixes_vector_and_number(x, out):
    i = pk.global_id(0)
    out[i] = pk.vsum(vector_or_number(pk.vload(x, 0, 2), i))  # BAD


ERRORS = [
    (lane_not_constant, "a vector lane index must be a compile-time integer"),
    (length_mismatch, "vector length mismatch: 4 lanes and 2 lanes"),
    (vector_into_element, "cannot store a vector of 2 float32 into one array element"),
    (bad_length, "a vector has 2, 3, 4, 8 or 16 lanes, not 5"),
    (count_not_constant, "the lane count of pk.vload() must be a compile-time integer"),
    (vstore_a_number, "pk.vstore() stores a vector, got a float32 number"),
    (truth_of_vector, "expected a number here, got a vector of 2 bool_"),
    (ifexp_vector_test, "expected a number here, got a vector of 2 bool_"),
    (no_such_lane, "a vector of 2 float32 has no lane 'z'"),
    (vector_becomes_number, "'v' holds a vector of 2 lanes; it cannot be rebound to a number"),
    (vector_changes_length, "'v' holds a vector of 2 lanes; it cannot be assigned a vector of 3"),
    (not_a_vector, "'not' on a vector of 2 float32 is ambiguous"),
    (helper_mixes_vector_and_number, "helper 'vector_or_number' returns a number here but a vector of 2"),
]


def _bad_line(fn) -> int:
    import inspect

    lines, first = inspect.getsourcelines(fn)
    return first + next(k for k, ln in enumerate(lines) if "# BAD" in ln)


@pytest.mark.parametrize("fn,message", ERRORS, ids=[f.__name__ for f, _ in ERRORS])
def test_vector_misuse_is_a_compile_error_naming_the_line(fn, message):
    kern = pk.kernel(fn)
    x = np.arange(8, dtype=np.float32)
    out = np.full(4, -1.0, dtype=np.float32)
    with pytest.raises(pk.CompileError) as info:
        kern.on("numpy")[4](x, out)
    msg = str(info.value)
    assert message in msg, msg
    if fn is not helper_mixes_vector_and_number:          # that one points into the helper
        assert f"{os.path.basename(__file__)}:{_bad_line(fn)}" in msg, msg
    np.testing.assert_array_equal(out, -1.0)


@pk.kernel
def any_all(x, out):
    i = pk.global_id(0)
    m = pk.vload(x, (i, 0), 3) > 0
    out[i, 0] = pk.vmax(m)        # any lane
    out[i, 1] = pk.vmin(m)        # every lane


def test_bool_vectors_reduce_to_any_and_all(backend, run):
    x = np.array([[1, 2, 3], [1, -2, 3], [-1, -2, -3]], np.float32)
    out = np.zeros((3, 2), np.bool_)
    run(any_all, backend, 3, None, x, out)
    np.testing.assert_array_equal(out, [[True, True], [True, False], [False, False]])


@pk.kernel
def through_local_and_private(x, out):
    # a float4 staged through work-group memory (read back by a neighbour) and a private array
    i = pk.global_id(0)
    lid = pk.local_id(0)
    tile = pk.local_array((4, 4), pk.float32)
    pk.vstore(tile, (lid, 0), pk.vload(x, (i, 0, 0), 4))
    pk.barrier()
    p = pk.private_array(8, pk.float32)
    pk.vstore(p, 2, pk.vload(tile, ((lid + 1) % 4, 0), 4).wzyx)
    pk.vstore(out, (i, 1, 0), pk.vload(p, 2, 4) + pk.vload(x, (i, 1, 0), 4))


def test_vload_vstore_on_local_private_and_3d_arrays(backend, run):
    x = np.arange(8 * 2 * 4, dtype=np.float32).reshape(8, 2, 4)
    out = np.zeros_like(x)
    run(through_local_and_private, backend, 8, 4, x, out)
    i = np.arange(8)
    nb = (i // 4) * 4 + (i % 4 + 1) % 4
    np.testing.assert_array_equal(out[:, 1], x[nb, 0, ::-1] + x[:, 1])
    np.testing.assert_array_equal(out[:, 0], 0)
