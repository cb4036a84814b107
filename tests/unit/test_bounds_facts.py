"""codegen/bounds_facts.py: which accesses their guards prove in bounds (and, as much, which they do not)."""
from __future__ import annotations

import portakern as pk  # noqa: F401 - the kernels' sources name it
from portakern.codegen.bounds_facts import proven_in_bounds
from portakern.ir import nodes as N
from portakern.ir.visit import walk_body
from tests.unit.frontend_kit import arr, lower, make


def _proven(src: str, grid_ndim: int = 1, **types) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(array, source line) of every proven access, in program order."""
    k = lower(make(src), grid_ndim, **types)
    ids = proven_in_bounds(k)
    return [(n.array.name, n.loc.text.strip() if isinstance(n, N.Store) else "load")
            for n in walk_body(k.body) if isinstance(n, (N.Load, N.Store, N.Atomic)) and id(n) in ids]


def _names(src: str, grid_ndim: int = 1, **types) -> list[str]:  # type: ignore[no-untyped-def]
    return [a for a, _ in _proven(src, grid_ndim, **types)]


def test_a_stencil_proves_its_neighbours_but_not_another_arrays_store():
    src = """
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
    assert _names(src, 2, u=arr(ndim=2), out=arr(ndim=2)) == ["u"] * 5     # out's shape is not u's


def test_offsets_beyond_what_the_guard_gives_keep_their_checks():
    src = """
    def k(u, out):
        i = pk.global_id(0)
        if i >= 1 and i < u.shape[0] - 2:
            out[0] = u[i - 1] + u[i + 2]      # proven
            out[1] = u[i - 2] + u[i + 3]      # not: i - 2 may be -1, i + 3 may be n
        if i <= u.shape[0] - 2:
            out[2] = u[i + 1]                 # proven: i <= n - 2 gives i + 1 <= n - 1
            out[3] = u[i + 2]                 # not: i + 2 may be n
    """
    k = lower(make(src), 1, u=arr(), out=arr())
    ids = proven_in_bounds(k)
    offsets = [n.indices[0].rhs.value * (1 if n.indices[0].op is N.Op.ADD else -1)
               for n in walk_body(k.body) if isinstance(n, N.Load) and id(n) in ids]
    assert offsets == [-1, 2, 1]


def test_only_the_then_branch_and_only_and_chains_give_facts():
    src = """
    def k(u, out):
        i = pk.global_id(0)
        if i < u.shape[0]:
            out[0] = u[i]
        else:
            out[1] = u[i]
        if i < u.shape[0] or i < 3:
            out[2] = u[i]
        if not (i >= u.shape[0]):
            out[3] = u[i]
    """
    assert _names(src, u=arr(), out=arr()) == ["u"]


def test_a_variable_assigned_twice_or_after_the_guard_proves_nothing():
    src = """
    def k(u, out):
        i = pk.global_id(0)
        n = u.shape[0]
        if i < n:
            out[0] = u[i]                     # proven: i and n are fixed
        t = i
        t = t + 5
        if t < n:
            out[1] = u[t]                     # not: t is assigned twice
        for s in range(3):
            if s < n:
                out[2] = u[s]                 # not: a loop variable changes
    """
    assert _names(src, u=arr(), out=arr()) == ["u"]


def test_a_loaded_index_needs_both_bounds():
    src = """
    def k(idx, u, out):
        i = pk.global_id(0)
        b = idx[0]
        if b < u.shape[0]:
            out[0] = u[b]                     # not: b may be negative
        if b >= 0 and b < u.shape[0]:
            out[1] = u[b]                     # proven
    """
    from portakern import types as T
    assert _names(src, idx=arr(T.int64), u=arr(), out=arr()) == ["u"]
