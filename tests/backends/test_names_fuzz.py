"""Every Python identifier is a valid kernel, parameter, local or array name on every backend (#12.8).

Kernels are assembled from a pool of hostile names (tests/backends/names_pool.py: C/OpenCL/CUDA
keywords, builtins, vector types and header macros, the preludes' and renderers' own names, Python
builtins, unicode incl. NFKC-equal spellings, and ``é``/``u_e9_``), many names per kernel, and each must
build and compute the right numbers: opencl on PoCL, cuda compiled by NVRTC for sm_90 (run where a GPU
is), numba-cuda in the simulator (4 work-items), numpy, numba and jax. The default run takes a sample
with every class; ``-m slow`` runs the full 1,000 names.
"""
from __future__ import annotations

import itertools
import linecache
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import portakern as pk

sys.path.insert(0, str(Path(__file__).parent))
from names_pool import pool, sample  # noqa: E402

PER_KERNEL = 24          # names per kernel: kernel name, two arrays, a private array, scalars, locals
N = 4                    # work-items (numba-cuda runs in the simulator)
_COUNTER = itertools.count()


def groups(names: list[tuple[str, str]]) -> list[list[str]]:
    """Names split into kernels, each with distinct NFKC forms (Python merges equal forms)."""
    out: list[list[str]] = []
    pending = [n for _, n in names]
    while pending:
        group, forms, rest = [], set(), []
        for n in pending:
            form = unicodedata.normalize("NFKC", n)
            if len(group) < PER_KERNEL and form not in forms:
                group.append(n)
                forms.add(form)
            else:
                rest.append(n)
        out.append(group)
        pending = rest
    return out


def build(names: list[str]) -> tuple[Any, int, int]:
    """A kernel over ``names``; returns it, its number of scalar parameters and its expected offset."""
    kname, a, b, p, cnt, i, acc, *rest = names + [f"pad{k}" for k in range(max(0, 10 - len(names)))]
    scalars, extra = rest[: len(rest) // 2], rest[len(rest) // 2:]
    lines = [f"def {kname}({', '.join([a, b, *scalars])}):",
             f"    {i} = PKM.global_id(0)",
             f"    if {i} < {a}.shape[0]:",
             f"        {acc} = {a}[{i}]"]
    lines += [f"        {acc} = {acc} + {s}" for s in scalars]
    lines += [f"        {cnt} = 0",
              f"        while {cnt} < 2:",
              f"            {acc} = {acc} + 1",
              f"            {cnt} += 1",
              f"        {p} = PKM.private_array(2, PKM.int64)",
              f"        {p}[1] = {acc}",
              f"        {acc} = {p}[1]"]
    for k, v in enumerate(extra):
        lines += [f"        {v} = {acc} + {k}", f"        {acc} = {v}"]
    lines.append(f"        {b}[{i}] = {acc}")
    text = "\n".join(lines) + "\n"
    filename = f"<portakern-names-fuzz-{next(_COUNTER)}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    g: dict[str, Any] = {"PKM": pk, "__name__": "names_fuzz"}
    exec(compile(text, filename, "exec", dont_inherit=True), g)  # noqa: S102 - generated test kernels
    fn = g[unicodedata.normalize("NFKC", kname)]
    offset = sum(range(1, len(scalars) + 1)) + 2 + sum(range(len(extra)))
    return pk.kernel(fn), len(scalars), offset


def check(kernel: Any, nscalars: int, offset: int, backend: str, run: Any) -> None:
    a = np.arange(10, 10 + N, dtype=np.int64)
    out = np.zeros(N, np.int64)
    scalars = [np.int64(k) for k in range(1, nscalars + 1)]
    run(kernel, backend, N, None, a, out, *scalars)
    np.testing.assert_array_equal(out, a + offset)


SAMPLE = groups(sample())
FULL = groups(pool(1000))


@pytest.mark.parametrize("names", SAMPLE, ids=[f"k{n}" for n in range(len(SAMPLE))])
def test_hostile_names_build_and_run(names, backend, run):
    check(*build(names), backend, run)


@pytest.mark.slow
@pytest.mark.parametrize("names", FULL, ids=[f"k{n}" for n in range(len(FULL))])
def test_thousand_hostile_names_build_and_run(names, backend, run):
    check(*build(names), backend, run)


def _identifiers(c_source: str) -> set[str]:
    code = re.sub(r"/\*.*?\*/", " ", c_source, flags=re.S)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", code))


@pytest.mark.parametrize("backend_name", ["opencl", "cuda"])
def test_c_source_spells_every_user_name_in_its_own_namespace(backend_name):
    """The C source of a kernel of hostile names uses exactly the renderer's own identifiers (those
    of the same kernel with plain names) plus u_/w_ names (pk_u_/pk_w_ for their extents): no
    user name reaches C as itself."""
    a = np.arange(N, dtype=np.int64)
    for names in SAMPLE:
        kernel, nscalars, _ = build(names)
        plain, _, _ = build([f"n{k}" for k in range(len(names))])
        args = (a, np.zeros(N, np.int64), *[np.int64(1)] * nscalars)
        own = _identifiers(plain.source(backend_name, *args, ndrange=N))    # plain names are u_n<k> there
        hostile = _identifiers(kernel.source(backend_name, *args, ndrange=N))
        assert {t for t in hostile if not t.startswith(("u_", "w_", "pk_u_", "pk_w_"))} <= own, names


def test_the_sample_covers_every_class_and_the_full_pool_has_1000_names():
    assert {c for c, _ in sample()} == {c for c, _ in pool()}
    assert len(pool(1000)) == 1000 and sum(map(len, FULL)) == 1000


def test_names_of_the_front_ends_own_form_are_refused_clearly():
    kernel, nscalars, _ = build(["reserved", "a", "b", "p", "c", "i", "__pk_t0"])
    with pytest.raises(pk.CompileError, match="'__pk_t0' is reserved"):
        kernel.on("numpy")[N](np.zeros(N, np.int64), np.zeros(N, np.int64), *[np.int64(1)] * nscalars)


_UNICODE_NUMBA = """
import numpy as np, portakern as pk
@pk.kernel
def k(é, out):
    i = pk.global_id(0)
    out[i] = é[i] + 1
out = np.zeros(4, np.int64)
k.on("numba")[4](np.arange(4), out)
print("RESULT", out.tolist())
"""


def test_unicode_names_on_numba_do_not_depend_on_the_locale(tmp_path):
    """numba imports the generated module from a file: written as UTF-8, not in the locale's codec."""
    pytest.importorskip("numba")
    root = Path(__file__).parents[2]
    script = tmp_path / "uni.py"
    script.write_text(_UNICODE_NUMBA, encoding="utf-8")
    env = dict(os.environ, LC_ALL="C", LANG="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0",
               PYTHONPATH=os.pathsep.join([str(root), str(root / "backends")]),
               PORTAKERN_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-X", "utf8=0", str(script)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert "RESULT [1, 2, 3, 4]" in proc.stdout, proc.stderr[-2000:]


def _clang() -> str | None:
    """A clang with OpenCL C support (its opencl-c.h defines every builtin and macro of OpenCL C)."""
    for name in ("clang", "clang-18", "clang-17", "clang-16", "clang-15", "clang-14"):
        path = shutil.which(name)
        if path:
            return path
    return None


def opencl_front_end_accepts(sources: list[str], tmp_path: Path) -> list[str]:
    """The clang OpenCL C 1.2 front end's errors for each source ('' when it compiles)."""
    errors = []
    for k, src in enumerate(sources):
        f = tmp_path / f"k{k}.cl"
        f.write_text(src, encoding="utf-8")
        proc = subprocess.run([_clang(), "-x", "cl", "-cl-std=CL1.2", "-Xclang", "-finclude-default-header",
                               "-fsyntax-only", str(f)], capture_output=True, text=True, timeout=120)
        errors.append("" if proc.returncode == 0 else proc.stderr[-1500:])
    return errors


def _opencl_sources(groups_: list[list[str]]) -> list[str]:
    a = np.arange(N, dtype=np.int64)
    out = []
    for names in groups_:
        kernel, nscalars, _ = build(names)
        out.append(kernel.source("opencl", a, np.zeros(N, np.int64), *[np.int64(1)] * nscalars, ndrange=N))
    return out


@pytest.mark.skipif(_clang() is None, reason="needs clang with OpenCL C headers")
def test_opencl_source_of_hostile_names_compiles_with_the_opencl_headers(tmp_path):
    """With every OpenCL builtin and macro in scope (M_PI, FLT_MAX, CLK_LOCAL_MEM_FENCE, select...),
    the generated OpenCL C compiles: checked by clang's OpenCL front end where PoCL cannot build."""
    errors = opencl_front_end_accepts(_opencl_sources(SAMPLE), tmp_path)
    assert not any(errors), next(e for e in errors if e)


@pytest.mark.slow
@pytest.mark.skipif(_clang() is None, reason="needs clang with OpenCL C headers")
def test_opencl_source_of_thousand_hostile_names_compiles_with_the_opencl_headers(tmp_path):
    errors = opencl_front_end_accepts(_opencl_sources(FULL), tmp_path)
    assert not any(errors), next(e for e in errors if e)
