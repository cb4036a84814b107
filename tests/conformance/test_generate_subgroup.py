"""The conformance generator draws sub-group operations (program.py's ``SubgroupStage``), and the model's
expectation for each (docs/semantics.md: exact shuffles, one reduction tree) is what every backend gives."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, settings

from portakern.conformance.execute import build_kernel, launch_case
from portakern.conformance.generate import cases
from portakern.conformance.model import evaluate
from portakern.conformance.program import SUBGROUP_STAGE_OPS, Batch, Case, Expr, Stmt, SubgroupStage, render_source
from tests.backends.conftest import availability

N, WG = 50, 32          # 64 work-items: the last sub-group runs past the end of the arrays (u = 0 there)


def _var(name, dtype):
    return Expr("var", "", (), dtype, name)


def _case(op: str) -> Case:
    dtype = "bool" if op in ("any", "all") else "float32"
    a0 = _var("a0", "float32")
    expr = Expr("bin", ">", (a0, Expr("lit", "", (), "float32", 0.0)), "bool") if dtype == "bool" else a0
    stage = SubgroupStage(op, expr, dtype, mul=3, shift=37)
    rng = np.random.default_rng(9)
    x0 = (rng.standard_normal(N) * 10.0 ** rng.integers(-3, 6, N)).astype(np.float32)
    x0[40:] = np.abs(x0[40:])        # the second sub-group: all positive (any/all differ between the two)
    return Case((("x0", "float32"),), (("o0", dtype),), (Stmt("store", "o0", dtype, _var("g", dtype)),),
                n=N, wg=WG, values={"x0": x0, "o0": np.zeros(N, dtype)}, subgroup=stage)


@pytest.mark.parametrize("backend", ["numpy", "numba", "opencl", "jax"])
@pytest.mark.parametrize("op", SUBGROUP_STAGE_OPS)
def test_each_subgroup_stage_matches_the_model(backend, op):
    if not availability(backend)[0]:
        pytest.skip(f"{backend} unavailable")
    case = _case(op)
    batch = Batch((case,), N, WG)
    src = render_source(case, "k")
    assert f"pk.subgroup_{op}(" in src, src
    got = launch_case(batch, build_kernel(batch), backend)["o0"]
    want = evaluate(case)["o0"].val
    np.testing.assert_array_equal(got, want, err_msg=src)


def test_the_model_reduction_is_the_documented_tree_not_a_plain_sum():
    case = _case("reduce_add")
    want = evaluate(case)["o0"].val
    x = np.concatenate([case.values["x0"], np.zeros(64 - N, np.float32)]).reshape(2, 32)
    r = x.copy()
    h = 16
    while h:
        r = (r[:, :h] + r[:, h:2 * h]).astype(np.float32)
        h //= 2
    np.testing.assert_array_equal(want, np.repeat(r[:, 0], 32)[:N])


def test_the_generator_draws_every_subgroup_operation():
    seen: set[str] = set()
    ndranges: set[int] = set()

    def every_op_seen(case) -> bool:        # draws until every operation has been drawn (no shrinking)
        if case.subgroup is not None:
            seen.add(case.subgroup.op)
            ndranges.add(case.ndrange)
        return seen == set(SUBGROUP_STAGE_OPS)

    find(cases(wg=32), every_op_seen, settings=settings(
        max_examples=1000, derandomize=True, database=None, phases=[Phase.generate],
        suppress_health_check=list(HealthCheck)))
    assert seen == set(SUBGROUP_STAGE_OPS)
    assert ndranges and all(n % 32 == 0 for n in ndranges)
