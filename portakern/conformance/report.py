"""The conformance report: a readable table and the JSON document of issue 6.

JSON: ``{"version", "seed", "backends": {NAME: {"status": "pass"|"fail"|"unavailable", "examples": N,
"bit_exact_fraction": F (tier-0 values), "max_ulp": {OP: F}, "failures": [{"kernel_source", "inputs", "expected",
"got"}]}}}`` (plus ``profile``, ``seconds`` and, per backend, ``ops`` and ``note``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..ir import optable
from .program import SUBGROUP_STAGE_OPS
from .runner import BackendResult

__all__ = ["Report", "OP_CLASSES"]

#: operation classes of the table: class -> ops (program op names) in it.
OP_CLASSES: dict[str, tuple[str, ...]] = {
    "int/float arith": ("+", "-", "*", "/", "//", "%", "neg"),
    "bitwise/shift": ("&", "|", "^", "~", "<<", ">>"),
    "compare/logic": ("<", "<=", ">", ">=", "==", "!=", "and", "or", "not", "select"),
    "casts": ("cast",),
    "short vectors": ("vector",),
    "multi-value helpers": ("helper_index", "helper_unpack", "helper_inplace"),
    "tier-0 math": tuple(s.name for s in optable.CALLS if s.tier == 0),
    "tier-1 math": tuple(s.name for s in optable.TIER1),
    "barrier/local": ("barrier", "tree_loop", "local_arg", "constant"),
    "atomics": ("atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_and", "atomic_or", "atomic_xor",
                "atomic_xchg", "atomic_cas"),
    "sub-groups": tuple(f"subgroup_{op}" for op in SUBGROUP_STAGE_OPS),
}


@dataclass
class Report:
    """Every backend's result of one conformance run."""

    version: str
    seed: int
    profile: str
    results: dict[str, BackendResult] = field(default_factory=dict)
    seconds: float = 0.0
    #: whether a backend that could not run here (status "unavailable") still lets the report pass.
    allow_unavailable: bool = False

    @property
    def ok(self) -> bool:
        """True when every backend passed, having run at least one generated program (the CLI's exit
        status 0). A backend that could not run ("unavailable": not installed, no device, or only
        compiled) is not a pass unless ``allow_unavailable``: a misspelt or missing backend must not pass."""
        if not self.results:
            return False
        return all((r.status == "pass" and r.examples > 0) or (r.status == "unavailable" and self.allow_unavailable)
                   for r in self.results.values())

    def as_json(self) -> dict[str, Any]:
        backends = {}
        for name, r in self.results.items():
            d = r.as_json()
            d["failures"] = [{k: v for k, v in f.items() if not k.startswith("_")} for f in r.failures]
            backends[name] = d
        return {"version": self.version, "seed": self.seed, "profile": self.profile,
                "seconds": round(self.seconds, 1), "ok": self.ok, "allow_unavailable": self.allow_unavailable,
                "backends": backends}

    def write_json(self, path: str) -> None:
        with open(path, "w") as fh:
            json.dump(self.as_json(), fh, indent=2)
            fh.write("\n")

    def table(self) -> str:
        """The human-readable summary: one row per backend, then programs per operation class."""
        rows = [("backend", "status", "kernels", "tier-0 bit-exact", "worst tier-1 ulp", "time", "note")]
        for name, r in self.results.items():
            worst = max(r.max_ulp.items(), key=lambda kv: kv[1]) if r.max_ulp else None
            rows.append((name, r.status.upper() if r.status == "fail" else r.status,
                         str(r.examples if not r.compiled else f"{r.compiled} compiled"),
                         f"{100 * r.exact / r.compared:.2f}%" if r.compared else "-",
                         f"{worst[1]:.2f} ({worst[0]})" if worst else "-", f"{r.seconds:.0f}s", r.note[:70]))
        out = [_format(rows), ""]
        names = list(self.results)
        crow = [("operation class", *names)]
        for cls, ops in OP_CLASSES.items():
            crow.append((cls, *(str(max(self.results[n].ops.get(op, 0) for op in ops)) for n in names)))
        out.append("programs exercising each operation class (most-used op of the class):")
        out.append(_format(crow))
        for name, r in self.results.items():
            for f in r.failures:
                out += ["", f"--- {name}: FAILURE (shrunk) " + "-" * 40]
                if "error" in f:
                    out.append(f["error"])
                    continue
                for p in f.get("problems", []) or [str(f.get("got", ""))[:500]]:
                    out.append(f"  {p}")
                out += ["", f.get("reproducer", f.get("kernel_source", ""))]
                if f.get("saved_as"):
                    out.append(f"saved as regression test: {f['saved_as']}")
        return "\n".join(out)


def _format(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
