"""The typed IR: frozen, slotted dataclasses and one op enum. This file is the IR's definition.

A kernel is a structured tree of statements over typed expressions. The front end decides every
type and inserts every conversion, so a backend never promotes:

- ``Binary`` arithmetic/bitwise ops: ``lhs.type == rhs.type == type``.
- ``Binary`` comparisons: ``lhs.type == rhs.type``, ``type`` is ``bool_``.
- ``LAND``/``LOR`` take and give ``bool_`` and SHORT-CIRCUIT: ``rhs`` is evaluated only for the
  work-items where it decides the result (``i < n and x[i] > 0`` is safe).
- ``Select`` evaluates only the chosen arm per work-item (Python's ``a if c else b``).
- ``Store`` values and ``Atomic`` values already have the array's element type.
- ``DIV`` is true division on floats only; integer ``/`` arrives as casts to float64 first.

The meaning of every op is docs/semantics.md (total: no undefined behaviour). The reference interpreter
(the ``numpy`` backend) is the executable definition; ``verify`` checks the typing rules above.

Dimensions follow NumPy order: for ``ndrange=(A, B)``, ``global_id(1)`` varies fastest.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from ..types import ArrayType, ScalarType, Type


class Op(enum.Enum):
    """Every operation of the IR, grouped by the node that carries it."""

    # Binary arithmetic (operands and result share one type)
    ADD = "+"
    SUB = "-"
    MUL = "*"
    DIV = "/"            # floats only; IEEE division
    FLOORDIV = "//"      # ints: floor, x//0 == 0, INT_MIN//-1 == INT_MIN; floats: Python/NumPy floor_divide
    MOD = "%"            # ints: sign of divisor, x%0 == 0; floats: np.remainder (Python semantics)
    POW = "**"           # ints: wrapping repeated multiply, negative exponent -> 0 unless |base| == 1
    # Binary bitwise (ints and bools; shifts total as docs/semantics.md says)
    AND = "&"
    OR = "|"
    XOR = "^"
    SHL = "<<"
    SHR = ">>"
    # Comparisons (result bool_; NaN compares unequal, -0.0 == +0.0)
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
    NEG = "neg"          # ints wrap: -INT_MIN == INT_MIN
    INVERT = "~"         # ints: bitwise not; bool: logical not
    NOT = "not"          # bool_ -> bool_
    # Math calls (``Call``): float math takes and gives float32/float64 (ints were cast by the front end)
    SQRT = "sqrt"
    RSQRT = "rsqrt"
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
    POWF = "pow"         # float pow (tier 1); Binary POW on floats is lowered to this by the front end
    FLOOR = "floor"
    CEIL = "ceil"
    TRUNC = "trunc"
    RINT = "rint"        # round half to even
    FMA = "fma"          # single rounding
    COPYSIGN = "copysign"
    HYPOT = "hypot"
    # Math calls on any numeric type (same type in and out)
    ABS = "abs"          # ints wrap: abs(INT_MIN) == INT_MIN
    MIN = "min"          # floats: NaN-propagating, -0.0 < +0.0
    MAX = "max"
    # Float classification (result bool_)
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
    ATOMIC_AND = "atomic_and"      # integers only
    ATOMIC_OR = "atomic_or"
    ATOMIC_XOR = "atomic_xor"
    ATOMIC_XCHG = "atomic_xchg"    # stores ``value``
    ATOMIC_CAS = "atomic_cas"      # stores ``value`` where the old bits equal ``compare``'s


ARITHMETIC = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.DIV, Op.FLOORDIV, Op.MOD, Op.POW})
BITWISE = frozenset({Op.AND, Op.OR, Op.XOR, Op.SHL, Op.SHR})
COMPARISONS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE, Op.EQ, Op.NE})
LOGICAL = frozenset({Op.LAND, Op.LOR})
UNARY = frozenset({Op.NEG, Op.INVERT, Op.NOT})
FLOAT_MATH = frozenset({
    Op.SQRT, Op.RSQRT, Op.EXP, Op.EXP2, Op.EXPM1, Op.LOG, Op.LOG2, Op.LOG10, Op.LOG1P, Op.SIN, Op.COS,
    Op.TAN, Op.ASIN, Op.ACOS, Op.ATAN, Op.ATAN2, Op.SINH, Op.COSH, Op.TANH, Op.ERF, Op.ERFC, Op.POWF,
    Op.FLOOR, Op.CEIL, Op.TRUNC, Op.RINT, Op.FMA, Op.COPYSIGN, Op.HYPOT,
})
NUMERIC_MATH = frozenset({Op.ABS, Op.MIN, Op.MAX})
CLASSIFY = frozenset({Op.ISNAN, Op.ISINF, Op.ISFINITE})
MATH = FLOAT_MATH | NUMERIC_MATH | CLASSIFY
INDEX_QUERIES = frozenset({Op.GLOBAL_ID, Op.LOCAL_ID, Op.GROUP_ID, Op.GLOBAL_SIZE, Op.LOCAL_SIZE,
                           Op.NUM_GROUPS})
ATOMICS = frozenset({Op.ATOMIC_ADD, Op.ATOMIC_SUB, Op.ATOMIC_MIN, Op.ATOMIC_MAX, Op.ATOMIC_AND, Op.ATOMIC_OR,
                     Op.ATOMIC_XOR, Op.ATOMIC_XCHG, Op.ATOMIC_CAS})
#: atomics defined on integer arrays only
INT_ATOMICS = frozenset({Op.ATOMIC_AND, Op.ATOMIC_OR, Op.ATOMIC_XOR})
#: the operations a launch-time local array size (``DeclArray.size``) may use, besides int casts
LAUNCH_SIZE_OPS = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.FLOORDIV, Op.MOD, Op.MIN, Op.MAX})
#: Tier 0 (bit-exact) ops of docs/semantics.md among the math calls; every other FLOAT_MATH op is tier 1.
TIER0_MATH = frozenset({Op.SQRT, Op.FMA, Op.ABS, Op.COPYSIGN, Op.FLOOR, Op.CEIL, Op.TRUNC, Op.RINT,
                        Op.MIN, Op.MAX, Op.ISNAN, Op.ISINF, Op.ISFINITE})
ARITY = {op: 1 for op in MATH} | {Op.ATAN2: 2, Op.POWF: 2, Op.COPYSIGN: 2, Op.HYPOT: 2, Op.MIN: 2,
                                 Op.MAX: 2, Op.FMA: 3}


@dataclass(frozen=True, slots=True)
class Loc:
    """A source position: file, 1-based line and 0-based column, and the line's text."""

    file: str
    line: int
    col: int = 0
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


NOLOC = Loc("<unknown>", 0)


# ----------------------------------------------------------------------------------------- expressions
@dataclass(frozen=True, slots=True)
class Const:
    """A literal of a scalar type (``value`` is a Python bool, int or float)."""

    value: bool | int | float
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Var:
    """A scalar local variable or a scalar parameter."""

    name: str
    type: ScalarType


@dataclass(frozen=True, slots=True)
class ArrayRef:
    """An array: a global array parameter, or a local/private array declared by ``DeclArray``."""

    name: str
    type: ArrayType


@dataclass(frozen=True, slots=True)
class Binary:
    op: Op
    lhs: Expr
    rhs: Expr
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Unary:
    op: Op
    operand: Expr
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Call:
    """A math function of ``MATH``; ``args`` count is ``ARITY[op]``."""

    op: Op
    args: tuple[Expr, ...]
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Cast:
    """Conversion by docs/semantics.md: to float rounds to nearest even; float->int saturates, NaN->0;
    int->int wraps; anything->bool is ``!= 0`` (NaN -> True)."""

    value: Expr
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Select:
    """``then if cond else orelse``; only the chosen arm is evaluated per work-item."""

    cond: Expr
    then: Expr
    orelse: Expr
    type: ScalarType


@dataclass(frozen=True, slots=True)
class IndexQuery:
    """``pk.global_id(dim)`` and friends; ``dim < kernel.grid_ndim`` (the front end folds queries of
    higher dimensions to 0 for ids and 1 for sizes, as OpenCL). Type int64."""

    op: Op
    dim: int
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Shape:
    """``array.shape[dim]`` of a global array (int64); local/private shapes fold to ``Const``."""

    array: ArrayRef
    dim: int
    type: ScalarType


@dataclass(frozen=True, slots=True)
class Load:
    """``array[indices]``: one int64 index per dimension, not wrapped. ``loc`` names the source line."""

    array: ArrayRef
    indices: tuple[Expr, ...]
    type: ScalarType
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Atomic:
    """An atomic read-modify-write returning the old value. Integer results are exact; float
    results are order-dependent (the reference applies work-items in increasing linear id).
    ``compare`` is set exactly for ``ATOMIC_CAS`` (the expected value, of the element type; floats
    are compared by bit pattern, so NaN matches the same NaN and -0.0 does not match +0.0)."""

    op: Op
    array: ArrayRef
    indices: tuple[Expr, ...]
    value: Expr
    type: ScalarType
    loc: Loc = NOLOC
    compare: Expr | None = None


Expr = Const | Var | ArrayRef | Binary | Unary | Call | Cast | Select | IndexQuery | Shape | Load | Atomic


# ----------------------------------------------------------------------------------------- statements
@dataclass(frozen=True, slots=True)
class Assign:
    """``target = value``; ``value.type == target.type``."""

    target: Var
    value: Expr
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Store:
    """``array[indices] = value``; ``value.type == array.type.dtype``."""

    array: ArrayRef
    indices: tuple[Expr, ...]
    value: Expr
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Evaluate:
    """An expression evaluated for its effect (an atomic whose old value is unused)."""

    value: Expr
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class DeclArray:
    """Declares a local (per work-group) or private (per work-item) array; contents start undefined
    (the reference fills them with zeros).

    ``size`` is set exactly for a local array sized at launch (``pk.local_array(n, dtype)`` with ``n``
    computed from launch arguments): its element count, an int64 expression over ``Const``, the
    ``Var``s of scalar kernel parameters and the ``Shape``s of array parameters through
    ``LAUNCH_SIZE_OPS`` and int casts only, so the host
    evaluates it before the launch (:mod:`portakern.ir.launch_local`). Such an array is 1-D and its
    type's ``shape`` is None; every other declared array has a compile-time ``shape``."""

    array: ArrayRef
    loc: Loc = NOLOC
    size: Expr | None = None


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] = ()
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class For:
    """``for var in range(start, stop, step)``: bounds evaluated once on entry; ``var`` (int64) takes
    ``start, start+step, ...`` while ``< stop`` (step > 0) or ``> stop`` (step < 0); step 0 runs zero
    times. ``var`` is private to the loop (the front end copies it to the user's variable)."""

    var: Var
    start: Expr
    stop: Expr
    step: Expr
    body: tuple[Stmt, ...]
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class While:
    cond: Expr
    body: tuple[Stmt, ...]
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Break:
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Continue:
    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Return:
    """Ends this work-item (kernels return no value; ``@pk.func`` calls are inlined by the front end)."""

    loc: Loc = NOLOC


@dataclass(frozen=True, slots=True)
class Barrier:
    """Work-group barrier with local and global memory fences; reached by every work-item of the group."""

    loc: Loc = NOLOC


Stmt = Assign | Store | Evaluate | DeclArray | If | For | While | Break | Continue | Return | Barrier


# ----------------------------------------------------------------------------------------- kernel
@dataclass(frozen=True, slots=True)
class Param:
    """A kernel parameter: a global array (``ArrayType``) or a scalar (``ScalarType``). Constexpr
    parameters are not params: their values are folded into the body as ``Const``."""

    name: str
    type: Type


@dataclass(frozen=True, slots=True)
class Kernel:
    """A typed kernel specialised for one argument signature.

    ``locals`` lists every scalar variable of the body (name, type) in first-assignment order;
    backends may declare them all up front. ``uses_barrier`` / ``uses_local`` decide whether a launch
    needs an explicit work-group. ``written`` names the array params the kernel stores or atomics to.
    ``boundscheck`` asks for bounds checks (an out-of-bounds access is skipped and reported);
    ``debug`` implies them and also asks the launcher to restore written arrays on a failure
    (``checks_bounds`` is the one flag a renderer reads); ``loc`` is the ``def`` line. ``grid_ndim`` (1 to 3) is the
    launch's number of dimensions: ``pk.`` index queries of a dimension at or above it are a
    CompileError, the compat layer's CUDA intrinsics of one were folded to ``Const`` (0 for ids, 1 for
    sizes), so every ``IndexQuery.dim < grid_ndim``.
    """

    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    locals: tuple[Var, ...]
    written: tuple[str, ...]
    uses_barrier: bool
    uses_local: bool
    grid_ndim: int = 1
    debug: bool = False
    loc: Loc = NOLOC
    meta: tuple[tuple[str, str], ...] = field(default=())
    boundscheck: bool = False

    @property
    def checks_bounds(self) -> bool:
        """True when every Load/Store/Atomic is checked (``boundscheck`` or ``debug``)."""
        return self.boundscheck or self.debug
