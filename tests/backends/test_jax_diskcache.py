"""The jax backend's disk cache keyed by a launch's basis: a warm process finds its executable without
tracing and lowering the kernel again, and anything that could change the lowering changes the key."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.runtime.backend import LaunchGrid

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")
diskcache = pytest.importorskip("portakern_jax.diskcache")


class _CountingLower:
    """A jitted function whose lowerings are counted."""

    def __init__(self, fn: object, log: list[int]) -> None:
        self.fn, self.log = fn, log

    def lower(self, args: list) -> object:
        self.log.append(1)
        return self.fn.lower(args)  # type: ignore[attr-defined]


def test_an_executable_stored_under_a_basis_is_loaded_without_lowering(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: object) -> None:
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    f = jax.jit(lambda a: {"out": a[0] * 2.0 + a[1]})
    args = [jnp.arange(4.0), jnp.ones(4)]
    lowered: list[int] = []
    first = diskcache.compile_cached(_CountingLower(f, lowered), args, None, basis="kernel A")
    assert lowered == [1]
    second = diskcache.compile_cached(_CountingLower(f, lowered), args, None, basis="kernel A")
    assert lowered == [1]                       # found by its basis, as a new process would: no lowering
    assert np.asarray(second(args)["out"]).tolist() == np.asarray(first(args)["out"]).tolist() == [1, 3, 5, 7]
    diskcache.compile_cached(_CountingLower(f, lowered), args, None, basis="kernel B")
    assert lowered == [1, 1]                    # another basis is another entry


@pk.kernel
def _scale(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = x[i] * 3.0


def test_the_basis_changes_with_the_grid_the_argument_types_and_jaxs_configuration() -> None:
    x = np.arange(8, dtype=np.float32)
    _scale.on("jax")[8](x, np.zeros(8, np.float32))
    launcher = next(iter(_scale._compiled.values())).launcher
    grid = next(iter(launcher._aot))[0]
    sig = diskcache.signature([jnp.asarray(x), jnp.asarray(x)])
    base = diskcache.launch_basis(launcher.source, launcher.kernel, grid, sig)
    assert base == diskcache.launch_basis(launcher.source, launcher.kernel, grid, sig)
    sig64 = diskcache.signature([jnp.asarray(x), jnp.zeros(8, jnp.int32)])
    assert diskcache.launch_basis(launcher.source, launcher.kernel, grid, sig64) != base
    assert diskcache.launch_basis(launcher.source, launcher.kernel, LaunchGrid((16,), None), sig) != base
    with jax.default_matmul_precision("highest"):
        assert diskcache.launch_basis(launcher.source, launcher.kernel, grid, sig) != base
    assert diskcache.launch_basis(launcher.source + "\n", launcher.kernel, grid, sig) != base


def test_launches_with_other_argument_shapes_store_and_load_their_own_executables(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("PORTAKERN_CACHE_DIR", str(tmp_path))
    for n in (11, 20):              # one source, one grid, two argument shapes: two entries, each its own
        x = np.arange(n, dtype=np.float32)
        res = _scale.on("jax")[11](x, np.zeros(n, np.float32))
        assert np.asarray(res)[:11].tolist() == (3 * x[:11]).tolist()
    assert len(list((tmp_path / "jax-xla").glob("*.bin"))) == 2  # type: ignore[operator]
