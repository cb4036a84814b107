"""codegen/bounds_facts.py: which accesses their guards prove in bounds (and, as much, which they do not)."""
from __future__ import annotations

from dataclasses import replace

import pytest

import portakern as pk  # noqa: F401 - the kernels' sources name it
from portakern.codegen.bounds_facts import proven_in_bounds, shape_relations
from portakern.ir import nodes as N
from portakern.ir.verify import VerifyError, verify
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


JACOBI = """
    def jacobi(u, out):
        i = pk.global_id(0)
        j = pk.global_id(1)
        if i < u.shape[0] and j < u.shape[1]:
            out[i, j] = u[i, j]
            out[j, i] = u[i, j]
    """


def test_a_store_into_another_array_is_proven_through_the_shape_relations_it_needs():
    k = lower(make(JACOBI), 2, u=arr(ndim=2), out=arr(ndim=2))
    # out[i, j] needs out.shape[0] >= u.shape[0] and out.shape[1] >= u.shape[1]; out[j, i] the crossed pair
    assert shape_relations(k) == (("out", 0, "u", 0), ("out", 0, "u", 1), ("out", 1, "u", 0), ("out", 1, "u", 1))
    stores = [n for n in walk_body(k.body) if isinstance(n, N.Store)]
    for held, proven in [((), []), ((("out", 0, "u", 0),), []),
                         ((("out", 0, "u", 0), ("out", 1, "u", 1)), [0]),
                         (shape_relations(k), [0, 1])]:
        ids = proven_in_bounds(replace(k, shape_ge=held))
        assert [i for i, s in enumerate(stores) if id(s) in ids] == proven, held
        assert sum(isinstance(n, N.Load) and id(n) in ids for n in walk_body(k.body)) == 2   # u's own


def test_no_relation_is_asked_for_what_the_guards_prove_alone_or_cannot_prove():
    src = """
    def k(u, v, out):
        i = pk.global_id(0)
        if i < u.shape[0]:
            out[i - 1] = u[i]                 # i - 1 may be -1: no relation can help
            v[i * 2] = u[i]                   # not of the form v + c
    """
    assert shape_relations(lower(make(src), 1, u=arr(), v=arr(), out=arr())) == ()


def test_the_verifier_refuses_a_relation_naming_no_array_dimension():
    k = lower(make(JACOBI), 2, u=arr(ndim=2), out=arr(ndim=2))
    verify(replace(k, shape_ge=(("out", 1, "u", 1),)))
    for bad in [("out", 2, "u", 0), ("nope", 0, "u", 0), ("out", 0, "u", -1)]:
        with pytest.raises(VerifyError, match="shape relation"):
            verify(replace(k, shape_ge=(bad,)))


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
