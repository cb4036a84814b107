"""The jax backend composes with jax.jit, jax.grad and jax.vmap, keeps dtypes, never leaks x64
into the user's configuration, and traces to a size independent of the ndrange and trip count."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
pytest.importorskip("portakern_jax")

from tests.backends import test_numpy_backend as ref  # noqa: E402  (kernels shared with numpy)


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel
def square_sum_rows(x, out):
    i = pk.global_id(0)
    s = x[i, 0] * 0
    for j in range(x.shape[1]):
        s += x[i, j] * x[i, j]
    out[i] = s


@pk.kernel
def count_loop(n, out):
    i = pk.global_id(0)
    acc = 0
    for _k in range(n):
        acc += 1
    out[i] = acc


def test_launch_returns_new_jax_arrays_and_keeps_dtype():
    x = jnp.arange(6, dtype=jnp.float32)
    out = jnp.zeros(6, dtype=jnp.float32)
    res = saxpy.on("jax")[6](np.float32(2), x, x, out)
    assert isinstance(res, jax.Array) and res.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(res), 3 * np.arange(6, dtype=np.float32))
    assert not np.asarray(out).any()          # the input array is not modified


def test_launch_inside_jit_matches_eager():
    x = jnp.linspace(-1, 1, 8, dtype=jnp.float32)

    @jax.jit
    def f(x):
        return saxpy.on("jax")[8](np.float32(3), x, x, jnp.zeros_like(x))

    np.testing.assert_allclose(np.asarray(f(x)), 4 * np.asarray(x), rtol=0, atol=0)


def test_grad_through_reads_and_writes_matches_finite_differences():
    x0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=np.float32)

    def loss(x):
        out = square_sum_rows.on("jax")[2](x, jnp.zeros(2, dtype=x.dtype))
        return jnp.sum(out * jnp.array([1.0, 2.0], dtype=x.dtype))

    g = np.asarray(jax.grad(loss)(jnp.asarray(x0)))
    expected = 2 * x0 * np.array([[1.0], [2.0]], dtype=np.float32)
    eps = 1e-2
    fd = np.zeros_like(x0)
    for idx in np.ndindex(x0.shape):
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += eps
        xm[idx] -= eps
        fd[idx] = (float(loss(jnp.asarray(xp))) - float(loss(jnp.asarray(xm)))) / (2 * eps)
    np.testing.assert_allclose(g, expected, rtol=1e-6)
    np.testing.assert_allclose(g, fd, rtol=2e-2, atol=2e-2)


def test_vmap_over_a_batch_of_arrays():
    xs = jnp.arange(12, dtype=jnp.float32).reshape(3, 4)

    def one(x):
        return saxpy.on("jax")[4](np.float32(2), x, x, jnp.zeros_like(x))

    res = np.asarray(jax.vmap(one)(xs))
    np.testing.assert_array_equal(res, 3 * np.asarray(xs))


def test_float64_is_computed_in_64_bits_and_x64_is_not_leaked():
    before = bool(jax.config.jax_enable_x64)
    x = np.array([1.0 + 2.0**-40], dtype=np.float64)
    out = np.zeros(1, dtype=np.float64)
    saxpy.on("jax")[1](np.float64(1.0), x, x, out)
    assert out[0] == 2 * (1.0 + 2.0**-40)
    assert bool(jax.config.jax_enable_x64) == before


def _equations(jaxpr) -> int:
    """Equations of a jaxpr, counting those of nested jaxprs (loop bodies) too."""
    n = 0
    for eqn in jaxpr.eqns:
        n += 1
        for v in eqn.params.values():
            for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                inner = getattr(sub, "jaxpr", None)
                if inner is not None and hasattr(inner, "eqns"):
                    n += _equations(inner)
                elif hasattr(sub, "eqns"):
                    n += _equations(sub)
    return n


def test_trace_size_does_not_grow_with_ndrange_or_trip_count():
    from portakern.runtime.backend import LaunchGrid

    backend = __import__("portakern_jax").JaxBackend()
    src = count_loop.source("jax", np.int64(3), np.zeros(4, dtype=np.int64))
    from portakern_jax.launch import constant

    ns: dict = {}
    exec(compile(src, "<t>", "exec"), ns)
    fn = ns["build"](constant)
    from portakern_jax.ops import JaxOps

    class _K:
        name = "count_loop"
        debug = False

    def count(n_items: int, trip: int) -> int:
        def f(n, o):
            return fn(JaxOps(_K, LaunchGrid((n_items,), None)), [n, o])

        with jax.enable_x64(True):
            jaxpr = jax.make_jaxpr(f)(np.int64(trip), jax.ShapeDtypeStruct((n_items,), jnp.int64))
        return _equations(jaxpr.jaxpr)

    assert backend.name == "jax"
    small = count(10, 10)
    assert count(10**7, 10) == small
    assert count(10, 10**6) == small


@pytest.mark.parametrize("name", ["test_saxpy_with_ndrange_larger_than_arrays_guards_the_tail",
                                  "test_and_and_select_do_not_evaluate_out_of_bounds_loads",
                                  "test_divergent_loops_with_break_continue_and_return",
                                  "test_local_array_and_barrier_reverse_each_work_group",
                                  "test_private_arrays_are_per_work_item"])
def test_numpy_reference_behaviours_hold_on_jax(name, monkeypatch):
    monkeypatch.setattr(ref, "run", lambda k, nd, wg, *a: k.on("jax")[nd, wg](*a))
    getattr(ref, name)()


@pytest.mark.parametrize("dtype", [np.int32, np.float64])
def test_atomic_add_old_values_follow_work_item_order_on_jax(dtype, monkeypatch):
    monkeypatch.setattr(ref, "run", lambda k, nd, wg, *a: k.on("jax")[nd, wg](*a))
    ref.test_atomic_add_returns_old_values_in_increasing_work_item_order(dtype)


def test_atomic_min_keeps_signed_zero_minimum_on_jax(monkeypatch):
    monkeypatch.setattr(ref, "run", lambda k, nd, wg, *a: k.on("jax")[nd, wg](*a))
    ref.test_atomic_min_with_many_conflicts_keeps_the_minimum()


@pk.kernel(debug=True)
def oob_read(x, out):
    i = pk.global_id(0)
    out[i] = x[i + 1]


def test_debug_out_of_bounds_raises_kernel_index_error_after_the_launch():
    x = np.arange(4, dtype=np.float32)
    out = np.zeros(4, dtype=np.float32)
    with pytest.raises(pk.KernelIndexError) as info:
        oob_read.on("jax")[4](x, out)
    assert "(4,)" in str(info.value) and "x" in str(info.value)
    assert not out.any()


@pk.kernel
def exp_plus_sinh(x, out):
    i = pk.global_id(0)
    out[i] = pk.exp(x[i]) + pk.sinh(x[i])


def test_float32_math_computed_in_float64_composes_with_jit_grad_and_vmap():
    before = bool(jax.config.jax_enable_x64)
    x = jnp.linspace(-1, 1, 8, dtype=jnp.float32)
    xn = np.asarray(x)

    def f(v):
        return exp_plus_sinh.on("jax")[8](v, jnp.zeros_like(v))

    r = jax.jit(f)(x)
    assert r.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(r), np.exp(xn) + np.sinh(xn), rtol=1e-6)
    g = jax.grad(lambda v: jnp.sum(f(v)))(x)
    np.testing.assert_allclose(np.asarray(g), np.exp(xn) + np.cosh(xn), rtol=1e-5)
    assert jax.vmap(f)(jnp.stack([x, x])).shape == (2, 8)
    assert bool(jax.config.jax_enable_x64) == before


@pk.kernel
def uniform_range_count(a, b, c, out):
    i = pk.global_id(0)
    n = 0
    for _k in range(a, b, c):
        n += 1
        if n > 10:
            break
    out[i] = n


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_uniform_range_with_runtime_bounds_near_int64_limits_stops_like_python(backend):
    top = 2**63 - 1
    for a, b, c in [(top - 2, top, 3), (-top, -top - 1, -3), (top - 5, top, 2), (0, 5, 2), (3, 3, 1)]:
        out = np.zeros(2, np.int64)
        res = uniform_range_count.on(backend)[2](np.int64(a), np.int64(b), np.int64(c), out)
        assert np.asarray(res).tolist() == [min(len(range(a, b, c)), 11)] * 2, (a, b, c)


def test_compiled_launches_are_reused_from_disk_without_touching_the_users_jax_cache_config(
        monkeypatch, tmp_path):
    from portakern_jax import diskcache

    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    before = jax.config.jax_compilation_cache_dir
    f = jax.jit(lambda a: {"out": a[0] * 2.0 + a[1]})
    args = [jnp.arange(4.0), jnp.ones(4)]
    first = diskcache.compile_cached(f, args, None)
    assert len(list((tmp_path / "jax-xla").glob("*.bin"))) == 1
    compiles = []
    real = jax.stages.Lowered.compile
    monkeypatch.setattr(jax.stages.Lowered, "compile", lambda self, *a, **k: compiles.append(1) or real(self, *a, **k))
    second = diskcache.compile_cached(f, args, None)      # as a new process would: from the file
    assert compiles == []
    assert np.asarray(second(args)["out"]).tolist() == np.asarray(first(args)["out"]).tolist() == [1, 3, 5, 7]
    x = np.arange(13, dtype=np.float32)    # (a grid no other test launches: not cached in memory)
    res = saxpy.on("jax")[13](np.float32(2), x, x, np.zeros(13, np.float32))   # a launch stores too
    assert np.asarray(res).tolist() == (3 * x).tolist()
    assert len(list((tmp_path / "jax-xla").glob("*.bin"))) == 2
    assert jax.config.jax_compilation_cache_dir == before
