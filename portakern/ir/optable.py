"""The operation table: every operation of the kernel language, defined once.

``Op`` names the operations of the IR; ``SPECS`` gives each one an :class:`OpSpec`: its node, name, arity,
typing rule, docs/semantics.md tier and ULP ceiling, the Python objects that name it in a kernel, its
host behaviour and its one-line documentation. Everything that used to repeat this is derived from here:
the front end's builtin tables (``portakern.frontend.builtins``), ``pk.<math>`` (``portakern.lang``), the
renderers' default spellings (C family, scalar Python, lane operations), the conformance suite's tier-1
list, oracle and sample domains, and the math list of docs/language.md (``docs_list``).

A backend renders each op through its own explicit table (``CRenderer.math_names``,
``PyRenderer.math_templates``, the lane-operation methods); an op it lacks is :func:`unsupported`.
``Op.value`` is the IR's printable name only: no renderer spells an op by it.

Adding a math function: one ``Op`` member and one ``_call`` entry below, plus a line in each backend whose
spelling differs from the defaults (see docs/architecture.md, "Adding an operation").
"""
from __future__ import annotations

import builtins
import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import CompileError

__all__ = ["Op", "OpSpec", "SPECS", "CALLS", "TIER1", "BY_NAME", "ARITHMETIC", "BITWISE", "COMPARISONS", "LOGICAL",
           "UNARY", "FLOAT_MATH", "NUMERIC_MATH", "CLASSIFY", "MATH", "INDEX_QUERIES", "ATOMICS", "INT_ATOMICS",
           "TIER0_MATH", "ARITY", "SUBGROUP_SHUFFLES", "SUBGROUP_REDUCTIONS", "SUBGROUP_OPS", "SUBGROUP_SIZE",
           "SUBGROUP_MAX_WORKGROUP", "unsupported", "docs_list"]


class Op(enum.Enum):
    """Every operation of the IR, grouped by the node that carries it (``SPECS[op]`` defines it)."""

    # Binary arithmetic (operands and result share one type)
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"
    FLOORDIV = "//"
    MOD = "%"
    POW = "**"
    # Binary bitwise (ints and bools)
    AND = "&"
    OR = "|"
    XOR = "^"
    SHL = "<<"
    SHR = ">>"
    # Comparisons (result bool_)
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    EQ = "=="
    NE = "!="
    # Short-circuit logic on bool_
    LAND = "and"
    LOR = "or"
    # Unary
    NEG = "neg"
    INVERT = "~"
    NOT = "not"
    # Math calls (``Call``)
    SQRT = "sqrt"
    RSQRT = "rsqrt"
    CBRT = "cbrt"
    EXP = "exp"
    EXP2 = "exp2"
    EXPM1 = "expm1"
    LOG = "log"
    LOG2 = "log2"
    LOG10 = "log10"
    LOG1P = "log1p"
    SIN = "sin"
    COS = "cos"
    TAN = "tan"
    ASIN = "asin"
    ACOS = "acos"
    ATAN = "atan"
    ATAN2 = "atan2"
    SINH = "sinh"
    COSH = "cosh"
    TANH = "tanh"
    ERF = "erf"
    ERFC = "erfc"
    POWF = "pow"
    FLOOR = "floor"
    CEIL = "ceil"
    TRUNC = "trunc"
    RINT = "rint"
    FMA = "fma"
    COPYSIGN = "copysign"
    HYPOT = "hypot"
    ABS = "abs"
    MIN = "min"
    MAX = "max"
    ISNAN = "isnan"
    ISINF = "isinf"
    ISFINITE = "isfinite"
    # Index queries (``IndexQuery``; result int64)
    GLOBAL_ID = "global_id"
    LOCAL_ID = "local_id"
    GROUP_ID = "group_id"
    GLOBAL_SIZE = "global_size"
    LOCAL_SIZE = "local_size"
    NUM_GROUPS = "num_groups"
    # Atomics (``Atomic``; result is the old value, of the array's element type)
    ATOMIC_ADD = "atomic_add"
    ATOMIC_SUB = "atomic_sub"
    ATOMIC_MIN = "atomic_min"
    ATOMIC_MAX = "atomic_max"
    ATOMIC_AND = "atomic_and"
    ATOMIC_OR = "atomic_or"
    ATOMIC_XOR = "atomic_xor"
    ATOMIC_XCHG = "atomic_xchg"
    ATOMIC_CAS = "atomic_cas"
    # Sub-group operations (``Subgroup`` statements)
    SUBGROUP_SHUFFLE = "subgroup_shuffle"
    SUBGROUP_SHUFFLE_UP = "subgroup_shuffle_up"
    SUBGROUP_SHUFFLE_DOWN = "subgroup_shuffle_down"
    SUBGROUP_SHUFFLE_XOR = "subgroup_shuffle_xor"
    SUBGROUP_REDUCE_ADD = "subgroup_reduce_add"
    SUBGROUP_REDUCE_MIN = "subgroup_reduce_min"
    SUBGROUP_REDUCE_MAX = "subgroup_reduce_max"
    SUBGROUP_ANY = "subgroup_any"
    SUBGROUP_ALL = "subgroup_all"


#: Typing rules (``OpSpec.typing``). Calls: ``float`` takes and gives one float type (the front end casts
#: ints to float64), ``numeric`` one numeric type, ``classify`` a float giving bool_. Other nodes: ``same``
#: (operands and result share one type), ``compare`` (result bool_), ``bool`` (bool_ in and out),
#: ``int64`` (index queries), ``element`` (atomics: the array's element type).
TYPINGS = ("float", "numeric", "classify", "same", "compare", "bool", "int64", "element")


@dataclass(frozen=True, slots=True)
class OpSpec:
    """One operation.

    ``node`` is the IR node carrying it (``binary``, ``unary``, ``call``, ``index``, ``atomic``,
    ``subgroup``); ``name`` its
    kernel-language name (``pk.<name>``) or operator symbol; ``tier`` its docs/semantics.md tier (0 bit-exact,
    1 within ``ulp``). ``aliases`` are the ``module.attr`` spellings that name it in a kernel (resolved by
    identity; a missing attribute is skipped). ``ufunc`` is NumPy's function of the same meaning (the host
    behaviour, the lane default and the float64 reference unless ``host``/``ref`` say otherwise); ``c`` the
    C99/OpenCL/CUDA libm name (float64 spelling), ``py`` the scalar-Python template over ``{0}``, ``{1}``,
    ``{T}``; ``mp`` the mpmath function (a name, or a callable of ``(mpmath, *args)``); ``domain`` where the
    function is interesting, per argument: (low, high, log-spaced?).
    """

    op: Op
    node: str
    name: str
    arity: int
    typing: str
    doc: str
    tier: int = 0
    ulp: float | None = None
    aliases: tuple[str, ...] = ()
    ufunc: str | None = None
    host: Callable[..., Any] | None = None
    ref: Callable[..., Any] | None = None
    c: str | None = None
    py: str | None = None
    mp: str | Callable[..., Any] | None = None
    domain: tuple[tuple[float, float, bool], ...] = ()

    def host_function(self) -> Callable[..., Any] | None:
        """What ``pk.<name>(...)`` computes outside a kernel (None for kernel-only operations)."""
        if self.host is not None:
            return self.host
        return getattr(np, self.ufunc) if self.ufunc else None

    def reference(self) -> Callable[..., Any]:
        """The float64 reference of a tier-1 function (the conformance oracle's float32 reference)."""
        fn = self.ref or self.host_function()
        assert fn is not None, self.name
        return fn

    def mpmath(self, mp: Any) -> Callable[..., Any]:
        """The mpmath function of a tier-1 function (the oracle's float64 reference)."""
        if callable(self.mp):
            f = self.mp
            return lambda *xs: f(mp, *xs)
        return getattr(mp, self.mp or self.name)


def _math_each(fn: Callable[[float], float]) -> Callable[..., Any]:
    """A float64 function of ``math`` applied elementwise (NumPy has no erf/erfc ufunc)."""
    vec = np.vectorize(fn, otypes=[float])
    return lambda x: vec(np.asarray(x, dtype=np.float64))


def _host_rsqrt(x: Any) -> Any:
    return 1 / np.sqrt(x)


def _host_fma(a: Any, b: Any, c: Any) -> Any:
    return a * b + c  # host approximation only (two roundings); inside a kernel it is a true fma


def _host_copysign(a: Any, b: Any) -> Any:
    """``np.copysign`` with the kernel rule: a NaN's sign is not portable, so copysign(x, NaN) == |x|."""
    r = np.where(np.isnan(b), np.abs(a), np.copysign(a, b))
    return r[()] if np.ndim(r) == 0 else r


def _host_min_max(py: Callable[..., Any], ufunc: Any) -> Callable[..., Any]:
    """On the host, ``pk.min``/``pk.max`` behave as Python's (so ``from portakern import *`` is
    harmless), except that two arrays combine elementwise as ``np.minimum``/``np.maximum``."""
    def host(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 2 and not kwargs and any(isinstance(a, np.ndarray) for a in args):
            return ufunc(*args)
        return py(*args, **kwargs)
    return host


SPECS: dict[Op, OpSpec] = {}


def _add(spec: OpSpec) -> None:
    assert spec.op not in SPECS and spec.typing in TYPINGS, spec
    SPECS[spec.op] = spec


def _call(op: Op, doc: str, arity: int = 1, typing: str = "float", tier: int = 0, ulp: float | None = None,
          ufunc: str | None = "", math_name: str | None = "", np_aliases: tuple[str, ...] = (),
          aliases: tuple[str, ...] = (), c: str | None = "", py: str | None = "",
          **extra: Any) -> None:
    """A math call. Defaults: NumPy's ufunc, ``math``'s function and the C name are the op's name; the
    scalar-Python template calls ``math.<name>``."""
    name = op.value
    ufunc = name if ufunc == "" else ufunc
    math_name = name if math_name == "" else math_name
    c = name if c == "" else c
    args = ", ".join(f"{{{i}}}" for i in range(arity))
    py = (f"math.{math_name}({args})" if math_name else None) if py == "" else py
    spelled = ((f"math.{math_name}",) if math_name else ()) + ((f"np.{ufunc}",) if ufunc else ())
    spelled += tuple(f"np.{a}" for a in np_aliases) + aliases
    _add(OpSpec(op, "call", name, arity, typing, doc, tier, ulp, spelled, ufunc, c=c, py=py, **extra))


# ---------------------------------------------------------------------------------------- operators
for _op, _doc in ((Op.ADD, "addition (ints wrap)"), (Op.SUB, "subtraction (ints wrap)"),
                  (Op.MUL, "multiplication (ints wrap)"), (Op.DIV, "true division, floats only"),
                  (Op.FLOORDIV, "floor division: x//0 == 0, INT_MIN//-1 == INT_MIN; floats as np.floor_divide"),
                  (Op.MOD, "modulo with the divisor's sign: x%0 == 0; floats as np.remainder"),
                  (Op.POW, "integer power by wrapping repeated multiply (float pow lowers to pow())"),
                  (Op.AND, "bitwise and"), (Op.OR, "bitwise or"), (Op.XOR, "bitwise xor"),
                  (Op.SHL, "shift left (total, docs/semantics.md)"), (Op.SHR, "shift right (total)")):
    _add(OpSpec(_op, "binary", _op.value, 2, "same", _doc))
for _op in (Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE):
    _add(OpSpec(_op, "binary", _op.value, 2, "compare", "comparison: NaN compares unequal, -0.0 == +0.0"))
_add(OpSpec(Op.LAND, "binary", "and", 2, "bool", "short-circuit and"))
_add(OpSpec(Op.LOR, "binary", "or", 2, "bool", "short-circuit or"))
_add(OpSpec(Op.NEG, "unary", "-", 1, "same", "negation (ints wrap: -INT_MIN == INT_MIN)"))
_add(OpSpec(Op.INVERT, "unary", "~", 1, "same", "ints: bitwise not; bool: logical not"))
_add(OpSpec(Op.NOT, "unary", "not", 1, "bool", "logical not"))

# ---------------------------------------------------------------------------------------- math calls
_TIER1_DOMAIN = ((-100.0, 100.0, False),)
_call(Op.SQRT, "square root, correctly rounded")
_call(Op.RSQRT, "1 / sqrt(x)", tier=1, ulp=2, ufunc=None, math_name=None, host=_host_rsqrt,
      py="({T}(1.0) / math.sqrt({0}))", mp=lambda mp, x: 1 / mp.sqrt(x), domain=((1e-30, 1e30, True),))
_call(Op.CBRT, "cube root (negative for negative x)", tier=1, ulp=2, py="cbrt_f64(np.float64({0}))",
      mp=lambda mp, x: mp.sign(x) * mp.cbrt(abs(x)), domain=((-1e3, 1e3, False),))
_call(Op.EXP, "e**x", tier=1, ulp=3, domain=_TIER1_DOMAIN)
_call(Op.EXP2, "2**x", tier=1, ulp=3, py="math.pow({T}(2.0), {0})", mp=lambda mp, x: mp.power(2, x),
      domain=((-150, 130, False),))
_call(Op.EXPM1, "e**x - 1", tier=1, ulp=3, domain=((-20, 90, False),))
_call(Op.LOG, "natural logarithm", tier=1, ulp=3, domain=((1e-30, 1e30, True),))
_call(Op.LOG2, "base-2 logarithm", tier=1, ulp=3, mp=lambda mp, x: mp.log(x, 2), domain=((1e-30, 1e30, True),))
_call(Op.LOG10, "base-10 logarithm", tier=1, ulp=3, domain=((1e-30, 1e30, True),))
_call(Op.LOG1P, "log(1 + x)", tier=1, ulp=2, domain=((-0.999, 1e6, False),))
_call(Op.SIN, "sine", tier=1, ulp=4, domain=_TIER1_DOMAIN)
_call(Op.COS, "cosine", tier=1, ulp=4, domain=_TIER1_DOMAIN)
_call(Op.TAN, "tangent", tier=1, ulp=5, domain=((-10, 10, False),))
_call(Op.ASIN, "arc sine", tier=1, ulp=4, ufunc="arcsin", domain=((-1, 1, False),))
_call(Op.ACOS, "arc cosine", tier=1, ulp=4, ufunc="arccos", domain=((-1, 1, False),))
_call(Op.ATAN, "arc tangent", tier=1, ulp=5, ufunc="arctan", domain=((-1e4, 1e4, False),))
_call(Op.ATAN2, "atan2(y, x): the angle of (x, y)", arity=2, tier=1, ulp=6, ufunc="arctan2",
      domain=((-100, 100, False), (-100, 100, False)))
_call(Op.SINH, "hyperbolic sine", tier=1, ulp=4, domain=((-90, 90, False),))
_call(Op.COSH, "hyperbolic cosine", tier=1, ulp=4, domain=((-90, 90, False),))
_call(Op.TANH, "hyperbolic tangent", tier=1, ulp=5, domain=((-10, 10, False),))
_call(Op.ERF, "error function", tier=1, ulp=16, ufunc=None, host=_math_each(math.erf), domain=((-6, 6, False),))
_call(Op.ERFC, "complementary error function", tier=1, ulp=16, ufunc=None, host=_math_each(math.erfc),
      domain=((-6, 12, False),))
_call(Op.POWF, "x**y on floats (a float ** lowers to it)", arity=2, tier=1, ulp=16, ufunc="power",
      host=builtins.pow, ref=np.power, aliases=("builtins.pow",), mp="power",
      domain=((1e-3, 100, True), (-30, 30, False)))
_call(Op.FLOOR, "round down (a float, as np.floor)", py="floor_f64(np.float64({0}))")
_call(Op.CEIL, "round up (a float)", py="ceil_f64(np.float64({0}))")
_call(Op.TRUNC, "round toward zero (a float)", py="trunc_f64(np.float64({0}))")
_call(Op.RINT, "round half to even (a float)", math_name=None, py="round_even_f64(np.float64({0}))")
_call(Op.FMA, "a*b + c with one rounding", arity=3, ufunc=None, host=_host_fma, py="fma({0}, {1}, {2})")
_call(Op.COPYSIGN, "|x| with the sign of y; |x| where y is a NaN (a NaN's sign is not portable)", arity=2,
      host=_host_copysign, py="fcopysign({0}, {1})")
_call(Op.HYPOT, "sqrt(x*x + y*y) without undue overflow", arity=2, tier=1, ulp=4,
      domain=((-1e6, 1e6, False), (-1e6, 1e6, False)))
_call(Op.ABS, "absolute value (ints wrap: abs(INT_MIN) == INT_MIN)", typing="numeric", math_name="fabs",
      np_aliases=("absolute", "fabs"), aliases=("builtins.abs",), host=builtins.abs, c="fabs", py=None)
_call(Op.MIN, "minimum of 2 or more (floats: NaN-propagating, -0.0 < +0.0)", arity=2, typing="numeric",
      ufunc="minimum", math_name=None, aliases=("builtins.min",), host=_host_min_max(builtins.min, np.minimum),
      c=None, py=None)
_call(Op.MAX, "maximum of 2 or more (floats: NaN-propagating, +0.0 > -0.0)", arity=2, typing="numeric",
      ufunc="maximum", math_name=None, aliases=("builtins.max",), host=_host_min_max(builtins.max, np.maximum),
      c=None, py=None)
for _op in (Op.ISNAN, Op.ISINF, Op.ISFINITE):
    _call(_op, f"{_op.value}(x): a bool (False/False/True for integers)", typing="classify")

# ---------------------------------------------------------------------------------------- index queries
for _op, _doc in ((Op.GLOBAL_ID, "this work-item's index in dimension d"),
                  (Op.LOCAL_ID, "index within the work-group in dimension d"),
                  (Op.GROUP_ID, "the work-group's index in dimension d"),
                  (Op.GLOBAL_SIZE, "the ndrange in dimension d"),
                  (Op.LOCAL_SIZE, "the work-group size in dimension d"),
                  (Op.NUM_GROUPS, "the number of work-groups in dimension d")):
    _add(OpSpec(_op, "index", _op.value, 1, "int64", f"{_op.value}(d): {_doc} (int64)."))

# ---------------------------------------------------------------------------------------- atomics
for _op, _doc in (
        (Op.ATOMIC_ADD, "arr[index] += value"), (Op.ATOMIC_SUB, "arr[index] -= value"),
        (Op.ATOMIC_MIN, "arr[index] = min(...)"), (Op.ATOMIC_MAX, "arr[index] = max(...)"),
        (Op.ATOMIC_AND, "arr[index] &= value (integers)"), (Op.ATOMIC_OR, "arr[index] |= value (integers)"),
        (Op.ATOMIC_XOR, "arr[index] ^= value (integers)"), (Op.ATOMIC_XCHG, "arr[index] = value")):
    _add(OpSpec(_op, "atomic", _op.value, 3, "element", f"{_op.value}(arr, index, value): {_doc}; "
                "returns the old value."))
_add(OpSpec(Op.ATOMIC_CAS, "atomic", "atomic_cas", 4, "element",
            "atomic_cas(arr, index, expected, value): arr[index] = value if it holds expected "
            "(floats compared by bit pattern); returns the old value."))

# ---------------------------------------------------------------------------------------- sub-groups
# docs/language.md "Sub-groups" (the lane rules are CUDA's) and docs/semantics.md (the reduction order)
for _op, _args, _doc in (
        (Op.SUBGROUP_SHUFFLE, "v, lane", "v of lane (lane & 31) of this sub-group (CUDA __shfl_sync)"),
        (Op.SUBGROUP_SHUFFLE_UP, "v, d", "v of lane - (d & 31), or this lane's own v below lane 0"),
        (Op.SUBGROUP_SHUFFLE_DOWN, "v, d", "v of lane + (d & 31), or this lane's own v past lane 31"),
        (Op.SUBGROUP_SHUFFLE_XOR, "v, m", "v of lane ^ (m & 31) (CUDA __shfl_xor_sync)"),
        (Op.SUBGROUP_REDUCE_ADD, "v", "the sub-group's sum, in the fixed tree order of docs/semantics.md"),
        (Op.SUBGROUP_REDUCE_MIN, "v", "the sub-group's minimum"),
        (Op.SUBGROUP_REDUCE_MAX, "v", "the sub-group's maximum")):
    _add(OpSpec(_op, "subgroup", _op.value, _args.count(",") + 1, "same", f"{_op.value}({_args}): {_doc}."))
_add(OpSpec(Op.SUBGROUP_ANY, "subgroup", "subgroup_any", 1, "bool",
            "subgroup_any(p): True when p holds on some lane of the sub-group."))
_add(OpSpec(Op.SUBGROUP_ALL, "subgroup", "subgroup_all", 1, "bool",
            "subgroup_all(p): True when p holds on every lane of the sub-group."))

assert set(SPECS) == set(Op), set(Op) - set(SPECS)


# ---------------------------------------------------------------------------------------- derived sets
def _ops(**kw: Any) -> frozenset[Op]:
    return frozenset(s.op for s in SPECS.values() if all(getattr(s, k) == v for k, v in kw.items()))


#: the math calls, in table order
CALLS: tuple[OpSpec, ...] = tuple(s for s in SPECS.values() if s.node == "call")
#: the tier-1 math calls (ULP-bounded), in table order
TIER1: tuple[OpSpec, ...] = tuple(s for s in CALLS if s.tier == 1)
#: kernel-language name -> op for the math calls
BY_NAME: dict[str, Op] = {s.name: s.op for s in CALLS}

ARITHMETIC = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.FLOORDIV, Op.MOD, Op.POW})
BITWISE = frozenset({Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR})
COMPARISONS = _ops(node="binary", typing="compare")
LOGICAL = _ops(node="binary", typing="bool")
UNARY = _ops(node="unary")
FLOAT_MATH = _ops(node="call", typing="float")
NUMERIC_MATH = _ops(node="call", typing="numeric")
CLASSIFY = _ops(node="call", typing="classify")
MATH = frozenset(s.op for s in CALLS)
INDEX_QUERIES = _ops(node="index")
ATOMICS = _ops(node="atomic")
#: atomics defined on integer arrays only
INT_ATOMICS = frozenset({Op.ATOMIC_AND, Op.ATOMIC_OR, Op.ATOMIC_XOR})
#: Tier 0 (bit-exact) ops of docs/semantics.md among the math calls; every other FLOAT_MATH op is tier 1.
TIER0_MATH = frozenset(s.op for s in CALLS if s.tier == 0)
ARITY = {s.op: s.arity for s in CALLS}
SUBGROUP_SHUFFLES = frozenset({Op.SUBGROUP_SHUFFLE, Op.SUBGROUP_SHUFFLE_UP, Op.SUBGROUP_SHUFFLE_DOWN,
                               Op.SUBGROUP_SHUFFLE_XOR})
#: sub-group reductions and the binary op (``Binary`` or ``Call``) that combines two lanes' values
SUBGROUP_REDUCTIONS = {Op.SUBGROUP_REDUCE_ADD: Op.ADD, Op.SUBGROUP_REDUCE_MIN: Op.MIN,
                       Op.SUBGROUP_REDUCE_MAX: Op.MAX, Op.SUBGROUP_ANY: Op.OR, Op.SUBGROUP_ALL: Op.AND}
SUBGROUP_OPS = _ops(node="subgroup")
#: the portable sub-group size: every backend declares it (``Capabilities.subgroup_size``)
SUBGROUP_SIZE = 32
#: the largest work-group of a kernel with sub-group operations (the emulations' scratch size)
SUBGROUP_MAX_WORKGROUP = 1024


def unsupported(op: Op, backend: str, loc: Any = None) -> CompileError:
    """The error for an operation ``backend`` declares it does not support."""
    spec = SPECS[op]
    what = f"pk.{spec.name}()" if spec.node in ("call", "index", "atomic", "subgroup") else f"operator '{spec.name}'"
    return CompileError(f"{what} is not supported by the {backend} backend", loc,
                        hint="run this kernel on another backend (docs/backends/ lists what each lacks)")


def docs_list() -> str:
    """The math functions as docs/language.md lists them (a test keeps the two equal)."""
    return " ".join(s.name for s in CALLS)
