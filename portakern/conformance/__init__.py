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
from typing import Callable, Sequence

__all__ = ["run", "default_backends", "BATCH"]

#: programs per compiled kernel, per backend: compiling is the cost (numba takes seconds per kernel).
BATCH: dict[str, int] = {"numba": 16, "numba-cuda": 3, "jax": 5, "opencl": 5, "cuda": 6, "numpy": 5}


def default_backends() -> list[str]:
    """Every known backend (built-in and registered), the oracle first."""
    from ..runtime import registry

    names = registry.backend_names()
    return (["numpy"] if "numpy" in names else []) + [n for n in names if n != "numpy"]


def run(backends: Sequence[str] | None = None, examples: int = 100, seed: int = 0, profile: str = "quick",
        regressions_dir: str | Path | None = None, time_budget: float | None = None,
        progress: Callable[[str], None] | None = None, shrink_seconds: float = 60.0) -> "Report":  # noqa: UP037
    """Run the suite on ``backends`` (default: every known one) with ``examples`` generated programs
    each; return the :class:`~portakern.conformance.report.Report`. Failures are shrunk; with
    ``regressions_dir`` each is saved there as a pytest regression test."""
    import portakern

    from .generate import FULL, QUICK
    from .regression import reproducer_script, save_regression
    from .report import Report
    from .runner import ORACLE, _Oracle, run_backend

    prof = {"quick": QUICK, "full": FULL}[profile]
    names = list(backends) if backends else default_backends()
    report = Report(portakern.__version__, seed, profile)
    start = time.monotonic()
    oracle = _Oracle(use_numpy=ORACLE in portakern.available_backends())
    for name in names:
        if progress:
            progress(f"{name}: running...")
        res = run_backend(name, examples=examples, seed=seed, profile=prof, batch=BATCH.get(name, 5),
                          time_budget=time_budget, progress=progress, oracle=None if name == ORACLE else oracle,
                          shrink_seconds=shrink_seconds)
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


from .report import Report  # noqa: E402  (for the annotation and the public API)
