"""The directed probes: they catch their defects with no random draw at all, and a correct
backend passes them."""
from __future__ import annotations

import pytest

from portakern.conformance.mutants import mutant_class
from portakern.conformance.probes import probes
from portakern.conformance.runner import run_backend
from portakern.runtime import registry

N_PROBES = len(probes())


@pytest.fixture
def mutant(request):
    registry.register_backend(request.param, mutant_class(request.param))
    yield request.param
    registry.unregister_backend(request.param)


@pytest.mark.parametrize("mutant", ["mutant-fma", "mutant-trunc-div", "mutant-fmin", "mutant-flush"],
                         indirect=True)
def test_probes_alone_catch_the_defect(mutant: str) -> None:
    res = run_backend(mutant, examples=N_PROBES, seed=0, shrink_budget=0, shrink_seconds=0)
    assert res.status == "fail"
    assert res.examples <= N_PROBES          # found by a probe, before any random program
    assert res.failures[0]["kernel_source"].startswith("@pk.kernel")


def test_the_reference_passes_every_probe() -> None:
    res = run_backend("numpy", examples=N_PROBES, seed=0)
    assert res.status == "pass" and res.examples >= N_PROBES


def test_probes_without_float64_leave_out_the_float64_program() -> None:
    dtypes = {c.inputs[0][1] for b in probes(fp64=False) for c in b.programs}
    assert "float64" not in dtypes and "float32" in dtypes
