"""The conformance runner: per backend, Hypothesis generates cases, each is launched on the backend and
checked against the oracle; the first failure is shrunk to a minimal reproducer.

The tier-0 oracle is the ``numpy`` backend (the reference semantics); its own row is checked against
the suite's model (``model.py``), which is also the oracle when the numpy backend is missing.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hyp_seed
from hypothesis.reporting import with_reporter

from ..errors import PortakernError
from .check import Tally, check_outputs, values_json
from .execute import Built, build_kernel, case_key, compile_case, launch_case
from .generate import QUICK, TINY, Profile, batches
from .model import evaluate
from .probes import probes, repeated_launch_mismatch
from .program import Batch, prefix

__all__ = ["BackendResult", "run_backend", "ORACLE"]

ORACLE = "numpy"


@dataclass
class BackendResult:
    """One backend's row of the report."""

    name: str
    status: str = "pass"                      # pass | fail | unavailable
    examples: int = 0
    compiled: int = 0
    compared: int = 0
    exact: int = 0
    max_ulp: dict[str, float] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0
    #: warnings raised while the backend ran (compilers, Hypothesis), captured rather than printed:
    #: ``{"category", "message", "count"}``, one per distinct category and first message line.
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bit_exact_fraction(self) -> float | None:
        """Fraction of the tier-0 values compared that were bit-exact; None when none was compared."""
        return self.exact / self.compared if self.compared else None

    def as_json(self) -> dict[str, Any]:
        frac = self.bit_exact_fraction
        d: dict[str, Any] = {"status": self.status, "examples": self.examples,
                             "bit_exact_fraction": None if frac is None else round(frac, 6),
                             "max_ulp": {k: round(v, 3) for k, v in sorted(self.max_ulp.items())},
                             "failures": self.failures, "seconds": round(self.seconds, 1)}
        if self.compiled:
            d["compiled"] = self.compiled
        if self.note:
            d["note"] = self.note
        d["ops"] = dict(sorted(self.ops.items()))
        d["warnings"] = self.warnings
        return d


class _Mismatch(AssertionError):
    """Raised inside the Hypothesis test so it shrinks the case."""


class _BudgetSpent(BaseException):
    """Raised inside the Hypothesis test when ``--time-budget`` is spent: a BaseException, so
    Hypothesis does not take it for a failure to shrink but stops generating at once."""


def _profile_for(backend: str, profile: Profile) -> Profile:
    if backend == "numba-cuda":     # the CUDA simulator runs every work-item as a Python thread
        return Profile(**{**profile.__dict__, "max_n": TINY.max_n, "wgs": TINY.wgs, "max_stmts": 3})
    if backend == "numba" and profile == QUICK:
        # a numba compile costs ~4 s plus ~0.2 s per source line here: quick programs are leaner
        return Profile(**{**profile.__dict__, "max_stmts": 2, "max_outputs": 2, "max_tier1": 2})
    return profile


class _Oracle:
    """Expected tier-0 values per case: the numpy backend's output (cached per case), else the model."""

    def __init__(self, use_numpy: bool) -> None:
        self.use_numpy = use_numpy
        self.cache: dict[str, tuple[dict[str, np.ndarray], str]] = {}

    def expected(self, case: Batch, built: Built, model: dict[str, Any]) -> tuple[dict[str, np.ndarray], str]:
        key = case_key(case)
        if key in self.cache:
            return self.cache[key]
        out: tuple[dict[str, np.ndarray], str] = ({k: v.val for k, v in model.items()}, "model")
        if self.use_numpy:
            try:
                out = (launch_case(case, built, ORACLE), ORACLE)
            except Exception:  # noqa: BLE001 - the numpy backend's own row reports its errors
                pass
        self.cache[key] = out
        return out


def run_backend(name: str, examples: int = 100, seed: int = 0, profile: Profile = QUICK,
                batch: int = 5, shrink_budget: int = 400, shrink_seconds: float = 60.0,
                time_budget: float | None = None,
                progress: Callable[[str], None] | None = None, oracle: _Oracle | None = None,
                tick: Callable[[str, int, int, float], None] | None = None) -> BackendResult:
    """Run the suite on backend ``name`` until ``examples`` generated programs ran (``batch`` of them
    share one compiled kernel); return its row of the report. After the first failure Hypothesis
    shrinks it for at most ``shrink_budget`` launches or ``shrink_seconds``. ``tick(name, done,
    planned, seconds)`` is called after each compiled batch; warnings are captured into the result."""
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _run_backend(name, examples, seed, profile, batch, shrink_budget, shrink_seconds, time_budget,
                           oracle, tick, start)
    res.warnings = _summarise_warnings(caught)
    res.seconds = time.monotonic() - start
    if progress:
        extra = f", {sum(w['count'] for w in res.warnings)} warnings captured" if res.warnings else ""
        progress(f"{name}: {res.status} ({res.examples} examples, {res.seconds:.1f}s{extra})")
    return res


def _summarise_warnings(caught: list[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """One entry per (category, first line of the message), with how often it was raised."""
    counts: dict[tuple[str, str], int] = {}
    for w in caught:
        key = (w.category.__name__, str(w.message).strip().splitlines()[0][:300] if str(w.message).strip() else "")
        counts[key] = counts.get(key, 0) + 1
    return [{"category": c, "message": m, "count": n} for (c, m), n in sorted(counts.items(), key=lambda kv: -kv[1])]


def _run_backend(name: str, examples: int, seed: int, profile: Profile, batch: int, shrink_budget: int,
                 shrink_seconds: float, time_budget: float | None, oracle: _Oracle | None,
                 tick: Callable[[str, int, int, float], None] | None, start: float) -> BackendResult:
    import portakern as pk

    from ..runtime import registry

    res = BackendResult(name)
    try:
        backend = registry.get_backend(name)
    except PortakernError as exc:
        res.status, res.note = "unavailable", str(exc).splitlines()[0]
        return res
    available = False
    try:
        available = bool(backend.is_available())
    except Exception:  # noqa: BLE001 - is_available must not raise; treat a raise as unavailable
        available = False
    caps = None
    if available:
        try:
            caps = backend.capabilities(backend.device())
        except Exception as exc:  # noqa: BLE001
            res.status, res.note = "unavailable", f"no device: {exc}"
            return res
    compile_only = not available
    if compile_only and name not in ("cuda", "numba-cuda"):
        res.status = "unavailable"
        res.note = (backend.unavailable_reason() or "not available") if hasattr(backend, "unavailable_reason") else ""
        return res
    flushes = bool(caps and caps.flushes_denormals)
    contracts = bool(caps and caps.contracts_fma)
    fp64 = bool(caps.fp64) if caps else True
    if oracle is None:
        oracle = _Oracle(use_numpy=name != ORACLE and ORACLE in pk.available_backends())
    if name == ORACLE:
        oracle = _Oracle(use_numpy=False)
    prof = _profile_for(name, profile)
    seen: dict[str, str | None] = {}
    records: dict[str, dict[str, Any]] = {}
    state: dict[str, Any] = {"failing_calls": 0, "failed": False}

    def fail(key: str) -> None:
        res.failures[:] = [records[key]]        # the last failure Hypothesis sees is its smallest
        raise _Mismatch(seen[key])

    def one(case: Batch) -> None:
        key = case_key(case)
        if key in seen:
            if seen[key] is not None:
                fail(key)
            return
        if state["failed"]:
            state["failing_calls"] += 1
            if state["failing_calls"] > shrink_budget or time.monotonic() - state["failed_at"] > shrink_seconds:
                return                                   # shrinking budget spent: new cases pass
        elif time_budget is not None and time.monotonic() - start > time_budget:
            raise _BudgetSpent                           # stop Hypothesis generating at once
        elif res.examples >= examples:
            seen[key] = None                             # enough examples: the rest only generate
            return
        problem, record = _run_case(case, name, oracle, flushes, contracts, compile_only, res)
        if not state["failed"]:
            res.examples += len(case.programs)
            if tick:
                tick(name, res.examples, examples, time.monotonic() - start)
        if problem is not None and len(case.programs) > 1:
            record = _isolate(case, name, oracle, flushes, contracts, compile_only) or record
        seen[key], records[key] = problem, record
        if problem is not None:
            if not state["failed"]:
                state["failed"], state["failed_at"] = True, time.monotonic()
            fail(key)

    for probe in probes(fp64):          # the directed probes first: they do not depend on the draw
        problem, record = _run_case(probe, name, oracle, flushes, contracts, compile_only, res)
        if problem is None and not compile_only:
            problem = _relaunch_problem(probe, name)    # a recompiling backend must not change a bit
            record["problems"] = [problem] if problem else []
        res.examples += len(probe.programs)
        if tick:
            tick(name, res.examples, examples, time.monotonic() - start)
        if problem is not None:
            res.status, res.failures[:] = "fail", [record]
            break
    # Hypothesis grows its examples over max_examples: ask for about as many batches as needed
    # (a batch holds (batch+1)/2 programs on average), and top up with new seeds if short.
    for round_ in range(4):
        missing = examples - res.examples
        if missing <= 0 or res.status == "fail" or (time_budget is not None and time.monotonic() - start > time_budget):
            break
        test = given(batches(prof, fp64, batch))(one)
        test = settings(max_examples=max(3, int(1.2 * missing * 2 / (batch + 1)) + 1), database=None,
                        deadline=None, derandomize=False, suppress_health_check=list(HealthCheck),
                        print_blob=False, phases=(Phase.explicit, Phase.generate, Phase.shrink))(test)
        test = hyp_seed(seed + 7919 * round_)(test)
        try:
            with _shrink_time_limit(shrink_seconds), with_reporter(lambda _msg: None):
                test()
        except _Mismatch:
            res.status = "fail"
        except _BudgetSpent:
            break
        except Exception as exc:  # noqa: BLE001 - a crash of the suite itself is reported, not hidden
            res.status = "fail"
            res.failures.append({"error": f"{type(exc).__name__}: {exc}"})
    if res.failures and res.status != "fail":
        res.status = "fail"
    if compile_only and res.status != "fail":
        res.status = "unavailable"
        res.note = (f"rendered and compiled {res.compiled} generated kernels; running them needs a GPU "
                    f"({(backend.unavailable_reason() or '').splitlines()[0] if backend.unavailable_reason() else ''})")
    return res


def _relaunch_problem(case: Batch, name: str, times: int = 4) -> str | None:
    """Launch one compiled kernel of ``case`` ``times`` times: None when every launch gave the bits of
    the first (jax once recompiled tiny grids on their third launch, changing results)."""
    built = build_kernel(case)

    def launch() -> list[np.ndarray]:
        got = launch_case(case, built, name)
        return [got[k] for k in sorted(got)]

    problem = repeated_launch_mismatch(launch, times)
    return None if problem is None else f"repeated launches: {problem}"


def _isolate(case: Batch, name: str, oracle: _Oracle, flushes: bool, contracts: bool,
             compile_only: bool) -> dict[str, Any] | None:
    """The failure record of the first program of a failing batch that fails on its own (a
    one-program reproducer reads like a hand-written kernel), or None."""
    for prog in case.programs:
        single = Batch((prog,), case.n, case.wg)
        problem, record = _run_case(single, name, oracle, flushes, contracts, compile_only, BackendResult(name))
        if problem is not None:
            record["problems"] = record.get("problems") or [problem]
            return record
    return None


@contextlib.contextmanager
def _shrink_time_limit(seconds: float) -> Iterator[None]:
    """Bound Hypothesis's shrinking wall time (it has no public setting; its default is 5 minutes,
    far too long when every shrink step compiles a kernel)."""
    from hypothesis.internal.conjecture import engine

    old = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = max(1, int(seconds))
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = old


def _run_case(case: Batch, name: str, oracle: _Oracle, flushes: bool, contracts: bool, compile_only: bool,
              res: BackendResult) -> tuple[str | None, dict[str, Any]]:
    """Launch (or just compile) one batch on backend ``name``; (problem or None, failure record)."""
    built = build_kernel(case)
    inputs = {}
    for k, prog in enumerate(case.programs):
        p = prefix(k, len(case.programs))
        inputs.update({p + nm: {"dtype": v.dtype.name, "values": values_json(v), "strided": nm in prog.strided}
                       for nm, v in prog.values.items()})
    record: dict[str, Any] = {"kernel_source": built.source, "launch": _launch_text(case, built, name),
                              "inputs": inputs, "_batch": case}
    if compile_only:
        try:
            compile_case(case, built, name)
        except Exception as exc:  # noqa: BLE001 - any failure to compile a valid kernel is a finding
            record.update(expected="compiles", got=f"{type(exc).__name__}: {exc}")
            return f"compile failed: {type(exc).__name__}: {exc}", record
        res.compiled += len(case.programs)
        for prog in case.programs:
            for op in prog.ops():
                res.ops[op] = res.ops.get(op, 0) + 1
        return None, record
    model: dict[str, Any] = {}
    for k, prog in enumerate(case.programs):
        p = prefix(k, len(case.programs))
        model.update({p + nm: v for nm, v in evaluate(prog).items()})
    expected, source = oracle.expected(case, built, model)
    try:
        got = launch_case(case, built, name)
    except Exception as exc:  # noqa: BLE001 - a valid kernel must launch: any exception is a finding
        record.update(expected={k: values_json(v) for k, v in expected.items()},
                      got=f"{type(exc).__name__}: {str(exc)[:2000]}")
        return f"launch raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", record
    problems: list[str] = []
    mismatched: set[str] = set()
    for k, prog in enumerate(case.programs):
        p = prefix(k, len(case.programs))
        names = prog.written()
        tally: Tally = check_outputs(prog, {nm: expected[p + nm] for nm in names if p + nm in expected},
                                     {nm: model[p + nm] for nm in names if p + nm in model},
                                     {nm: got[p + nm] for nm in names}, name, flushes, contracts)
        res.compared += tally.compared
        res.exact += tally.exact
        for op in prog.ops():
            res.ops[op] = res.ops.get(op, 0) + 1
        for key, v in tally.max_ulp.items():
            res.max_ulp[key] = max(res.max_ulp.get(key, 0.0), v)
        problems += [p + msg for msg in tally.problems]
        mismatched |= {p + nm for nm in tally.mismatched}
    if problems:
        record.update(oracle=source,
                      expected={k: values_json(v) for k, v in expected.items() if k in mismatched},
                      got={k: values_json(v) for k, v in got.items() if k in mismatched},
                      problems=problems)
        return "; ".join(problems), record
    return None, record


def _launch_text(case: Batch, built: Built, backend: str) -> str:
    grid = f"{case.ndrange}" if case.wg is None else f"({case.ndrange},), ({case.wg},)"
    return f"{built.name}.on({backend!r})[{grid}]({', '.join(case.param_names())})"

