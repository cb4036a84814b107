"""The jax backend under sharding, with 8 host devices in a subprocess (XLA_FLAGS must precede jax's
import): a kernel per shard inside jax.shard_map, the ppermute halo-exchange Jacobi of docs/scale.md
bit-identical to one device, a clear LaunchError on a sharded array, and launches on the device asked for."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax", reason="portakern[jax] is not installed")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends")]), JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, str(HERE / "shard_map_script.py")], capture_output=True, text=True,
                          env=env, cwd=str(ROOT), timeout=300)
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("check", ["check_shard_map_saxpy", "check_shard_map_jacobi", "check_sharded_launch_error",
                                   "check_device_honoured"])
def test_jax_kernels_under_sharding_on_8_host_devices(report, check):
    assert f"ok {check}" in report, report[-4000:]
