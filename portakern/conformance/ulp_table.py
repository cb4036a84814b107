"""The measured tier-1 ULP table: every backend, every function, float32 and float64.

``portakern conformance --ulp-table [--write-docs] [--record]`` measures it with one kernel per
backend and dtype (all functions at once, each on its own inputs: a domain-shaped sample, full-range
bit patterns and the special-value table), prints it, writes it into docs/semantics.md between
``<!-- ulp-table:begin -->`` and ``<!-- ulp-table:end -->``, and records each backend's bounds in
``bounds.json`` (a bound above the docs/semantics.md ceiling is listed as a waiver).
"""
from __future__ import annotations

import json
import linecache
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..ir import optable
from .oracle import CEILINGS, ulp_errors
from .program import TIER1_OPS
from .values import special_values

__all__ = ["measure", "render_markdown", "write_docs", "record_bounds", "main", "BOUNDS_PATH"]

BOUNDS_PATH = Path(__file__).with_name("bounds.json")
BEGIN, END = "<!-- ulp-table:begin -->", "<!-- ulp-table:end -->"

#: where each function is interesting: (low, high, log-spaced?) for the first argument and the second.
_DOMAINS: dict[str, tuple[tuple[float, float, bool], ...]] = {s.name: s.domain for s in optable.TIER1}


def _samples(op: str, arg: int, dtype: str, n: int, rng: np.random.Generator) -> np.ndarray:
    dt = np.dtype(dtype)
    lo, hi, log = _DOMAINS[op][min(arg, len(_DOMAINS[op]) - 1)]
    k = n // 2
    if log:
        dom = np.exp(rng.uniform(math.log(lo), math.log(hi), k))
    else:
        dom = rng.uniform(lo, hi, k)
    nb = (n - k) // 2
    bits = rng.integers(0, 2 ** (8 * dt.itemsize), nb, dtype=np.uint64 if dt.itemsize == 8 else np.uint32)
    pattern = bits.astype(f"u{dt.itemsize}").view(dt)
    spec = np.array(special_values(dtype), dtype=dt)
    spec = np.resize(spec, n - k - nb)
    return np.concatenate([dom.astype(dt), pattern, spec])


def _kernel_source(name: str, dtype: str) -> str:
    params, lines = [], []
    for op, arity in TIER1_OPS.items():
        args = [f"{op}_x{j}" for j in range(arity)]
        params += args + [f"{op}_out"]
        lines.append(f"        {op}_out[i] = pk.{op}({', '.join(a + '[i]' for a in args)})")
    first = params[0]
    return "\n".join(["@pk.kernel", f"def {name}({', '.join(params)}):", "    i = pk.global_id(0)",
                      f"    if i < {first}.shape[0]:", *lines]) + "\n"


def measure(backend: str, dtype: str, n: int, seed: int = 0) -> dict[str, float]:
    """Max ulp error of every tier-1 function on ``backend`` for ``dtype`` over ``n`` samples each."""
    import portakern as pk

    rng = np.random.default_rng(seed)
    name = f"ulp_table_{dtype}"
    source = _kernel_source(name, dtype)
    filename = f"<portakern-ulp-table-{backend}-{dtype}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    ns: dict[str, Any] = {"pk": pk}
    exec(compile(source, filename, "exec"), ns)  # noqa: S102 - the suite's own generated source
    args: list[np.ndarray] = []
    inputs: dict[str, list[np.ndarray]] = {}
    for op, arity in TIER1_OPS.items():
        xs = [_samples(op, j, dtype, n, rng) for j in range(arity)]
        inputs[op] = xs
        args += xs + [np.zeros(n, dtype=dtype)]
    ns[name].on(backend)[n](*args)
    caps = pk.get_backend(backend).capabilities(pk.get_backend(backend).device())
    out: dict[str, float] = {}
    pos = 0
    for op, arity in TIER1_OPS.items():
        got = args[pos + arity]
        pos += arity + 1
        err = ulp_errors(op, inputs[op], got, flushes=caps.flushes_denormals)
        err = err[~np.isnan(err)]
        out[op] = float(err.max()) if err.size else 0.0
    return out


def record_bounds(table: dict[str, dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Recorded bound per backend/dtype/op: the measurement rounded up to the next half ulp, plus
    half an ulp of slack for inputs the sample missed; a bound above the ceiling is also listed
    under ``waivers``. A backend that gets worse than its recorded bound fails the suite."""
    data = json.loads(BOUNDS_PATH.read_text()) if BOUNDS_PATH.exists() else {}
    data.setdefault("backends", {})
    data.setdefault("waivers", {})
    for backend, per_dtype in table.items():
        for dtype, ops in per_dtype.items():
            rec = data["backends"].setdefault(backend, {}).setdefault(dtype, {})
            for op, v in ops.items():
                bound = max(0.5, math.ceil(v * 2 - 1e-9) / 2) + 0.5 if math.isfinite(v) else float("inf")
                if v <= CEILINGS[op]:
                    bound = min(bound, CEILINGS[op])       # slack never lifts a bound past the ceiling
                rec[op] = bound if math.isfinite(bound) else 1e300
                if v > CEILINGS[op]:
                    data["waivers"].setdefault(backend, {}).setdefault(dtype, {})[op] = rec[op]
                else:
                    data["waivers"].get(backend, {}).get(dtype, {}).pop(op, None)
    BOUNDS_PATH.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return data


def render_markdown(table: dict[str, dict[str, dict[str, float]]], samples: int) -> str:
    """The table as Markdown: function, ceiling, then each backend's float32/float64 max ulp;
    a figure above the ceiling is marked as a waiver."""
    cols = [(b, d) for b, per in table.items() for d in per]
    head = "| function | ceiling | " + " | ".join(f"{b} {d.replace('float', 'f')}" for b, d in cols) + " |"
    lines = [f"Measured by `portakern conformance --ulp-table --write-docs` ({samples} float32 samples per "
             "function: domain-shaped, full-range bit patterns and the special-value table; float64 uses "
             "a fortieth as many, against mpmath at 120 bits). Max error in ulp of the exact result.", "", head,
             "|" + " --- |" * (2 + len(cols))]
    waivers = []
    for op in TIER1_OPS:
        cells = []
        for b, d in cols:
            v = table[b][d].get(op)
            if v is None:
                cells.append("-")
            elif v > CEILINGS[op]:
                cells.append(f"**{v:.2f} (waiver)**" if math.isfinite(v) else "**wrong special value (waiver)**")
                waivers.append(f"- `{b}` {d} `{op}`: {v:.2f} ulp, above the {CEILINGS[op]:g} ulp ceiling.")
            else:
                cells.append(f"{v:.2f}")
        lines.append(f"| {op} | {CEILINGS[op]:g} | " + " | ".join(cells) + " |")
    lines += ["", "Waivers (measured above the contract's ceiling; a visible debt, not a pass):", ""]
    lines += waivers or ["- none"]
    return "\n".join(lines)


def write_docs(markdown: str, path: Path) -> None:
    """Replace the text between the ulp-table markers of ``path`` (creating the markers if absent)."""
    text = path.read_text() if path.exists() else "# Numerical semantics\n\n## Measured ULP table\n\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{markdown}\n{END}{tail}")


def main(backends: list[str] | None, samples: int, seed: int, docs: bool, record: bool,
         json_path: str | None) -> int:
    """The ``--ulp-table`` command."""
    import portakern as pk

    names = backends or [b for b in pk.available_backends() if not b.startswith("mutant")]
    table: dict[str, dict[str, dict[str, float]]] = {}
    failed: list[str] = []
    for b in names:
        if b not in pk.available_backends():
            print(f"{b}: unavailable, skipped")
            continue
        caps = pk.get_backend(b).capabilities(pk.get_backend(b).device())
        for dtype, n in (("float32", samples), ("float64", max(200, samples // 40))):
            if dtype == "float64" and not caps.fp64:
                continue
            t0 = time.monotonic()
            try:
                table.setdefault(b, {})[dtype] = measure(b, dtype, n, seed)
            except Exception as exc:  # noqa: BLE001 - a backend that cannot run the table is reported
                print(f"{b} {dtype}: FAILED to run the table kernel: {type(exc).__name__}: {str(exc)[:300]}")
                failed.append(f"- `{b}` {dtype}: the table kernel failed: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}")
                table.get(b, {}).pop(dtype, None)
                continue
            print(f"{b} {dtype}: measured in {time.monotonic() - t0:.1f}s")
    md = render_markdown({b: t for b, t in table.items() if t}, samples)
    if failed:
        md += "\n\nBackends that could not run the table kernel (a bug, not a waiver):\n\n" + "\n".join(failed)
    print(md)
    if docs:
        path = Path("docs/semantics.md")
        write_docs(md, path)
        print(f"written into {path}")
    if record:
        record_bounds(table)
        print(f"bounds recorded in {BOUNDS_PATH}")
    if json_path:
        Path(json_path).write_text(json.dumps(table, indent=1) + "\n")
    return 1 if failed else 0
