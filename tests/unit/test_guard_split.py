"""codegen/guard_split.py: which guards of a flat kernel bound its innermost work-item loop."""
from __future__ import annotations

import pytest

import portakern as pk  # noqa: F401 - the kernels' sources name it
from portakern import types as T
from portakern.codegen.guard_split import clip_guards, split_guards
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


ELEMENTWISE_2D = """
    def f(x, out):
        i = pk.global_id(0)
        j = pk.global_id(1)
        if i < x.shape[0] and j < x.shape[1]:
            out[i, j] = x[i, j]
    """


def test_an_elementwise_guard_alone_is_not_worth_a_second_copy():
    src = ELEMENTWISE_2D
    assert _bounds(src, x=arr(ndim=2), out=arr(ndim=2)) is None
    with_else = src.replace("out[i, j] = x[i, j]", "out[i, j] = x[i, j]\n        else:\n            out[0, 0] = 1.0")
    assert _bounds(with_else, x=arr(ndim=2), out=arr(ndim=2)) == [("lt", "x.shape[1]")]


# -- clip_guards: an elementwise guard bounds the loop instead --------------------------------------

def _clip(src: str, dim: int = 0, nd: int = 1, **types):  # type: ignore[no-untyped-def]
    k = lower(make(src), nd, **types)
    clip = clip_guards(k, dim)
    return k, clip, (None if clip is None else [(op, format_expr(e)) for op, e in clip.bounds])


def test_an_elementwise_guard_clips_the_loop_and_keeps_every_access_node():
    src = """
    def f(a, x, out):
        i = pk.global_id(0)
        if i < out.shape[0]:
            out[i] = a * x[i]
    """
    k, clip, bounds = _clip(src, a=T.float32, x=arr(), out=arr())
    assert bounds == [("lt", "out.shape[0]")]
    assert [format_expr(s.cond) for s in clip.body if isinstance(s, N.If)] == ["True"]
    def accesses(body):  # type: ignore[no-untyped-def]
        return [id(n) for n in walk_body(body) if isinstance(n, (N.Load, N.Store))]
    assert accesses(clip.body) == accesses(k.body)


def test_an_early_return_clips_the_loop_and_the_rest_runs_below_the_bound():
    src = """
    def f(x, out, n, lim):
        i = pk.global_id(0)
        if i >= n or x.shape[0] <= i or lim < 0:
            return
        out[i] = x[i]
        out[i] += 1.0
    """
    k, clip, bounds = _clip(src, x=arr(), out=arr(), n=T.int64, lim=T.int64)
    assert bounds == [("lt", "n"), ("lt", "x.shape[0]")]
    rest = [s for s in clip.body if not isinstance(s, N.Assign)]
    assert format_expr(rest[0].cond) == "(lim < 0)" and isinstance(rest[0].then[0], N.Return)
    assert len(rest) == 3                              # the remaining test, then both stores
    src2 = src.replace("if i >= n or x.shape[0] <= i or lim < 0:", "if i > n:")
    assert _clip(src2, x=arr(), out=arr(), n=T.int64, lim=T.int64)[2] == [("le", "n")]


@pytest.mark.parametrize("body", [
    # a guard that reads memory: past the bound it would have raised (or read) first
    "if x[i] > 0.0 and i < n:\n            out[i] = 1.0",
    # a load before the guard runs for every work-item
    "v = x[0]\n        if i < n:\n            out[i] = v",
    # an effect after the guard runs past the bound too
    "if i < n:\n            out[i] = 1.0\n        out[0] = 2.0",
    # an else branch runs past the bound
    "if i < n:\n            out[i] = 1.0\n        else:\n            out[0] = 2.0",
    # two guards: work-items between the bounds do half the work
    "if i < n:\n            out[i] = 1.0\n        if i < m:\n            out[i] = 2.0",
    # a lower bound: not an elementwise guard (split_guards' case in 2-D)
    "if i >= m and i < n:\n            out[i] = 1.0",
    # a bound that moves along the loop
    "if i < i * 2 + n:\n            out[i] = 1.0",
    # an early return with a test that is not a bound on i alone
    "if i >= n and m > 0:\n            return\n        out[i] = 1.0",
    # no guard at all
    "out[i] = 1.0",
])
def test_kernels_that_do_something_past_the_bound_are_not_clipped(body):
    src = f"""
    def f(x, out, n, m):
        i = pk.global_id(0)
        {body}
    """
    assert _clip(src, x=arr(), out=arr(), n=T.int64, m=T.int64)[1] is None


def test_a_nested_guard_is_not_a_bound_of_the_loop():
    src = """
    def f(out, n, m):
        i = pk.global_id(0)
        if i < n:
            out[i] = 1.0
            if i < m:
                out[i] = 2.0
    """
    k, clip, bounds = _clip(src, out=arr(), n=T.int64, m=T.int64)
    assert bounds == [("lt", "n")]
    assert [format_expr(s.cond) for s in walk_body(clip.body) if isinstance(s, N.If)] == ["True", "(i < m)"]


def test_a_2d_kernel_clips_its_last_dimension_and_keeps_the_test_on_the_first():
    k, clip, bounds = _clip(ELEMENTWISE_2D, dim=1, nd=2, x=arr(ndim=2), out=arr(ndim=2))
    assert bounds == [("lt", "x.shape[1]")]
    assert [format_expr(s.cond) for s in clip.body if isinstance(s, N.If)] == ["(i < x.shape[0])"]
