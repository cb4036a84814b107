"""``portakern bench --peers``: peers timed round-robin beside portakern, absent peers skipped with a note,
``--plot`` checked before the run, and the line saying why GPU backends were skipped."""
from __future__ import annotations

import json
import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from portakern.bench import plot, report, runner, suite
from portakern.cli import bench as cli_bench
from portakern.errors import MissingDependency, PortakernError

PEERS_MOD = f"{suite.NAME}.peers"


def _opts(**kw: object) -> runner.Options:
    base = dict(backends=["numpy"], kernels=["saxpy"], sizes=["tiny"], quick=True, compile_times=False,
                probe=False)
    base.update(kw)
    return runner.Options(**base)  # type: ignore[arg-type]


def _fake_peer(monkeypatch: pytest.MonkeyPatch, name: str, scale: float = 1.0) -> list[str]:
    """A peer framework named ``name`` built from the hand-written NumPy saxpy, its output times ``scale``."""
    peers = suite.submodule("peers")
    calls: list[str] = []

    def saxpy(d: dict, n: int, fw: object):  # noqa: ANN202
        def run() -> dict:
            calls.append(name)
            np.multiply(d["a"], d["x"], out=d["out"])
            d["out"] += d["y"]
            d["out"] *= np.float32(scale)
            return {"out": d["out"]}
        return run

    mod = types.ModuleType(f"{PEERS_MOD}.{name}_")
    mod.Framework = type("Framework", (suite.submodule("frameworks").Framework,),  # type: ignore[attr-defined]
                         {"__init__": lambda self: None})
    mod.BUILDERS = {"saxpy": saxpy}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setitem(peers.PEERS, name, (f"{name}_", "BUILDERS", name))
    return calls


def test_a_peer_is_timed_in_the_same_rounds_as_portakern_and_the_hand_written_kernel(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_peer(monkeypatch, "fakepeer")
    data = runner.run(_opts(peers=["fakepeer"]))
    (entry,) = data["peers"]
    times = entry["times"]
    assert set(times) == {"pk:numpy", "numpy", "fakepeer"}
    assert [times[k]["kind"] for k in ("pk:numpy", "numpy", "fakepeer")] == ["portakern", "hand", "peer"]
    reps = {times[k]["repeats"] for k in times}
    assert len(reps) == 1 and reps.pop() >= 3          # one interleaved measurement: equal repetitions
    assert len(calls) >= 3
    assert entry["best_portakern"] == "pk:numpy"
    fastest = min(("numpy", "fakepeer"), key=lambda k: times[k]["median_s"])
    assert entry["fastest_peer"] == fastest
    assert entry["ratio_to_fastest_peer"] > 0
    assert data["options"]["peers"] == ["fakepeer"]
    text = report.table(data)
    assert "fakepeer" in text and "fastest peer" in text


def test_a_peer_with_a_wrong_answer_is_shown_as_wrong_and_never_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_peer(monkeypatch, "badpeer", scale=2.0)
    (entry,) = runner.run(_opts(peers=["badpeer"]))["peers"]
    assert entry["times"]["badpeer"]["status"] == "mismatch"
    assert entry["times"]["badpeer"]["median_s"] is None
    assert entry["fastest_peer"] == "numpy"


def test_an_absent_peer_framework_is_skipped_with_a_note_naming_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)          # as if torch were not installed
    monkeypatch.delitem(sys.modules, f"{PEERS_MOD}.torch_", raising=False)
    data = runner.run(_opts(peers=["torch"]))
    assert set(data["skipped"]) >= {"peer torch", "peer torch-compile"}
    assert 'pip install "portakern[torch]"' in data["skipped"]["peer torch"]
    (entry,) = data["peers"]
    assert set(entry["times"]) == {"pk:numpy", "numpy"}      # the run goes on without it
    assert "skipped peer torch:" in report.table(data)


def test_an_unknown_peer_is_an_error_naming_the_known_ones(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli_bench.main(["--quick", "--backends", "numpy", "--kernels", "saxpy", "--sizes", "tiny",
                             "--no-probe", "--no-compile", "--no-progress", "--peers", "wrap"])
    assert status == 2
    assert "unknown peer(s) wrap; known: warp, taichi, torch" in capsys.readouterr().err


def test_plot_without_matplotlib_fails_before_the_run_naming_the_extra(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    ran: list[object] = []
    monkeypatch.setattr(runner, "run", lambda *a, **k: ran.append(a))
    status = cli_bench.main(["--quick", "--backends", "numpy", "--kernels", "saxpy", "--sizes", "tiny",
                             "--no-progress", "--plot", str(tmp_path / "f.png")])
    out = capsys.readouterr()
    assert status == 2 and ran == [] and out.out == ""
    assert 'pip install "portakern[bench]"' in out.err
    with pytest.raises(MissingDependency) as info:
        plot.require()
    assert isinstance(info.value, PortakernError)


def test_the_default_run_says_why_gpu_backends_were_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from portakern.runtime import registry

    monkeypatch.setattr(registry, "available_backends", lambda: ["numpy"])
    backends, skipped = runner.available_backends(None)
    assert backends == ["numpy"]
    for gpu in ("cuda", "numba-cuda"):
        assert skipped[gpu].startswith("GPU backend not run: ")
        assert len(skipped[gpu]) > len("GPU backend not run: ")
    text = report.table({"results": [], "backends": [], "skipped": skipped})
    assert "skipped cuda: GPU backend not run: " in text


@pytest.mark.slow
@pytest.mark.parametrize("peer", ["warp", "taichi", "torch", "torch-compile"])
def test_peer_kernels_agree_with_the_references(peer: str) -> None:
    pytest.importorskip({"torch-compile": "torch"}.get(peer, peer))
    p = suite.submodule("peers").load(peer)
    cases = suite.submodule("cases")
    for case in cases.SUITE:
        n = case.sizes["tiny"]
        inputs = case.make(n, np.random.default_rng(2))
        dev = {k: p.fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
        outs = p.builders[case.name](dev, n, p.fw)()
        p.fw.sync(list(outs.values()))
        assert case.check({k: p.fw.to_host(v) for k, v in outs.items()}, case.reference(inputs)) is None, case.name


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_bench_runs_with_a_passive_openmp_wait_policy_unless_one_is_given(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, given: str | None, expected: str) -> None:
    monkeypatch.setenv("OMP_WAIT_POLICY", "recorded")      # restored after the test, whatever the run sets
    if given is None:
        monkeypatch.delenv("OMP_WAIT_POLICY")
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", given)
    out = tmp_path / "run.json"
    status = cli_bench.main(["--quick", "--backends", "numpy", "--kernels", "saxpy", "--sizes", "tiny",
                             "--no-probe", "--no-compile", "--no-progress", "--json", str(out)])
    assert status == 0
    assert os.environ["OMP_WAIT_POLICY"] == expected
    assert json.loads(out.read_text())["options"]["omp_wait_policy"] == expected


def test_the_report_records_the_load_average_at_the_start_and_the_end_of_the_run() -> None:
    data = runner.run(_opts())
    for key in ("load_average_start", "load_average_end"):
        assert len(data["machine"][key]) == 3 and all(v >= 0 for v in data["machine"][key])
    assert "load average" in report.table(data).splitlines()[0]


def test_a_peers_row_gets_the_per_backend_budget_for_every_two_sides() -> None:
    from portakern.bench import peers, timing

    plan = timing.Plan(budget_s=0.5)
    assert peers.plan_for(plan, 12).budget_s == pytest.approx(3.0)
    assert peers.plan_for(plan, 1).budget_s == pytest.approx(0.5)
    assert peers.plan_for(plan, 12).min_repeats == plan.min_repeats
