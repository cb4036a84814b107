"""The conformance generator draws short-vector expressions (program.py's ``vec`` node), and a
generated vector lane runs through the front end's lane-by-lane lowering to the model's value.

The generator builds the suite's own expression trees and renders them to kernel SOURCE, so vectors
reach the programs as ``pk.vec(...)``, lanes (``.x``, ``[k]``), lanewise operators, calls, casts and
selects, and are lowered by the same front end path as a user's kernel."""
from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings

from portakern.conformance.execute import build_kernel, launch_case
from portakern.conformance.generate import cases
from portakern.conformance.model import evaluate
from portakern.conformance.program import Batch, Case, Expr, Stmt, render_source


def _var(name, dtype):
    return Expr("var", "", (), dtype, name)


def _lit(v, dtype):
    return Expr("lit", "", (), dtype, v)


def _lane_case(lane: int, width: int) -> Case:
    # o0[i] = lane `lane` of (pk.vec(..a0..) * pk.float32(3.0) + pk.vec(..a1..)), other lanes filled
    a0, a1 = _var("a0", "float32"), _var("a1", "float32")
    inner = Expr("bin", "+", (Expr("bin", "*", (a0, _lit(3.0, "float32")), "float32"), a1), "float32")
    fill = tuple(_lit(float(100 + k), "float32") for k in range(width - 1))
    e = Expr("vec", "", (inner,), "float32", (lane, width, (fill, None, fill)))
    x0 = np.array([1.5, -2.0, 0.25, 7.0], np.float32)
    x1 = np.array([10.0, 20.0, -30.0, 0.5], np.float32)
    return Case((("x0", "float32"), ("x1", "float32")), (("o0", "float32"),), (Stmt("store", "o0", "float32", e),),
                n=4, values={"x0": x0, "x1": x1, "o0": np.zeros(4, np.float32)})


def test_a_generated_vector_lane_lowers_to_the_model_value_in_every_lane():
    for width in (2, 3, 4, 8):
        for lane in range(width):
            case = _lane_case(lane, width)
            src = render_source(case, "k")
            assert "pk.vec(" in src and "pk.float32(100.0)" in src, src
            got = launch_case(Batch((case,), 4, None), build_kernel(Batch((case,), 4, None)), "numpy")["o0"]
            want = evaluate(case)["o0"].val
            np.testing.assert_array_equal(got, want, err_msg=src)
            np.testing.assert_array_equal(got, case.values["x0"] * np.float32(3) + case.values["x1"])


def test_the_generator_draws_vector_expressions():
    seen: list[str] = []

    @settings(max_examples=60, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def draw(case):
        if "vector" in case.ops():
            seen.append(render_source(case, "k"))

    draw()
    assert len(seen) >= 5, len(seen)
    assert any(".x" in s or ".y" in s for s in seen) and any("][" in s or ")[" in s for s in seen)
