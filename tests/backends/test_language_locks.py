"""Spin locks on atomic_cas/atomic_xchg work on every CPU backend (docs/language.md, "Locks"):
Triton's layer-norm backward (a per-group lock, work-item 0 of a work-group holding it across
barriers) and per-work-item locks. Each backend runs lock_kernels.py in a subprocess with a timeout,
so a lock that deadlocks fails the test instead of hanging the suite."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from portakern.runtime import registry

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("lock_kernels.py")


@pytest.mark.parametrize("backend_name", ["numpy", "numba", "opencl", "jax", "numba-cuda"])
def test_spin_locks_protect_plain_updates_and_never_hang(backend_name, tmp_path):
    if not registry.get_backend(backend_name).is_available():
        pytest.skip(f"{backend_name} unavailable")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends")]),
               PORTAKERN_CACHE_DIR=str(tmp_path / "cache"))
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT), backend_name], capture_output=True, text=True,
                              timeout=240, env=env)
    except subprocess.TimeoutExpired as exc:
        done = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        pytest.fail(f"spin locks on {backend_name} did not finish in 240 s (a hang); finished: {done!r}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for case in ("layer_norm", "locked_sum", "locked_sum_in_loop"):
        assert f"LOCK OK {case}" in proc.stdout, proc.stdout


def test_jax_refuses_a_lock_kernel_with_more_steps_than_it_traces():
    if not registry.get_backend("jax").is_available():
        pytest.skip("jax unavailable")
    import numpy as np

    from portakern.errors import LaunchError

    sys.path.insert(0, str(SCRIPT.parent))
    from lock_kernels import locked_sum

    n = 300                                   # a 1-D lock kernel steps one work-item at a time
    with pytest.raises(LaunchError, match=r"waits on a lock .* 300 rows exceed the 256 steps jax traces"):
        locked_sum.on("jax")[n](np.zeros(n), np.zeros(2), np.zeros(1, np.int32))
