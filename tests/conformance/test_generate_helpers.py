"""The conformance generator draws multi-value ``@pk.func`` helpers (program.py's ``helper`` node): an
operator node moved into a helper that returns it beside its first operand (``return a0, a0 * a1``),
taken by index or unpacked by a second helper (``q0, q1 = h(...)``), or written by a helper into a
private array the kernel passes and reads back (``w_h(hp, x, y); v = hp[0]``). The model evaluates the
node itself, so every backend's inlining of tuple returns and of in-place updates is checked bit for bit."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import portakern as pk
from portakern.conformance.execute import build_kernel, launch_case
from portakern.conformance.generate import cases
from portakern.conformance.model import evaluate
from portakern.conformance.program import Batch, Case, Expr, Stmt, render_source


def _var(name, dtype):
    return Expr("var", "", (), dtype, name)


def _helper_case(variant: str, position: int) -> Case:
    # o0[i] = (a0 - a1) computed in a helper; o1[i] = floor-divided ints through the same path
    a0, a1 = _var("a0", "float32"), _var("a1", "float32")
    b0, b1 = _var("a2", "int32"), _var("a3", "int32")
    f = Expr("helper", "", (Expr("bin", "-", (a0, a1), "float32"),), "float32", (variant, position))
    g = Expr("helper", "", (Expr("bin", "//", (b0, b1), "int32"),), "int32", (variant, position))
    values = {"x0": np.array([1.5, -2.0, 0.25, 7.0], np.float32), "x1": np.array([10.0, 20.0, -30.0, 0.5], np.float32),
              "x2": np.array([7, -7, 9, -2**31], np.int32), "x3": np.array([2, 2, 0, -1], np.int32),
              "o0": np.zeros(4, np.float32), "o1": np.zeros(4, np.int32)}
    return Case((("x0", "float32"), ("x1", "float32"), ("x2", "int32"), ("x3", "int32")),
                (("o0", "float32"), ("o1", "int32")),
                (Stmt("store", "o0", "float32", f), Stmt("store", "o1", "int32", g)), n=4, values=values)


@pytest.mark.parametrize("variant", ["index", "unpack"])
@pytest.mark.parametrize("position", [0, 1])
def test_a_generated_helper_gives_the_model_value(variant, position):
    case = _helper_case(variant, position)
    src = render_source(case, "k")
    assert src.startswith("@pk.kernel") and src.count("@pk.func") == (4 if variant == "unpack" else 2), src
    assert ("q0, q1 = " in src) == (variant == "unpack"), src
    batch = Batch((case,), 4, None)
    got = launch_case(batch, build_kernel(batch), "numpy")
    want = evaluate(case)
    np.testing.assert_array_equal(got["o0"], want["o0"].val, err_msg=src)
    np.testing.assert_array_equal(got["o1"], want["o1"].val, err_msg=src)
    np.testing.assert_array_equal(got["o0"], case.values["x0"] - case.values["x1"])
    np.testing.assert_array_equal(got["o1"], [3, -4, 0, -2**31])       # floor division; x // 0 == 0; MIN // -1


@pytest.mark.parametrize("backend_name", ["numpy", "numba", "opencl", "jax"])
@pytest.mark.parametrize("dtype", ["float64", "int16", "bool"])
def test_an_in_place_helper_writes_the_callers_private_array(backend_name, dtype):
    if backend_name not in pk.available_backends():
        pytest.skip(f"{backend_name} is not available here")
    a0, a1 = _var("a0", dtype), _var("a1", dtype)
    op = "!=" if dtype == "bool" else "-"
    node = Expr("bin", op, (a0, a1), dtype)
    body = (Stmt("assign", "v0", dtype, Expr("helper", "", (node,), dtype, ("inplace", 0))),
            Stmt("store", "o0", dtype, _var("v0", dtype)))
    x0 = np.array([1, 0, 1, 0, 3, 2], dtype=dtype)
    x1 = np.array([1, 1, 0, 0, 5, 0], dtype=dtype)
    case = Case(((("x0", dtype), ("x1", dtype))), (("o0", dtype),), body, n=6,
                values={"x0": x0, "x1": x1, "o0": np.zeros(6, dtype)})
    src = render_source(case, "k")
    assert f"hp_{dtype} = pk.private_array(1, pk." in src and "r[0] = " in src, src
    batch = Batch((case,), 6, None)
    got = launch_case(batch, build_kernel(batch), backend_name)["o0"]
    np.testing.assert_array_equal(got, evaluate(case)["o0"].val, err_msg=src)
    np.testing.assert_array_equal(got, x0 != x1 if dtype == "bool" else x0 - x1)


def test_helpers_are_defined_once_per_kernel_with_both_variants():
    case = _helper_case("index", 1)
    other = _helper_case("unpack", 1)
    both = Case(case.inputs, case.outputs, case.body + other.body, n=4, values=case.values)
    src = render_source(both, "k")
    assert src.count("@pk.func") == 4, src            # _hX twice (float and int node), u_hX twice
    ns: dict = {"pk": pk}
    exec(compile(src, "<helpers>", "exec"), ns)        # noqa: S102 - the test's own generated source


def test_the_generator_draws_every_helper_variant():
    seen: set[str] = set()

    @settings(max_examples=150, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def draw(case):
        seen.update(op for op in case.ops() if op.startswith("helper_"))

    draw()
    assert seen == {"helper_index", "helper_unpack", "helper_inplace"}
