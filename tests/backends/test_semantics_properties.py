"""docs/semantics.md's integer, shift, division, conversion and min/max semantics, bit for bit, on every
backend: small kernels run over batches of generated values and are compared with the independent
pure-Python model in tests/model/numerics.py.

Each Hypothesis example is one launch over a fixed-size batch (N values), so a kernel compiles once per
(kernel, dtype) and only the data varies. The boundary tests run the full cross product of each type's
boundary values (INT_MIN/MAX, -1, 0, width-1, width, width+1 ...) in one launch.
"""
from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import portakern as pk
from tests.model import numerics as M
from tests.model.compare import canonical_bits

N = 64                      # values per launch (fixed: jax compiles per shape)
# Each example already checks up to N values; a quarter of the profile's examples keeps the suite quick
# ("ci": 25 launches of up to 64 values per type and backend) and still scales with "full".
BATCHED = settings(max_examples=max(1, settings.default.max_examples // 4))
INT_TYPES = list(M.INT_TYPES)
INT_OPS = ["+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^", "neg", "abs", "min", "max", "~", "**"]


@pk.kernel
def int_ops(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        x = a[i]
        y = b[i]
        out[0, i] = x + y
        out[1, i] = x - y
        out[2, i] = x * y
        out[3, i] = x // y
        out[4, i] = x % y
        out[5, i] = x << y
        out[6, i] = x >> y
        out[7, i] = x & y
        out[8, i] = x | y
        out[9, i] = x ^ y
        out[10, i] = -x
        out[11, i] = abs(x)
        out[12, i] = min(x, y)
        out[13, i] = max(x, y)
        out[14, i] = ~x
        out[15, i] = x ** y


@pk.kernel
def float_to_every_int(x, s1, s2, s3, s4, s5, s6, s7, s8, c1, c2, c3, c4, c5, c6, c7, c8):
    i = pk.global_id(0)
    if i < x.shape[0]:
        v = x[i]
        s1[i] = v                   # stores convert ...
        s2[i] = v
        s3[i] = v
        s4[i] = v
        s5[i] = v
        s6[i] = v
        s7[i] = v
        s8[i] = v
        c1[i] = pk.int8(v)          # ... and so do explicit casts
        c2[i] = pk.int16(v)
        c3[i] = pk.int32(v)
        c4[i] = pk.int64(v)
        c5[i] = pk.uint8(v)
        c6[i] = pk.uint16(v)
        c7[i] = pk.uint32(v)
        c8[i] = pk.uint64(v)


@pk.kernel
def int_to_every_int(x, o1, o2, o3, o4, o5, o6, o7, o8):
    i = pk.global_id(0)
    if i < x.shape[0]:
        v = x[i]
        o1[i] = v
        o2[i] = v
        o3[i] = v
        o4[i] = v
        o5[i] = v
        o6[i] = v
        o7[i] = v
        o8[i] = v


@pk.kernel
def every_int_to_floats(a1, a2, a3, a4, a5, a6, a7, a8, f32, f64):
    i = pk.global_id(0)
    if i < a1.shape[0]:
        f32[0, i] = pk.float32(a1[i])
        f32[1, i] = pk.float32(a2[i])
        f32[2, i] = pk.float32(a3[i])
        f32[3, i] = pk.float32(a4[i])
        f32[4, i] = pk.float32(a5[i])
        f32[5, i] = pk.float32(a6[i])
        f32[6, i] = pk.float32(a7[i])
        f32[7, i] = pk.float32(a8[i])
        f64[0, i] = a1[i]
        f64[1, i] = a2[i]
        f64[2, i] = a3[i]
        f64[3, i] = a4[i]
        f64[4, i] = a5[i]
        f64[5, i] = a6[i]
        f64[6, i] = a7[i]
        f64[7, i] = a8[i]


@pk.kernel
def float_convert(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[i] = x[i]


@pk.kernel
def float_min_max(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[0, i] = min(a[i], b[i])
        out[1, i] = max(a[i], b[i])
        out[2, i] = pk.min(a[i], b[i])
        out[3, i] = pk.max(a[i], b[i])


@pk.kernel
def int_ops_with_literals(x, out):
    i = pk.global_id(0)
    if i < x.shape[0]:
        out[0, i] = x[i] << 32
        out[1, i] = x[i] >> 40
        out[2, i] = x[i] << -1
        out[3, i] = x[i] // 0
        out[4, i] = x[i] % 0
        out[5, i] = x[i] // -1
        out[6, i] = x[i] % -1
        out[7, i] = x[i] >> 31
        out[8, i] = x[i] * -1


@pk.kernel
def float_divmod(a, b, out):
    i = pk.global_id(0)
    if i < a.shape[0]:
        out[0, i] = a[i] // b[i]
        out[1, i] = a[i] % b[i]


# ------------------------------------------------------------------------------------------ helpers
def _skip_cuda_without_gpu(backend: str) -> None:
    # the boundary tests compile every kernel for cuda; the property tests need to run
    if backend == "cuda" and not pk.get_backend("cuda").is_available():
        pytest.skip("cuda: running needs a GPU (compiled by the boundary tests)")


def _pad(values: list, n: int = N) -> list:
    return [values[k % len(values)] for k in range(n)]


def _chunks(values: list) -> list[list]:
    """``values`` in launches of exactly N (the last one padded), so every launch has one shape."""
    return [_pad(values[k:k + N]) for k in range(0, len(values), N)]


def _model_int(op: str, a: int, b: int, t: str) -> int:
    return {
        "+": M.add, "-": M.sub, "*": M.mul, "//": M.floordiv, "%": M.mod, "<<": M.shl, ">>": M.shr,
        "&": M.bitand, "|": M.bitor, "^": M.bitxor,
        "neg": lambda x, _y, tt: M.neg(x, tt), "abs": lambda x, _y, tt: M.iabs(x, tt),
        "min": lambda x, y, _t: M.imin(x, y), "max": lambda x, y, _t: M.imax(x, y),
        "~": lambda x, _y, tt: M.invert(x, tt), "**": M.ipow,
    }[op](a, b, t)


def _mismatches(got: np.ndarray, expected: np.ndarray, inputs: list, what: str) -> list[str]:
    bad = np.nonzero(canonical_bits(got) != canonical_bits(expected))[0]
    return [f"{what}{inputs[k]!r}: got {got[k]!r}, expected {expected[k]!r}" for k in bad[:5]]


def _check_int_ops(backend: str, run, t: str, pairs: list[tuple[int, int]]) -> None:
    for chunk in _chunks(pairs):
        _check_int_ops_batch(backend, run, t, chunk)


def _check_int_ops_batch(backend: str, run, t: str, pairs: list[tuple[int, int]]) -> None:
    n = len(pairs)
    a = np.array([p[0] for p in pairs], dtype=t)
    b = np.array([p[1] for p in pairs], dtype=t)
    out = np.zeros((len(INT_OPS), n), dtype=t)
    run(int_ops, backend, n, None, a, b, out)
    errors = []
    for q, op in enumerate(INT_OPS):
        expected = np.array([_model_int(op, x, y, t) for x, y in pairs], dtype=t)
        errors += _mismatches(out[q], expected, pairs, f"{t} {op} ")
    assert not errors, "\n".join(errors)


def _ints(t: str):
    return st.sampled_from(M.boundary_ints(t)) | st.integers(M.int_min(t), M.int_max(t))


def _shift_counts(t: str):
    lo = M.int_min(t)
    return st.integers(max(lo, -3), M.bits(t) + 3) | _ints(t)


def _is_subnormal(x: float, t: str) -> bool:
    tiny = 2.0**-126 if t == "float32" else 2.0**-1022
    return x != 0 and math.isfinite(x) and abs(x) < tiny


SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.9999999, -0.9999999, 1.5, -1.5, 2.5, 127.5, 128.0,
                  -128.5, 255.5, 256.0, -129.0, 32767.5, 65535.9, 65536.0, 2.0**31 - 128, 2.0**31, -(2.0**31),
                  -(2.0**31) - 256, 2.0**32 - 256, 2.0**32, 2.0**63, -(2.0**63), 2.0**64, 2.0**63 - 1024,
                  1e30, -1e30, math.inf, -math.inf, math.nan, 3.4028234663852886e38, 1e300, -1e300, 2.0**-149]


def _floats(t: str):
    width = 32 if t == "float32" else 64
    special = [M.round_float(v, t) for v in SPECIAL_FLOATS]
    return st.sampled_from(special) | st.floats(width=width) | \
        st.floats(-(2.0**65), 2.0**65, width=width)


# ------------------------------------------------------------------------------ integer arithmetic
@pytest.mark.parametrize("t", INT_TYPES)
def test_integer_ops_on_boundary_values_match_the_model(backend, run, t):
    vals = M.boundary_ints(t)
    pairs = [(x, y) for x in vals for y in vals]
    _check_int_ops(backend, run, t, pairs)


@pytest.mark.parametrize("t", INT_TYPES)
def test_integer_ops_match_the_model(backend, run, t):
    _skip_cuda_without_gpu(backend)

    @BATCHED
    @given(st.lists(st.tuples(_ints(t), _ints(t) | _shift_counts(t)), min_size=1, max_size=N))
    def check(pairs):
        _check_int_ops(backend, run, t, pairs)

    check()


def test_literal_operands_follow_the_model(backend, run):
    # constant operands take other code paths (constant folding, C's compile-time UB for x / 0 or
    # x << 32); the contract is the same
    x = M.boundary_ints("int32")
    out = np.zeros((9, len(x)), np.int32)
    run(int_ops_with_literals, backend, len(x), None, np.array(x, np.int32), out)
    t = "int32"
    expected = [[M.shl(v, 32, t) for v in x], [M.shr(v, 40, t) for v in x], [M.shl(v, -1, t) for v in x],
                [M.floordiv(v, 0, t) for v in x], [M.mod(v, 0, t) for v in x], [M.floordiv(v, -1, t) for v in x],
                [M.mod(v, -1, t) for v in x], [M.shr(v, 31, t) for v in x], [M.mul(v, -1, t) for v in x]]
    names = ["<< 32", ">> 40", "<< -1", "// 0", "% 0", "// -1", "% -1", ">> 31", "* -1"]
    errors = []
    for q, name in enumerate(names):
        errors += _mismatches(out[q], np.array(expected[q], np.int32), x, f"int32 {name} of ")
    assert not errors, "\n".join(errors)


# --------------------------------------------------------------------------------- conversions
INT_OUT = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]


def _check_float_to_int(backend, run, src: str, values: list[float]) -> None:
    for chunk in _chunks(values):
        x = np.array(chunk, dtype=src)
        outs = [np.zeros(N, dtype=t) for t in INT_OUT * 2]
        run(float_to_every_int, backend, N, None, x, *outs)
        errors = []
        for k, (t, o) in enumerate(zip(INT_OUT * 2, outs)):
            expected = np.array([M.float_to_int(float(v), t) for v in x], dtype=t)
            how = "store" if k < len(INT_OUT) else "cast"
            errors += _mismatches(o, expected, [float(v) for v in x], f"{src}->{t} ({how}) of ")
        assert not errors, "\n".join(errors)


@pytest.mark.parametrize("src", ["float32", "float64"])
def test_float_to_int_saturates_and_maps_nan_to_zero_on_special_values(backend, run, need_fp64, src):
    need_fp64(src)
    _check_float_to_int(backend, run, src, [M.round_float(v, src) for v in SPECIAL_FLOATS])


@pytest.mark.parametrize("src", ["float32", "float64"])
def test_float_to_int_matches_the_model(backend, run, need_fp64, src):
    need_fp64(src)
    _skip_cuda_without_gpu(backend)

    @BATCHED
    @given(st.lists(_floats(src), min_size=1, max_size=N))
    def check(values):
        _check_float_to_int(backend, run, src, values)

    check()


@pytest.mark.parametrize("src", ["int64", "uint64"])
def test_int_to_int_conversions_wrap(backend, run, src):
    values = M.boundary_ints(src) + [M.int_max("int32") + 1, 0x1234_5678_9ABC]
    for chunk in _chunks(values):
        x = np.array(chunk, dtype=src)
        outs = [np.zeros(N, dtype=t) for t in INT_OUT]
        run(int_to_every_int, backend, N, None, x, *outs)
        errors = []
        for t, o in zip(INT_OUT, outs):
            expected = np.array([M.wrap(v, t) for v in chunk], dtype=t)
            errors += _mismatches(o, expected, chunk, f"{src}->{t} of ")
        assert not errors, "\n".join(errors)


def _check_int_to_float(backend, run, per_type: dict[str, list[int]]) -> None:
    """Convert each int type's values (one launch converts all eight types) and compare."""
    batches = {t: _chunks(per_type[t]) for t in INT_TYPES}
    for k in range(max(len(b) for b in batches.values())):
        vals = {t: batches[t][k % len(batches[t])] for t in INT_TYPES}
        arrays = [np.array(vals[t], dtype=t) for t in INT_TYPES]
        f32, f64 = np.zeros((8, N), np.float32), np.zeros((8, N), np.float64)
        run(every_int_to_floats, backend, N, None, *arrays, f32, f64)
        errors = []
        for q, t in enumerate(INT_TYPES):
            v = vals[t]
            errors += _mismatches(f32[q], np.array([M.int_to_float(x, "float32") for x in v], np.float32), v,
                                  f"{t}->float32 of ")
            errors += _mismatches(f64[q], np.array([M.int_to_float(x, "float64") for x in v], np.float64), v,
                                  f"{t}->float64 of ")
        assert not errors, "\n".join(errors)


ROUNDING_INTS = [2**24 + 1, 2**24 + 3, -(2**24) - 1, 2**53 + 1, 2**53 + 3, 2**62 + 2**38 + 1, 2**63 - 1,
                 -(2**63), 2**64 - 1, 2**32 - 1, 2**31 + 2**7, 2**31 + 3 * 2**7]


def test_int_to_float_rounds_to_nearest_even(backend, run, need_fp64):
    need_fp64("float64")
    _check_int_to_float(backend, run, {
        t: M.boundary_ints(t) + [v for v in ROUNDING_INTS if M.int_min(t) <= v <= M.int_max(t)]
        for t in INT_TYPES})


def test_int_to_float_matches_the_model(backend, run, need_fp64):
    need_fp64("float64")
    _skip_cuda_without_gpu(backend)

    @BATCHED
    @given(st.fixed_dictionaries({t: st.lists(_ints(t), min_size=1, max_size=N) for t in INT_TYPES}))
    def check(per_type):
        _check_int_to_float(backend, run, per_type)

    check()


def _check_f64_to_f32(backend, run, values: list[float], flushes: bool) -> None:
    if flushes:       # tier-0 comparisons skip subnormal inputs and results on flushing backends
        values = [v for v in values if not (_is_subnormal(v, "float64") or _is_subnormal(M.f32(v), "float32")
                                            or (M.f32(v) == 0 and v != 0))] or [1.0]
    for chunk in _chunks(values):
        x = np.array(chunk, dtype=np.float64)
        out = np.zeros(N, dtype=np.float32)
        run(float_convert, backend, N, None, x, out)
        expected = np.array([M.f32(v) for v in chunk], dtype=np.float32)
        errors = _mismatches(out, expected, chunk, "float64->float32 of ")
        assert not errors, "\n".join(errors)


def test_float64_to_float32_rounds_to_nearest_even(backend, run, caps, need_fp64):
    need_fp64("float64")
    ties = [1.0 + 2.0**-24, 1.0 + 3 * 2.0**-24, -(1.0 + 2.0**-24), 3.4028235677973366e38,
            math.nextafter(3.4028235677973366e38, 0.0), 2.0**-150, 3 * 2.0**-150, 1e-45]
    _check_f64_to_f32(backend, run, [float(v) for v in SPECIAL_FLOATS] + ties, caps.flushes_denormals)


def test_float64_to_float32_matches_the_model(backend, run, caps, need_fp64):
    need_fp64("float64")
    _skip_cuda_without_gpu(backend)
    flushes = caps.flushes_denormals

    @BATCHED
    @given(st.lists(_floats("float64"), min_size=1, max_size=N))
    def check(values):
        _check_f64_to_f32(backend, run, values, flushes)

    check()


# ---------------------------------------------------------------------------------- float min/max
def _check_min_max(backend, run, t: str, pairs: list[tuple[float, float]], flushes: bool) -> None:
    if flushes:
        pairs = [(x, y) for x, y in pairs if not (_is_subnormal(x, t) or _is_subnormal(y, t))] or [(1.0, 2.0)]
    for chunk in _chunks(pairs):
        _check_min_max_batch(backend, run, t, chunk)


def _check_min_max_batch(backend, run, t: str, pairs: list[tuple[float, float]]) -> None:
    a = np.array([p[0] for p in pairs], dtype=t)
    b = np.array([p[1] for p in pairs], dtype=t)
    out = np.zeros((4, len(pairs)), dtype=t)
    run(float_min_max, backend, len(pairs), None, a, b, out)
    exp_min = np.array([M.fmin(x, y) for x, y in pairs], dtype=t)
    exp_max = np.array([M.fmax(x, y) for x, y in pairs], dtype=t)
    errors = []
    for q, (name, e) in enumerate([("min", exp_min), ("max", exp_max), ("pk.min", exp_min), ("pk.max", exp_max)]):
        errors += _mismatches(out[q], e, pairs, f"{t} {name}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("t", ["float32", "float64"])
def test_float_min_max_propagate_nan_and_order_signed_zeros(backend, run, caps, need_fp64, t):
    need_fp64(t)
    specials = [0.0, -0.0, math.nan, math.inf, -math.inf, 1.0, -1.0, 2.0**-149 if t == "float32" else 5e-324]
    pairs = [(x, y) for x in specials for y in specials]
    _check_min_max(backend, run, t, pairs, caps.flushes_denormals)


@pytest.mark.parametrize("t", ["float32", "float64"])
def test_float_min_max_match_the_model(backend, run, caps, need_fp64, t):
    need_fp64(t)
    _skip_cuda_without_gpu(backend)
    flushes = caps.flushes_denormals

    @BATCHED
    @given(st.lists(st.tuples(_floats(t), _floats(t)), min_size=1, max_size=N))
    def check(pairs):
        _check_min_max(backend, run, t, pairs, flushes)

    check()


# ------------------------------------------------------------------------- float // and % (as NumPy)
# docs/semantics.md does not list float // and % in tier 0, but the IR's contract (portakern/ir/nodes.py:
# "floats: Python/NumPy floor_divide", "np.remainder (Python semantics)") fixes them to NumPy's values,
# so the expected values here are NumPy's, computed on the host.
def _check_float_divmod(backend, run, t: str, pairs: list[tuple[float, float]], flushes: bool) -> None:
    def ok(x, y):
        with np.errstate(all="ignore"):
            q, r = np.floor_divide(np.array(x, t), np.array(y, t)), np.remainder(np.array(x, t), np.array(y, t))
        return not any(_is_subnormal(float(v), t) for v in (x, y, q, r))
    if flushes:
        pairs = [p for p in pairs if ok(*p)] or [(7.0, 2.0)]
    for chunk in _chunks(pairs):
        a = np.array([p[0] for p in chunk], dtype=t)
        b = np.array([p[1] for p in chunk], dtype=t)
        out = np.zeros((2, N), dtype=t)
        run(float_divmod, backend, N, None, a, b, out)
        with np.errstate(all="ignore"):
            exp_q, exp_r = np.floor_divide(a, b), np.remainder(a, b)
        errors = _mismatches(out[0], exp_q, chunk, f"{t} // ") + _mismatches(out[1], exp_r, chunk, f"{t} % ")
        assert not errors, "\n".join(errors)


FLOAT_DIVMOD_SPECIALS = [0.0, -0.0, 1.0, -1.0, 7.5, -7.5, 0.1, -0.1, 3.0, -3.0, 1e30, -1e30, math.inf, -math.inf,
                         math.nan, 2.0**-20, 1e-30]


@pytest.mark.parametrize("t", ["float32", "float64"])
def test_float_floordiv_and_mod_match_numpy_on_special_values(backend, run, caps, need_fp64, t):
    need_fp64(t)
    vals = [M.round_float(v, t) for v in FLOAT_DIVMOD_SPECIALS]
    _check_float_divmod(backend, run, t, [(x, y) for x in vals for y in vals], caps.flushes_denormals)


@pytest.mark.parametrize("t", ["float32", "float64"])
def test_float_floordiv_and_mod_match_numpy(backend, run, caps, need_fp64, t):
    need_fp64(t)
    _skip_cuda_without_gpu(backend)
    flushes = caps.flushes_denormals

    @BATCHED
    @given(st.lists(st.tuples(_floats(t), _floats(t)), min_size=1, max_size=N))
    def check(pairs):
        _check_float_divmod(backend, run, t, pairs, flushes)

    check()


def test_model_float_bits_are_canonical_for_nan():
    # guard for the helper the comparisons rely on: every NaN compares equal, -0.0 differs from +0.0
    a = np.array([np.nan, -np.nan, 0.0], np.float32)
    b = np.array([struct.unpack("<f", struct.pack("<I", 0x7FA00001))[0], np.nan, -0.0], np.float32)
    assert (canonical_bits(a)[:2] == canonical_bits(b)[:2]).all()
    assert canonical_bits(a)[2] != canonical_bits(b)[2]
