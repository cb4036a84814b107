"""The op table (portakern/ir/optable.py): everything derived from it agrees with it, every backend renders
every math call or declares it unsupported, and an unsupported call is a CompileError naming op and backend."""
from __future__ import annotations

import builtins
import math
import re
from pathlib import Path

import numpy as np
import pytest
from frontend_kit import arr, lower, make

import portakern as pk
from portakern.codegen import cfamily, pyrender, vectorize
from portakern.conformance import oracle, program
from portakern.frontend.builtins import builtin_name
from portakern.ir import optable
from portakern.ir.optable import Op

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_every_op_has_one_spec_with_a_valid_shape() -> None:
    assert set(optable.SPECS) == set(Op)
    names = [s.name for s in optable.CALLS]
    assert len(names) == len(set(names))
    for s in optable.SPECS.values():
        assert s.typing in optable.TYPINGS and s.doc
        assert (s.tier == 1) == (s.ulp is not None), s.name
        if s.node == "call":
            assert optable.ARITY[s.op] == s.arity
    assert optable.TIER0_MATH | {s.op for s in optable.TIER1} == optable.MATH


@pytest.mark.parametrize(("obj", "name"), [
    (math.sqrt, "sqrt"), (np.sqrt, "sqrt"), (np.arcsin, "asin"), (np.arctan2, "atan2"), (math.fabs, "abs"),
    (np.absolute, "abs"), (builtins.abs, "abs"), (builtins.min, "min"), (np.maximum, "max"), (math.pow, "pow"),
    (np.power, "pow"), (builtins.pow, "pow"), (np.rint, "rint"), (math.erfc, "erfc"), (pk.rsqrt, "rsqrt"),
    (np.where, "where"), (builtins.len, "len"),
])
def test_python_aliases_name_their_op(obj: object, name: str) -> None:
    assert builtin_name(obj) == name


def test_no_alias_names_two_ops() -> None:
    seen: dict[str, str] = {}
    for s in optable.CALLS:
        for a in s.aliases:
            assert seen.setdefault(a, s.name) == s.name, a


def test_lang_has_every_builtin_of_the_table_with_its_host_meaning() -> None:
    for s in optable.SPECS.values():
        if s.node in ("call", "index", "atomic"):
            b = getattr(pk, s.name)
            assert pk.lang.BUILTINS[s.name] is b and s.name in pk.lang.__all__
    assert pk.asin(0.5) == np.arcsin(0.5) and pk.rsqrt(4.0) == 0.5 and pk.min(3, 2) == 2
    assert float(pk.erf(0.5)) == math.erf(0.5)
    with pytest.raises(pk.PortakernError, match="only be called inside"):
        pk.atomic_cas(np.zeros(1), 0, 0, 1)


def test_conformance_lists_come_from_the_table() -> None:
    tier1 = {s.name for s in optable.TIER1}
    assert set(program.TIER1_OPS) == set(oracle.CEILINGS) == tier1
    assert oracle.CEILINGS["atan2"] == 6 and program.TIER1_OPS["pow"] == 2
    ref, _ = oracle.tier1_reference("asin", [np.array([0.5], np.float32)])
    assert ref[0] == math.asin(0.5)


def test_docs_language_lists_the_table() -> None:
    text = " ".join((DOCS / "language.md").read_text().split())
    assert f"`{optable.docs_list()}` and `where(cond, a, b)`" in text


def test_docs_semantics_ceilings_match_the_table() -> None:
    text = (DOCS / "semantics.md").read_text()
    table = text[text.index("| function | ceiling, ulp (float32) |"):]
    table = table[:table.index("\n\n")]
    found: dict[str, float] = {}
    for row in table.splitlines()[2:]:
        names, ceiling = (c.strip() for c in row.strip("|").split("|"))
        for name in names.strip("`").replace(",", " ").split():
            found[name] = float(ceiling.split()[0])
    for s in optable.TIER1:
        assert found[s.name] == s.ulp, s.name


# ------------------------------------------------------------------------------------- backend coverage
def _c_renderers() -> list[type]:
    from portakern_cuda.render import CudaRenderer
    from portakern_opencl.render import OpenCLRenderer
    return [OpenCLRenderer, CudaRenderer]


def _py_renderers() -> list[type]:
    from portakern_numba.render import NumbaRenderer
    from portakern_numba_cuda.render import NumbaCudaRenderer
    return [NumbaRenderer, NumbaCudaRenderer]


def test_every_c_family_backend_covers_every_math_call() -> None:
    for r in _c_renderers():
        assert set(r.math_names) | cfamily.PRELUDE_MATH | r.unsupported_math == optable.MATH, r.backend


def test_every_python_backend_covers_every_math_call() -> None:
    for r in _py_renderers():
        assert set(r.math_templates) | pyrender.PRELUDE_MATH | r.unsupported_math == optable.MATH, r.backend


def test_numba_cuda_prelude_defines_every_function_its_templates_call() -> None:
    from portakern_numba_cuda import prelude
    from portakern_numba_cuda.render import NumbaCudaRenderer
    for op, template in NumbaCudaRenderer.math_templates.items():
        for name in re.findall(r"\bm_(\w+)\(", template):
            assert callable(getattr(prelude, f"m_{name}")), (op, name)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_every_lane_backend_covers_every_math_call(backend: str) -> None:
    if backend == "jax":
        pytest.importorskip("jax")
        from portakern_jax.ops import JaxOps as ops
        from portakern_jax.render import UNSUPPORTED
    else:
        from portakern_numpy.ops import NumpyOps as ops
        from portakern_numpy.render import UNSUPPORTED
    missing = {op for op, m in vectorize.LANE_METHODS.items() if not callable(getattr(ops, m, None))}
    assert missing <= UNSUPPORTED and UNSUPPORTED <= optable.MATH


ERF_KERNEL = """
def k(x, out):
    i = pk.global_id(0)
    out[i] = pk.erf(x[i])
"""


def test_an_unsupported_call_is_a_compile_error_naming_op_and_backend() -> None:
    kernel = lower(make(ERF_KERNEL), x=arr(), out=arr())
    off = frozenset({Op.ERF})
    opencl, _ = _c_renderers()
    numba, _ = _py_renderers()
    attempts = {
        "opencl": lambda: type("NoErf", (opencl,), {"unsupported_math": off})().render(kernel),
        "numba": lambda: type("NoErf", (numba,), {"unsupported_math": off})(kernel).render(),
        "jax": lambda: vectorize.render(kernel, "jax", off),
    }
    for backend, attempt in attempts.items():
        with pytest.raises(pk.CompileError, match=rf"pk\.erf\(\) is not supported by the {backend} backend"):
            attempt()
    assert "erf" in vectorize.render(kernel, "jax")
