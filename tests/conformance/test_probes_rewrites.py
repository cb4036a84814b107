"""The probes for XLA's algebraic rewrites (1/sqrt -> rsqrt, chained divisions, reassociated
constants, sqrt(x)^2 -> x, x/c -> x*(1/c)) pass on jax, and the launch-N-times check sees a launch
whose bits change."""
from __future__ import annotations

import numpy as np
import pytest

import portakern as pk
from portakern.conformance.probes import probes, repeated_launch_mismatch
from portakern.conformance.runner import run_backend

N_PROBES = len(probes())


def test_jax_passes_every_probe_including_the_rewrite_probes():
    pytest.importorskip("portakern_jax")
    if "jax" not in pk.available_backends():
        pytest.skip("jax unavailable")
    res = run_backend("jax", examples=N_PROBES, seed=0, shrink_budget=0, shrink_seconds=0)
    assert res.status == "pass", res.failures[:1]
    assert res.examples >= N_PROBES


def test_the_rewrite_probes_cover_both_float_types_and_only_float32_without_float64():
    ops = [{c.outputs[0][1] for c in b.programs} for b in probes()]
    assert sum(o == {"float64"} for o in ops) >= 7 and sum(o == {"float32"} for o in ops) >= 9
    uses64 = [any("float64" in (t for _, t in c.inputs + c.outputs) for c in b.programs) for b in probes()]
    assert sum(uses64) >= 7
    assert len(probes(fp64=False)) == len(uses64) - sum(uses64)     # exactly the float64 probes are dropped


def test_repeated_launch_mismatch_names_the_launch_that_changed():
    calls = []

    def stable():
        return (np.arange(4.0), np.ones(3, np.int32))

    def tiers_up():
        calls.append(1)
        x = np.arange(4.0)
        if len(calls) >= 3:                       # recompiled on the third launch
            x[1] = np.nextafter(x[1], 2.0)
        return (np.ones(3, np.int32), x)

    assert repeated_launch_mismatch(stable) is None
    assert repeated_launch_mismatch(tiers_up) == "output 1 of launch 3 differs from launch 1 in 1 elements"
    calls.clear()
    assert repeated_launch_mismatch(tiers_up, times=2) is None


def test_repeated_launch_mismatch_tells_nan_payloads_and_signed_zeros_apart():
    outs = iter([(np.array([0.0]),), (np.array([-0.0]),)])
    assert repeated_launch_mismatch(lambda: next(outs), times=2) == "output 0 of launch 2 differs from launch 1 in 1 elements"
