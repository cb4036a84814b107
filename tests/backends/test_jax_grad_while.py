"""jax.grad through a data-dependent ``while`` loop (JAX cannot reverse a lax.while_loop) is a
portakern CompileError naming the kernel and the ``while`` line, not JAX's bare ValueError raised
in the backward pass; forward mode and loops that carry no tangent still work."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")


@pk.kernel
def halve_below_one(x, out):
    i = pk.global_id(0)
    v = x[i]
    while v > 1.0:
        v = v * 0.5
    out[i] = v


@pk.kernel
def times_trip_count(x, out, n):
    i = pk.global_id(0)
    k = 0
    while k < n:
        k += 1
    out[i] = x[i] * k


X = np.array([3.0, 5.0, 0.5, 9.0])


def _total(x):
    return halve_below_one.on("jax")[4](x, jnp.zeros(4)).sum()


def test_grad_through_a_data_dependent_while_is_a_compile_error_naming_the_kernel_and_line():
    with pytest.raises(pk.CompileError) as info:
        jax.grad(_total)(jnp.asarray(X))
    msg = str(info.value)
    assert "halve_below_one" in msg and "while v > 1.0" in msg and "reverse" in msg
    assert info.value.loc.text.strip() == "while v > 1.0:" and info.value.loc.file == __file__


def test_grad_under_jit_is_the_same_compile_error():
    with pytest.raises(pk.CompileError, match="halve_below_one"):
        jax.jit(jax.grad(_total))(jnp.asarray(X))


def test_forward_mode_through_the_while_still_works():
    primal, tangent = jax.jvp(_total, (jnp.asarray(X),), (jnp.ones(4),))
    # 3 -> 0.75 (x/4), 5 -> 0.625 (x/8), 0.5 stays, 9 -> 0.5625 (x/16)
    assert float(primal) == 0.75 + 0.625 + 0.5 + 0.5625
    assert float(tangent) == 0.25 + 0.125 + 1.0 + 0.0625


def test_grad_through_a_while_that_carries_no_tangent_still_works():
    g = jax.grad(lambda x: times_trip_count.on("jax")[4](x, jnp.zeros(4), 3).sum())(jnp.asarray(X))
    np.testing.assert_array_equal(np.asarray(g), [3.0, 3.0, 3.0, 3.0])
