"""The conformance suite end to end: a derandomised small profile on every available backend, every
mutant backend caught, the JSON report's shape, the CLI, and saved regressions that replay.

``HYPOTHESIS_PROFILE=full`` (or ``portakern conformance --full``) is the long run.
"""
from __future__ import annotations

import importlib.util
import json

import pytest

from portakern.conformance import run
from portakern.conformance.mutants import MUTANTS, mutant_class
from portakern.conformance.runner import run_backend
from portakern.runtime import config, registry

FULL = config.getenv("HYPOTHESIS_PROFILE") == "full"
#: generated kernels per backend in CI: compiling is the cost (numba: seconds per kernel).
CI_EXAMPLES = {"numpy": 25, "numba": 8, "opencl": 12, "jax": 12, "numba-cuda": 6, "cuda": 6}


@pytest.fixture
def mutant(request):
    name = request.param
    registry.register_backend(name, mutant_class(name))
    yield name
    registry.unregister_backend(name)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("mutant", sorted(MUTANTS), indirect=True)
def test_every_mutant_backend_is_caught_within_50_kernels(mutant: str, seed: int) -> None:
    res = run_backend(mutant, examples=50, seed=seed, shrink_budget=2, shrink_seconds=3)
    assert res.status == "fail", f"{mutant} ({MUTANTS[mutant][1]}) passed {res.examples} kernels"
    assert res.examples <= 50
    assert res.failures and res.failures[0].get("kernel_source", "").startswith("@pk.kernel")


@pytest.mark.parametrize("backend", ["numpy", "numba", "opencl", "jax", "numba-cuda", "cuda"])
def test_backend_passes_the_small_derandomised_profile(backend: str) -> None:
    if backend not in registry.backend_names():
        pytest.skip(f"{backend} is not installed")
    examples = 200 if FULL else CI_EXAMPLES[backend]
    report = run([backend], examples=examples, seed=0, profile="full" if FULL else "quick")
    res = report.results[backend]
    if res.status == "unavailable" and not res.compiled:
        pytest.skip(f"{backend}: {res.note}")
    assert res.status != "fail", report.table()
    assert res.examples >= examples or res.compiled >= examples


def test_json_report_has_the_documented_shape(tmp_path) -> None:
    report = run(["numpy"], examples=4, seed=1)
    path = tmp_path / "r.json"
    report.write_json(str(path))
    doc = json.loads(path.read_text())
    assert set(doc) >= {"version", "seed", "backends"}
    row = doc["backends"]["numpy"]
    assert row["status"] == "pass" and row["examples"] >= 4
    assert 0 <= row["bit_exact_fraction"] <= 1 and isinstance(row["max_ulp"], dict) and row["failures"] == []


def test_cli_exits_1_and_saves_a_replayable_regression_for_a_broken_backend(tmp_path, capsys) -> None:
    from portakern.cli.main import main

    registry.register_backend("mutant-fmin", mutant_class("mutant-fmin"))
    try:
        status = main(["conformance", "--backends", "mutant-fmin", "--examples", "60", "--shrink-seconds", "5",
                       "--regressions", str(tmp_path), "--json", str(tmp_path / "r.json")])
        out = capsys.readouterr().out
        assert status == 1 and "FAIL" in out and "@pk.kernel" in out
        saved = sorted(tmp_path.glob("test_mutant_fmin_*.py"))
        assert saved, "the shrunk failure was not saved as a regression test"
        spec = importlib.util.spec_from_file_location("saved_regression", saved[0])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        test = next(getattr(module, n) for n in dir(module) if n.startswith("test_"))
        with pytest.raises(AssertionError):
            test()                                   # still fails on the broken backend
        from portakern.conformance.regression import check_batch

        check_batch(module.BATCH, "numpy")           # and the reference passes the same case
    finally:
        registry.unregister_backend("mutant-fmin")


def test_cli_passes_on_the_reference_backend(capsys) -> None:
    from portakern.cli.main import main

    assert main(["conformance", "--backends", "numpy", "--examples", "3"]) == 0
    assert "PASS" in capsys.readouterr().out


def test_ulp_table_of_the_reference_is_within_the_ceilings(tmp_path) -> None:
    from portakern.conformance.oracle import CEILINGS
    from portakern.conformance.ulp_table import measure, render_markdown, write_docs

    table = {"numpy": {"float32": measure("numpy", "float32", 400)}}
    assert set(table["numpy"]["float32"]) == set(CEILINGS)
    assert all(v <= CEILINGS[op] for op, v in table["numpy"]["float32"].items())
    doc = tmp_path / "semantics.md"
    doc.write_text("# s\n\nbefore\n<!-- ulp-table:begin -->\nold\n<!-- ulp-table:end -->\nafter\n")
    write_docs(render_markdown(table, 400), doc)
    text = doc.read_text()
    assert "old" not in text and "| exp | 3 |" in text and text.endswith("after\n") and "before" in text


def test_a_measured_figure_above_the_ceiling_is_rendered_as_a_waiver() -> None:
    from portakern.conformance.ulp_table import render_markdown

    md = render_markdown({"b": {"float32": {"exp": 7.5}}}, 10)
    assert "7.50 (waiver)" in md and "`b` float32 `exp`: 7.50 ulp, above the 3 ulp ceiling" in md


def test_recorded_bound_holds_a_backend_below_the_ceiling() -> None:
    from portakern.conformance.check import tier1_limit
    from portakern.conformance.oracle import CEILINGS

    assert tier1_limit("no-such-backend", "exp", "float32") == CEILINGS["exp"]
    assert tier1_limit("numba", "exp", "float32") < CEILINGS["exp"]   # numba's exp is recorded at ~0.5 ulp
