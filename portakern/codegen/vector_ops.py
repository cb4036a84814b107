"""The lane operations the vectorised source (``portakern.codegen.vectorize``) calls, written once
over an array namespace ``xp``. ``portakern_numpy`` and ``portakern_jax`` subclass :class:`LaneOps`
with their memory operations (loads, stores, atomics) and loop drivers.

A lane value is a uniform scalar (NumPy scalar, 0-d array, or a Python bool for masks) or an array
of shape ``(N,)``. The index queries are computed once per launch grid. ``gid[d]`` objects are kept
by identity so that loads/stores indexed exactly by the global ids over a matching array become
slices, and comparisons of a global id with a known scalar (``i < x.shape[0]``) are decided without
touching the lanes.
"""
from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from ..ir import nodes as ir
from ..ir import optable
from ..runtime.backend import LaunchGrid, default_workgroup
from . import vector_numerics as vn
from .vector_subgroup import SubgroupLaneOps
from .vectorize import LANE_METHODS

__all__ = ["LaneOps"]


_I64 = np.int64


class LaneOps(SubgroupLaneOps):
    """Shared lane semantics. Subclasses set ``xp`` and implement memory and loop operations."""

    xp: Any = np

    def __init__(self, kernel: ir.Kernel, grid: LaunchGrid, rows: tuple[int, int] | None = None) -> None:
        self.kernel = kernel
        nd = tuple(int(n) for n in grid.ndrange)
        wg = tuple(int(w) for w in (grid.workgroup or default_workgroup(nd)))
        self.ndrange, self.workgroup = nd, wg
        # ``rows``: only the work-items whose global_id(0) is in [lo, hi) are lanes (a chunk of the
        # index space, see portakern_numpy.launch); size queries still describe the whole ndrange
        lo, hi = rows if rows is not None else (0, nd[0])
        self.row0 = lo
        self.lanes_nd = (hi - lo,) + nd[1:]
        self.N = int(math.prod(self.lanes_nd))
        self.gsize = [_I64(n) for n in nd]
        self.lsize = [_I64(w) for w in wg]
        self._ng = [-(-n // w) for n, w in zip(nd, wg)]
        self.ngroups = [_I64(g) for g in self._ng]
        self.num_groups_total = int(math.prod(self._ng))
        self._ranges: dict[int, tuple[int, int]] = {}

    # The lane arrays are built on first use (a 3-D grid of 10^7 work-items would otherwise hold
    # nine 80 MB index arrays whether the kernel asks for them or not).
    @functools.cached_property
    def lane(self) -> Any:
        """The linear work-item id of every lane."""
        return self.arange(self.N)

    @functools.cached_property
    def gid(self) -> list[Any]:
        """``global_id(d)`` per dimension (kept by identity for the slice fast paths)."""
        nd, iota, lo = self.lanes_nd, self.lane, self.row0
        gid = []
        stride = self.N
        for n in nd:
            stride //= n
            g = iota if len(nd) == 1 else (iota // _I64(stride)) % _I64(n) if n > 1 else self.zeros_i64()
            gid.append(g)
        if lo:
            gid[0] = gid[0] + _I64(lo)
        self._ranges.update({id(g): (lo if d == 0 else 0, (lo if d == 0 else 0) + n - 1)
                             for d, (g, n) in enumerate(zip(gid, nd))})
        return gid

    @functools.cached_property
    def lid(self) -> list[Any]:
        # where one work-group spans a whole dimension the local id IS the global id: the same
        # object, so the identity fast paths and static comparisons apply to it too
        lid = [g if n <= w else g % _I64(w) for g, n, w in zip(self.gid, self.ndrange, self.workgroup)]
        self._ranges.update({id(x): (0, min(n, w) - 1) for x, n, w in zip(lid, self.ndrange, self.workgroup)
                             if id(x) not in self._ranges})
        return lid

    @functools.cached_property
    def grid(self) -> list[Any]:
        return [g // _I64(w) for g, w in zip(self.gid, self.workgroup)]

    @functools.cached_property
    def group_lin(self) -> Any:
        """The linear work-group id of every lane (indexes local arrays)."""
        lin: Any = _I64(0)
        for g, n in zip(self.grid, self._ng):
            lin = lin * _I64(n) + g
        return lin

    # -- construction hooks ----------------------------------------------------------------------
    def arange(self, n: int) -> Any:
        return self.xp.arange(n, dtype=np.int64)

    def zeros_i64(self) -> Any:
        return self.xp.zeros(self.N, dtype=np.int64)

    def local_array(self, tname: str, shape: tuple[int, ...]) -> Any:
        """Work-group memory: one copy per work-group, zero-filled."""
        return self.xp.zeros((self.num_groups_total,) + tuple(shape), dtype=_dt(tname))

    def launch_size(self, k: int, value: Any) -> int:
        """The element count of the kernel's ``k``-th local array sized at launch, ``value`` as the
        kernel computed it (the runtime checked it before the launch)."""
        return int(value)

    def private_array(self, tname: str, shape: tuple[int, ...]) -> Any:
        """Per-work-item memory: one copy per lane, zero-filled."""
        return self.xp.zeros((self.N,) + tuple(shape), dtype=_dt(tname))

    def dim(self, a: Any, d: int) -> Any:
        return _I64(a.shape[d])

    def is_identity(self, idx: tuple[Any, ...], a: Any, pre: int) -> bool:
        """``idx`` is exactly (gid[0], ..., gid[nd-1]) over an array at least as large as ndrange."""
        if pre or "gid" not in self.__dict__:
            return False
        gid = self.gid
        if len(idx) != len(gid):
            return False
        for i, g in zip(idx, gid):
            if i is not g:
                return False
        return all(s >= n for s, n in zip(a.shape, self.ndrange))

    # -- comparisons (decided statically for a global id against a known scalar) --------------------
    def _range(self, x: Any) -> tuple[int, int] | None:
        r = self._ranges.get(id(x))
        if r is not None:
            return r
        if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
            return (int(x), int(x))
        return None

    def _static(self, a: Any, b: Any, op: str) -> Any:
        ra = self._ranges.get(id(a))
        rb = self._ranges.get(id(b))
        if ra is None and rb is None:
            return None
        ra = ra or self._range(a)
        rb = rb or self._range(b)
        if ra is None or rb is None:
            return None
        (alo, ahi), (blo, bhi) = ra, rb
        if op == "lt":
            res = True if ahi < blo else False if alo >= bhi else None
        elif op == "le":
            res = True if ahi <= blo else False if alo > bhi else None
        elif op == "gt":
            res = True if alo > bhi else False if ahi <= blo else None
        elif op == "ge":
            res = True if alo >= bhi else False if ahi < blo else None
        elif op == "eq":
            res = False if (ahi < blo or alo > bhi) else (True if alo == ahi == blo == bhi else None)
        else:
            res = True if (ahi < blo or alo > bhi) else (False if alo == ahi == blo == bhi else None)
        return None if res is None else np.bool_(res)

    def lt(self, a: Any, b: Any) -> Any:
        r = self._static(a, b, "lt")
        return a < b if r is None else r

    def le(self, a: Any, b: Any) -> Any:
        r = self._static(a, b, "le")
        return a <= b if r is None else r

    def gt(self, a: Any, b: Any) -> Any:
        r = self._static(a, b, "gt")
        return a > b if r is None else r

    def ge(self, a: Any, b: Any) -> Any:
        r = self._static(a, b, "ge")
        return a >= b if r is None else r

    def eq(self, a: Any, b: Any) -> Any:
        r = self._static(a, b, "eq")
        return a == b if r is None else r

    def ne(self, a: Any, b: Any) -> Any:
        r = self._static(a, b, "ne")
        return a != b if r is None else r

    # -- selection and logic ------------------------------------------------------------------------
    def where(self, c: Any, a: Any, b: Any) -> Any:
        if isinstance(c, (bool, np.bool_)):
            return a if c else b
        return self.xp.where(c, a, b)

    def merge(self, m: Any, new: Any, old: Any) -> Any:
        if m is True:
            return new
        if m is False:
            return old
        return self.xp.where(m, new, old)

    def lnot(self, a: Any) -> Any:
        if isinstance(a, (bool, np.bool_)):
            return np.bool_(not a)
        return self.xp.logical_not(a)

    def mand(self, m: Any, c: Any) -> Any:
        """``m & c`` as a mask: ``False`` when no lane can be active, ``True`` when all are (as far
        as the backend can tell without synchronising)."""
        raise NotImplementedError

    def mandnot(self, m: Any, c: Any) -> Any:
        return self.mand(m, self.lnot(c))

    # -- integer arithmetic -------------------------------------------------------------------------
    def add(self, a: Any, b: Any, t: str) -> Any:
        return a | b if t == "bool_" else a + b

    def fadd(self, a: Any, b: Any) -> Any:
        """Float ``a + b`` (a backend may guard against its compiler's zero folding)."""
        return a + b

    def fsub(self, a: Any, b: Any) -> Any:
        """Float ``a - b``."""
        return a - b

    def fdiv(self, a: Any, b: Any) -> Any:
        """``a / b`` (true division, correctly rounded)."""
        return a / b

    def iadd(self, a: Any, b: Any) -> Any:
        """Integer ``a + b`` (wrapping); a backend may note that the result is a lane id plus a
        uniform offset."""
        return a + b

    def isub(self, a: Any, b: Any) -> Any:
        """Integer ``a - b`` (wrapping); see :meth:`iadd`."""
        return a - b

    def sub(self, a: Any, b: Any, t: str) -> Any:
        return a ^ b if t == "bool_" else a - b

    def mul(self, a: Any, b: Any, t: str) -> Any:
        return a & b if t == "bool_" else a * b

    def store_op(self, op: str, a: Any, idx: tuple[Any, ...], x: Any, y: Any, m: Any, site: int,
                 pre: int) -> Any:
        """``a[idx] = x <op> y`` (op: add, subtract, multiply, true_divide); a backend may compute
        the operation straight into the destination."""
        v = (self.fmul(x, y) if op == "multiply" else self.fadd(x, y) if op == "add"
             else self.fsub(x, y) if op == "subtract" else self.fdiv(x, y) if op == "true_divide"
             else getattr(self.xp, op)(x, y))
        return self.store(a, idx, v, m, site, pre)

    def store(self, a: Any, idx: tuple[Any, ...], v: Any, m: Any, site: int, pre: int) -> Any:
        raise NotImplementedError

    def fmul(self, a: Any, b: Any) -> Any:
        """A float product that a backend must not contract with a following add."""
        return a * b

    def floordiv(self, a: Any, b: Any, t: str) -> Any:
        if t in ("float32", "float64"):
            return self.xp.floor_divide(a, b)
        return vn.floordiv_int(self.xp, a, b, t)

    def mod(self, a: Any, b: Any, t: str) -> Any:
        if t in ("float32", "float64"):
            return self.xp.remainder(a, b)
        return vn.mod_int(self.xp, a, b, t)

    def ipow(self, a: Any, b: Any, t: str) -> Any:
        if t in ("float32", "float64"):
            return self.xp.power(a, b)
        return vn.pow_int(self.xp, a, b, t)

    def shl(self, a: Any, b: Any, t: str) -> Any:
        return vn.shl(self.xp, a, b, t)

    def shr(self, a: Any, b: Any, t: str) -> Any:
        return vn.shr(self.xp, a, b, t)

    def cast(self, x: Any, src: str, dst: str) -> Any:
        if src == dst:
            return x
        return vn.cast(self.xp, x, src, dst)

    # -- math: every call of the op table with a NumPy ufunc is that function of ``xp`` (made below,
    # after the class); these are the ones that differ ----------------------------------------------
    def rsqrt(self, a: Any) -> Any:
        return 1 / self.xp.sqrt(a)

    def copysign(self, a: Any, b: Any) -> Any:
        xp = self.xp   # a NaN's sign is not portable: copysign(x, NaN) == |x|
        return xp.where(xp.isnan(b), xp.abs(a), xp.copysign(a, b))

    def abs(self, a: Any, t: str) -> Any:
        return self.xp.abs(a)

    def min(self, a: Any, b: Any, t: str) -> Any:
        if t not in ("float32", "float64"):
            return self.xp.minimum(a, b)
        other = _other_than_identity(a, b, np.inf)
        return vn.fmin(self.xp, a, b) if other is None else other

    def max(self, a: Any, b: Any, t: str) -> Any:
        if t not in ("float32", "float64"):
            return self.xp.maximum(a, b)
        other = _other_than_identity(a, b, -np.inf)
        return vn.fmax(self.xp, a, b) if other is None else other

    def bits64(self, x: Any) -> Any:
        """float64 lanes viewed as int64."""
        raise NotImplementedError

    def from_bits64(self, x: Any) -> Any:
        """int64 lanes viewed as float64."""
        raise NotImplementedError

    def fma(self, a: Any, b: Any, c: Any, t: str) -> Any:
        if t == "float32":
            return vn.fma32(self.xp, a, b, c, self.bits64)
        r, unsafe = vn.fma64(self.xp, a, b, c, self.bits64, self.fmul)
        scaled = vn.fma64_scaled(self.xp, a, b, c, self.bits64, self.from_bits64, self.fmul)
        return self.xp.where(unsafe, scaled, r)

    # -- the scatter/gather combiners of atomics ----------------------------------------------------
    def combine(self, op: str, old: Any, v: Any, t: str) -> Any:
        """The new value of an atomic ``op`` applied to ``old`` with ``v``."""
        if op == "atomic_add":
            return old + v
        if op == "atomic_sub":
            return old - v
        if op == "atomic_min":
            return self.min(old, v, t)
        if op == "atomic_max":
            return self.max(old, v, t)
        if op == "atomic_and":
            return old & v
        if op == "atomic_or":
            return old | v
        if op == "atomic_xor":
            return old ^ v
        if op == "atomic_xchg":
            return self.xp.broadcast_to(v, self.xp.shape(old)) if self.xp.ndim(old) else v
        raise ValueError(f"no combiner for {op}")   # atomic_cas: ``cas_result``

    def float_bits(self, x: Any) -> Any:
        """The unsigned bit pattern of a float array (same shape)."""
        return np.asarray(x).view(np.uint32 if x.dtype.itemsize == 4 else np.uint64)

    def cas_result(self, old: Any, cmp: Any, v: Any) -> Any:
        """The new value of a compare-and-swap: ``v`` where ``old`` has ``cmp``'s bit pattern."""
        xp = self.xp
        old, cmp, v = xp.asarray(old), xp.asarray(cmp, dtype=old.dtype), xp.asarray(v, dtype=old.dtype)
        if old.dtype.kind == "f":
            same = self.float_bits(old) == self.float_bits(cmp)
        else:
            same = old == cmp
        return xp.where(same, v, old)


def _other_than_identity(a: Any, b: Any, ident: float) -> Any:
    """For min/max with a constant identity operand (+inf for min, -inf for max): the other
    operand, which is exactly the result (NaNs included); else None."""
    for x, y in ((a, b), (b, a)):
        if isinstance(x, np.floating) and x == ident and not isinstance(y, np.floating):
            return y
    return None


def _dt(tname: str) -> np.dtype:
    return np.dtype("bool" if tname == "bool_" else tname)


def _lane_math(ufunc: str) -> Any:
    def method(self: LaneOps, *args: Any) -> Any:
        return getattr(self.xp, ufunc)(*args)
    method.__name__ = ufunc
    return method


for _spec in optable.CALLS:     # the default lane operation of each math call: the namespace's ufunc
    if _spec.ufunc is not None and LANE_METHODS[_spec.op] not in LaneOps.__dict__:
        setattr(LaneOps, LANE_METHODS[_spec.op], _lane_math(_spec.ufunc))
