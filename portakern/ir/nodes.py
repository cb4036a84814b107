"""The typed IR: frozen, slotted dataclasses over the ops of ``optable.py``. This file is the IR's definition.

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

from dataclasses import dataclass, field

from ..types import ArrayType, ScalarType, Type
from .optable import *  # noqa: F401,F403 - the ops are defined by the op table; ``ir.Op``, ``ir.MATH``...
from .optable import Op

#: the operations a launch-time local array size (``DeclArray.size``) may use, besides int casts
LAUNCH_SIZE_OPS = frozenset({Op.ADD, Op.SUB, Op.MUL, Op.FLOORDIV, Op.MOD, Op.MIN, Op.MAX})


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


@dataclass(frozen=True, slots=True)
class Subgroup:
    """``target = op(value, arg)`` across the work-item's sub-group: the ``SUBGROUP_SIZE`` work-items
    of its work-group whose local linear ids ``llid`` (int64, built by the front end from the index
    queries) share ``llid // SUBGROUP_SIZE``. ``arg`` (int64) is set exactly for ``SUBGROUP_SHUFFLES``.
    Shuffles and reductions: ``value.type == target.type`` (reductions: not bool_); any/all: bool_.
    Reached by every work-item of the work-group, as ``Barrier`` (docs/language.md)."""

    op: Op
    target: Var
    value: Expr
    llid: Expr
    arg: Expr | None = None
    loc: Loc = NOLOC


Stmt = Assign | Store | Evaluate | DeclArray | If | For | While | Break | Continue | Return | Barrier | Subgroup


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
    (``checks_bounds`` is the one flag a renderer reads); ``loc`` is the ``def`` line. ``uses_subgroup``: the body holds a ``Subgroup``
    (the launch then needs a work-group of a multiple of ``SUBGROUP_SIZE`` work-items). ``grid_ndim`` (1 to 3) is the
    launch's number of dimensions: ``pk.`` index queries of a dimension at or above it are a
    CompileError, the compat layer's CUDA intrinsics of one were folded to ``Const`` (0 for ids, 1 for
    sizes), so every ``IndexQuery.dim < grid_ndim``. ``shape_ge`` lists shape relations that hold at
    every launch of this specialisation, ``(B, e, A, d)`` for ``B.shape[e] >= A.shape[d]`` (the runtime
    checks them per launch; codegen/bounds_facts.py uses them to prove accesses in bounds).
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
    uses_subgroup: bool = False
    shape_ge: tuple[tuple[str, int, str, int], ...] = ()

    @property
    def checks_bounds(self) -> bool:
        """True when every Load/Store/Atomic is checked (``boundscheck`` or ``debug``)."""
        return self.boundscheck or self.debug
