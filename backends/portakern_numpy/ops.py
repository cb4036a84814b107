"""NumPy lane operations: in-place memory operations, Python-driven loops, exact atomics.

Every access checks its bounds on the active lanes (with or without ``debug``): an out-of-bounds
index raises :class:`portakern.KernelIndexError`, never NumPy's IndexError, and inactive lanes never
touch memory. Masks are normalised to the Python constants ``True``/``False`` whenever every lane or
no lane is active, which is what lets the generated code skip dead branches and take the slice
fast paths.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np

from portakern.codegen import vector_numerics as vn
from portakern.codegen.vector_ops import LaneOps
from portakern.ir.visit import index_error

_U64 = np.uint64
_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


class NumpyOps(LaneOps):
    """Lane operations of the ``numpy`` backend (the reference semantics)."""

    xp = np

    # -- masks --------------------------------------------------------------------------------------
    def mand(self, m: Any, c: Any) -> Any:
        if m is False:
            return False
        if np.ndim(c) == 0:
            return m if c else False
        r = c if m is True else m & c
        if not r.any():
            return False
        if m is True and r.all():
            return True
        return r

    # -- memory -------------------------------------------------------------------------------------
    def _check(self, a: Any, idx: tuple[Any, ...], m: Any, site: int, pre: int) -> None:
        """Raise KernelIndexError for the first active lane whose index is out of bounds."""
        bad: Any = False
        for i, s in zip(idx[pre:], a.shape[pre:]):
            if np.ndim(i) == 0:
                if not 0 <= int(i) < s:
                    bad = True
            else:
                bad = bad | (np.asarray(i, dtype=np.int64).view(_U64) >= _U64(s))
        if bad is False:
            return
        if np.ndim(bad) and m is not True:
            bad = bad & m
        if np.ndim(bad) == 0:
            if not bad:
                return
            lane = int(np.argmax(m)) if np.ndim(m) else 0
        else:
            if not bad.any():
                return
            lane = int(np.argmax(bad))
        index = tuple(int(i) if np.ndim(i) == 0 else int(i[lane]) for i in idx[pre:])
        raise index_error(self.kernel, site, index, a.shape[pre:])

    def _ident_slice(self, a: Any) -> Any:
        lo = self.row0
        if len(self.ndrange) == 1:
            return a[lo:lo + self.N]
        return a[(slice(lo, lo + self.lanes_nd[0]),) + tuple(slice(0, n) for n in self.lanes_nd[1:])]

    def load(self, a: Any, idx: tuple[Any, ...], m: Any, site: int, pre: int) -> Any:
        """Gather ``a[idx]`` on the active lanes (zeros elsewhere)."""
        if m is False:
            return a.dtype.type(0)
        if m is True and self.is_identity(idx, a, pre):
            return np.array(self._ident_slice(a)).reshape(-1)   # a copy: the kernel writes ``a``
        self._check(a, idx, m, site, pre)
        if all(np.ndim(i) == 0 for i in idx):
            return a[tuple(int(i) for i in idx)]
        if m is not True:
            idx = tuple(i if np.ndim(i) == 0 else np.where(m, i, 0) for i in idx)
        return a[idx]

    def load_view(self, a: Any, idx: tuple[Any, ...], m: Any, site: int, pre: int) -> Any:
        """As ``load``, for an array the kernel never writes: the identity case returns a view."""
        if m is True and self.is_identity(idx, a, pre):
            return self._ident_slice(a).reshape(-1)
        return self.load(a, idx, m, site, pre)

    def store(self, a: Any, idx: tuple[Any, ...], v: Any, m: Any, site: int, pre: int) -> Any:
        """Scatter ``v`` into ``a[idx]`` on the active lanes, in place; returns ``a``."""
        if m is False:
            return a
        if m is True and self.is_identity(idx, a, pre):
            self._ident_slice(a)[...] = v if np.ndim(v) == 0 else np.reshape(v, self.lanes_nd)
            return a
        self._check(a, idx, m, site, pre)
        if m is not True:
            idx = tuple(i if np.ndim(i) == 0 else i[m] for i in idx)
            if np.ndim(v):
                v = v[m]
        if all(np.ndim(i) == 0 for i in idx):
            a[tuple(int(i) for i in idx)] = v if np.ndim(v) == 0 else v[-1]   # the last lane wins
        else:
            a[idx] = v
        return a

    def store_op(self, op: str, a: Any, idx: tuple[Any, ...], x: Any, y: Any, m: Any, site: int,
                 pre: int) -> Any:
        """``a[idx] = x <op> y``: over the identity slice the ufunc writes into ``a`` directly."""
        if (m is True and len(self.ndrange) == 1 and self.is_identity(idx, a, pre)
                and np.result_type(x, y) == a.dtype):
            getattr(np, op)(x, y, out=self._ident_slice(a))
            return a
        return self.store(a, idx, getattr(np, op)(x, y), m, site, pre)

    def atomic(self, op: str, a: Any, idx: tuple[Any, ...], v: Any, m: Any, site: int,
               pre: int, old: bool = True, cmp: Any = None) -> tuple[Any, Any]:
        """Atomic read-modify-write in increasing lane order; returns (old values, ``a``) (the
        reference computes the old values even when ``old`` says nobody reads them). ``cmp``: the
        expected values of a compare-and-swap (``atomic_cas``), applied one lane after another."""
        t = a.dtype.name if a.dtype != np.bool_ else "bool_"
        if m is False:
            return a.dtype.type(0), a
        self._check(a, idx, m, site, pre)
        N = self.N
        lanes = np.arange(N) if m is True else np.flatnonzero(m)
        ix = tuple(np.broadcast_to(np.asarray(i, dtype=np.int64), (N,))[lanes] for i in idx)
        val = np.broadcast_to(np.asarray(v, dtype=a.dtype), (N,))[lanes]
        if cmp is not None:
            olds = self._cas(a, ix, np.broadcast_to(np.asarray(cmp, dtype=a.dtype), (N,))[lanes], val)
        else:
            olds = self._rmw(op, a, ix, val, t)
        if m is True:
            return olds, a
        out = np.zeros(N, dtype=a.dtype)
        out[lanes] = olds
        return out, a

    def _cas(self, a: Any, ix: tuple[Any, ...], cmp: Any, val: Any) -> Any:
        """Compare-and-swap in increasing lane order: round ``r`` swaps the ``r``-th lane of every
        target element at once (a lane sees every earlier lane's swap of its element)."""
        flat = np.ravel_multi_index(ix, a.shape)
        order = np.argsort(flat, kind="stable")
        sf = flat[order]
        start = np.ones(len(sf), dtype=bool)
        start[1:] = sf[1:] != sf[:-1]
        first = np.flatnonzero(start)
        rank = np.empty(len(sf), dtype=np.int64)
        rank[order] = np.arange(len(sf)) - first[np.cumsum(start) - 1]
        olds = np.empty(len(val), dtype=a.dtype)
        for r in range(int(rank.max(initial=-1)) + 1):
            sel = rank == r
            at = tuple(i[sel] for i in ix)      # distinct elements
            olds[sel] = a[at]
            a[at] = self.cas_result(a[at], cmp[sel], val[sel])
        return olds

    def _rmw(self, op: str, a: Any, ix: tuple[Any, ...], val: Any, t: str) -> Any:
        """The other atomics (one combiner each): old values in lane order."""
        flat = np.ravel_multi_index(ix, a.shape)
        order = np.argsort(flat, kind="stable")
        sf = flat[order]
        n = len(sf)
        start = np.ones(n, dtype=bool)
        start[1:] = sf[1:] != sf[:-1]
        if start.all():
            olds = a[ix]
            a[ix] = self.combine(op, olds, val, t)
        else:
            old_s = self._segmented(op, a, tuple(i[order] for i in ix), val[order], start, t)
            olds = np.empty_like(old_s)
            olds[order] = old_s
        return olds

    def _segmented(self, op: str, a: Any, six: tuple[Any, ...], sv: Any, start: Any, t: str) -> Any:
        """Old values of lanes sorted by target element (lane order kept inside each segment)."""
        n = len(sv)
        seg = np.cumsum(start) - 1
        first = np.flatnonzero(start)
        heads = tuple(i[first] for i in six)
        base = a[heads]
        counts = np.diff(np.append(first, n))
        if op in ("atomic_add", "atomic_sub") and a.dtype.kind in "iu":
            c = np.cumsum(sv, dtype=a.dtype)
            excl = c - sv
            prefix = excl - excl[first][seg]
            total = c[first + counts - 1] - excl[first]
            if op == "atomic_add":
                old_s, final = base[seg] + prefix, base + total
            else:
                old_s, final = base[seg] - prefix, base - total
        elif counts.max() <= 64:
            rank = np.arange(n) - first[seg]
            cur = base.copy()
            old_s = np.empty(n, dtype=a.dtype)
            for r in range(int(counts.max())):
                sel = rank == r
                ids = seg[sel]
                old_s[sel] = cur[ids]
                cur[ids] = self.combine(op, cur[ids], sv[sel], t)
            final = cur
        else:
            old_s = np.empty(n, dtype=a.dtype)
            final = base.copy()
            for s, (lo, k) in enumerate(zip(first, counts)):
                cur = base[s]
                for j in range(lo, lo + k):
                    old_s[j] = cur
                    cur = self.combine(op, cur, sv[j], t)
                final[s] = cur
        a[heads] = final
        return old_s

    # -- loops --------------------------------------------------------------------------------------
    def for_range(self, m: Any, start: Any, stop: Any, step: Any, body: Callable, st: tuple,
                  exits: bool, wide: Any = None, tree: Any = None) -> tuple:
        """``for v in range(start, stop, step)`` under mask ``m``: a Python loop with a uniform ``v``
        when the bounds are uniform, else per-lane counters while any lane is live (the reference
        steps through every loop: the ``wide`` and ``tree`` plans of a faster lowering are unused)."""
        if m is False:
            return st
        if np.ndim(start) == 0 and np.ndim(stop) == 0 and np.ndim(step) == 0:
            if step == 0:
                return st
            lv = m
            for k in range(int(start), int(stop), int(step)):
                lv, st = body(np.int64(k), lv, st)
                if lv is False:
                    break
            return st
        kv = np.array(np.broadcast_to(start, (self.N,)), dtype=np.int64)
        lv = self.mand(m, _in_range(kv, stop, step))
        while lv is not False:
            lv, st = body(kv, lv, st)
            lv = self.mand(lv, vn.range_next_ok(np, kv, stop, step))
            kv = kv + step
        return st

    def while_loop(self, lv: Any, body: Callable, st: tuple, line: int = 0, unroll: int = 1) -> tuple:
        """Run ``body`` while any lane is live (``body`` narrows the mask itself); ``line`` is the
        ``while`` statement's source line (for backends that report errors at it); ``unroll``, how many
        iterations a backend may run per test of the live lanes (here: one, the test is cheap)."""
        while lv is not False:
            lv, st = body(lv, st)
        return st

    # -- numbers ------------------------------------------------------------------------------------
    def bits64(self, x: Any) -> Any:
        return np.asarray(x, dtype=np.float64).view(np.int64)

    def floordiv(self, a: Any, b: Any, t: str) -> Any:
        if np.ndim(b) == 0 and t not in ("float32", "float64") and b != 0 and b != -1:
            return a // b
        return super().floordiv(a, b, t)

    def mod(self, a: Any, b: Any, t: str) -> Any:
        if np.ndim(b) == 0 and t not in ("float32", "float64") and b != 0 and b != -1:
            return a % b
        return super().mod(a, b, t)

    def shl(self, a: Any, b: Any, t: str) -> Any:
        if np.ndim(b) == 0 and 0 <= b < np.dtype(t).itemsize * 8:
            return a << b
        return super().shl(a, b, t)

    def shr(self, a: Any, b: Any, t: str) -> Any:
        if np.ndim(b) == 0 and 0 <= b < np.dtype(t).itemsize * 8:
            return a >> b
        return super().shr(a, b, t)

    def fma(self, a: Any, b: Any, c: Any, t: str) -> Any:
        if t == "float32":
            return super().fma(a, b, c, t)
        r, unsafe = vn.fma64(np, a, b, c, self.bits64)
        if np.any(unsafe):    # the error-free transforms would over/underflow: exact rationals
            r = np.array(np.broadcast_to(r, np.broadcast(a, b, c).shape), dtype=np.float64)
            A, B, Cc = (np.broadcast_to(x, r.shape) for x in (a, b, c))
            for j in zip(*np.nonzero(np.broadcast_to(unsafe, r.shape))):
                r[j] = _exact_fma(float(A[j]), float(B[j]), float(Cc[j]))
            r = r[()] if r.ndim == 0 else r
        return r

    def pow(self, a: Any, b: Any) -> Any:
        # NumPy computes x ** 0.5 as sqrt(x) when the exponent is a scalar or a broadcast one, which
        # gives pow(-0.0, 0.5) = -0.0 and pow(-inf, 0.5) = NaN where C99 Annex F says +0.0 and +inf
        # (found by the conformance --long run); 0.5 is the only exponent NumPy special-cases so.
        with np.errstate(all="ignore"):
            r = np.power(a, b)
            half = b == 0.5
            if np.any(half):
                r = np.where(half, np.where(np.isneginf(a), np.inf, np.abs(r)), r).astype(r.dtype)[()]
        return r

    def cbrt(self, a: Any) -> Any:
        # float32 through float64 (0.5 ulp): NumPy's float32 cbrt measures 1.9 ulp, near the ceiling of 2
        a = np.asarray(a)
        return np.cbrt(a.astype(np.float64)).astype(a.dtype)[()]

    def erf(self, a: Any, t: str) -> Any:
        return np.asarray(_erf(np.asarray(a, dtype=np.float64)), dtype=np.float64).astype(t)[()]

    def erfc(self, a: Any, t: str) -> Any:
        return np.asarray(_erfc(np.asarray(a, dtype=np.float64)), dtype=np.float64).astype(t)[()]


def _in_range(k: Any, stop: Any, step: Any) -> Any:
    return np.where(step > 0, k < stop, np.where(step < 0, k > stop, False))


def _exact_fma(a: float, b: float, c: float) -> float:
    """fma by exact rational arithmetic (rare lanes only); overflow gives the signed infinity."""
    exact = Fraction(a) * Fraction(b) + Fraction(c)
    if exact == 0:
        return 0.0                 # a*b != 0 here, so an exact cancellation rounds to +0
    try:
        return float(exact)        # Fraction -> float rounds to nearest even
    except OverflowError:
        return math.inf if exact > 0 else -math.inf
