"""pytest plugin: run the conformance suite on any backend, built-in or third-party, unchanged.

    pytest -p portakern.conformance.plugin --pyargs portakern.conformance.plugin --backends mybackend

Options: ``--backends a,b`` (default: every available backend), ``--conformance-examples N``
(default 100), ``--conformance-seed S`` (default 0, derandomised), ``--conformance-profile quick|full``
(``HYPOTHESIS_PROFILE=full`` also selects the long profile). One test per backend; a failure prints
the shrunk reproducer.
"""
from __future__ import annotations

from typing import Any

import pytest


def pytest_addoption(parser: Any) -> None:
    """Add the suite's command-line options."""
    group = parser.getgroup("portakern-conformance")
    for flag, kwargs in (("--backends", {"default": None, "help": "comma-separated backends to check"}),
                         ("--conformance-examples", {"type": int, "default": 100,
                                                     "help": "generated kernels per backend"}),
                         ("--conformance-seed", {"type": int, "default": 0, "help": "Hypothesis seed"}),
                         ("--conformance-profile", {"default": None, "choices": ("quick", "full"),
                                                    "help": "program sizes (default quick)"})):
        try:
            group.addoption(flag, **kwargs)
        except ValueError:  # already added by another plugin or conftest: share it
            pass


def _backends(config: Any) -> list[str]:
    import portakern as pk

    opt = config.getoption("--backends", default=None)
    if opt:
        return [b.strip() for b in opt.split(",") if b.strip()]
    return pk.available_backends()


def pytest_generate_tests(metafunc: Any) -> None:
    """Parametrise ``conformance_backend`` over the chosen backends."""
    if "conformance_backend" in metafunc.fixturenames:
        metafunc.parametrize("conformance_backend", _backends(metafunc.config))


def test_backend_conforms(conformance_backend: str, request: Any) -> None:
    """The backend passes the conformance suite (tier 0 bit-exact, tier 1 within its ULP bounds)."""
    from ..runtime import config
    from . import run

    profile = request.config.getoption("--conformance-profile") or (
        "full" if config.getenv("HYPOTHESIS_PROFILE") == "full" else "quick")
    report = run([conformance_backend], examples=request.config.getoption("--conformance-examples"),
                 seed=request.config.getoption("--conformance-seed"), profile=profile)
    res = report.results[conformance_backend]
    if res.status == "unavailable" and not res.compiled:
        pytest.skip(f"{conformance_backend}: {res.note}")
    assert res.status != "fail", report.table()
