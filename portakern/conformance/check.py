"""Checking one launch of one generated case against the oracle, for one backend.

Returns the statistics the report aggregates and, when the backend breaks the contract, a failure
record with everything a reproducer needs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from .model import Outcome
from .oracle import CEILINGS, atomic_float_ok, compare_exact, ulp_errors
from .program import Case
from .values import widen

__all__ = ["Tally", "check_outputs", "tier1_limit", "load_bounds", "values_json"]


@dataclass
class Tally:
    """What one example contributed: tier-0 values compared and bit-exact ones, max ulp per tier-1
    op, problems."""

    compared: int = 0
    exact: int = 0
    max_ulp: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    mismatched: dict[str, list[int]] = field(default_factory=dict)


@lru_cache(maxsize=1)
def load_bounds() -> dict[str, Any]:
    """The recorded per-backend ULP bounds and waivers (``bounds.json`` beside this module)."""
    text = resources.files("portakern.conformance").joinpath("bounds.json").read_text()
    return json.loads(text)


def tier1_limit(backend: str, op: str, dtype: str) -> float:
    """The ULP bound ``backend`` is held to for ``op``: its recorded bound (which is above the
    ceiling only for a listed waiver), else the docs/semantics.md ceiling."""
    rec = load_bounds().get("backends", {}).get(backend, {}).get(dtype, {})
    return float(rec.get(op, CEILINGS[op]))


def values_json(a: np.ndarray) -> list[Any]:
    """Array values as JSON-able Python values; floats as their repr ('nan', '-0.0', 'inf')."""
    a = widen(np.asarray(a))
    if a.dtype.kind == "f":
        return [repr(float(x)) for x in a.tolist()]
    if a.dtype.kind == "b":
        return [bool(x) for x in a.tolist()]
    return [int(x) for x in a.tolist()]


def check_outputs(case: Case, expected: dict[str, np.ndarray], facts: dict[str, Outcome],
                  got: dict[str, np.ndarray], backend: str, flushes: bool, contracts: bool) -> Tally:
    """Compare every written array of one launch; ``expected`` holds the tier-0 oracle's values."""
    tally = Tally()
    tier1 = {t.out: t for t in case.tier1}
    for name in case.written():
        g = got[name]
        if name in tier1:
            t = tier1[name]
            args = [got[a] for a in t.arg_outs]
            err = ulp_errors(t.op, args, g, flushes=flushes)
            valid = ~np.isnan(err)      # tier 1 is judged in ulp; it does not count towards bit-exactness
            worst = float(np.max(err[valid])) if valid.any() else 0.0
            key = f"{t.op}:{t.dtype}"
            tally.max_ulp[key] = max(tally.max_ulp.get(key, 0.0), worst)
            limit = tier1_limit(backend, t.op, t.dtype)
            bad = np.nonzero(valid & (err > limit))[0]
            if bad.size:
                tally.problems.append(f"{name} = pk.{t.op}(...): {worst:.3g} ulp > bound {limit:g} "
                                      f"at element(s) {bad[:5].tolist()}")
                tally.mismatched[name] = bad.tolist()
            continue
        exp = expected[name]
        if name == "acc" and case.atomic is not None and exp.dtype.kind == "f" and case.atomic.op in ("add", "sub"):
            contrib = facts["acc"].contrib if facts["acc"].contrib is not None else np.zeros(case.n)
            ok = atomic_float_ok(exp, g, contrib, np.arange(case.n) % case.atomic.buckets)
            tally.compared += ok.size
            tally.exact += int((exp.view(f"u{exp.dtype.itemsize}") == g.view(f"u{exp.dtype.itemsize}")).sum())
            if not ok.all():
                bad = np.nonzero(~ok)[0]
                tally.problems.append(f"acc (float atomic_{case.atomic.op}) outside n*eps*sum|x| at {bad.tolist()}")
                tally.mismatched[name] = bad.tolist()
            continue
        res = compare_exact(exp, g, facts.get(name), flushes=flushes, contracts=contracts)
        tally.compared += res.compared
        tally.exact += res.exact
        if res.bad.size:
            k = int(res.bad[0])
            tally.problems.append(f"{name}[{k}]: expected {exp.tolist()[k]!r}, got {np.asarray(g).tolist()[k]!r}"
                                  f" ({res.bad.size} element(s) differ)")
            tally.mismatched[name] = res.bad.tolist()
    return tally
