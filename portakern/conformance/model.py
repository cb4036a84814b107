"""The suite's own model of a generated program: docs/semantics.md written once more, vectorised in NumPy.

It evaluates a :class:`~portakern.conformance.program.Case` over every work-item and returns, per
written array, the expected values and two per-element facts the capability-aware comparison needs:

- ``sub``: the work-item touched a subnormal (an input, an intermediate or the result). A backend that
  flushes denormals is not compared there (the OpenCL conformance rule);
- ``err``: how far a backend that contracts ``a*b+c`` into an FMA may stray (0: bit-exact required;
  ``inf``: a contracted value decided a comparison, a cast to int or a branch, so nothing can be said).

The ``numpy`` backend is the tier-0 oracle; this model is the independent check of the numpy backend
itself (its row in the report) and the fallback oracle when the numpy backend is absent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .program import Case, Expr, Stmt, SubgroupStage
from .values import is_float, widen

__all__ = ["V", "Outcome", "evaluate", "cast", "binary", "min_max", "fma"]


@dataclass
class V:
    """A value per work-item: ``val`` (exact dtype), contraction bound ``err``, product bound ``fuse``
    (0.5 ulp of the product when the value is an un-fused product), subnormal mask ``sub``."""

    val: np.ndarray
    err: np.ndarray
    fuse: np.ndarray
    sub: np.ndarray


@dataclass
class Outcome:
    """Expected contents of one written array and the per-element comparison facts."""

    val: np.ndarray
    err: np.ndarray
    sub: np.ndarray
    contrib: np.ndarray | None = None      # atomics: each work-item's value, for the float error bound


def _is_float(a: np.ndarray) -> bool:
    return is_float(a.dtype)


def _subnormal(a: np.ndarray) -> np.ndarray:
    if not _is_float(a):
        return np.zeros(a.shape, bool)
    if a.dtype.name == "bfloat16":         # ml_dtypes' type: NumPy's finfo does not know it
        return (a != 0) & (np.abs(a.astype(np.float32)) < np.finfo(np.float32).smallest_normal)
    return (a != 0) & (np.abs(a) < np.finfo(a.dtype).smallest_normal)


def _spacing(a: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        s = np.spacing(np.abs(a)).astype(np.float64)
    return np.where(np.isfinite(s), s, np.inf)


def _leaf(val: np.ndarray) -> V:
    z = np.zeros(val.shape, np.float64)
    return V(val, z, z, _subnormal(val))


# ------------------------------------------------------------------------------------------ semantics
def cast(val: np.ndarray, dst: str) -> np.ndarray:
    """docs/semantics.md conversion: to bool ``!= 0``; float->int saturates with NaN -> 0; ints wrap;
    to float rounds to nearest even."""
    dt = np.dtype(dst)
    with np.errstate(all="ignore"):
        if dt.kind == "b":
            return val != 0
        if dt.kind in "iu" and val.dtype.kind == "f":
            info = np.iinfo(dt)
            x = val.astype(np.float64)
            lo, hi = float(info.min), float(info.max) + 1.0     # both exact powers of two (or 0)
            inside = np.trunc(np.where(np.isfinite(x) & (x >= lo) & (x < hi), x, 0.0))
            out = inside.astype(dt)
            out = np.where(x >= hi, dt.type(info.max), out)
            out = np.where(x < lo, dt.type(info.min), out)
            return np.where(np.isnan(x), dt.type(0), out).astype(dt)
        return val.astype(dt)


def _int_floordiv(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    dt = a.dtype
    with np.errstate(all="ignore"):
        safe = np.where(b == 0, dt.type(1), b)
        if dt.kind == "i":
            minus1 = safe == dt.type(-1)
            safe = np.where(minus1, dt.type(1), safe)
            q = np.floor_divide(a, safe)
            r = np.remainder(a, safe)
            q = np.where(minus1, np.negative(a), q)        # INT_MIN // -1 wraps to INT_MIN
            r = np.where(minus1, dt.type(0), r)
        else:
            q = np.floor_divide(a, safe)
            r = np.remainder(a, safe)
        zero = b == 0
        return np.where(zero, dt.type(0), q).astype(dt), np.where(zero, dt.type(0), r).astype(dt)


def _shift(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dt = a.dtype
    width = dt.itemsize * 8
    with np.errstate(all="ignore"):
        ok = (b >= 0) & (b < width)
        cnt = np.where(ok, b, 0).astype(dt)
        if op == "<<":
            return np.where(ok, np.left_shift(a, cnt), dt.type(0)).astype(dt)
        fill = np.where(a < 0, dt.type(-1), dt.type(0)) if dt.kind == "i" else np.zeros_like(a)
        return np.where(ok, np.right_shift(a, cnt), fill).astype(dt)


def min_max(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``min``/``max``: NaN-propagating, with -0.0 < +0.0 for floats."""
    if not _is_float(a):
        return np.minimum(a, b) if op == "min" else np.maximum(a, b)
    with np.errstate(all="ignore"):
        nan = np.isnan(a) | np.isnan(b)
        if op == "min":
            r = np.where(a < b, a, np.where(b < a, b, np.where(np.signbit(a), a, b)))
        else:
            r = np.where(a > b, a, np.where(b > a, b, np.where(np.signbit(a), b, a)))
        return np.where(nan, a.dtype.type(np.nan), r).astype(a.dtype)


def fma(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``a*b+c`` with one rounding (float32 through round-to-odd float64; float64 exactly)."""
    from fractions import Fraction

    with np.errstate(all="ignore"):
        if a.dtype == np.float32:
            p = a.astype(np.float64) * b.astype(np.float64)          # exact
            c64 = c.astype(np.float64)
            s = p + c64
            bb = s - p
            err = (p - (s - bb)) + (c64 - bb)                         # TwoSum: s + err == p + c exactly
            odd = (s.view(np.uint64) & np.uint64(1)).astype(bool)
            fix = np.isfinite(err) & (err != 0) & ~odd
            s = np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)
            return s.astype(np.float32)
        out = np.empty_like(a)
        for k, (x, y, z) in enumerate(zip(a.tolist(), b.tolist(), c.tolist())):
            if not all(np.isfinite(v) for v in (x, y, z)) or x == 0 or y == 0:
                out[k] = np.float64(x) * np.float64(y) + np.float64(z)
                continue
            exact = Fraction(x) * Fraction(y) + Fraction(z)
            if exact == 0:
                out[k] = 0.0          # x*y != 0 here, so an exact zero sum is +0 in round-to-nearest
                continue
            try:
                out[k] = float(exact)
            except OverflowError:
                out[k] = np.inf if exact > 0 else -np.inf
        return out


_CMP = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal, "==": np.equal,
        "!=": np.not_equal}
_ARITH = {"+": np.add, "-": np.subtract, "*": np.multiply, "&": np.bitwise_and, "|": np.bitwise_or,
          "^": np.bitwise_xor, "/": np.true_divide}


def binary(op: str, a: np.ndarray, b: np.ndarray, dtype: str) -> np.ndarray:
    """A binary operator of the language on operands already promoted to one type."""
    with np.errstate(all="ignore"):
        if op in _CMP:
            return _CMP[op](a, b)
        if op in ("<<", ">>"):
            return _shift(op, a, b)
        if op in ("//", "%") and not _is_float(a):
            q, r = _int_floordiv(a, b)
            return q if op == "//" else r
        if op == "//":
            return np.floor_divide(a, b)
        if op == "%":
            return np.remainder(a, b)
        return _ARITH[op](a, b).astype(np.dtype(dtype))


_UNARY_CALL = {"sqrt": np.sqrt, "floor": np.floor, "ceil": np.ceil, "trunc": np.trunc, "rint": np.rint,
               "isnan": np.isnan, "isinf": np.isinf, "isfinite": np.isfinite}


# ------------------------------------------------------------------------------------------ evaluation
class _Eval:
    def __init__(self, case: Case, lanes: int) -> None:
        self.case = case
        self.lanes = lanes
        self.env: dict[str, V] = {}
        self.ctl_err = np.zeros(lanes)
        self.ctl_sub = np.zeros(lanes, bool)

    def promote(self, v: V, dtype: str) -> V:
        if v.val.dtype == np.dtype(dtype):
            return v
        return self.cast(v, dtype)

    def cast(self, v: V, dtype: str) -> V:
        val = cast(v.val, dtype)
        err = v.err
        fuse = np.zeros(self.lanes)
        if not is_float(np.dtype(dtype)) or not _is_float(v.val):
            err = np.where(v.err > 0, np.inf, 0.0)
        elif np.dtype(dtype).itemsize < v.val.dtype.itemsize:
            err = np.where(v.err > 0, v.err + _spacing(val), 0.0)
        else:
            fuse = v.fuse                                     # widening keeps a fusable product
        return V(val, err, fuse, v.sub | _subnormal(val))

    def expr(self, e: Expr) -> V:
        k = e.kind
        if k == "var":
            return self.env[e.value]
        if k == "lit":
            return _leaf(np.full(self.lanes, e.value, dtype=np.dtype(e.dtype)))
        if k == "cast":
            return self.cast(self.expr(e.args[0]), e.dtype)
        if k in ("vec", "helper"):   # one lane of a vector expression; a node computed by a @pk.func
            return self.expr(e.args[0])
        args = [self.expr(a) for a in e.args]
        sub = np.zeros(self.lanes, bool)
        for a in args:
            sub = sub | a.sub
        zero = np.zeros(self.lanes)
        if k == "sel":
            c, t, f = args[0], self.promote(args[1], e.dtype), self.promote(args[2], e.dtype)
            val = np.where(c.val, t.val, f.val)
            err = np.where(c.err > 0, np.inf, np.where(c.val, t.err, f.err))
            sub = c.sub | np.where(c.val, t.sub, f.sub)
            return V(val, err, np.where(c.val, t.fuse, f.fuse), sub)
        if k == "logic":
            a, b = args
            val = (a.val & b.val) if e.op == "and" else (a.val | b.val)
            return V(val, np.where((a.err > 0) | (b.err > 0), np.inf, 0.0), zero, sub)
        if k == "un":
            (a,) = args
            with np.errstate(all="ignore"):
                val = np.logical_not(a.val) if a.val.dtype == bool else (
                    np.negative(a.val) if e.op == "neg" else np.invert(a.val))
            return V(val, a.err, a.fuse if e.op == "neg" else zero, sub | _subnormal(val))
        if k == "bin":
            a, b = args
            if e.op in _CMP:
                common = np.result_type(a.val.dtype, b.val.dtype).name
                a, b = self.promote(a, common), self.promote(b, common)
                val = binary(e.op, a.val, b.val, "bool")
                return V(val, np.where((a.err > 0) | (b.err > 0), np.inf, 0.0), zero, sub | a.sub | b.sub)
            a, b = self.promote(a, e.dtype), self.promote(b, e.dtype)
            val = binary(e.op, a.val, b.val, e.dtype)
            return self._arith_err(e.op, a, b, val, sub | a.sub | b.sub)
        if k == "call":
            return self._call(e, args, sub)
        raise ValueError(f"unknown expression kind {k!r}")

    def _arith_err(self, op: str, a: V, b: V, val: np.ndarray, sub: np.ndarray) -> V:
        zero = np.zeros(self.lanes)
        sub = sub | _subnormal(val)
        if not _is_float(val):
            return V(val, np.where((a.err > 0) | (b.err > 0), np.inf, 0.0), zero, sub)
        with np.errstate(all="ignore"):
            av, bv = np.abs(a.val.astype(np.float64)), np.abs(b.val.astype(np.float64))
            if op in ("+", "-"):
                err = a.err + b.err + a.fuse + b.fuse
            elif op == "*":
                err = av * b.err + bv * a.err + a.err * b.err
            elif op == "/":
                err = np.where(b.err > 0, np.inf, a.err / bv)
            else:
                err = np.where((a.err > 0) | (b.err > 0), np.inf, 0.0)
            err = np.where(np.isnan(err), np.inf, err)
            err = np.where(err > 0, np.where(np.isfinite(val), err + _spacing(val), np.inf), 0.0)
            fuse = 0.5 * _spacing(val) if op == "*" else zero
        return V(val, err, fuse, sub)

    def _call(self, e: Expr, args: list[V], sub: np.ndarray) -> V:
        zero = np.zeros(self.lanes)
        args = [self.promote(a, e.dtype) if e.dtype != "bool" else a for a in args]
        vals = [a.val for a in args]
        with np.errstate(all="ignore"):
            if e.op in _UNARY_CALL:
                val = _UNARY_CALL[e.op](vals[0])
            elif e.op == "abs":
                val = np.abs(vals[0])
            elif e.op in ("min", "max"):
                val = min_max(e.op, vals[0], vals[1])
            elif e.op == "copysign":
                val = np.where(np.isnan(vals[1]), np.abs(vals[0]), np.copysign(vals[0], vals[1]))
            elif e.op == "fma":
                val = fma(*vals)
            else:
                raise ValueError(f"unknown call {e.op!r}")
        anyerr = np.zeros(self.lanes, bool)
        for a in args:
            anyerr = anyerr | (a.err > 0)
        if e.op in ("abs", "min", "max") and _is_float(val):
            err = np.maximum.reduce([a.err for a in args])
        else:
            err = np.where(anyerr, np.inf, 0.0)
        return V(val, err, zero, sub | _subnormal(val))

    def assign(self, name: str, v: V, mask: np.ndarray) -> None:
        old = self.env.get(name)
        if old is None:
            self.env[name] = v
            return
        self.env[name] = V(np.where(mask, v.val, old.val), np.where(mask, v.err, old.err),
                           np.where(mask, v.fuse, old.fuse), np.where(mask, v.sub, old.sub))

    def store(self, out: dict[str, V], name: str, v: V, mask: np.ndarray) -> None:
        dtype = out[name].val.dtype.name
        self.assign_into(out, name, self.cast(v, dtype) if v.val.dtype.name != dtype else v, mask)

    def assign_into(self, out: dict[str, V], name: str, v: V, mask: np.ndarray) -> None:
        old = out[name]
        out[name] = V(np.where(mask, v.val, old.val), np.where(mask, v.err, old.err),
                      np.zeros(self.lanes), np.where(mask, v.sub, old.sub))

    def run(self, stmts: tuple[Stmt, ...], mask: np.ndarray, out: dict[str, V], loop: dict | None) -> None:
        for s in stmts:
            live = mask if loop is None else mask & ~loop["stop"] & ~loop["skip"]
            if s.kind == "assign":
                v = self.expr(s.expr)  # type: ignore[arg-type]
                self.assign(s.target, self.promote(v, s.dtype), live)
            elif s.kind == "store":
                self.store(out, s.target, self.expr(s.expr), live)  # type: ignore[arg-type]
            elif s.kind == "augstore":
                cur, v = out[s.target], self.expr(s.expr)  # type: ignore[arg-type]
                common = np.result_type(cur.val.dtype, v.val.dtype).name
                a, b = self.promote(V(cur.val, cur.err, np.zeros(self.lanes), cur.sub), common), self.promote(v, common)
                self.store(out, s.target, self._arith_err("+", a, b, binary("+", a.val, b.val, common),
                                                          a.sub | b.sub), live)
            elif s.kind == "if":
                c = self.expr(s.expr)  # type: ignore[arg-type]
                self._taint(c, live, out)
                self.run(s.body, live & c.val, out, loop)
                self.run(s.orelse, live & ~c.val, out, loop)
            elif s.kind == "for":
                state = {"stop": np.zeros(self.lanes, bool), "skip": np.zeros(self.lanes, bool)}
                for it in range(s.count):
                    self.env[s.target] = _leaf(np.full(self.lanes, it, dtype=np.int64))
                    state["skip"] = np.zeros(self.lanes, bool)
                    self.run(s.body, live, out, state)
            elif s.kind in ("break_if", "continue_if"):
                assert loop is not None
                c = self.expr(s.expr)  # type: ignore[arg-type]
                self._taint(c, live, out)
                loop["stop" if s.kind == "break_if" else "skip"] |= live & c.val
            else:
                raise ValueError(f"unknown statement {s.kind!r}")

    def _taint(self, cond: V, live: np.ndarray, out: dict[str, V]) -> None:
        """A branch decided by a contracted (or subnormal-touching) value: every result of those lanes
        is affected; ``evaluate`` applies the accumulated taint to all of them at the end."""
        self.ctl_err = np.where(live & (cond.err > 0), np.inf, self.ctl_err)
        self.ctl_sub = self.ctl_sub | (live & cond.sub)


def _tree(tile: V, op: str, wg: int, dtype: str) -> V:
    """The work-group memory after the tree reduction of ``LocalStage.tree`` (``wg`` a power of two):
    at step ``h`` the slots ``lid % (2h) == 0`` combine with ``lid + h``. A slot that combined a value
    a contracting backend may have changed gets an unbounded error (nothing is said about it); the
    subnormal mask accumulates, so a flushing backend is not compared where any step was subnormal."""
    val, err, sub = (a.reshape(-1, wg).copy() for a in (tile.val, tile.err, tile.sub))
    h = 1
    while h < wg:
        dst = np.arange(0, wg, 2 * h)
        a, b = val[:, dst], val[:, dst + h]
        val[:, dst] = min_max(op, a, b) if op in ("min", "max") else binary(op, a, b, dtype)
        err[:, dst] = np.where((err[:, dst] > 0) | (err[:, dst + h] > 0), np.inf, 0.0)
        sub[:, dst] = sub[:, dst] | sub[:, dst + h] | _subnormal(val[:, dst])
        h *= 2
    return V(val.ravel(), err.ravel(), np.zeros(val.size), sub.ravel())


def _subgroup(s: V, sg: SubgroupStage, lanes: int) -> V:
    """``g`` of a :class:`SubgroupStage` (``lanes`` a multiple of 32; a 1-D launch, so a sub-group is 32
    consecutive lanes): shuffles move values with their facts; reductions fold halves in docs/semantics.md's
    tree, a result touched by a value a contracting backend may change getting an unbounded error."""
    lane = np.arange(lanes) % 32
    if sg.op.startswith("shuffle"):
        d = (lane * sg.mul + sg.shift) & 31
        src = {"shuffle": d, "shuffle_xor": lane ^ d, "shuffle_up": np.where(lane >= d, lane - d, lane),
               "shuffle_down": np.where(lane + d < 32, lane + d, lane)}[sg.op]
        idx = np.arange(lanes) - lane + src
        return V(s.val[idx], s.err[idx], s.fuse[idx], s.sub[idx])
    op = {"reduce_add": "+", "reduce_min": "min", "reduce_max": "max", "any": "|", "all": "&"}[sg.op]
    val, err, sub = (a.reshape(-1, 32) for a in (s.val, s.err, s.sub))
    h = 16
    while h:
        a, b = val[:, :h], val[:, h:2 * h]
        val = min_max(op, a, b) if op in ("min", "max") else binary(op, a, b, sg.dtype)
        err = np.where((err[:, :h] > 0) | (err[:, h:2 * h] > 0), np.inf, 0.0)
        sub = sub[:, :h] | sub[:, h:2 * h] | _subnormal(val)
        h //= 2
    return V(*(np.repeat(x[:, 0], 32) for x in (val, err, np.zeros(val.shape), sub)))


def evaluate(case: Case) -> dict[str, Outcome]:
    """Run ``case`` on the model; return the expected contents of every written array except the
    tier-1 results (``f*``), whose oracle is the correctly rounded reference of ``oracle.py``."""
    lanes = case.ndrange
    n = case.n
    ev = _Eval(case, lanes)
    guard = np.arange(lanes) < n

    def padded(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros(lanes - n, a.dtype)]) if lanes > n else a.copy()

    for k, (name, _) in enumerate(case.inputs):     # a half element loads as a float32, exactly
        ev.env[f"a{k}"] = _leaf(padded(widen(case.values[name])))
    if case.local is not None:
        st = case.local
        s = ev.promote(ev.expr(st.expr), st.dtype)
        zero = _leaf(np.zeros(lanes, np.dtype(st.dtype)))
        s = V(np.where(guard, s.val, zero.val), np.where(guard, s.err, 0.0), np.where(guard, s.fuse, 0.0),
              np.where(guard, s.sub, False))
        wg = case.wg or 1
        if st.tree:
            s = _tree(s, st.tree, wg, st.dtype)
        lid = np.arange(lanes) % wg
        src = np.arange(lanes) - lid + (lid + st.shift) % wg
        ev.env["w"] = V(s.val[src], s.err[src], s.fuse[src], s.sub[src])
    if case.subgroup is not None:
        sg = case.subgroup
        u = ev.promote(ev.expr(sg.expr), sg.dtype)
        nothing = np.zeros(lanes, np.dtype(sg.dtype))
        u = V(np.where(guard, u.val, nothing), np.where(guard, u.err, 0.0), np.where(guard, u.fuse, 0.0),
              np.where(guard, u.sub, False))
        ev.env["g"] = _subgroup(u, sg, lanes)
    out: dict[str, V] = {}
    for name, _ in case.outputs:
        out[name] = _leaf(padded(case.values[name]))
    ev.run(case.body, guard, out, None)
    cerr, csub = ev.ctl_err[:n], ev.ctl_sub[:n]
    result = {name: Outcome(v.val[:n], np.maximum(v.err[:n], cerr), v.sub[:n] | csub) for name, v in out.items()}
    for t in case.tier1:
        for arg, name in zip(t.args, t.arg_outs):
            v = ev.promote(ev.expr(arg), t.dtype)
            result[name] = Outcome(v.val[:n], np.maximum(v.err[:n], cerr), v.sub[:n] | csub)
    if case.atomic is not None:
        at = case.atomic
        v = ev.promote(ev.expr(at.expr), at.dtype)
        acc = case.values["acc"].copy()
        idx = np.arange(n) % at.buckets
        vals = v.val[:n]
        with np.errstate(all="ignore"):
            ufunc = {"add": np.add, "sub": np.subtract, "min": np.minimum, "max": np.maximum,
                     "and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}.get(at.op)
            if at.op in ("xchg", "cas"):     # one same value per cell (generate.py): any order gives it
                hit = np.unique(idx)
                bits = acc.view(f"u{acc.dtype.itemsize}")
                swap = hit if at.op == "xchg" else hit[bits[hit] == 0]
                acc[swap] = vals[0] if n else 0
            elif at.op in ("min", "max") and acc.dtype.kind == "f":
                for j, x in zip(idx, vals):
                    acc[j] = min_max(at.op, acc[j:j + 1], np.array([x], acc.dtype))[0]
            else:
                assert ufunc is not None, at.op
                ufunc.at(acc, idx, vals)
        sub = np.zeros(at.buckets, bool)
        np.logical_or.at(sub, idx, v.sub[:n])
        err = np.zeros(at.buckets)
        np.maximum.at(err, idx, np.where(v.err[:n] > 0, np.inf, 0.0))
        np.logical_or.at(sub, idx, csub)
        np.maximum.at(err, idx, cerr)
        result["acc"] = Outcome(acc, err, sub, vals.copy())
    return result
