"""``portakern bench``: a smoke run on tiny sizes, the JSON/CSV schema, compare, and the pieces
(timing statistics, agreement checks, progress bar) that make the numbers trustworthy."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from portakern.bench import compile_probe, report, runner, suite, timing
from portakern.bench.progress import Progress
from portakern.cli import bench as cli_bench

SCHEMA = ("kernel", "backend", "device", "size", "median_s", "spread_s", "gbps", "gflops", "bandwidth_fraction",
          "baseline_median_s", "ratio_to_baseline", "dispatch_us", "compile_cold_s", "compile_warm_s")


def _tiny_opts(**kw: object) -> runner.Options:
    base = dict(backends=["numpy"], kernels=["saxpy", "histogram"], sizes=["tiny"], quick=True,
                compile_times=False, probe=False)
    base.update(kw)
    return runner.Options(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_report() -> dict:
    return runner.run(_tiny_opts())


def test_quick_run_reports_every_schema_field_for_each_kernel(tiny_report: dict) -> None:
    rows = tiny_report["results"]
    assert [(r["kernel"], r["backend"]) for r in rows] == [("saxpy", "numpy"), ("histogram", "numpy")]
    for r in rows:
        assert set(SCHEMA) <= set(r)
        assert r["status"] == "ok", r["error"]
        assert r["baseline_status"] == "ok"
        assert r["median_s"] > 0 and r["baseline_median_s"] > 0
        assert r["ratio_of_medians"] == pytest.approx(r["median_s"] / r["baseline_median_s"])
        assert r["ratio_to_baseline"] > 0
        assert r["size"] == 1000
    assert {"cpu", "cores", "bandwidth_gbs"} <= set(tiny_report["machine"])


def test_gbps_is_the_cases_traffic_over_the_median(tiny_report: dict) -> None:
    saxpy = tiny_report["results"][0]
    # saxpy moves 12 bytes per element: x and y read, out written.
    assert saxpy["gbps"] == pytest.approx(12 * 1000 / saxpy["median_s"] / 1e9)


def test_dispatch_overhead_is_measured_for_the_generated_and_the_hand_written_launch(tiny_report: dict) -> None:
    (summary,) = tiny_report["backends"]
    assert summary["dispatch_us"] > 0 and summary["dispatch_baseline_us"] > 0
    assert all(r["dispatch_us"] == summary["dispatch_us"] for r in tiny_report["results"])


def test_a_wrong_result_is_reported_as_mismatch_and_never_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = suite.submodule("cases")
    wrong = cases.SAXPY.__class__(**{**cases.SAXPY.__dict__,
                                     "reference": lambda d: {"out": np.zeros(d["x"].shape)}})
    monkeypatch.setitem(cases.BY_NAME, "saxpy", wrong)
    (row,) = runner.run(_tiny_opts(kernels=["saxpy"]))["results"]
    assert row["status"] == "mismatch"
    assert "out:" in row["error"]
    assert row["median_s"] is None and row["ratio_to_baseline"] is None
    assert row["baseline_status"].startswith("mismatch")


def test_unknown_kernel_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known: saxpy"):
        runner.run(_tiny_opts(kernels=["sxapy"]))


def test_unknown_size_is_an_error_naming_the_size_names() -> None:
    with pytest.raises(ValueError, match="unknown size 'huge'; use tiny, small, medium, large"):
        runner.run(_tiny_opts(sizes=["huge"]))


def test_explicit_sizes_round_up_to_the_tile_of_tiled_kernels() -> None:
    cases = suite.submodule("cases")
    assert runner.resolve_size(cases.BY_NAME["matmul"], "100") == 112
    assert runner.resolve_size(cases.BY_NAME["saxpy"], "100") == 100
    assert runner.resolve_size(cases.BY_NAME["saxpy"], "small") == cases.SAXPY.sizes["small"]


def test_case_check_names_the_first_differing_element() -> None:
    cases = suite.submodule("cases")
    ref = {"out": np.array([1.0, 2.0, 3.0])}
    assert cases.SAXPY.check({"out": np.array([1.0, 2.0, 3.0], np.float32)}, ref) is None
    why = cases.SAXPY.check({"out": np.array([1.0, 2.5, 3.0], np.float32)}, ref)
    assert why is not None and "(1,)" in why and "1 of 3" in why


def test_mandelbrot_tolerates_a_few_boundary_pixels_but_not_more() -> None:
    m = suite.submodule("cases").MANDELBROT
    ref = {"out": np.zeros((20, 20), np.int32)}
    few = np.zeros((20, 20), np.int32)
    few[0, 0] = 5                                  # 1 of 400 = 0.25% < 1%
    many = np.zeros((20, 20), np.int32)
    many[0, :] = 5                                 # 5%
    assert m.check({"out": few}, ref) is None
    assert m.check({"out": many}, ref) is not None


def test_hand_written_numpy_baselines_agree_with_the_references() -> None:
    cases = suite.submodule("cases")
    base = suite.submodule("baselines.numpy_").BUILDERS
    fw = suite.submodule("frameworks").make("numpy")
    for case in cases.SUITE:
        n = case.sizes["tiny"]
        inputs = case.make(n, np.random.default_rng(1))
        outs = base[case.name]({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in inputs.items()}, n, fw)()
        assert case.check(outs, case.reference(inputs)) is None, case.name


def test_summarize_gives_median_and_interquartile_range() -> None:
    t = timing.summarize([5.0, 1.0, 3.0, 2.0, 4.0])
    assert (t.median_s, t.spread_s, t.best_s, t.repeats) == (3.0, 2.0, 1.0, 5)


def test_paired_ratio_cancels_a_load_burst_hitting_both_candidates() -> None:
    a = [1.0, 1.0, 10.0, 1.0, 10.0]     # rounds 3 and 5 ran under a burst that slowed both sides
    b = [2.0, 2.0, 20.0, 2.0, 20.0]
    assert timing.paired_ratio(a, b) == pytest.approx(0.5)


def test_side_by_side_interleaves_candidates_and_syncs_every_run() -> None:
    log: list[str] = []
    cands = [(lambda: log.append("a") or "A", lambda o: log.append(f"sync{o}")),
             (lambda: log.append("b") or "B", lambda o: log.append(f"sync{o}"))]
    res = timing.side_by_side(cands, timing.Plan(warmup=1, min_repeats=2, max_repeats=2, budget_s=0.0))
    assert [r.repeats for r in res] == [2, 2]
    assert log == ["a", "syncA", "b", "syncB"] * 3


def test_progress_bar_goes_to_its_stream_with_counts() -> None:
    buf = io.StringIO()
    p = Progress(2, stream=buf)
    p.step("first")
    p.step("second")
    p.done()
    text = buf.getvalue()
    assert "1/2" in text and "2/2" in text and "second" in text and "done" in text


def _report(median: float, ratio: float) -> dict:
    return {"machine": {"cpu": "X", "cores": 2, "bandwidth_gbs": 10.0},
            "results": [{"kernel": "saxpy", "backend": "numba", "size": 10, "shape": "10", "median_s": median,
                         "ratio_to_baseline": ratio}]}


def test_json_and_csv_files_carry_the_schema(tmp_path: Path, tiny_report: dict) -> None:
    report.write_json(tiny_report, tmp_path / "r.json")
    report.write_csv(tiny_report, tmp_path / "r.csv")
    data = json.loads((tmp_path / "r.json").read_text())
    assert set(SCHEMA) <= set(data["results"][0])
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["kernel"] for r in rows] == ["saxpy", "histogram"]
    assert set(SCHEMA) <= set(rows[0])
    assert float(rows[0]["median_s"]) == pytest.approx(data["results"][0]["median_s"])


def test_compare_shows_b_speed_up_over_a() -> None:
    text = report.compare(_report(2e-3, 1.5), _report(1e-3, 1.1))
    line = next(ln for ln in text.splitlines() if ln.startswith("saxpy"))
    assert "2.00ms" in line and "1.00ms" in line and "2.00x" in line and "1.50x" in line
    assert "geometric-mean speed-up of B over A: 2.00x over 1 results" in text


def test_cli_compare_reads_two_files_and_rejects_a_non_report(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    a, b, bad = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "bad.json"
    a.write_text(json.dumps(_report(4e-3, 1.0)))
    b.write_text(json.dumps(_report(1e-3, 1.0)))
    bad.write_text("{}")
    assert cli_bench.main(["compare", str(a), str(b)]) == 0
    assert "4.00x" in capsys.readouterr().out
    assert cli_bench.main(["compare", str(a), str(bad)]) == 2
    assert "no 'results' list" in capsys.readouterr().err


def test_cli_run_prints_the_table_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.json"
    status = cli_bench.main(["--quick", "--backends", "numpy", "--kernels", "saxpy", "--sizes", "tiny",
                             "--no-probe", "--no-compile", "--no-progress", "--json", str(out)])
    assert status == 0
    table = capsys.readouterr().out
    assert "saxpy" in table and "numpy" in table and "hand-written" in table
    assert json.loads(out.read_text())["results"][0]["kernel"] == "saxpy"


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from portakern.bench import plot

    rep = _report(1e-3, 1.2)
    rep["results"][0].update(bound="memory", bandwidth_fraction=0.5)
    plot.save(rep, str(tmp_path / "f.png"))
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_warm_start_in_a_new_process_loads_from_disk_instead_of_compiling() -> None:
    times = compile_probe.measure("numpy", ["saxpy"], timeout=120)
    proc = times["_process"]
    assert proc["cold_cache"]["saxpy"]["builds"] == 1
    assert proc["warm_cache"]["saxpy"]["builds"] == 0
    assert proc["warm_cache"]["saxpy"]["disk_hits"] == 1
    assert times["saxpy"]["cold"] > 0 and times["saxpy"]["warm"] > 0


def test_warm_start_counts_numbas_own_compiles_so_a_cache_miss_cannot_pass_as_a_disk_load() -> None:
    pytest.importorskip("numba")
    times = compile_probe.measure("numba", ["saxpy"], timeout=300)
    proc = times["_process"]
    assert proc["cold_cache"]["saxpy"]["framework_builds"] >= 1     # Numba compiled the generated source
    assert proc["warm_cache"]["saxpy"]["disk_hits"] == 1
    assert proc["warm_cache"]["saxpy"]["framework_builds"] == 0     # and loaded its machine code here


def test_cuda_c_baselines_compile_with_nvrtc() -> None:
    pytest.importorskip("cupy")
    from cupy.cuda import nvrtc

    src = suite.submodule("baselines.csource").source("cuda")
    prog = nvrtc.createProgram(src, "baselines.cu", [], [])
    try:
        nvrtc.compileProgram(prog, ["--gpu-architecture=compute_90"])
        assert b".entry saxpy" in nvrtc.getPTX(prog)
    finally:
        nvrtc.destroyProgram(prog)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["numba", "opencl", "jax", "numba-cuda"])
def test_hand_written_baselines_agree_with_the_references(framework: str) -> None:
    fw = suite.submodule("frameworks").make(framework)
    module = {"numba": "numba_", "opencl": "opencl_", "jax": "jax_", "numba-cuda": "numba_cuda_"}[framework]
    base = suite.submodule(f"baselines.{module}").BUILDERS
    cases = suite.submodule("cases")
    for case in cases.SUITE:
        n = case.sizes["tiny"]
        if framework == "numba-cuda":   # the simulator runs a Python thread per CUDA thread: keep it small
            n = min(n, 16 if len(case.grid(1)[0]) == 2 else 300)
        inputs = case.make(n, np.random.default_rng(2))
        dev = {k: fw.to_dev(v.copy()) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}
        outs = base[case.name](dev, n, fw)()
        fw.sync(list(outs.values()))
        got = {k: fw.to_host(v) for k, v in outs.items()}
        assert case.check(got, case.reference(inputs)) is None, case.name


def test_cpu_ranking_orders_backends_by_geometric_mean_over_common_results() -> None:
    def row(k: str, b: str, t: float) -> dict:
        return {"kernel": k, "backend": b, "size": 1, "median_s": t}

    rep = {"results": [row("saxpy", "numba", 1.0), row("k2", "numba", 4.0),
                       row("saxpy", "opencl", 2.0), row("k2", "opencl", 1.0),
                       row("k3", "numba", 1.0)]}            # k3: opencl missing, so not compared
    rank = report.ranking(rep)
    assert [d["backend"] for d in rank] == ["opencl", "numba"]
    assert rank[0]["geomean_vs_fastest"] == pytest.approx(2 ** 0.5)
    assert rank[1]["geomean_vs_fastest"] == pytest.approx(2.0)
    assert rank[0]["kernels"] == 2


def test_an_unwritable_output_path_is_reported_not_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "run.json"
    status = cli_bench.main(["--quick", "--backends", "numpy", "--kernels", "saxpy", "--sizes", "tiny",
                             "--no-probe", "--no-compile", "--no-progress", "--json", str(target)])
    assert status == 1
    assert "cannot write" in capsys.readouterr().err


def test_the_dispatch_path_script_times_every_step_on_the_fast_path() -> None:
    """benchmarks/dispatch_path.py: each of its five steps launches the kernel (x grows by one each
    time) and the steps after the first launch are cache hits, not compiles."""
    import os

    from benchmarks import dispatch_path
    from benchmarks.kernels import tiny

    threads = os.environ.get("NUMBA_NUM_THREADS")

    x, fns = dispatch_path.steps("numpy")
    builds = tiny.cache_info()["builds"] + tiny.cache_info()["disk_hits"]
    before = float(x[0])
    for f in fns.values():
        f()
    assert float(x[0]) == before + 5
    assert tiny.cache_info()["builds"] + tiny.cache_info()["disk_hits"] == builds
    best = dispatch_path.measure("numpy", rounds=1, launches=3)
    assert set(best) == set(fns) and all(0 < v < 1e6 for v in best.values())
    assert os.environ.get("NUMBA_NUM_THREADS") == threads     # imported, it changes no process setting
