"""Kernels pickle (runtime/portable.py): by import where the receiver can import them, from their source
otherwise (kernels in __main__, in test files, inside functions), with their helpers and constants."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk

ROOT = Path(__file__).resolve().parents[2]
OFFSET = 10


@pk.func
def shifted(v):
    return v + OFFSET


@pk.kernel
def add_offset(x, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = shifted(x[i])


@pk.kernel
def unsupported(x, out):
    i = pk.global_id(0)
    try:
        out[i] = x[i]
    except ValueError:
        pass


def _in_fresh_process(kernel, n=5, importable=False):
    """Unpickle ``kernel`` in a new interpreter that cannot import this test file (unless
    ``importable``); run it on numpy."""
    code = ("import pickle, sys, numpy as np\n"
            "k = pickle.loads(sys.stdin.buffer.read())\n"
            f"x = np.arange({n}, dtype=np.int64); out = np.zeros_like(x)\n"
            "try:\n"
            f"    k.on('numpy')[{n}](x, out); print(out.tolist())\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__ + ': ' + str(exc))\n")
    paths = [str(ROOT), str(ROOT / "backends")] + ([str(Path(__file__).parent)] if importable else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    proc = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(kernel), capture_output=True,
                          env=env, cwd=str(ROOT), timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout.decode().strip()


def test_a_module_kernel_unpickles_in_this_process_as_the_same_object():
    assert pickle.loads(pickle.dumps(add_offset)) is add_offset


def test_a_kernel_from_an_unimportable_file_runs_elsewhere_with_its_helpers_and_constants():
    assert _in_fresh_process(add_offset) == str([10, 11, 12, 13, 14])


def test_a_kernel_defined_in_a_function_pickles_with_its_closure_values():
    factor = np.int64(7)

    @pk.kernel(debug=True)
    def times(x, out):
        i = pk.global_id(0)
        if i < out.shape[0]:
            out[i] = x[i] * factor

    again = pickle.loads(pickle.dumps(times))
    assert again.debug and again is pickle.loads(pickle.dumps(times))   # rebuilt once per process
    assert _in_fresh_process(times) == str([0, 7, 14, 21, 28])


def test_a_compile_error_elsewhere_names_the_original_file_and_line():
    x = np.arange(5, dtype=np.int64)
    with pytest.raises(pk.CompileError) as local:
        unsupported.on("numpy")[5](x, np.zeros_like(x))
    assert _in_fresh_process(unsupported) == "CompileError: " + str(local.value)


def test_an_importable_kernel_whose_constant_changed_since_import_runs_with_the_senders_value(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "OFFSET", 20)
    assert _in_fresh_process(add_offset, importable=True) == str([20, 21, 22, 23, 24])
    monkeypatch.undo()
    assert _in_fresh_process(add_offset, importable=True) == str([10, 11, 12, 13, 14])
