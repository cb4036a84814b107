"""JAX lane operations: functional scatters, ``lax.while_loop`` loops, segmented-scan atomics.

Everything here traces: no host synchronisation and no Python branching on values, so a launch
composes with ``jax.jit``, ``jax.grad`` and ``jax.vmap``. The only Python-level decisions are on
trace-time facts (shapes, the identity of the global-id arrays, masks known to be all-true).
Loops never unroll: the traced size does not grow with the trip count or the ndrange.

Out-of-bounds accesses: loads read 0 and stores/atomics are dropped; with ``debug`` each access
also reports its first bad lane through ``jax.debug.callback`` and the launcher raises
KernelIndexError after the launch.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from portakern.codegen import vector_numerics as vn

from . import math as jm
from .autodiff import differentiated, no_reverse_mode
from .layout import LaneLayout, uses_groups
from .views import form_range, view_load, view_store

# Tier-1 functions: XLA's float32 where measured inside the ceiling (jm.NATIVE_F32), else through
# float64 (rounded once); float64 from accurate pieces where XLA's are not (math.py).
_ERF = jm.in_float64(jax.scipy.special.erf, jax.scipy.special.erf)  # type: ignore[arg-type]
_ERFC = jm.in_float64(jm.erfc)
_TIER1: dict[str, Callable[..., Any]] = {
    "exp": jnp.exp, "exp2": jm.exp2, "expm1": jm.expm1, "log": jnp.log, "log2": jnp.log2,
    "log10": jnp.log10, "log1p": jm.log1p, "sin": jnp.sin, "cos": jnp.cos, "tan": jnp.tan,
    "asin": jm.asin, "acos": jnp.arccos, "atan": jnp.arctan, "atan2": jnp.arctan2,
    "sinh": jm.sinh, "cosh": jm.cosh, "tanh": jm.tanh, "pow": jnp.power, "hypot": jnp.hypot,
    "rsqrt": lambda x: 1 / jnp.sqrt(x), "cbrt": jm.cbrt,
}


def _tier1(name: str) -> Any:
    native = jm.FLOAT32_NATIVE.get(name, _TIER1[name]) if name in jm.NATIVE_F32 else None
    fn = jm.in_float64(_TIER1[name], native)
    return lambda self, *xs: fn(*xs)


class JaxOps(LaneLayout):
    """Lane operations of the ``jax`` backend (float products kept out of FMA contraction by
    :meth:`fmul`)."""

    xp = jnp
    #: element counts of the local arrays sized at launch, computed on the host by the launcher
    launch_sizes: tuple[int, ...] = ()

    def __init__(self, kernel: Any, grid: Any, errors: list | None = None, array_elems: int = 0,
                 rows: tuple[int, int] | None = None) -> None:
        super().__init__(kernel, grid, rows)
        # Built now, at the kernel's top level: a lazily built id inside a loop body would be that
        # loop's tracer and leak out of it (XLA drops the ones the kernel does not use).
        _ = (self.lane, self.gid)
        if uses_groups(kernel):
            _ = (self.lid, self.grid, self.group_lin)
        self.errors = errors
        #: elements of the largest array argument (0 when unknown): bounds loop widening (widen.py)
        self.array_elems = array_elems

    def launch_size(self, k: int, value: Any) -> int:
        """The host's count (``value`` is a tracer inside the jit: XLA shapes must be static)."""
        return self.launch_sizes[k]

    # -- masks --------------------------------------------------------------------------------------
    def mand(self, m: Any, c: Any) -> Any:
        if m is False:
            return False
        if isinstance(c, (bool, np.bool_)):
            return m if c else False
        if m is True:
            return c
        return m & c

    def _lanes(self, m: Any) -> Any:
        """A mask as a boolean lane array (for loop carries)."""
        if m is True or m is False:
            return jnp.full((self.N,), m, dtype=bool)
        return jnp.broadcast_to(m, (self.N,))

    # -- numbers ------------------------------------------------------------------------------------
    def fmul(self, a: Any, b: Any) -> Any:
        if isinstance(a, np.generic) and isinstance(b, np.generic):
            return a * b  # type: ignore[operator]  # a constant product: nothing to contract (and XLA mis-folds
            #                     atan2(-0.0, select(m, 0.0, 0.0)) to NaN, seen here)
        if self._kind(a) in ("exp", "sqrt", "rsqrt") and self._kind(a) == self._kind(b):
            # XLA folds exp(a)*exp(b) to exp(a+b), sqrt(x)*sqrt(x) to x (x >= 0) and rsqrt(x)^2 to
            # 1/x: an opaque operand keeps the product the product of the two rounded values.
            a = opaque(a)
        p = a * b
        if jnp.issubdtype(p.dtype, jnp.floating):
            # opaque(p) is p, but neither XLA nor LLVM sees through its bit compare, so LLVM never
            # fuses the product into a following add (measured: the select is free, unlike the
            # run-time mask vector it replaces, and it needs no host callback inside a user's
            # jit). A 0.0 arm would let LLVM fold x - select(c, p, 0.0).
            return opaque(p)
        return p

    def _kind(self, x: Any) -> str | None:
        """What made ``x``, if this trace did and XLA folds on it: "exp", "sqrt", "rsqrt",
        "pow", "quotient" or "constsum" (a sum or difference with a constant). By identity: a
        value that went through a store, a loop carry or a reshape is no such operand to XLA."""
        entry = self.__dict__.get("_made_by", {}).get(id(x))
        return entry[1] if entry is not None and entry[0] is x else None

    def _made(self, x: Any, kind: str) -> Any:
        """``x``, noted as made by ``kind`` (see :meth:`_kind`)."""
        self.__dict__.setdefault("_made_by", {})[id(x)] = (x, kind)
        return x

    def sqrt(self, a: Any) -> Any:
        return self._made(jnp.sqrt(a), "sqrt")

    def rsqrt(self, a: Any) -> Any:
        # XLA folds rsqrt(1/x) to sqrt(x)
        return self._made(_RSQRT(self, opaque(a) if self._kind(a) == "quotient" else a), "rsqrt")

    def pow(self, a: Any, b: Any) -> Any:
        return self._made(_POW(self, a, b), "pow")

    def log(self, a: Any) -> Any:
        # XLA folds log(exp(x)) to x, which is wrong where exp overflows (log(exp(1000)) is inf)
        return _LOG(self, opaque(a) if self._kind(a) == "exp" else a)

    # XLA's algebraic simplifier folds x + 0.0 and x - (-0.0) to x and 0.0 - x to -x, which is
    # wrong for signed zeros (-0.0 + 0.0 is +0.0). Constants are uniform (0-d) values: an add or
    # subtract with one spells out the zero case exactly (a select XLA can fold correctly; free
    # for NumPy constants, one select for traced uniforms). Found by the conformance suite.
    def fadd(self, a: Any, b: Any) -> Any:
        if _uniform(b) and _is_float(a):
            return _with_zero(a, b, self._with_const(a, b, lambda x: x + b), b_neg_keeps=True)
        if _uniform(a) and _is_float(b):
            return _with_zero(b, a, self._with_const(b, a, lambda x: a + x), b_neg_keeps=True)
        return a + b

    def fsub(self, a: Any, b: Any) -> Any:
        if _uniform(b) and _is_float(a):
            return _with_zero(a, b, self._with_const(a, b, lambda x: x - b), b_neg_keeps=False)
        if _uniform(a) and _is_float(b):
            # a - b for a = +-0: -b, except (+0) - (+-0) = +0
            if isinstance(a, np.generic):
                return (-b if np.signbit(a) else _plus_zero(-b)) if a == 0 else self._with_const(b, a, lambda x: a - x)
            zero = jnp.where(jnp.signbit(a), -b, _plus_zero(-b))
            return jnp.where(a == 0, zero, a - b)
        return a - b

    def _with_const(self, x: Any, c: Any, op: Callable[[Any], Any]) -> Any:
        """``op(x)``, the sum or difference of ``x`` and the uniform ``c``. XLA reassociates
        ``(x + c1) + c2`` to ``x + (c1 + c2)`` (also ``(c1 - x) + c2``; ``x - c`` is ``x + (-c)``
        to it), which rounds differently: when ``x`` is itself such a sum, it enters opaque.
        (A traced uniform ``c`` is no HLO constant and needs nothing.)"""
        if not isinstance(c, (np.floating, float)):
            return op(x)
        return self._made(op(opaque(x) if self._kind(x) == "constsum" else x), "constsum")

    def fdiv(self, a: Any, b: Any) -> Any:
        """``a / b``, correctly rounded. XLA's algebraic simplifier rewrites a quotient by what it
        sees of its operands, each rewrite off by an ulp or more: ``a / sqrt(b)`` -> ``a *
        rsqrt(b)`` (an approximation), ``a / rsqrt(b)`` -> ``a * sqrt(b)``, ``a / pow(b, c)`` ->
        ``a * pow(b, -c)``, ``a / (b / c)`` -> ``(a * c) / b``, ``(a / b) / c`` -> ``a / (b * c)``,
        ``a / c`` and ``a / broadcast(d)`` -> ``a * (1/c)``. Such operands (known by identity:
        this trace made them) become opaque; a divisor that may be a constant or a broadcast is a
        select keyed on the lane-varying dividend (a select of two broadcasts would be sunk into
        one broadcast). ``+-1 / broadcast(d)`` needs nothing: ``+-1 * (1/d)`` is exact."""
        if isinstance(a, np.generic) and isinstance(b, np.generic):
            return a / b  # type: ignore[operator]  # NumPy's IEEE division of two constants
        dt = jnp.result_type(a, b)
        if not jnp.issubdtype(dt, jnp.floating):
            return a / b
        if self._kind(a) == "quotient":
            a = opaque(a)
        if self._kind(b) in ("sqrt", "rsqrt", "pow", "quotient"):
            b = opaque(b)
        if isinstance(a, np.generic) and abs(a) == 1:
            pass
        elif not isinstance(a, np.generic) and jnp.ndim(a) >= jnp.ndim(b):
            # a NaN dividend makes the quotient NaN, as the NaN divisor does
            b = jnp.where(a == a, jnp.asarray(b, dt), jnp.asarray(np.nan, dt))
        elif jnp.ndim(b) >= 1:          # a uniform dividend over lanes: rare, a barrier
            b = lax.optimization_barrier(jnp.asarray(b, dt))
        return self._made(a / b, "quotient")

    def fma(self, a: Any, b: Any, c: Any, t: str) -> Any:
        # The error-free sums of the emulation subtract ``c`` back from ``p + c``; with a constant
        # ``c`` XLA reassociates ``(p + c) - c`` to ``p`` (the conformance suite met fma(x, x, 1.5)
        # 1 ulp off). An opaque ``c`` (NaN where the factor is NaN, as the fma is) is no constant.
        if isinstance(c, np.generic) and not (isinstance(a, np.generic) and isinstance(b, np.generic)):
            key = b if isinstance(a, np.generic) else a
            c = jnp.where(key == key, jnp.asarray(c), jnp.asarray(np.nan, jnp.asarray(c).dtype))
        return super().fma(a, b, c, t)

    def bits64(self, x: Any) -> Any:
        return lax.bitcast_convert_type(jnp.asarray(x, dtype=jnp.float64), jnp.int64)

    def float_bits(self, x: Any) -> Any:
        return lax.bitcast_convert_type(x, jnp.uint32 if x.dtype.itemsize == 4 else jnp.uint64)

    def from_bits64(self, x: Any) -> Any:
        return lax.bitcast_convert_type(jnp.asarray(x, dtype=jnp.int64), jnp.float64)

    def erf(self, a: Any, t: str) -> Any:
        return _ERF(a)

    def erfc(self, a: Any, t: str) -> Any:
        return _ERFC(a)

    def rint(self, a: Any) -> Any:
        return jnp.round(a)

    def floordiv(self, a: Any, b: Any, t: str) -> Any:
        if t in ("float32", "float64"):
            return vn.floordiv_float(jnp, a, b)
        return super().floordiv(a, b, t)

    def mod(self, a: Any, b: Any, t: str) -> Any:
        if t in ("float32", "float64"):
            return vn.mod_float(jnp, a, b)
        return super().mod(a, b, t)

    def compare_affine(self, op: str, a: Any, b: Any, forms: tuple) -> Any:
        """``a <op> b`` for int64 sides with affine forms ``(a, b, a - b)``: a Python bool when the
        ids' static ranges decide it on every lane (a mask known to be all-true costs nothing),
        else the lane comparison. The difference's range decides only when both sides' ranges
        fit int64 (then the wrapping ``a - b`` the forms describe is the exact difference)."""
        ranges = [form_range(self, f) for f in forms] if self.use_affine else [None]
        if all(r is not None and -(1 << 63) <= r[0] <= r[1] < (1 << 63) for r in ranges[:2]) and ranges[2]:
            lo, hi = ranges[2]
            decided = {"lt": (hi < 0, lo >= 0), "le": (hi <= 0, lo > 0), "gt": (lo > 0, hi <= 0),
                       "ge": (lo >= 0, hi < 0), "eq": (lo == hi == 0, lo > 0 or hi < 0),
                       "ne": (lo > 0 or hi < 0, lo == hi == 0)}[op]
            if decided[0]:
                return True
            if decided[1]:
                return False
        return getattr(self, op)(a, b)

    def tile_read(self, fwd: Callable[[], Any], plain: Callable[[], Any], dims: tuple[int, ...],
                  forms: tuple, shape: tuple[int, ...]) -> Any:
        """A read of a local tile (codegen/tiles.py): ``fwd()``, the value the tile's store wrote
        there, when this launch makes that exact -- every work-group dimension wider than one is
        a tile index (one writer per element), the groups divide the grid, the tile holds the
        work-group, and each read index is within its work-group extent -- else ``plain()``."""
        nd, wg = self.ndrange, self.workgroup
        ok = self.use_affine and self.errors is None and all(
            wg[d] == 1 or d in dims for d in range(len(nd))) and all(n % w == 0 for n, w in zip(nd, wg))
        for d, f, size in zip(dims, forms, shape):
            r = form_range(self, f) if ok else None
            ok = r is not None and 0 <= r[0] and r[1] < min(wg[d], nd[d]) <= size
        return fwd() if ok else plain()

    # -- memory -------------------------------------------------------------------------------------
    def _inbounds(self, a: Any, idx: tuple[Any, ...], pre: int) -> Any:
        ok: Any = True
        for i, s in zip(idx[pre:], a.shape[pre:]):
            ok = ok & (i >= 0) & (i < s)
        return ok

    def _report(self, a: Any, idx: tuple[Any, ...], m: Any, site: int, pre: int, ok: Any) -> None:
        if self.errors is None:
            return
        bad = jnp.broadcast_to(self._lanes(m) & ~jnp.asarray(ok), (self.N,))
        lane = jnp.argmax(bad)
        index = jnp.stack([jnp.broadcast_to(jnp.asarray(i, jnp.int64), (self.N,))[lane] for i in idx[pre:]])
        shape = tuple(a.shape[pre:])
        errors = self.errors

        def record(any_bad: Any, index: Any) -> None:
            if bool(any_bad) and not errors:
                errors.append((site, tuple(int(v) for v in np.asarray(index)), shape))

        jax.debug.callback(record, jnp.any(bad), index)

    def _safe(self, idx: tuple[Any, ...], keep: Any, a: Any) -> tuple[Any, ...]:
        """Indices with the lanes not in ``keep`` sent past the end of dimension 0 (dropped)."""
        out = [jnp.where(keep, idx[0], a.shape[0])]
        out += [jnp.where(keep, i, 0) for i in idx[1:]]
        return tuple(out)

    #: whether loads and stores use their indices' affine forms (views.py); off where the lanes
    #: are not the whole index space in row-major order
    use_affine = True

    def load(self, a: Any, idx: tuple[Any, ...], m: Any, site: int, pre: int, aff: Any = None) -> Any:
        """Gather ``a[idx]`` on the active lanes (0 on inactive or out-of-bounds lanes);
        ``aff``: the indices' affine forms (codegen/affine.py), when the renderer found them."""
        if m is False:
            return jnp.zeros((), a.dtype)
        if m is True and self.is_identity(idx, a, pre):
            return a[tuple(slice(0, n) for n in self.ndrange)].reshape(-1)
        if aff is not None and self.use_affine:
            view = view_load(self, a, aff, m)
            if view is not None:
                return view
        if m is True:
            starts = self._window(a, idx, pre)
            if starts is not None:
                return lax.dynamic_slice(a, starts, self.ndrange).reshape(-1)
        if self.errors is None:         # (debug reports the out-of-bounds lanes: the gather)
            halo = self._halo_window(a, idx, pre)
            if halo is not None:
                starts, pads = halo
                block = lax.dynamic_slice(jnp.pad(a, pads), starts, self.ndrange).reshape(-1)
                return block if m is True else jnp.where(m, block, jnp.zeros((), a.dtype))
        shift = self._local_lane(a, idx, pre)
        if shift is not None:
            flat = a.reshape(-1)
            if shift[0] == "uniform":       # red[group_lin, c]: the group's element c, broadcast
                c = jnp.asarray(shift[1], jnp.int64)
                W = a.shape[1]
                col = lax.dynamic_index_in_dim(a, jnp.clip(c, 0, W - 1), axis=1)
                ok = (c >= 0) & (c < W)
                self._report(a, idx, m, site, pre, ok)
                col = jnp.where(ok, col, jnp.zeros((), a.dtype))
                return jnp.broadcast_to(col, a.shape).reshape(-1)
            (u,) = shift
            if u is None:
                return flat
            W = a.shape[1]
            ok = self._inbounds(a, idx, pre)
            self._report(a, idx, m, site, pre, ok)
            padded = jnp.concatenate([jnp.zeros((W,), a.dtype), flat, jnp.zeros((W,), a.dtype)])
            shifted = lax.dynamic_slice(padded, (jnp.clip(u, -W, W) + W,), (self.N,))
            return jnp.where(ok, shifted, jnp.zeros((), a.dtype))
        ok = self._inbounds(a, idx, pre)
        self._report(a, idx, m, site, pre, ok)
        keep = ok if m is True else (ok & m)
        return a.at[self._safe(idx, keep, a)].get(mode="fill", fill_value=0)

    load_view = load

    def store(self, a: Any, idx: tuple[Any, ...], v: Any, m: Any, site: int, pre: int, aff: Any = None) -> Any:
        """``a`` with ``v`` scattered into ``a[idx]`` on the active lanes (``aff``: as for
        :meth:`load`)."""
        if m is False:
            return a
        v = jnp.asarray(v, dtype=a.dtype)
        if aff is not None and self.use_affine and not (m is True and self.is_identity(idx, a, pre)):
            out = view_store(self, a, aff, v, m)
            if out is not None:
                fold = self.fold_of(v)
                if fold is not None and out.shape == (self.num_groups_total, self.workgroup[-1]) and m is True:
                    self.note_fold(out, fold)      # red[lid] = a widened fold: tree.py reads it
                return out
        if m is True and self.is_identity(idx, a, pre):
            block = jnp.broadcast_to(v, (self.N,)).reshape(self.ndrange)
            if tuple(a.shape) == self.ndrange:
                return block
            return a.at[tuple(slice(0, n) for n in self.ndrange)].set(block)
        if m is True:
            starts = self._window(a, idx, pre)
            if starts is not None:
                block = jnp.broadcast_to(v, (self.N,)).reshape(self.ndrange)
                return lax.dynamic_update_slice(a, block, starts)
        if self._local_lane(a, idx, pre) == (None,):   # red[group_lin, lid]: each lane its own slot
            if m is not True:
                return jnp.where(m, v, a.reshape(-1)).reshape(a.shape)
            whole = jnp.broadcast_to(v, (self.N,)).reshape(a.shape)
            fold = self.fold_of(v)
            if fold is not None:
                self.note_fold(whole, fold)
            return whole
        ok = self._inbounds(a, idx, pre)
        self._report(a, idx, m, site, pre, ok)
        return self._scatter(a, idx, v, ok if m is True else (ok & m), add=False)

    # -- order-free row folds (widen.py), remembered for a work-group tree over them (tree.py) -----
    def note_fold(self, value: Any, fold: tuple) -> None:
        """Remember that the lane array ``value`` is ``fold`` (widen.py's ``Fold``)."""
        self.__dict__.setdefault("_folds", {})[id(value)] = (value, fold)

    def fold_of(self, value: Any) -> tuple | None:
        """The fold ``value`` was noted as, if any (keyed by identity, the object kept alive)."""
        entry = self.__dict__.get("_folds", {}).get(id(value))
        return entry[1] if entry is not None and entry[0] is value else None

    def _scatter(self, a: Any, idx: tuple[Any, ...], v: Any, keep: Any, add: bool) -> Any:
        """``a`` with ``v`` set into (or added to) ``a[idx]`` on the lanes in ``keep``; the
        others are sent past the end and dropped."""
        N = self.N
        keep = jnp.broadcast_to(keep, (N,))
        idx = tuple(jnp.broadcast_to(jnp.asarray(i, jnp.int64), (N,)) for i in idx)
        at = a.at[self._safe(idx, keep, a)]
        v = jnp.broadcast_to(jnp.asarray(v, a.dtype), (N,))
        return at.add(v, mode="drop") if add else at.set(v, mode="drop")

    def atomic(self, op: str, a: Any, idx: tuple[Any, ...], v: Any, m: Any, site: int,
               pre: int, old: bool = True, cmp: Any = None) -> tuple[Any, Any]:
        """Atomic RMW in increasing lane order through a segmented scan (static shapes). An add or
        subtract whose old values nobody reads (``old=False``) is one scatter-add: integers wrap
        the same in any order, and float atomics have no fixed order (docs/semantics.md). A
        compare-and-swap (``cmp``) does not compose into a scan: ``_cas`` applies it rank by rank."""
        t = "bool_" if a.dtype == jnp.bool_ else str(a.dtype)
        if m is False:
            return jnp.zeros((), a.dtype), a
        N = self.N
        ok = self._inbounds(a, idx, pre)
        self._report(a, idx, m, site, pre, ok)
        keep = jnp.broadcast_to(ok if m is True else (ok & m), (N,))
        if not old and op in ("atomic_add", "atomic_sub") and a.dtype.kind in "iuf":
            vals = jnp.asarray(v, a.dtype)
            vals = -vals if op == "atomic_sub" else vals       # a - v == a + (-v), wrapping too
            return jnp.zeros((), a.dtype), self._scatter(a, idx, vals, keep, add=True)
        if cmp is not None:
            return self._cas(a, idx, cmp, v, keep)
        _, size, order, sk, start = self._by_element(idx, a.shape, keep)
        sv = jnp.broadcast_to(jnp.asarray(v, a.dtype), (N,))[order]
        last = jnp.concatenate([sk[1:] != sk[:-1], jnp.ones((1,), bool)])
        comb_op = "atomic_add" if op in ("atomic_add", "atomic_sub") else op

        # jax's associative_scan interleaves partial results by adding zero padding, which turns
        # -0.0 into +0.0: scan the bit patterns of floats instead (integer + 0 is exact).
        is_float = a.dtype.kind == "f"
        ibits = jnp.int32 if a.dtype.itemsize == 4 else jnp.int64

        def to_bits(x: Any) -> Any:
            return lax.bitcast_convert_type(x, ibits) if is_float else x

        def from_bits(x: Any) -> Any:
            return lax.bitcast_convert_type(x, a.dtype) if is_float else x

        def comb(x: Any, y: Any) -> Any:
            fx, vx = x
            fy, vy = y
            return fx | fy, jnp.where(fy, vy, to_bits(self.combine(comb_op, from_bits(vx), from_bits(vy), t)))

        _, incl = lax.associative_scan(comb, (start, to_bits(sv)))
        incl = from_bits(incl)
        prev = jnp.concatenate([incl[:1], incl[:-1]])
        flat_a = a.reshape(-1)
        base = flat_a.at[sk].get(mode="fill", fill_value=0)
        after = self.combine(op, base, incl, t)
        old_s = jnp.where(start, base, self.combine(op, base, prev, t))
        flat_a = flat_a.at[jnp.where(last, sk, size)].set(after, mode="drop")
        olds = jnp.zeros((N,), a.dtype).at[order].set(old_s)
        return jnp.where(keep, olds, jnp.zeros((), a.dtype)), flat_a.reshape(a.shape)

    def _by_element(self, idx: tuple[Any, ...], shape: tuple[int, ...], keep: Any) -> tuple[Any, int, Any, Any, Any]:
        """The lanes grouped by the element they target: (flat index per lane, element count,
        lane order sorted by element (stable, so increasing lane within an element), the sorted
        keys (masked lanes last, keyed ``size``), and where each element's run starts)."""
        flat = jnp.zeros((self.N,), jnp.int64)
        stride = 1
        for i, s in reversed(list(zip(idx, shape))):
            flat = flat + jnp.where(keep, jnp.asarray(i, jnp.int64), 0) * stride
            stride *= int(s)
        size = int(stride)
        key = jnp.where(keep, flat, size)
        order = jnp.argsort(key, stable=True)
        sk = key[order]
        start = jnp.concatenate([jnp.ones((1,), bool), sk[1:] != sk[:-1]])
        return flat, size, order, sk, start

    def _cas(self, a: Any, idx: tuple[Any, ...], cmp: Any, v: Any, keep: Any) -> tuple[Any, Any]:
        """Compare-and-swap in increasing lane order: a ``while_loop`` whose step ``r`` swaps the
        ``r``-th lane (in lane order) of every target element at once."""
        N = self.N
        flat, size, order, _, start = self._by_element(idx, a.shape, keep)
        pos = jnp.arange(N)
        head = lax.cummax(jnp.where(start, pos, 0))
        rank = jnp.zeros((N,), jnp.int64).at[order].set(pos - head)
        cmp = jnp.broadcast_to(jnp.asarray(cmp, a.dtype), (N,))
        v = jnp.broadcast_to(jnp.asarray(v, a.dtype), (N,))
        last = jnp.max(jnp.where(keep, rank, -1))

        def step(state: tuple) -> tuple:
            r, flat_a, olds = state
            sel = keep & (rank == r)
            cur = flat_a.at[flat].get(mode="fill", fill_value=0)
            olds = jnp.where(sel, cur, olds)
            flat_a = flat_a.at[jnp.where(sel, flat, size)].set(self.cas_result(cur, cmp, v), mode="drop")
            return r + 1, flat_a, olds

        _, flat_a, olds = lax.while_loop(lambda st: st[0] <= last, step,
                                         (jnp.int64(0), a.reshape(-1), jnp.zeros((N,), a.dtype)))
        return olds, flat_a.reshape(a.shape)

    # -- loops --------------------------------------------------------------------------------------
    def _norm(self, st: tuple) -> tuple:
        """Loop-carried state with fixed shapes: uniform values become lane arrays."""
        return tuple(jnp.broadcast_to(jnp.asarray(x), (self.N,)) if jnp.ndim(x) == 0 else jnp.asarray(x)
                     for x in st)

    @staticmethod
    def _like(new: tuple, old: tuple) -> tuple:
        return tuple(jnp.broadcast_to(jnp.asarray(n, dtype=o.dtype), o.shape) for n, o in zip(new, old))

    def for_range(self, m: Any, start: Any, stop: Any, step: Any, body: Callable, st: tuple,
                  exits: bool, wide: Any = None, tree: Any = None, unroll: bool = False) -> tuple:
        """``for v in range(start, stop, step)`` as one ``lax.while_loop``, or, with a plan
        ``wide`` and the same trip count on every lane, traced once over all its iterations at
        once (widen.py), or with a plan ``tree``, as a work-group tree reduction on static slices
        (tree.py), or, ``unroll`` (an innermost loop) with at most ``UNROLL`` known iterations,
        unrolled (:meth:`_unroll`)."""
        if m is False:
            return st
        given, st = st, self._norm(st)
        i64 = jnp.int64
        if jnp.ndim(start) == 0 and jnp.ndim(stop) == 0 and jnp.ndim(step) == 0:
            static_mask = m is True and not exits
            if all(isinstance(x, (int, np.integer)) for x in (start, stop, step)):
                # known bounds: fori_loop with a static trip count lowers to lax.scan, which
                # reverse-mode differentiation supports (while_loop does not)
                b0, b2 = int(start), int(step)
                trip = len(range(b0, int(stop), b2)) if b2 else 0
                if trip == 0:
                    return st
                if tree is not None and static_mask:
                    from .tree import run_tree

                    out = run_tree(self, range(b0, int(stop), b2), st, tree)
                    if out is not None:
                        return out

                if unroll and trip <= UNROLL:
                    return self._unroll(range(b0, int(stop), b2), body, st, static_mask, m)

                def scan_body(j: Any, c: Any) -> Any:
                    lv, s = c
                    k = jnp.asarray(b0, i64) + jnp.asarray(j, i64) * b2
                    lv2, s2 = body(k, True if static_mask else lv, s)
                    return (lv if static_mask else self._lanes(lv2)), self._like(s2, s)

                lv0 = jnp.zeros((), bool) if static_mask else self._lanes(m)
                return self._fori(trip, scan_body, (lv0, st))[1]
            start, stop, step = (jnp.asarray(x, i64) for x in (start, stop, step))

            def more(k: Any) -> Any:
                return jnp.where(step > 0, k < stop, jnp.where(step < 0, k > stop, False))

            if static_mask:
                def cond(c: Any) -> Any:
                    return c[1]

                def step_fn(c: Any) -> Any:
                    k, ok, s = c
                    _, s2 = body(k, True, s)
                    return k + step, vn.range_next_ok(jnp, k, stop, step), self._like(s2, s)

                return lax.while_loop(cond, step_fn, (start, more(start), st))[2]

            def cond2(c: Any) -> Any:
                return c[1] & jnp.any(c[2])

            def step2(c: Any) -> Any:
                k, ok, lv, s = c
                lv2, s2 = body(k, lv, s)
                return k + step, vn.range_next_ok(jnp, k, stop, step), self._lanes(lv2), self._like(s2, s)

            return lax.while_loop(cond2, step2, (start, more(start), self._lanes(m), st))[3]

        fixed = self._fixed_trip(m, start, stop, step, exits)
        if fixed is not None and wide is not None and self.errors is None:
            from .widen import run_wide

            out = run_wide(self, start, fixed, body, st, given, wide)
            if out is not None:
                return out
        if fixed is not None:
            trip, lo, hi, b2 = fixed
            affine: dict = self.__dict__.setdefault("_affine_lanes", {})

            def fixed_body(j: Any, s: Any) -> Any:
                off = jnp.asarray(j, i64) * b2
                k = start + off
                # k = start + a uniform offset: loads/stores indexed by it can be slices
                affine[id(k)] = (k, start, off)
                self._ranges[id(k)] = (min(lo, lo + (trip - 1) * b2), max(hi, hi + (trip - 1) * b2))
                _, s2 = body(k, True, s)
                del affine[id(k)], self._ranges[id(k)]
                return self._like(s2, s)

            return self._fori(trip, fixed_body, st)

        k0 = jnp.broadcast_to(jnp.asarray(start, i64), (self.N,))

        def in_range(k: Any) -> Any:
            return jnp.where(step > 0, k < stop, jnp.where(step < 0, k > stop, False))

        def cond3(c: Any) -> Any:
            return jnp.any(c[1])

        def step3(c: Any) -> Any:
            k, lv, s = c
            lv2, s2 = body(k, lv, s)
            ok = vn.range_next_ok(jnp, k, stop, step)
            return k + jnp.asarray(step, i64), self._lanes(lv2) & ok, self._like(s2, s)

        lv0 = self._lanes(m) & in_range(k0)
        return lax.while_loop(cond3, step3, (k0, lv0, st))[2]

    # -- loop carries in the grid's shape --------------------------------------------------------------
    def _carry_shapes(self, init: Any) -> tuple[Callable[[Any], Any], Callable[[Any], Any]] | None:
        """(to the grid's shape, back to flat lanes) for the lane arrays of a loop carry; None for
        a 1-D grid. A ``fori_loop`` carrying flat lane arrays of a multi-dimensional grid makes
        XLA:CPU index every broadcast operand through a division of the flat index, unvectorised
        (measured: a 1024^2 tiled matmul's step loop 3.7 s flat, 0.25 s carried as (1024, 1024)).
        Not for ``while_loop``s: mandelbrot's went from 2.6x to 21x of its jnp baseline so."""
        nd = self.lanes_nd
        if len(nd) < 2 or math.prod(nd) != self.N:
            return None
        leaves = jax.tree_util.tree_leaves(init)
        pos = {i for i, x in enumerate(leaves) if jnp.shape(x) == (self.N,)}
        if not pos:
            return None

        def reshaped(t: Any, shape: tuple[int, ...]) -> Any:
            ls, tree = jax.tree_util.tree_flatten(t)
            return jax.tree_util.tree_unflatten(tree, [jnp.reshape(x, shape) if i in pos else x
                                                       for i, x in enumerate(ls)])
        return (lambda t: reshaped(t, nd)), (lambda t: reshaped(t, (self.N,)))

    def _fori(self, trip: int, body: Callable, init: Any) -> Any:
        """``lax.fori_loop(0, trip, body, init)``, lane arrays carried in the grid's shape."""
        conv = self._carry_shapes(init)
        if conv is None:
            return lax.fori_loop(0, trip, body, init)
        grid, flat = conv
        return flat(lax.fori_loop(0, trip, lambda j, c: grid(body(j, flat(c))), grid(init)))

    def _unroll(self, ks: range, body: Callable, st: tuple, static_mask: bool, m: Any) -> tuple:
        """A loop of known bounds traced once per iteration, its variable a constant: XLA fuses the
        iterations into one pass, and an access indexed by the variable is a static slice.
        Only innermost loops unroll: the traced size grows by at most ``UNROLL`` copies."""
        lv: Any = True if static_mask else self._lanes(m)
        for k in ks:
            lv2, s2 = body(np.int64(k), lv, st)
            lv = lv if static_mask else self._lanes(lv2)
            st = self._like(s2, st)
        return st

    def while_loop(self, lv: Any, body: Callable, st: tuple, line: int = 0, unroll: int = 1) -> tuple:
        """Run ``body`` while any lane is live, as one ``lax.while_loop``; ``line`` is the ``while``
        statement's source line (named when reverse-mode differentiation meets the loop). ``unroll``
        iterations run per test of the live lanes: a lane that finished is masked off in the next
        one, as it would be in the next trip, so the results are the same; the test (an ``any``
        over every lane, several XLA reductions on the CPU) is paid once per ``unroll`` iterations
        (mandelbrot 256^2: 20-25 -> 11-14 ms with 2; XLA still makes one fusion per carried value
        and iteration, so a large grid, where those passes cost most, gains nothing)."""
        if lv is False:
            return st
        st = self._norm(st)

        def cond(c: Any) -> Any:
            return jnp.any(c[0])

        def step(c: Any) -> Any:
            lv1, s = c
            lv2, s2 = body(lv1, s)
            return self._lanes(lv2), self._like(s2, s)

        def steps(c: Any) -> Any:
            for _ in range(unroll):
                c = step(c)
            return c

        try:
            out = lax.while_loop(cond, steps if unroll > 1 else step, (self._lanes(lv), st))[1]
        except ValueError as exc:       # reverse-mode partial evaluation of the loop (older jax)
            if "Reverse-mode" not in str(exc):
                raise
            raise no_reverse_mode(self.kernel, line) from exc
        if differentiated(out):
            raise no_reverse_mode(self.kernel, line)
        return out


for _name in _TIER1:      # the tier-1 methods of LaneOps, replaced by the accurate versions
    if _name not in ("log", "rsqrt", "pow"):          # (JaxOps wraps these three)
        setattr(JaxOps, _name, _tier1(_name))
_LOG, _RSQRT, _POW, _EXP = _tier1("log"), _tier1("rsqrt"), _tier1("pow"), _tier1("exp")
JaxOps.exp = lambda self, a: self._made(_EXP(self, a), "exp")  # type: ignore[method-assign]  # noted for fmul


#: loops of at most this many iterations (all nested unrolled loops together) are unrolled
UNROLL = 32

_SNAN_BITS = {4: (jnp.uint32, 0x7F800001), 8: (jnp.uint64, 0x7FF0000000000001)}


def opaque(x: Any) -> Any:
    """``x`` as ``select(bits(x) != sNaN, x, NaN)``: the same value (no arithmetic makes that
    signalling NaN, and a NaN stays a NaN), but neither XLA nor LLVM can see through a compare of
    the bits, so no algebraic rewrite and no FMA contraction crosses it. (A float compare
    ``x == x`` is not enough: LLVM proves ``float(int) * 0.1`` is never NaN, drops the select and
    fuses the product into the next add -- found by the conformance suite's long run.)"""
    uint, snan = _SNAN_BITS[jnp.dtype(x.dtype).itemsize]
    return jnp.where(lax.bitcast_convert_type(x, uint) != uint(snan), x, jnp.asarray(np.nan, x.dtype))


def _uniform(x: Any) -> bool:
    """A uniform value (a NumPy constant or a 0-d traced value) that could be a constant zero."""
    return isinstance(x, (np.floating, float)) or (not isinstance(x, np.generic) and jnp.ndim(x) == 0)


def _with_zero(x: Any, z: Any, plain: Any, b_neg_keeps: bool) -> Any:
    """``x + z`` (or ``x - z``) where ``z`` is uniform: when ``z`` is a zero the result is ``x``
    or ``x + 0.0`` (-0.0 -> +0.0) by the sign of ``z``, spelled out instead of left to XLA."""
    if isinstance(z, (np.floating, float)):
        if z != 0:
            return plain
        return x if bool(np.signbit(z)) == b_neg_keeps else _plus_zero(x)
    keep = jnp.signbit(z) if b_neg_keeps else ~jnp.signbit(z)
    return jnp.where(z == 0, jnp.where(keep, x, _plus_zero(x)), plain)


def _is_float(x: Any) -> bool:
    return not isinstance(x, np.generic) and jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)


def _plus_zero(x: Any) -> Any:
    """``x + 0.0``: x, except that -0.0 becomes +0.0."""
    return jnp.where(x == 0, jnp.zeros((), x.dtype), x)
