"""Every kernel of the language behaviour suite compiles to PTX for sm_90 on "numba-cuda", with no GPU.

The main test process runs numba-cuda in Numba's CUDA simulator, where ``numba.cuda.compile_ptx`` is
not the real compiler; so this runs the language suite once more in a child process without the
simulator. There "numba-cuda" has no device, and the suite's ``run`` helper compiles each kernel to
PTX for sm_90 (which must succeed) before skipping the launch. The default run compiles a fixed
tenth of the kernels (``PORTAKERN_TEST_SAMPLE=10``); ``-m slow`` compiles all of them.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _child(sample: int) -> tuple[int, str]:
    files = sorted(str(p) for p in HERE.glob("test_language_*.py"))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="0", PORTAKERN_PTX_CHILD="1", PORTAKERN_TEST_SAMPLE=str(sample))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-k", "numba-cuda",
         "-rs", *files], cwd=HERE.parent.parent, env=env, capture_output=True, text=True, timeout=1200)
    tail = proc.stdout[-4000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    return sum(int(n) for n in re.findall(r"SKIPPED \[(\d+)\][^\n]*compiled to PTX for sm_90", proc.stdout)), tail


_NOT_CHILD = pytest.mark.skipif(os.environ.get("PORTAKERN_PTX_CHILD") == "1", reason="already the child run")


@_NOT_CHILD
def test_a_fixed_sample_of_the_language_suite_compiles_to_sm90_ptx_without_the_simulator() -> None:
    # all ~180 kernels take ~3 minutes of Numba compiles: the default run takes a fixed tenth of them
    compiled, tail = _child(10)
    assert compiled >= 12, f"only {compiled} kernels reached the PTX compiler\n{tail}"


@_NOT_CHILD
@pytest.mark.slow
def test_every_language_suite_kernel_compiles_to_sm90_ptx_without_the_simulator() -> None:
    compiled, tail = _child(1)
    assert compiled >= 80, f"only {compiled} kernels reached the PTX compiler\n{tail}"
