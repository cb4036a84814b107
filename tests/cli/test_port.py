"""``portakern port``: numba.cuda source rewritten into native portakern, layout kept, leftovers listed,
and ``--check`` comparing the port with the compat layer's run."""
from __future__ import annotations

import textwrap

from portakern.cli.main import main
from portakern.compat.port import compat_source, port_source

MODULE = textwrap.dedent("""\
    import numpy as np
    from numba import cuda
    from numba.cuda import int32

    @cuda.jit("int32(int32)", device=True)
    def twice(v):
        return 2 * v   # a device function

    @cuda.jit("void(int32[:, :], float32)")
    def ids(out, scale):
        N = 4
        t = cuda.local.array(N, int32)
        x, y = cuda.grid(2)
        t[0] = cuda.threadIdx.x + 10 * cuda.blockIdx.y
        cuda.syncthreads()
        if y < out.shape[0] and x < out.shape[1]:
            out[y, x] = twice(t[0]) + cuda.warpsize

    @cuda.jit
    def ballot(out):
        out[0] = cuda.ballot_sync(0xFFFFFFFF, 1)

    out = np.zeros((6, 8), np.int32)
    ids[(2, 3), (4, 2)](out, 0.5)
""")


def test_port_rewrites_constructs_and_keeps_comments_and_layout() -> None:
    p = port_source(MODULE)
    assert p.ndim == 2
    lines = p.text.splitlines()
    assert "import portakern as pk" in lines
    assert "    return 2 * v   # a device function" in lines       # untouched
    assert "@pk.func" in lines and lines.count("@pk.kernel") == 2
    assert "def ids(out, scale: pk.float32):" in lines            # numba's scalar conversion kept
    assert "    t = pk.private_array(4, int32)" in lines            # local N = 4 folded in
    assert "    x, y = (pk.global_id(1), pk.global_id(0))" in lines  # CUDA x is the last dimension
    assert "    t[0] = pk.local_id(1) + 10 * pk.group_id(0)" in lines
    assert "    cuda.syncthreads()" not in lines and "    pk.barrier()" in lines
    assert "        out[y, x] = twice(t[0]) + 32" in lines
    assert "ids[launch_geometry((2, 3), (4, 2), ndim=2)](out, 0.5)" in lines
    assert "from portakern.compat.cuda import int32" in lines
    assert len(lines) == len(MODULE.splitlines()) + 2                # the import grew by two lines


def test_port_lists_what_it_leaves_with_the_line() -> None:
    notes = port_source(MODULE).untranslated
    assert any(n.startswith("5: the numba signature is dropped") for n in notes)   # a device function's
    assert any(n.startswith("21: cuda.ballot_sync is not translated") for n in notes)


def test_compat_source_changes_only_the_imports() -> None:
    text = compat_source(MODULE)
    assert "from portakern.compat import cuda" in text and "from portakern.compat.cuda import int32" in text
    assert text.replace("portakern.compat", "numba") == MODULE


def test_port_check_runs_both_and_compares(tmp_path, capsys) -> None:
    src = tmp_path / "mod.py"
    src.write_text(MODULE.replace("@cuda.jit\ndef ballot(out):\n    out[0] = cuda.ballot_sync(0xFFFFFFFF, 1)\n",
                                  ""))
    out = tmp_path / "ported.py"
    assert main(["port", str(src), "-o", str(out), "--check"]) == 0
    err = capsys.readouterr().err
    assert "check numpy: 1 of 1 arrays equal" in err
    assert "pk.kernel" in out.read_text()


def test_port_of_a_file_without_numba_cuda_says_so(tmp_path, capsys) -> None:
    src = tmp_path / "plain.py"
    src.write_text("x = 1\n")
    assert main(["port", str(src)]) == 0
    assert "no 'from numba import cuda' found" in capsys.readouterr().err


def test_port_of_a_missing_file_is_a_usage_error(tmp_path) -> None:
    assert main(["port", str(tmp_path / "nope.py")]) == 2


def test_port_check_reports_a_module_that_raises(tmp_path, capsys) -> None:
    src = tmp_path / "broken.py"
    src.write_text("from numba import cuda\nraise RuntimeError('boom')\n")
    assert main(["port", str(src), "-o", str(tmp_path / "out.py"), "--check"]) == 1
    assert "the module raised RuntimeError: boom" in capsys.readouterr().err


def test_other_names_imported_with_cuda_stay_with_numba() -> None:
    text = "from numba import cuda as cu, float32\n\n@cu.jit\ndef k(x):\n    x[cu.grid(1)] = float32(1)\n"
    assert compat_source(text).splitlines()[0] == "from numba import float32; from portakern.compat import cuda as cu"
    lines = port_source(text).text.splitlines()
    assert lines[0] == "from numba import float32; import portakern as pk"
    assert lines[1] == "from portakern.compat import cuda as cu  # host arrays"
    assert "    x[pk.global_id(0)] = float32(1)" in lines


def test_a_launch_through_another_name_is_listed_not_silently_left() -> None:
    text = textwrap.dedent("""\
        from numba import cuda

        @cuda.jit
        def k(out):
            out[cuda.grid(1)] = 1

        for f in (k,):
            f[2, 32](out)
    """)
    left = port_source(text).untranslated
    assert any("'f[...](...)'" in line and line.startswith("8:") for line in left), left


WARP_MODULE = textwrap.dedent("""\
    from numba import cuda

    @cuda.jit
    def warp(out):
        i = cuda.grid(1)
        out[i] = cuda.shfl_down_sync(0xFFFFFFFF, out[i], cuda.threadIdx.x % 4) + cuda.any_sync(0xFFFF, 1)
""")


def test_port_maps_full_mask_warp_shuffles_to_subgroup_builtins() -> None:
    p = port_source(WARP_MODULE)
    assert "    out[i] = pk.subgroup_shuffle_down(out[i], pk.local_id(0) % 4) + cuda.any_sync(0xFFFF, 1)" \
        in p.text.splitlines()
    assert any(n.startswith("6: cuda.any_sync is not translated: only a call with the literal full mask")
               for n in p.untranslated)
