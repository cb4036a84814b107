"""Loops with barriers whose condition asks the work-group size (#13.4, #13.10, #13.11).

PoCL 3.0 (LLVM 14) never ran a ``while s < pk.local_size(0):`` loop with barriers in its body: the
tree reduction returned its first element on opencl, and the numba-docs ``array_sum`` hung with
``debug=True``. The C renderer now reads every work-item query once at entry; docs/backends/opencl.md
("PoCL barrier-loop bug") has the hand-written reproducer.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import portakern as pk
from portakern.runtime import registry

ROOT = Path(__file__).parents[2]
WG = 16


@pk.kernel
def tree_sum(data, out):
    tid = pk.local_id(0)
    shr = pk.local_array(WG, pk.float32)
    shr[tid] = data[pk.global_id(0)]
    pk.barrier()
    s = 1
    while s < pk.local_size(0):
        if tid % (2 * s) == 0:
            shr[tid] += shr[tid + s]
        s *= 2
        pk.barrier()
    if tid == 0:
        out[pk.group_id(0)] = shr[0]


def test_barrier_loop_bounded_by_local_size_runs(backend, run):
    data = np.arange(2 * WG, dtype=np.float32)
    out = np.zeros(2, np.float32)
    run(tree_sum, backend, 2 * WG, WG, data, out)
    np.testing.assert_array_equal(out, [data[:WG].sum(), data[WG:].sum()])


@pytest.mark.parametrize("backend_name", ["opencl", "cuda"])
def test_c_source_reads_every_work_item_query_once_at_entry(backend_name):
    data = np.zeros(2 * WG, np.float32)
    src = tree_sum.source(backend_name, data, np.zeros(2, np.float32), ndrange=2 * WG)
    body = src[src.index("pk_kernel("):]
    queries = r"get_\w+\(|threadIdx|blockIdx|blockDim|gridDim"
    for line in body.splitlines():
        if re.search(queries, line):
            assert re.match(r"\s*const (long|long long) pk_\w+ = ", line), line
    assert re.search(r"while \(\(?u_s < pk_local_size0\)?\)", body)


_ARRAY_SUM = '''
import sys
import numpy as np
import portakern as pk

@pk.kernel(debug=DEBUG)
def array_sum(data):                       # the numba docs' shared-memory reduction, ported
    tid = pk.local_id(0)
    size = data.shape[0]
    if tid < size:
        i = pk.global_id(0)
        shr = pk.local_array(16, pk.float32)
        shr[tid] = data[i]
        pk.barrier()
        s = 1
        while s < pk.local_size(0):
            if tid % (2 * s) == 0:
                shr[tid] += shr[tid + s]
            s *= 2
            pk.barrier()
        if tid == 0:
            data[tid] = shr[tid]

data = np.arange(16, dtype=np.float32)
array_sum.on(sys.argv[1])[16, 16](data)
print("RESULT", data[0])
'''


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("backend_name", ["opencl", "numpy", "numba"])
def test_numba_docs_array_sum_returns_the_sum_and_never_hangs(backend_name, debug, tmp_path):
    if not registry.get_backend(backend_name).is_available():
        pytest.skip(f"{backend_name} unavailable")
    script = tmp_path / "array_sum.py"
    script.write_text(textwrap.dedent(_ARRAY_SUM).replace("DEBUG", str(debug)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "backends")]),
               PORTAKERN_CACHE_DIR=str(tmp_path / "cache"))
    try:
        proc = subprocess.run([sys.executable, str(script), backend_name], capture_output=True, text=True,
                              timeout=180, env=env)
    except subprocess.TimeoutExpired:
        pytest.fail(f"array_sum on {backend_name} (debug={debug}) did not finish in 180 s: a hang")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "RESULT 120.0" in proc.stdout, proc.stdout


# Barriers inside uniform ``if``s of every shape: the opencl renderer hoists them out
# (portakern/codegen/barrier_ifs.py), every other backend runs them as written.
@pk.kernel(debug=True)
def uniform_branches(data, flag, out):
    tid = pk.local_id(0)
    shr = pk.local_array(WG, pk.float32)
    if flag[0] > 0:
        shr[tid] = data[pk.global_id(0)]
        pk.barrier()
        if flag[1] > 0:
            for k in range(1, 3):
                pk.barrier()
                if tid == 0:
                    shr[0] += k
        else:
            pk.barrier()
            shr[tid] *= 2.0
            pk.barrier()
    else:
        shr[tid] = 1.0
        pk.barrier()
    pk.barrier()
    out[pk.global_id(0)] = shr[(tid + 1) % WG]


@pytest.mark.parametrize("flags", [(1, 1), (1, 0), (0, 1)])
def test_barriers_inside_uniform_ifs_of_every_shape(backend, run, flags):
    data = np.arange(2 * WG, dtype=np.float32)
    flag = np.array(flags, np.int32)
    out = np.zeros(2 * WG, np.float32)
    run(uniform_branches, backend, 2 * WG, WG, data, flag, out)
    shr = data.reshape(2, WG).copy()
    if flags == (1, 1):
        shr[:, 0] += 3
    elif flags == (1, 0):
        shr *= 2
    else:
        shr[:] = 1
    np.testing.assert_array_equal(out, np.roll(shr, -1, axis=1).ravel())


def test_opencl_source_has_no_barrier_inside_an_if():
    data = np.zeros(2 * WG, np.float32)
    src = uniform_branches.source("opencl", data, np.zeros(2, np.int32), data, ndrange=2 * WG)
    body = src[src.index("pk_kernel("):].split("{", 1)[1]
    blocks: list[str] = []                    # the kind of each open block: if, else, while, for
    for line in body.splitlines():
        text = line.strip()
        if "barrier(" in text:
            assert not {"if", "else"} & set(blocks), f"barrier inside {blocks}: {text}"
        if text.startswith("}"):
            blocks.pop() if blocks else None
        if text.endswith("{"):
            blocks.append(text.lstrip("} ").split(" ")[0].split("(")[0])
