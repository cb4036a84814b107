"""numba-cuda compiles to PTX with no GPU: ``kernel.compile("numba-cuda", ..., target="sm_90")``.

The test suite runs numba-cuda in the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` from tests/conftest.py),
where ``compile_ptx`` does not exist, so the compilation runs in a subprocess without the simulator.
The kernels below are a representative set of the behaviour suite's constructs: 1-D/2-D/3-D index
queries, local arrays + barriers, private arrays, every atomic on every type, math calls, integer
semantics (floor division, shifts, wrapping, saturating casts), control flow, debug bounds checks.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import portakern as pk

ROOT = Path(__file__).resolve().parents[2]


@pk.kernel
def saxpy(a, x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = a * x[i] + y[i]


@pk.kernel
def explicit_fma(x, y, out):
    i = pk.global_id(0)
    if i < out.shape[0]:
        out[i] = pk.fma(x[i], y[i], x[i])


@pk.kernel
def wg_sum(x, out):
    t = pk.local_array(64, pk.float32)
    lid = pk.local_id(0)
    t[lid] = x[pk.global_id(0)]
    pk.barrier()
    s = 32
    while s > 0:
        if lid < s:
            t[lid] += t[lid + s]
        pk.barrier()
        s //= 2
    if lid == 0:
        out[pk.group_id(0)] = t[0]


@pk.kernel
def private_and_loops(x, out):
    i = pk.global_id(0)
    p = pk.private_array(4, pk.int32)
    for k in range(4):
        p[k] = x[i] * k
    acc = 0
    for k in range(3, -1, -1):
        if k == 1:
            continue
        acc += p[k]
    while acc > 100:
        acc -= 7
        if acc < 0:
            break
    out[i] = acc


@pk.kernel
def atomics(c, v):
    i = pk.global_id(0)
    pk.atomic_add(c, 0, v[i])
    pk.atomic_sub(c, 1, v[i])
    pk.atomic_min(c, 2, v[i])
    pk.atomic_max(c, 3, v[i])


@pk.kernel
def int_semantics(a, b, out):
    i = pk.global_id(0)
    out[i, 0] = a[i] // b[i]
    out[i, 1] = a[i] % b[i]
    out[i, 2] = a[i] << b[i]
    out[i, 3] = a[i] >> b[i]
    out[i, 4] = a[i] * b[i] + a[i]
    out[i, 5] = abs(a[i]) ^ ~b[i]
    out[i, 6] = min(a[i], b[i]) - max(a[i], b[i])


@pk.kernel
def casts_and_math(x, out):
    i = pk.global_id(0)
    out[i, 0] = pk.int32(x[i])
    out[i, 1] = pk.int32(pk.floor(x[i]) + pk.rint(x[i]) + pk.sqrt(abs(x[i])))
    out[i, 2] = pk.int32(pk.exp(x[i]) > pk.tanh(pk.copysign(x[i], x[i] - 1.0)))
    out[i, 3] = pk.int32(min(x[i], 0.5) < max(x[i], -0.5) and not pk.isnan(x[i]))


@pk.kernel
def grid_3d(out):
    out[pk.global_id(0), pk.global_id(1), pk.global_id(2)] = (
        pk.local_id(2) + pk.group_id(1) * 10 + pk.num_groups(0) * 100 + pk.global_size(2))


@pk.kernel(debug=True)
def checked(x):
    i = pk.global_id(0)
    x[i + 1] = x[i]


@pk.kernel
def launch_sized(out, n, c: pk.constant):
    a = pk.local_array(n, pk.int8)               # dynamic shared memory, carved per launch
    b = pk.local_array(n * 2 + 1, pk.float64)
    lid = pk.local_id(0)
    a[lid] = pk.int8(lid)
    b[lid] = c[lid]
    pk.barrier()
    out[pk.global_id(0)] = b[(lid + 1) % n] + a[lid] + len(b)


def _cases() -> list[tuple[object, tuple[object, ...]]]:
    f32 = np.zeros(8, np.float32)
    i32 = np.zeros(8, np.int32)
    cases: list[tuple[object, tuple[object, ...]]] = [
        (saxpy, (np.float32(2.0), f32, f32, f32)),
        (explicit_fma, (f32, f32, f32)),
        (wg_sum, (f32, f32)),
        (private_and_loops, (i32, i32)),
        (int_semantics, (i32, i32, np.zeros((8, 7), np.int32))),
        (int_semantics, (i32.astype(np.uint64), i32.astype(np.uint64), np.zeros((8, 7), np.uint64))),
        (casts_and_math, (f32, np.zeros((8, 4), np.int32))),
        (grid_3d, (np.zeros((2, 2, 2), np.int64),)),
        (checked, (f32,)),
        (launch_sized, (np.zeros(8), np.int64(4), np.ones(8))),
    ]
    for dt in ("int32", "uint32", "int64", "uint64", "float32", "float64"):
        cases.append((atomics, (np.zeros(4, dt), np.zeros(8, dt))))
    return cases


def compile_all(target: str) -> dict[str, str]:
    """Compile every case for ``target``; {case: PTX} (run in a process without the simulator)."""
    out = {}
    for n, (kernel, args) in enumerate(_cases()):
        ptx = kernel.compile("numba-cuda", *args, target=target)  # type: ignore[attr-defined]
        out[f"{n}:{kernel.__name__}"] = ptx.decode()  # type: ignore[attr-defined]
    return out


def test_every_representative_kernel_compiles_to_sm90_ptx_without_a_gpu(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "backends"), env.get("PYTHONPATH", "")])
    env["PORTAKERN_CACHE_DIR"] = str(tmp_path)
    script = (
        "import json, runpy, sys\n"
        f"ns = runpy.run_path({str(Path(__file__))!r})\n"
        "json.dump(ns['compile_all']('sm_90'), sys.stdout)\n")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ptx = json.loads(proc.stdout)
    assert len(ptx) == len(_cases())
    for name, text in ptx.items():
        assert ".target sm_90" in text, name
        assert ".entry" in text, name
    saxpy_ptx = next(t for n, t in ptx.items() if n.endswith(":saxpy"))
    assert "fma.rn" not in saxpy_ptx            # tier 0: a*b+c stays two roundings
    assert "mul.rn.f32" in saxpy_ptx
    fma_ptx = next(t for n, t in ptx.items() if n.endswith(":explicit_fma"))
    assert "fma.rn.f32" in fma_ptx              # an explicit fma is one rounding
    wg_ptx = next(t for n, t in ptx.items() if n.endswith(":wg_sum"))
    assert "bar.sync" in wg_ptx and ".shared" in wg_ptx
    sized_ptx = next(t for n, t in ptx.items() if n.endswith(":launch_sized"))
    assert sized_ptx.count(".extern .shared") == 2 and "bar.sync" in sized_ptx   # both views of the one block
    atom = [t for n, t in ptx.items() if n.endswith(":atomics")]
    assert all("atom." in t for t in atom)


def test_compile_to_ptx_inside_the_simulator_says_how_to_fix_it():
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") in ("0", ""):
        pytest.skip("this process runs real numba.cuda; the simulator case is the suite's default")
    with pytest.raises(pk.BackendUnavailable, match="NUMBA_ENABLE_CUDASIM"):
        saxpy.compile("numba-cuda", np.float32(1), np.zeros(4, np.float32), np.zeros(4, np.float32),
                      np.zeros(4, np.float32), target="sm_90")
