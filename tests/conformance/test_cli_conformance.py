"""`portakern conformance` as installed and as reported: the dependencies come with the documented extras
(and their absence is a one-line error), an unknown or unavailable backend cannot pass, progress is shown
per backend, and third-party warnings are captured into the report instead of interleaved with it."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from portakern.conformance import run
from portakern.errors import BackendUnavailable, PortakernError
from portakern.runtime import registry

ROOT = Path(__file__).resolve().parents[2]


def _unavailable_backend() -> type:
    from portakern_numpy import NumpyBackend

    class Unplugged(NumpyBackend):  # type: ignore[misc, valid-type]
        """The numpy backend, claiming it has no device here."""

        name = "unplugged"

        def is_available(self) -> bool:
            return False

        def unavailable_reason(self) -> str:
            return "no device (test double)"

    return Unplugged


def _warning_backend() -> type:
    from portakern_numpy import NumpyBackend

    class Noisy(NumpyBackend):  # type: ignore[misc, valid-type]
        """The numpy backend, warning on every render as a chatty compiler does."""

        name = "noisy"

        def render(self, kernel):  # type: ignore[no-untyped-def]
            warnings.warn("compiler says: loop not vectorised", RuntimeWarning, stacklevel=1)
            return super().render(kernel)

    return Noisy


@pytest.fixture
def registered(request):
    cls = request.param()
    registry.register_backend(cls.name, cls)
    yield cls.name
    registry.unregister_backend(cls.name)


def test_the_all_extra_installs_what_the_conformance_suite_imports() -> None:
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"hypothesis", "mpmath"} <= set(extras["conformance"])
    assert "conformance" in extras["all"][0] and "conformance" in "".join(extras["test"])


def test_a_missing_dependency_is_one_line_naming_the_extra(tmp_path) -> None:
    # sys.modules[name] = None makes `import name` raise ImportError, as in an install without the extra.
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "from portakern.cli.main import main\n"
            "sys.exit(main(['conformance', '--backends', 'numpy', '--examples', '1']))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "backends")]),
           "PORTAKERN_CACHE_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "hypothesis" in lines[0] and "portakern[conformance]" in lines[0], proc.stderr


def test_an_unknown_backend_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(BackendUnavailable, match=r"'nmupy'.*known backends: .*numpy"):
        run(["nmupy"], examples=2)


def test_the_cli_exits_1_for_an_unknown_backend(capsys) -> None:
    from portakern.cli.main import main

    assert main(["conformance", "--backends", "nmupy", "--examples", "2"]) == 1
    err = capsys.readouterr().err
    assert "nmupy" in err and "numpy" in err and "Traceback" not in err


@pytest.mark.parametrize("registered", [_unavailable_backend], indirect=True)
def test_a_named_unavailable_backend_does_not_pass(registered: str) -> None:
    report = run([registered], examples=2)
    res = report.results[registered]
    assert res.status == "unavailable" and res.examples == 0
    assert not report.ok
    assert report.as_json()["backends"][registered]["bit_exact_fraction"] is None   # nothing was compared
    assert run([registered], examples=2, allow_unavailable=True).ok


@pytest.mark.parametrize("registered", [_unavailable_backend], indirect=True)
def test_the_cli_exit_status_follows_allow_unavailable(registered: str, capsys) -> None:
    from portakern.cli.main import main

    assert main(["conformance", "--backends", registered, "--examples", "2"]) == 1
    assert "FAIL" in capsys.readouterr().out
    assert main(["conformance", "--backends", registered, "--examples", "2", "--allow-unavailable"]) == 0


def test_a_report_with_no_backend_is_not_ok() -> None:
    from portakern.conformance.report import Report

    assert not Report("0", 0, "quick").ok


def test_an_unknown_profile_is_an_error() -> None:
    with pytest.raises(PortakernError, match="profiles: quick, full, long"):
        run(["numpy"], examples=2, profile="overnight")


def test_progress_ticks_count_the_programs_of_each_backend() -> None:
    ticks: list[tuple[str, int, int, float]] = []
    lines: list[str] = []
    report = run(["numpy"], examples=12, seed=0, tick=lambda *t: ticks.append(t), progress=lines.append)
    assert report.ok
    assert ticks and all(name == "numpy" and planned == 12 for name, _, planned, _ in ticks)
    done = [d for _, d, _, _ in ticks]
    assert done == sorted(done) and done[-1] >= 12
    assert len(lines) == 1 and lines[0].startswith("numpy: pass (")


def test_the_progress_display_rewrites_one_line_on_a_terminal_and_throttles_a_log() -> None:
    from portakern.cli.conformance import ProgressDisplay

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    show = ProgressDisplay(tty)
    show.tick("numba", 5, 100, 3.0)
    show.tick("numba", 10, 100, 6.0)
    show.line("numba: pass (100 examples, 60.0s)")
    assert tty.getvalue().count("\r") >= 3 and "numba: 10/100 kernels, 6s" in tty.getvalue()
    assert tty.getvalue().endswith("numba: pass (100 examples, 60.0s)\n")
    log = io.StringIO()
    show = ProgressDisplay(log, every=30.0)
    for s in range(0, 100, 5):
        show.tick("numba", s, 100, float(s))
    assert "\r" not in log.getvalue()
    assert log.getvalue().splitlines() == [f"numba: {s}/100 kernels, {s}s" for s in (30, 60, 90)]


@pytest.mark.parametrize("registered", [_warning_backend], indirect=True)
def test_compiler_warnings_are_captured_into_the_report_not_printed(registered: str, tmp_path, capsys) -> None:
    from portakern.cli.main import main

    with warnings.catch_warnings(record=True) as leaked:
        warnings.simplefilter("always")
        status = main(["conformance", "--backends", registered, "--examples", "6", "--json",
                       str(tmp_path / "r.json")])
    assert status == 0
    assert not [w for w in leaked if "loop not vectorised" in str(w.message)]
    out = capsys.readouterr()
    assert "loop not vectorised" not in out.err and "loop not vectorised" not in out.out
    assert f"warnings captured (not errors; listed in --json): {registered}" in out.out
    row = json.loads((tmp_path / "r.json").read_text())["backends"][registered]
    [entry] = [w for w in row["warnings"] if "loop not vectorised" in w["message"]]
    assert entry["category"] == "RuntimeWarning" and entry["count"] >= 1
