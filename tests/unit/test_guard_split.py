"""codegen/guard_split.py: which guards of a flat kernel bound its innermost work-item loop."""
from __future__ import annotations

import portakern as pk  # noqa: F401 - the kernels' sources name it
from portakern import types as T
from portakern.codegen.guard_split import split_guards
from portakern.ir import nodes as N
from portakern.ir.printer import format_expr
from portakern.ir.visit import walk_body
from tests.unit.frontend_kit import arr, lower, make

JACOBI = """
    def jacobi(u, out):
        i = pk.global_id(0)
        j = pk.global_id(1)
        n = u.shape[0]
        m = u.shape[1]
        if i < n and j < m:
            if i > 0 and i < n - 1 and j > 0 and j < m - 1:
                out[i, j] = 0.25 * (u[i - 1, j] + u[i + 1, j] + u[i, j - 1] + u[i, j + 1])
            else:
                out[i, j] = u[i, j]
    """


def _bounds(src: str, dim: int = 1, **types) -> list[tuple[str, str]] | None:  # type: ignore[no-untyped-def]
    split = split_guards(lower(make(src), 2, **types), dim)
    return None if split is None else [(op, format_expr(e)) for op, e in split.bounds]


def test_a_stencil_bounds_its_row_by_the_guards_on_the_last_id_only():
    k = lower(make(JACOBI), 2, u=arr(ndim=2), out=arr(ndim=2))
    split = split_guards(k, 1)
    assert split is not None
    assert [op for op, _ in split.bounds] == ["lt", "gt", "lt"]      # j < m, j > 0, j < m - 1
    # the middle copy keeps the tests on i, and every load and store is the same node
    conds = [format_expr(s.cond) for s in walk_body(split.body) if isinstance(s, N.If)]
    assert all("global_id(1)" not in c and "j" not in c.replace("jacobi", "") for c in conds)
    assert any("i" in c for c in conds)
    def accesses(body):  # type: ignore[no-untyped-def]
        return [id(n) for n in walk_body(body) if isinstance(n, (N.Load, N.Store))]
    assert accesses(split.body) == accesses(k.body)


def test_the_other_dimension_gives_its_own_bounds():
    k = lower(make(JACOBI), 2, u=arr(ndim=2), out=arr(ndim=2))
    split = split_guards(k, 0)
    assert split is not None and [op for op, _ in split.bounds] == ["lt", "gt", "lt"]


def test_values_that_change_along_the_row_are_not_bounds():
    src = """
    def f(x, out, lim):
        j = pk.global_id(1)
        m = x.shape[1]
        m = m - 1                       # assigned twice: not one value
        w = pk.int64(x[0, 0])           # a load
        lim = lim + 1                   # a reassigned parameter
        if j < m and j < w and j < lim and j < pk.local_id(1) and j < j + 1:
            out[0, j] = 1.0
    """
    assert _bounds(src, x=arr(ndim=2), out=arr(ndim=2), lim=T.int64) is None


def test_both_orders_and_scalar_parameters_are_read():
    src = """
    def f(x, out, lo, hi):
        j = pk.global_id(1)
        if lo <= j and hi > j and j >= pk.global_id(0):
            out[0, j] = 1.0
    """
    assert _bounds(src, x=arr(ndim=2), out=arr(ndim=2), lo=T.int64, hi=T.int64) == [
        ("ge", "lo"), ("lt", "hi"), ("ge", "global_id(0)")]


def test_a_kernel_without_such_guards_is_not_split():
    src = """
    def f(x, out):
        i = pk.global_id(0)
        j = pk.global_id(1)
        if i < x.shape[0]:
            out[i, j] = x[i, j]
    """
    assert _bounds(src, x=arr(ndim=2), out=arr(ndim=2)) is None


def test_an_elementwise_guard_alone_is_not_worth_a_second_copy():
    src = """
    def f(x, out):
        i = pk.global_id(0)
        j = pk.global_id(1)
        if i < x.shape[0] and j < x.shape[1]:
            out[i, j] = x[i, j]
    """
    assert _bounds(src, x=arr(ndim=2), out=arr(ndim=2)) is None
    with_else = src.replace("out[i, j] = x[i, j]", "out[i, j] = x[i, j]\n        else:\n            out[0, 0] = 1.0")
    assert _bounds(with_else, x=arr(ndim=2), out=arr(ndim=2)) == [("lt", "x.shape[1]")]
