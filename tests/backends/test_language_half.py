"""float16 and bfloat16 arrays: loads widen to float32 exactly, stores round once from float32 to
nearest even (docs/semantics.md "Half precision"), the same bits on every backend.

Expected values are NumPy's and ml_dtypes' own conversions, and a table of hand-worked cases that
pins the rounding rule independently of both (ties to even, overflow, denormals, signed zeros).
"""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

ml_dtypes = pytest.importorskip("ml_dtypes")
HALVES = {"float16": np.dtype(np.float16), "bfloat16": np.dtype(ml_dtypes.bfloat16)}
#: the numba-cuda simulator runs ~0.1 ms per work-item: it gets every hand case, not every bit pattern
SMALL = {"numba-cuda"}


@pk.kernel
def copy(x, out):
    """float16/bfloat16 -> float32 (a load) or float32 -> float16/bfloat16 (a store)."""
    i = pk.global_id(0)
    out[i] = x[i]


@pk.kernel
def axpy(a: pk.float32, x, y, out):
    i = pk.global_id(0)
    out[i] = a * x[i] + y[i]


@pk.kernel
def accumulate(x, out):
    i = pk.global_id(0)
    out[i] += x[i]
    out[i] *= 0.5


#: (float32 value, its float16 bits, its bfloat16 bits), worked by hand from the formats
HAND = [
    (1.0, 0x3C00, 0x3F80),
    (-2.0, 0xC000, 0xC000),
    (0.0, 0x0000, 0x0000),
    (-0.0, 0x8000, 0x8000),
    (1.0 + 2.0 ** -11, 0x3C00, 0x3F80),          # float16 tie between 1 and 1+2**-10: even (1)
    (1.0 + 3 * 2.0 ** -11, 0x3C02, 0x3F80),      # tie between 1+2**-10 and 1+2**-9: even (1+2**-9)
    (1.0 + 2.0 ** -8, 0x3C04, 0x3F80),           # bfloat16 tie between 1 and 1+2**-7: even (1)
    (1.0 + 3 * 2.0 ** -8, 0x3C0C, 0x3F82),       # bfloat16 tie rounds up to the even 1+2**-6
    (65504.0, 0x7BFF, 0x4780),                   # largest finite float16
    (65519.99609375, 0x7BFF, 0x4780),            # just below the tie: stays finite
    (65520.0, 0x7C00, 0x4780),                   # the tie above 65504 rounds to even: infinity
    (-1e30, 0xFC00, 0xF14A),                     # float16 overflow keeps the sign
    (3.4028234663852886e38, 0x7C00, 0x7F80),     # float32 max overflows bfloat16 too
    (float("inf"), 0x7C00, 0x7F80),
    (float("-inf"), 0xFC00, 0xFF80),
    (2.0 ** -24, 0x0001, 0x3380),                # smallest float16 denormal
    (2.0 ** -25, 0x0000, 0x3300),                # a tie with zero: even (zero)
    (-(2.0 ** -25) * 1.5, 0x8001, 0xB340),       # above the tie: the smallest denormal, signed
    (2.0 ** -14 - 2.0 ** -25, 0x0400, 0x3880),   # the largest denormal's tie rounds up to a normal
    (2.0 ** -130, 0x0000, 0x0008),               # a bfloat16 (and float32) denormal, exact
    (2.0 ** -133, 0x0000, 0x0001),               # the smallest bfloat16 denormal
]


def _bits_equal(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Elementwise: the same bits, or both NaN (a NaN's payload and sign are not portable)."""
    g, w = got.astype(np.float32), want.astype(np.float32)
    return (got.view(np.uint16) == want.view(np.uint16)) | (np.isnan(g) & np.isnan(w))


def _float32_cases(backend: str) -> np.ndarray:
    hand = np.array([h[0] for h in HAND] + [np.nan, -np.nan], np.float32)
    if backend in SMALL:
        return hand
    rng = np.random.default_rng(7)
    bits = np.concatenate([rng.integers(0, 2 ** 32, 4000, dtype=np.uint64).astype(np.uint32),
                           np.arange(0, 2 ** 16, 7, dtype=np.uint32) << 16,                 # bfloat16 ties
                           (np.arange(0, 2 ** 15, 5, dtype=np.uint32) << 13) + 0x38001000])   # float16 ties
    return np.concatenate([hand, bits.view(np.float32)])


@pytest.mark.parametrize("name", HALVES)
def test_every_half_bit_pattern_loads_exactly_as_float32(backend, run, name):
    dt = HALVES[name]
    h = np.arange(2 ** 16, dtype=np.uint32).astype(np.uint16)
    if backend in SMALL:
        h = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0x7C00, 0xFC00, 0x7E00,
                      0x0080, 0x007F, 0x7F80, 0xFF81], np.uint16)
    x = h.view(dt)
    out = np.full(x.shape, -1.0, np.float32)
    run(copy, backend, x.size, None, x, out)
    want = x.astype(np.float32)
    same = (out.view(np.uint32) == want.view(np.uint32)) | (np.isnan(out) & np.isnan(want))
    assert same.all(), h[~same][:10]


def test_half_loads_give_the_values_of_the_formats(backend, run):
    x = np.array([0x3C00, 0x0001, 0x8400, 0x7BFF], np.uint16).view(np.float16)
    out = np.zeros(4, np.float32)
    run(copy, backend, 4, None, x, out)
    assert out.tolist() == [1.0, 2.0 ** -24, -(2.0 ** -14), 65504.0]
    xb = np.array([0x3F80, 0x0001, 0xC040, 0x7F7F], np.uint16).view(HALVES["bfloat16"])
    run(copy, backend, 4, None, xb, out)
    assert out.tolist() == [1.0, 2.0 ** -133, -3.0, float(np.float32(2.0 ** 127 * (2 - 2.0 ** -7)))]


@pytest.mark.parametrize("name", HALVES)
def test_float32_stores_round_once_to_nearest_even(backend, run, name):
    dt = HALVES[name]
    x = _float32_cases(backend)
    out = np.zeros(x.size, dt)
    run(copy, backend, x.size, None, x, out)
    with np.errstate(all="ignore"):
        want = x.astype(dt)
    same = _bits_equal(out, want)
    assert same.all(), (x[~same][:5], out[~same][:5], want[~same][:5])
    column = 1 if name == "float16" else 2
    hand = np.array([h[column] for h in HAND], np.uint16)
    assert out[:len(HAND)].view(np.uint16).tolist() == hand.tolist()
    assert np.isnan(out[len(HAND):len(HAND) + 2].astype(np.float32)).all()


@pytest.mark.parametrize("name", HALVES)
def test_arithmetic_runs_in_float32_and_rounds_once_at_the_store(backend, run, name):
    dt = HALVES[name]
    rng = np.random.default_rng(3)
    n = 16 if backend in SMALL else 512
    x = rng.standard_normal(n).astype(np.float32).astype(dt)
    y = rng.standard_normal(n).astype(np.float32).astype(dt)
    out = np.zeros(n, dt)
    a = np.float32(1.7)
    run(axpy, backend, n, None, a, x, y, out)
    want = (a * x.astype(np.float32) + y.astype(np.float32)).astype(dt)   # float32 math, one rounding
    assert _bits_equal(out, want).all()


@pytest.mark.parametrize("name", HALVES)
def test_augmented_stores_into_half_arrays_round_each_store(backend, run, name):
    dt = HALVES[name]
    x = np.array([1.0, 3.0, 0.1, -7.5], np.float32).astype(dt)
    out = np.array([0.5, 2.0 ** -3, 1000.0, 2.5], np.float32).astype(dt)
    first = (out.astype(np.float32) + x.astype(np.float32)).astype(dt)
    want = (first.astype(np.float32) * np.float32(0.5)).astype(dt)
    run(accumulate, backend, 4, None, x, out)
    assert _bits_equal(out, want).all()


def test_half_arrays_mix_with_float32_arrays_in_one_kernel(backend, run):
    x = np.array([1.5, -2.25, 65504.0, 2.0 ** -24], np.float16)
    y = np.array([0.5, 0.25, 1.0, 0.0], np.float32)
    out = np.zeros(4, HALVES["bfloat16"])
    run(axpy, backend, 4, None, np.float32(2.0), x, y, out)
    assert out.astype(np.float32).tolist() == [3.5, -4.25, 131072.0, 2.0 ** -23]


@pk.kernel
def scale_vectors(x, out):
    i = pk.global_id(0)
    v = pk.vload(x, 4 * i, 4)
    pk.vstore(out, 4 * i, v * 3.0)


def test_vector_loads_and_stores_of_half_arrays_convert_each_lane(backend, run):
    x = np.array([1.0, -0.1, 2.0 ** -24, 30000.0, 0.5, 7.0, -2.0, 1e-3], np.float16)
    out = np.zeros(8, HALVES["bfloat16"])
    run(scale_vectors, backend, 2, None, x, out)
    want = (x.astype(np.float32) * np.float32(3.0)).astype(HALVES["bfloat16"])
    assert _bits_equal(out, want).all()


@pk.kernel
def group_sums(x, out):
    """Each work-group of 8 sums its float16 elements in float32 local memory; one bfloat16 per group."""
    tile = pk.local_array(8, pk.float32)
    lid = pk.local_id(0)
    tile[lid] = x[pk.global_id(0)]
    pk.barrier()
    if lid == 0:
        total = pk.float32(0.0)
        for k in range(8):
            total += tile[k]
        out[pk.group_id(0)] = total


def test_half_arrays_in_work_group_kernels_with_local_memory(backend, run):
    x = (np.arange(32, dtype=np.float32) * np.float32(1.25) - 7).astype(np.float16)
    out = np.zeros(4, HALVES["bfloat16"])
    run(group_sums, backend, 32, 8, x, out)
    sums = [np.float32(0.0)] * 4
    for g in range(4):
        for k in range(8):
            sums[g] = np.float32(sums[g] + np.float32(x[8 * g + k]))
    assert out.tolist() == np.array(sums, np.float32).astype(HALVES["bfloat16"]).tolist()


def test_strided_half_views_are_read_and_written_in_place(backend, run):
    x = np.arange(16, dtype=np.float32).astype(HALVES["bfloat16"])[::2]
    base = np.full(16, 9.0, np.float16)
    out = base[::2]
    run(copy, backend, 8, None, x, out)
    assert base.tolist() == [v for k in range(8) for v in (2.0 * k, 9.0)]


# ------------------------------------------------------------------------------ what is refused
@pk.kernel
def store_float64(x, out):
    i = pk.global_id(0)
    out[i] = x[i] * 2.0                                    # float64 * literal: float64


@pk.kernel
def store_int(n, out):
    i = pk.global_id(0)
    out[i] = n[i]


@pk.kernel
def store_literal_and_converted(x, out):
    i = pk.global_id(0)
    out[i] = 0.1
    out[i + 1] = pk.float32(x[i])


@pk.kernel
def half_cast(x, out):
    i = pk.global_id(0)
    out[i] = pk.float16(x[i])


@pk.kernel
def half_local(x, out):
    i = pk.global_id(0)
    tmp = pk.local_array(4, pk.bfloat16)
    tmp[0] = x[i]
    out[i] = tmp[0]


@pk.kernel
def half_atomic(x, out):
    i = pk.global_id(0)
    pk.atomic_add(out, 0, x[i])


@pk.kernel
def half_scalar(a: pk.float16, out):
    out[0] = a


@pytest.mark.parametrize("kernel, args, what", [
    (store_float64, (np.ones(2), np.zeros(2, np.float16)), "storing float64 values into a float16 array"),
    (store_int, (np.ones(2, np.int32), np.zeros(2, np.float16)), "storing int32 values into a float16 array"),
    (half_cast, (np.ones(2, np.float32), np.zeros(2, np.float16)), "float16 values do not exist in kernels"),
    (half_local, (np.ones(2, np.float32), np.zeros(2, np.float32)), "local_array() of bfloat16"),
    (half_atomic, (np.ones(2, np.float32), np.zeros(2, np.float16)), "atomic_add() does not support float16"),
])
def test_unsupported_half_uses_are_compile_errors_naming_the_line(kernel, args, what):
    with pytest.raises(pk.CompileError) as info:
        kernel.on("numpy")[2](*args)
    msg = str(info.value)
    assert what in msg
    assert "test_language_half.py:" in msg


@pytest.mark.parametrize("kernel, args", [
    (store_float64, (np.ones(2), np.zeros(2, np.float16))),
    (half_cast, (np.ones(2, np.float32), np.zeros(2, np.float16))),
    (half_local, (np.ones(2, np.float32), np.zeros(2, np.float32))),
    (half_atomic, (np.ones(2, np.float32), np.zeros(2, np.float16))),
    (half_scalar, (np.float32(1), np.zeros(1, np.float16))),
])
def test_refused_half_uses_name_the_kernel(kernel, args):
    with pytest.raises(pk.CompileError, match=f"kernel '{kernel.__name__}'"):
        kernel.on("numpy")[1](*args)


def test_literals_and_explicit_float32_conversions_store_into_half():
    out = np.zeros(3, np.float16)
    store_literal_and_converted.on("numpy")[1](np.array([1 / 3]), out)
    assert out.tolist() == [np.float16(0.1), np.float16(np.float32(1 / 3)), 0.0]


def test_half_scalars_are_refused():
    with pytest.raises(pk.CompileError, match="parameter 'a' is annotated pk.float16"):
        half_scalar.on("numpy")[1](np.float32(1), np.zeros(1, np.float16))
    with pytest.raises(pk.LaunchError, match="parameter 'x': scalars of dtype float16"):
        copy.on("numpy")[1](np.float16(1), np.zeros(1, np.float32))


def test_bfloat16_without_ml_dtypes_is_a_missing_dependency(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ml_dtypes", None)      # import ml_dtypes now raises ImportError
    with pytest.raises(pk.MissingDependency, match=r"ml_dtypes.*portakern\[half\]"):
        pk.bfloat16.dtype  # noqa: B018 - the property is what raises


def test_jax_arrays_of_half_dtypes_are_used_as_they_are():
    jnp = pytest.importorskip("jax.numpy")
    if "jax" not in pk.available_backends():
        pytest.skip("jax is not available")
    x = jnp.asarray(np.array([1.0, 2.0 ** -133, -3.5], np.float32).astype(HALVES["bfloat16"]))
    out = jnp.zeros(3, jnp.float16)
    res = copy.on("jax")[3](x, out)
    assert res.dtype == jnp.float16
    assert np.asarray(res).tolist() == [1.0, 0.0, -3.5]
