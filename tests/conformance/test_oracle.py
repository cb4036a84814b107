"""The suite's own parts, without any backend: its model agrees with the pure-Python model of
docs/semantics.md (tests/model/numerics.py), the comparisons follow the contract's rules, the ULP measure is
right on values whose error is known, and the generator only produces source that Python parses."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portakern.conformance import model, oracle
from portakern.conformance.generate import batches
from portakern.conformance.model import Outcome
from portakern.conformance.program import render_source
from portakern.conformance.values import INT_DTYPES, special_values
from tests.model import numerics as spec

INT_OPS = {"+": spec.add, "-": spec.sub, "*": spec.mul, "//": spec.floordiv, "%": spec.mod, "<<": spec.shl,
           ">>": spec.shr, "&": spec.bitand, "|": spec.bitor, "^": spec.bitxor}


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("op", sorted(INT_OPS))
def test_model_integer_ops_match_the_spec_on_every_special_pair(op: str, dtype: str) -> None:
    vals = [int(v) for v in special_values(dtype)]
    a = np.array([x for x in vals for _ in vals], dtype=dtype)
    b = np.array([y for _ in vals for y in vals], dtype=dtype)
    got = model.binary(op, a, b, dtype)
    want = [INT_OPS[op](int(x), int(y), dtype) for x, y in zip(a.tolist(), b.tolist())]
    assert got.tolist() == want


@pytest.mark.parametrize("src", ["float32", "float64"])
@pytest.mark.parametrize("dst", INT_DTYPES)
def test_model_float_to_int_saturates_like_the_spec(src: str, dst: str) -> None:
    x = np.array(special_values(src), dtype=src)
    got = model.cast(x, dst).tolist()
    assert got == [spec.float_to_int(float(v), dst) for v in x.tolist()]


def test_model_min_max_propagate_nan_and_order_signed_zeros() -> None:
    a = np.array([np.nan, 1.0, -0.0, 0.0, 2.0], np.float32)
    b = np.array([1.0, np.nan, 0.0, -0.0, 3.0], np.float32)
    lo, hi = model.min_max("min", a, b), model.min_max("max", a, b)
    for k in range(a.size):
        for got, ref in ((lo[k], spec.fmin(float(a[k]), float(b[k]))), (hi[k], spec.fmax(float(a[k]), float(b[k])))):
            assert (math.isnan(got) and math.isnan(ref)) or (got == ref and math.copysign(1, got) == math.copysign(1, ref))


@given(*[st.floats(width=32, allow_nan=False, allow_infinity=False)] * 3)
@settings(max_examples=300)
def test_model_fma_float32_rounds_once(a: float, b: float, c: float) -> None:
    got = model.fma(np.array([a], np.float32), np.array([b], np.float32), np.array([c], np.float32))[0]
    ref = spec.fma(a, b, c, "float32")
    if ref == 0:   # an exact zero: float64 a*b+c is exact here and gets IEEE's sign of zero right
        ref = float(np.float64(a) * np.float64(b) + np.float64(c))
    assert (math.isnan(got) and math.isnan(ref)) or (got == ref and math.copysign(1, got) == math.copysign(1, ref))


def test_exact_comparison_tells_signed_zeros_apart_and_matches_any_nan() -> None:
    exp = np.array([0.0, np.nan, 1.0], np.float32)
    got = np.array([-0.0, -np.nan, 1.0], np.float32)
    res = oracle.compare_exact(exp, got, None)
    assert res.bad.tolist() == [0]


def test_flushing_backend_is_not_compared_where_a_subnormal_was_touched() -> None:
    exp = np.array([1e-40, 1.0], np.float32)
    got = np.array([0.0, 1.0], np.float32)
    facts = Outcome(exp, np.zeros(2), np.array([True, False]))
    assert oracle.compare_exact(exp, got, facts, flushes=False).bad.tolist() == [0]
    assert oracle.compare_exact(exp, got, facts, flushes=True).bad.tolist() == []


def test_contracting_backend_is_held_to_the_computed_bound() -> None:
    exp = np.array([1.0, 1.0], np.float32)
    one_ulp = np.float32(np.nextafter(np.float32(1), np.float32(2)))
    got = np.array([one_ulp, one_ulp + np.float32(1e-3)], np.float32)
    facts = Outcome(exp, np.array([2.5e-7, 2.5e-7]), np.zeros(2, bool))
    assert oracle.compare_exact(exp, got, facts, contracts=True).bad.tolist() == [1]
    assert oracle.compare_exact(exp, got, facts, contracts=False).bad.tolist() == [0, 1]


def test_ulp_error_of_a_correctly_rounded_float32_result_is_at_most_half() -> None:
    x = np.linspace(-10, 10, 101, dtype=np.float32)
    got = np.exp(x.astype(np.float64)).astype(np.float32)
    assert np.nanmax(oracle.ulp_errors("exp", [x], got)) <= 0.5


def test_ulp_error_counts_units_in_the_last_place() -> None:
    x = np.array([0.5, 1.5], np.float32)
    exact = np.sin(x.astype(np.float64)).astype(np.float32)
    off = exact.view(np.uint32) + np.uint32(3)
    err = oracle.ulp_errors("sin", [x], off.view(np.float32))
    assert np.all((err > 2.4) & (err < 3.6))


def test_ulp_error_of_float64_uses_mpmath_and_keeps_signed_zero_cases() -> None:
    y = np.array([-0.0, 1.0], np.float64)
    x = np.array([-1.0, 3.0], np.float64)
    good = np.arctan2(y, x)
    assert np.nanmax(oracle.ulp_errors("atan2", [y, x], good)) <= 0.5
    bad = good.copy()
    bad[0] = -bad[0]              # atan2(-0, -1) is -pi: +pi is 2*pi away
    assert oracle.ulp_errors("atan2", [y, x], bad)[0] > 1e15


def test_special_values_must_match_exactly() -> None:
    x = np.array([-np.inf, 0.0, np.nan], np.float32)
    assert oracle.ulp_errors("exp", [x], np.array([0.0, 1.0, np.nan], np.float32)).tolist() == [0, 0, 0]
    assert oracle.ulp_errors("exp", [x], np.array([-0.0, 1.0, 1.0], np.float32))[[0, 2]].tolist() == [np.inf, np.inf]


@given(batches(max_programs=3))
@settings(max_examples=40, deadline=None)
def test_generated_programs_are_valid_python_and_evaluate(batch) -> None:
    source = render_source(batch, "k")
    compile(source, "<generated>", "exec")
    for case in batch.programs:
        out = model.evaluate(case)
        assert set(out) == set(case.written()) - {t.out for t in case.tier1}


def test_the_generator_draws_guarded_tree_loops_bounded_by_work_group_queries() -> None:
    from dataclasses import replace

    from hypothesis import given, settings

    from portakern.conformance.generate import QUICK, cases
    from portakern.conformance.program import render_source

    trees: list = []

    @settings(database=None, derandomize=True, max_examples=200, deadline=None)
    @given(cases(replace(QUICK, p_local=1.0), True, 24, 8))     # every program has work-group memory
    def draw(case) -> None:
        if case.local is not None and case.local.tree:
            trees.append(case)

    draw()
    assert len({c.local.tree for c in trees}) >= 3 and "+" in {c.local.tree for c in trees} and any(c.local.guarded for c in trees)
    src = render_source(next(c for c in trees if c.local.guarded), "k")
    assert "if lid < pk.local_size(0):" in src and "while h < pk.local_size(0):" in src
    assert src.count("pk.barrier()") == 2
