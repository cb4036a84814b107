"""Run by test_jax_shard_map.py in a subprocess with 8 host devices (XLA_FLAGS must be set before jax
is imported). Prints "ok check_<name>" per passing check; any failure raises. The Jacobi part is the
recipe of docs/scale.md."""
from __future__ import annotations

import numpy as np

import jax  # isort: skip - after XLA_FLAGS, which the parent process sets
import jax.numpy as jnp
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import portakern as pk
from benchmarks.kernels import jacobi2d as jacobi
from benchmarks.kernels import saxpy

N_DEV = 8


def halo_step(u):
    """One Jacobi step on this device's rows: exchange one halo row with each neighbour, launch, trim."""
    me = jax.lax.axis_index("rows")
    from_above = jax.lax.ppermute(u[-1:], "rows", [(k, k + 1) for k in range(N_DEV - 1)])
    from_below = jax.lax.ppermute(u[:1], "rows", [(k + 1, k) for k in range(N_DEV - 1)])
    padded = jnp.concatenate([from_above, u, from_below])
    new = jacobi.on("jax")[padded.shape](padded, jnp.zeros_like(padded))[1:-1]
    # The array's first and last rows are the boundary: they stay (on one device the kernel copies them).
    new = new.at[0].set(jnp.where(me == 0, u[0], new[0]))
    return new.at[-1].set(jnp.where(me == N_DEV - 1, u[-1], new[-1]))


def _setup():
    assert len(jax.devices()) == N_DEV, jax.devices()
    mesh = jax.make_mesh((N_DEV,), ("rows",))
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    whole = np.zeros_like(x)
    saxpy.on("numpy")[x.size](np.float32(2), x, x, whole)
    return mesh, NamedSharding(mesh, P("rows")), x, whole


def check_shard_map_saxpy() -> None:
    """A kernel per shard inside shard_map: the same numbers as one launch."""
    mesh, rows, x, whole = _setup()
    per_shard = jax.jit(jax.shard_map(lambda a, b: saxpy.on("jax")[a.shape[0]](np.float32(2), a, b, jnp.zeros_like(a)),
                                      mesh=mesh, in_specs=(P("rows"), P("rows")), out_specs=P("rows")))
    got = per_shard(jax.device_put(x, rows), jax.device_put(x, rows))
    assert len(got.sharding.device_set) == N_DEV and np.array_equal(np.asarray(got), whole)


def check_shard_map_jacobi() -> None:
    """The Jacobi recipe: 8 devices, halo rows through ppermute, bit-identical to one device."""
    mesh, rows, _, _ = _setup()
    u0 = np.random.default_rng(1).standard_normal((64, 24)).astype(np.float32)
    step = jax.jit(jax.shard_map(halo_step, mesh=mesh, in_specs=P("rows"), out_specs=P("rows")))
    u = jax.device_put(u0, rows)
    for _ in range(20):
        u = step(u)
    one = jnp.asarray(u0)
    ref = u0.copy()
    for _ in range(20):
        one = jacobi.on("jax", 0)[one.shape](one, jnp.zeros_like(one))
        nxt = np.zeros_like(ref)
        jacobi.on("numpy")[ref.shape](ref, nxt)
        ref = nxt
    assert np.array_equal(np.asarray(u), np.asarray(one)), np.abs(np.asarray(u) - np.asarray(one)).max()
    assert np.array_equal(np.asarray(u), ref)


def check_sharded_launch_error() -> None:
    """A sharded jax.Array launched directly: a LaunchError that points to shard_map."""
    _, rows, x, _ = _setup()
    try:
        saxpy.on("jax")[x.size](np.float32(2), jax.device_put(x, rows), x, np.zeros_like(x))
    except pk.LaunchError as exc:
        assert "sharded over 8 devices" in str(exc) and "shard_map" in str(exc) and "'x'" in str(exc), exc
    else:
        raise AssertionError("a launch on a sharded array did not raise")


def check_device_honoured() -> None:
    """The launch honours its device: NumPy and jax inputs land there, also from the disk cache."""
    _, _, x, whole = _setup()
    dev3 = jax.devices()[3]
    for attempt in ("compiled", "from the disk cache"):
        saxpy.clear_cache()
        res = saxpy.on("jax", 3)[x.size](np.float32(2), x, jax.device_put(x, jax.devices()[5]),
                                         jnp.zeros(x.size, jnp.float32))
        assert res.devices() == {dev3}, (attempt, res.devices())
        assert np.array_equal(np.asarray(res), whole), attempt
    saxpy.clear_cache()
    res = saxpy.on("jax", 6)[x.size](np.float32(2), x, x, jnp.zeros(x.size, jnp.float32))
    assert res.devices() == {jax.devices()[6]} and np.array_equal(np.asarray(res), whole)


if __name__ == "__main__":
    import traceback

    for name, check in list(globals().items()):
        if name.startswith("check_"):
            try:
                check()
                print("ok", name)
            except Exception:  # noqa: BLE001 - reported to the test, which fails on the missing "ok"
                traceback.print_exc()
