"""A cached jax launch repeated with arguments of the same types reuses the last executable without
the signature work (portakern_jax/launch.py ``_again``); anything else takes the full path. Each test
launches several times so that the repeat path is what runs, and checks the numbers."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")


@pk.kernel
def axpb(x, a, b, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] * a + b


def _dev(a: np.ndarray) -> object:
    with jax.enable_x64(True):
        return jax.device_put(a)


def _ref(x: np.ndarray, a: object, b: object) -> np.ndarray:
    return x * a + b


@pytest.mark.parametrize("dtype, a, b", [
    (np.float64, np.float64(1.0000000001), np.float64(2.0 ** 40 + 0.5)),   # 64-bit scalars: x64 around the call
    (np.int64, np.int64(3), np.int64(2 ** 41 + 1)),
    (np.float32, np.float32(1.5), np.float32(0.25)),                       # 32-bit scalars: no x64 needed
])
def test_repeats_keep_64_bit_scalars_exact(dtype: type, a: object, b: object) -> None:
    x = np.arange(5).astype(dtype) + dtype(7)
    xd = _dev(x)
    out = _dev(np.zeros(5, dtype))
    run = axpb.on("jax")[5]
    for _ in range(3):
        got = np.asarray(run(xd, a, b, out))
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, _ref(x, a, b).astype(dtype))
    assert not jax.config.jax_enable_x64            # the user's setting is left alone


def test_repeat_then_other_shape_dtype_and_scalar_type() -> None:
    run = axpb.on("jax")[4]
    x32 = np.arange(4, dtype=np.float32)
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(run(_dev(x32), np.float32(2), np.float32(1), _dev(np.zeros(4, np.float32)))),
                                      x32 * 2 + 1)
    x5 = np.arange(5, dtype=np.float32)                 # another shape: a new executable
    np.testing.assert_array_equal(np.asarray(run(_dev(x5), np.float32(2), np.float32(1), _dev(np.zeros(5, np.float32)))),
                                  (x5 * 2 + 1)[:4].tolist() + [0.0])
    x64 = np.arange(4, dtype=np.float64) + 0.1          # another dtype
    got = np.asarray(run(_dev(x64), np.float64(3), np.float64(0.5), _dev(np.zeros(4, np.float64))))
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, x64 * 3 + 0.5)
    got = np.asarray(run(_dev(x32), np.float64(3), np.float64(0.5), _dev(np.zeros(4, np.float32))))
    np.testing.assert_array_equal(got, (x32 * np.float64(3) + np.float64(0.5)).astype(np.float32))


def test_repeat_with_host_arrays_and_under_jit() -> None:
    x = np.arange(4, dtype=np.float64) + 0.5
    run = axpb.on("jax")[4]
    xd, out = _dev(x), _dev(np.zeros(4))
    for _ in range(2):
        run(xd, np.float64(2), np.float64(1), out)
    out_host = np.zeros(4)
    got = run(x, np.float64(2), np.float64(1), out_host)     # NumPy arrays: copied in and back
    np.testing.assert_array_equal(out_host, x * 2 + 1)
    assert got is out_host

    @jax.jit
    def f(v: object) -> object:
        return run(v, np.float32(2), np.float32(1), jnp.zeros(4, jnp.float32))

    np.testing.assert_array_equal(np.asarray(f(jnp.arange(4, dtype=jnp.float32))), np.arange(4) * 2 + 1)
