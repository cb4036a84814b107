"""The cross-backend conformance suite (docs/semantics.md made executable).

Library entry point::

    from portakern.conformance import run
    report = run(backends=["numpy", "mybackend"], examples=100, seed=0)
    print(report.table()); assert report.ok

A third-party backend registered under the ``portakern.backends`` entry points (or with
``pk.register_backend``) runs the same suite unchanged; the pytest plugin
(``pytest -p portakern.conformance.plugin --backends mybackend``) wraps this function.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from ..errors import BackendUnavailable, MissingDependency, PortakernError

if TYPE_CHECKING:
    from .report import Report

__all__ = ["run", "default_backends", "require_dependencies", "MissingDependency", "BATCH"]

#: the suite's own third-party dependencies (the ``conformance`` extra, also in ``all`` and ``test``).
DEPENDENCIES = ("hypothesis", "mpmath")


def require_dependencies() -> None:
    """Raise :class:`MissingDependency` (one line, naming the extra) unless Hypothesis and mpmath import."""
    import importlib

    missing = []
    for name in DEPENDENCIES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingDependency(f"the conformance suite needs {' and '.join(missing)}, which "
                                f"{'is' if len(missing) == 1 else 'are'} not installed: "
                                f"pip install \"portakern[conformance]\" (also part of [all])")

#: programs per compiled kernel, per backend: compiling is the cost (numba takes seconds per kernel).
BATCH: dict[str, int] = {"numba": 16, "numba-cuda": 3, "jax": 5, "opencl": 5, "cuda": 6, "numpy": 5}


def default_backends() -> list[str]:
    """Every known backend (built-in and registered), the oracle first."""
    from ..runtime import registry

    names = registry.backend_names()
    return (["numpy"] if "numpy" in names else []) + [n for n in names if n != "numpy"]


def run(backends: Sequence[str] | None = None, examples: int = 100, seed: int = 0, profile: str = "quick",
        regressions_dir: str | Path | None = None, time_budget: float | None = None,
        progress: Callable[[str], None] | None = None, shrink_seconds: float = 60.0,
        allow_unavailable: bool | None = None,
        tick: Callable[[str, int, int, float], None] | None = None) -> "Report":  # noqa: UP037
    """Run the suite on ``backends`` (default: every known one) with ``examples`` generated programs
    each; return the :class:`~portakern.conformance.report.Report`. Failures are shrunk; with
    ``regressions_dir`` each is saved there as a pytest regression test.

    A backend name that is not registered raises :class:`~portakern.BackendUnavailable` naming the known
    ones. A named backend that cannot run here makes ``report.ok`` False unless ``allow_unavailable``
    (default: allowed only when ``backends`` is None, i.e. "every backend usable here"). ``progress``
    gets one line per backend when it ends; ``tick(backend, done, planned, seconds)`` is called as
    generated programs complete. Warnings raised by compilers and Hypothesis are captured per backend
    (``BackendResult.warnings``), not printed."""
    import portakern

    from ..runtime import registry

    require_dependencies()

    from .generate import PROFILES
    from .regression import reproducer_script, save_regression
    from .report import Report
    from .runner import ORACLE, _Oracle, run_backend

    if profile not in PROFILES:
        raise PortakernError(f"unknown conformance profile {profile!r}; profiles: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    names = list(backends) if backends else default_backends()
    known = registry.backend_names()
    unknown = [n for n in names if registry.canonical_name(n) not in known]
    if unknown:
        raise BackendUnavailable(f"unknown backend{'s' if len(unknown) > 1 else ''} "
                                 f"{', '.join(repr(n) for n in unknown)} for the conformance suite; "
                                 f"known backends: {', '.join(known)}")
    report = Report(portakern.__version__, seed, profile,
                    allow_unavailable=backends is None if allow_unavailable is None else allow_unavailable)
    start = time.monotonic()
    oracle = _Oracle(use_numpy=ORACLE in portakern.available_backends())
    for name in names:
        res = run_backend(name, examples=examples, seed=seed, profile=prof, batch=BATCH.get(name, 5),
                          time_budget=time_budget, progress=progress, oracle=None if name == ORACLE else oracle,
                          shrink_seconds=shrink_seconds, tick=tick)
        for f in res.failures:
            batch = f.get("_batch")
            if batch is None:
                continue
            f["reproducer"] = reproducer_script(batch, name)
            if regressions_dir is not None:
                problem = "; ".join(f.get("problems", [])) or str(f.get("got", ""))
                f["saved_as"] = str(save_regression(batch, name, problem, regressions_dir, seed))
        report.results[name] = res
    report.seconds = time.monotonic() - start
    return report


def __getattr__(name: str) -> object:
    # Report is public, but importing it imports Hypothesis: only when asked for, so that a missing
    # dependency is reported by require_dependencies() as one line instead of an ImportError here.
    if name == "Report":
        require_dependencies()
        from .report import Report

        return Report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
