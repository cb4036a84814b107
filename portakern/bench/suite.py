"""Find and import the benchmark suite (the repository's ``benchmarks/`` directory).

An installed package named ``portakern_benchmarks`` wins (a wheel may ship the suite under that
name); otherwise ``benchmarks/`` beside the ``portakern`` package (a source checkout or an editable
install) is imported under that same name, so it can never shadow another ``benchmarks`` package.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from ..errors import PortakernError

NAME = "portakern_benchmarks"


def load() -> ModuleType:
    """The suite's package (``.cases``, ``.kernels``, ``.baselines``, ``.frameworks``, ``.probe``)."""
    if NAME in sys.modules:
        return sys.modules[NAME]
    try:
        return importlib.import_module(NAME)
    except ImportError:
        pass
    root = Path(__file__).resolve().parent.parent.parent / "benchmarks"
    init = root / "__init__.py"
    if not init.is_file():
        raise PortakernError(
            f"the benchmark suite was not found (looked for the package {NAME!r} and for {root}); "
            "run portakern bench from a source checkout or an editable install (pip install -e .)")
    spec = importlib.util.spec_from_file_location(NAME, init, submodule_search_locations=[str(root)])
    assert spec is not None and spec.loader is not None  # a file that exists always has a spec
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module


def submodule(name: str) -> ModuleType:
    """``load()`` then import ``portakern_benchmarks.<name>``."""
    load()
    return importlib.import_module(f"{NAME}.{name}")
