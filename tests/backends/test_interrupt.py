"""Ctrl-C during a long kernel (docs/safety.md "Interrupting a kernel (Ctrl-C)"): numpy stops within
moments; numba and opencl raise KeyboardInterrupt when the compiled kernel returns, with the interpreter
intact.
Each runs in a child process that gets a real SIGINT."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import portakern as pk

THREE_STEPS = ((0.0 * 0.999999 + 1.0) * 0.999999 + 1.0) * 0.999999 + 1.0   # spin(out, 3)

_CHILD = textwrap.dedent('''
    import sys
    import numpy as np
    import portakern as pk

    @pk.kernel
    def spin(out, n: pk.int64):
        i = pk.global_id(0)
        acc = pk.float64(0)
        for k in range(n):
            acc = acc * 0.999999 + 1.0
        out[i] = acc

    out = np.zeros(64)
    spin.on(sys.argv[1])[64](out, np.int64(10))          # compile before the long launch
    print("READY", flush=True)
    try:
        spin.on(sys.argv[1])[64](out, np.int64(int(sys.argv[2])))
        print("FINISHED", flush=True)
    except KeyboardInterrupt:
        print("INTERRUPTED", flush=True)
    spin.on(sys.argv[1])[4](out, np.int64(3))             # the runtime still works afterwards
    print("ALIVE", out[0], flush=True)
''')


def _interrupt(tmp_path: Path, env: dict[str, str], backend: str, iterations: int) -> list[str]:
    if backend not in pk.available_backends():
        pytest.skip(f"{backend} is not available")
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    proc = subprocess.Popen([sys.executable, str(script), backend, str(iterations)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "READY"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    return out.split()


def test_ctrl_c_interrupts_a_numpy_kernel_between_operations(tmp_path, checkout_env):
    # 10**9 iterations would run for hours: only an honoured SIGINT ends it inside the timeout
    words = _interrupt(tmp_path, checkout_env, "numpy", 10 ** 9)
    assert words[0] == "INTERRUPTED" and words[1] == "ALIVE" and float(words[2]) == THREE_STEPS


@pytest.mark.parametrize("backend, iterations", [("numba", 3 * 10 ** 7), ("opencl", 4 * 10 ** 6)])  # ~1 s each
def test_ctrl_c_during_a_compiled_kernel_raises_keyboard_interrupt_when_it_returns(tmp_path, checkout_env,
                                                                                   backend, iterations):
    words = _interrupt(tmp_path, checkout_env, backend, iterations)
    assert words[0] == "INTERRUPTED" and words[1] == "ALIVE" and float(words[2]) == THREE_STEPS
