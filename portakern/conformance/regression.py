"""Shrunk failures as permanent regression tests, and a runnable stand-alone reproducer script.

A saved regression is a small pytest file that rebuilds the failing :class:`Batch` (program tree and
exact input bit patterns) and runs it through the same checks as the suite, on the backend that
failed; the kernel's source is in the file too, for a human to read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .execute import build_kernel, case_key, make_args
from .program import Batch, Case, prefix
from .values import is_float

__all__ = ["reproducer_script", "save_regression", "check_batch", "batch_python", "bits_array"]


def bits_array(dtype: str, bits: list[int]) -> np.ndarray:
    """An array of ``dtype`` from its raw bit patterns (exact for NaN payloads and -0.0)."""
    dt = np.dtype(dtype)
    return np.array(bits, dtype=f"u{dt.itemsize}").view(dt) if is_float(dt) else np.array(bits, dtype=dt)


def _bits(a: np.ndarray) -> list[int]:
    if is_float(a.dtype):
        return [int(x) for x in a.view(f"u{a.dtype.itemsize}").tolist()]
    return [int(x) for x in a.tolist()]


def _dtype_text(dt: np.dtype) -> str:
    return "pk.bfloat16.dtype" if dt.name == "bfloat16" else f"np.{dt.name}"


def _array_text(a: np.ndarray) -> str:
    if is_float(a.dtype):
        return f"np.array({_bits(a)}, dtype=np.uint{a.dtype.itemsize * 8}).view({_dtype_text(a.dtype)})"
    return f"np.array({[int(x) for x in a.tolist()]}, dtype=np.{a.dtype.name})"


def reproducer_script(batch: Batch, backend: str, expected: dict[str, Any] | None = None) -> str:
    """A self-contained script: the kernel source, its inputs (floats by bit pattern), the launch."""
    built = build_kernel(batch)
    lines = ["import numpy as np", "import portakern as pk", "", built.source]
    for k, case in enumerate(batch.programs):
        p = prefix(k, len(batch.programs))
        for nm in case.param_names():
            if nm in case.scalars():
                lines.append(f"{p}{nm} = np.{case.scalars()[nm].dtype.name}({int(case.scalars()[nm])})")
                continue
            text = _array_text(case.values[nm])
            if nm in case.strided:
                a = case.values[nm]
                lines.append(f"{p}{nm}_base = np.zeros({2 * a.size}, dtype={_dtype_text(a.dtype)}); "
                             f"{p}{nm} = {p}{nm}_base[::2]; {p}{nm}[:] = {text}")
            else:
                lines.append(f"{p}{nm} = {text}")
    grid = f"{batch.ndrange}" if batch.wg is None else f"({batch.ndrange},), ({batch.wg},)"
    lines.append(f"{built.name}.on({backend!r})[{grid}]({', '.join(batch.param_names())})")
    for name in batch.written():
        lines.append(f"print({name!r}, {name})")
    if expected:
        lines.append("# expected:")
        lines += [f"#   {k} = {v}" for k, v in expected.items()]
    return "\n".join(lines) + "\n"


def batch_python(batch: Batch) -> str:
    """Python source that rebuilds ``batch`` exactly (the program trees by repr, values by bits)."""
    progs = []
    for case in batch.programs:
        values = ", ".join(f"{nm!r}: bits_array({a.dtype.name!r}, {_bits(a)})" for nm, a in case.values.items())
        progs.append(f"Case(inputs={case.inputs!r}, outputs={case.outputs!r}, body={case.body!r}, "
                     f"tier1={case.tier1!r}, local={case.local!r}, atomic={case.atomic!r}, n={case.n!r}, "
                     f"wg={case.wg!r}, strided=frozenset({sorted(case.strided)!r}), values={{{values}}}, "
                     f"constant=frozenset({sorted(case.constant)!r}), subgroup={case.subgroup!r})")
    return f"Batch(programs=({', '.join(progs)},), n={batch.n!r}, wg={batch.wg!r})"


def save_regression(batch: Batch, backend: str, problem: str, directory: str | Path, seed: int) -> Path:
    """Write ``test_<backend>_<key>.py`` into ``directory``; return its path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = case_key(batch)
    safe = backend.replace("-", "_")
    path = directory / f"test_{safe}_{key}.py"
    source = build_kernel(batch).source
    text = (
        f'"""Regression saved by `portakern conformance --seed {seed}` on backend {backend!r}.\n\n'
        f"Found: {problem[:500]}\n\nThe kernel:\n\n" + "\n".join("    " + ln for ln in source.splitlines())
        + '\n"""\n'
        "from portakern.conformance.program import AtomicSpec, Batch, Case, Expr, LocalStage, Stmt, SubgroupStage, Tier1  # noqa: F401\n"
        "from portakern.conformance.regression import bits_array, check_batch\n\n"
        f"BATCH = {batch_python(batch)}\n\n\n"
        f"def test_{safe}_{key}_matches_the_oracle():\n"
        f"    check_batch(BATCH, {backend!r})\n"
    )
    path.write_text(text)
    return path


def check_batch(batch: Batch, backend: str) -> None:
    """Run ``batch`` on ``backend`` through the suite's checks; raise AssertionError on a finding
    and skip (pytest) when the backend is not available here."""
    import pytest

    import portakern as pk

    from .runner import BackendResult, _Oracle, _run_case

    if backend not in pk.available_backends():
        pytest.skip(f"backend {backend!r} is not available here")
    caps = pk.get_backend(backend).capabilities(pk.get_backend(backend).device())
    oracle = _Oracle(use_numpy=backend != "numpy" and "numpy" in pk.available_backends())
    problem, _ = _run_case(batch, backend, oracle, caps.flushes_denormals, caps.contracts_fma, False,
                           BackendResult(backend))
    assert problem is None, problem


# keep the names the generated files import reachable from here
_ = (Case, make_args)
