"""The conformance runner launches each directed probe four times and fails a backend whose later
launches change a bit (jax used to recompile tiny grids on their third launch)."""
from __future__ import annotations

import numpy as np

from portakern.conformance import runner
from portakern.conformance.probes import probes


def test_a_backend_whose_third_launch_differs_fails_the_probes(monkeypatch):
    real = runner.launch_case
    calls = {"n": 0}

    def drifting(case, built, name):
        got = real(case, built, name)
        calls["n"] += 1
        if calls["n"] % 4 == 3:                  # the third launch of each four changes one element
            for v in got.values():
                if v.size and v.dtype.kind in "fiu":
                    v.flat[0] = v.flat[0] + 1
                    break
        return got

    monkeypatch.setattr(runner, "launch_case", drifting)
    res = runner.run_backend("numpy", examples=len(probes()), seed=0, shrink_budget=0, shrink_seconds=0)
    assert res.status == "fail"
    assert any("repeated launches" in p for f in res.failures for p in f.get("problems", []))


def test_stable_backends_pass_the_relaunch_check():
    res = runner.run_backend("numpy", examples=len(probes()), seed=0, shrink_budget=0, shrink_seconds=0)
    assert res.status == "pass", res.failures
    assert np.isfinite(res.examples) and res.examples >= len(probes())
