"""A 0-d array passed for a scalar parameter is a scalar of its dtype (docs/language.md "Arguments"):
NumPy 0-d arrays on every backend, concrete 0-d jax.Arrays, and traced scalars inside jax.jit/grad."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk


@pk.kernel
def scale(x, out, a):
    i = pk.global_id(0)
    out[i] = x[i] * a


@pk.kernel
def scale_f32(x, out, a: pk.float32):
    i = pk.global_id(0)
    out[i] = x[i] * a


@pk.kernel
def copy_array(x: pk.Array, out):
    i = pk.global_id(0)
    out[0] = x[i]


def test_a_0d_numpy_array_is_a_scalar_of_its_dtype(backend, run):
    x = np.arange(4, dtype=np.float32)
    got = run(scale, backend, 4, None, x, np.zeros(4, np.float32), np.array(2.5, np.float32))
    np.testing.assert_array_equal(np.asarray(got), [0.0, 2.5, 5.0, 7.5])


def test_a_0d_array_keeps_its_dtype_like_a_numpy_scalar():
    x = np.arange(4, dtype=np.int32)
    out = np.zeros(4, np.int32)
    ir_0d = scale.ir(x, out, np.array(3, np.int32), ndrange=4)
    ir_scalar = scale.ir(x, out, np.int32(3), ndrange=4)
    assert ir_0d == ir_scalar
    assert "a: int32" in ir_0d


def test_a_0d_array_is_converted_and_checked_by_a_scalar_annotation():
    x = np.arange(4, dtype=np.float32)
    out = scale_f32.on("numpy")[4](x, np.zeros(4, np.float32), np.array(2.0))      # float64 0-d
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0, 6.0])
    with pytest.raises(pk.LaunchError, match="parameter 'a'"):
        scale_f32.on("numpy")[4](x, np.zeros(4, np.float32), np.array("s"))


def test_a_0d_array_for_an_array_annotation_is_a_launch_error_saying_0d_arrays_are_scalars():
    with pytest.raises(pk.LaunchError, match=r"parameter 'x'.*0-d arrays are scalars"):
        copy_array.on("numpy")[1](np.array(1.0), np.zeros(1))


class TestJax:
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")

    def test_a_concrete_0d_jax_array_is_a_scalar(self):
        x = self.jnp.arange(4, dtype=self.jnp.float32)
        out = scale.on("jax")[4](x, self.jnp.zeros(4, self.jnp.float32), self.jnp.asarray(2.0, self.jnp.float32))
        np.testing.assert_array_equal(np.asarray(out), [0.0, 2.0, 4.0, 6.0])

    def test_a_concrete_0d_jax_array_also_runs_on_the_numpy_backend(self):
        x = np.arange(4, dtype=np.float32)
        out = scale.on("numpy")[4](x, np.zeros(4, np.float32), self.jnp.asarray(3.0, self.jnp.float32))
        np.testing.assert_array_equal(out, [0.0, 3.0, 6.0, 9.0])

    def test_a_traced_scalar_inside_jit_and_grad_is_a_scalar(self):
        jax, jnp = self.jax, self.jnp
        x = jnp.arange(4, dtype=jnp.float32)
        out = jnp.zeros(4, jnp.float32)

        def total(a):
            return scale.on("jax")[4](x, out, a).sum()

        assert float(jax.jit(total)(jnp.float32(2.0))) == 12.0
        assert float(jax.grad(total)(jnp.float32(2.0))) == 6.0        # d/da sum(x * a) = sum(x)

    def test_a_traced_scalar_of_another_dtype_than_its_annotation_is_a_launch_error(self):
        jax, jnp = self.jax, self.jnp
        x = np.arange(4, dtype=np.float32)

        def total(a):
            return scale_f32.on("jax")[4](x, np.zeros(4, np.float32), a).sum()

        with pytest.raises(pk.LaunchError, match=r"parameter .a. is annotated pk.float32.*traced"):
            jax.jit(total)(jnp.int32(2))

    def test_a_traced_scalar_cannot_run_on_another_backend(self):
        jax, jnp = self.jax, self.jnp
        x = np.arange(4, dtype=np.float32)

        def total(a):
            return scale.on("numpy")[4](x, np.zeros(4, np.float32), a)

        with pytest.raises(pk.LaunchError, match=r"parameter 'a'.*'jax'"):
            jax.jit(total)(jnp.float32(2.0))
