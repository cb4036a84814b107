"""codegen/affine.py: the affine forms of access indices and int64 comparisons, found on the IR."""
from __future__ import annotations

from portakern import types as T
from portakern.codegen.affine import AffineIndex, Form
from portakern.ir import nodes as N
from portakern.ir.printer import format_expr
from tests.unit.frontend_kit import arr, lower, make, nodes


def _forms(k: N.Kernel, array: str, cls: type = N.Load) -> list:
    """Per access of ``array`` (in pre-order), its forms as (lanes, {atom text: coef}, const)."""
    ix = AffineIndex(k)
    out = []
    for n in nodes(k, cls):
        if n.array.name != array:
            continue
        forms = ix.index(n)
        out.append(None if forms is None else
                   [(f.lanes, {format_expr(e): c for c, e in f.atoms}, f.const) for f in forms])
    return out


def test_ids_offsets_and_scaled_group_ids_compose():
    fn = make("""
        def k(x, out, WG: pk.constexpr):
            lid = pk.local_id(0)
            base = pk.group_id(0) * (WG * 4) + lid
            for t in range(4):
                j = base + t * WG - 1
                out[pk.global_id(0)] = x[j]
    """)
    k = lower(fn, 1, {"WG": 8}, x=arr(), out=arr())
    [[(lanes, atoms, const)]] = _forms(k, "x")
    assert lanes == (("grid", 0, 32), ("lid", 0, 1))
    assert list(atoms.values()) == [8] and const == -1       # 8 * the loop variable, minus one
    [[(lanes, atoms, const)]] = _forms(k, "out", N.Store)
    assert lanes == (("gid", 0, 1),) and not atoms and const == 0


def test_shapes_and_parameters_are_uniform_atoms():
    fn = make("""
        def k(x, out, n: pk.int64):
            i = pk.global_id(0)
            out[i] = x[x.shape[0] - 1 - i + n]
    """)
    k = lower(fn, 1, x=arr(), out=arr(), n=T.int64)
    [[(lanes, atoms, const)]] = _forms(k, "x")
    assert lanes == (("gid", 0, -1),) and const == -1
    assert sorted(atoms.items()) == [("n", 1), ("x.shape[0]", 1)]


def test_no_form_after_a_conditional_or_loop_carried_assignment():
    fn = make("""
        def k(x, out):
            i = pk.global_id(0)
            j = i
            if x[i] > 0.0:
                j = i + 1
            out[i] = x[j]
            m = i
            for t in range(3):
                out[m] = x[i]
                m = m + 1
    """)
    k = lower(fn, 1, x=arr(), out=arr())
    forms = _forms(k, "x")
    assert forms[0] is not None                  # x[i] in the condition
    assert forms[1] is None                      # x[j]: j depends on the branch taken
    stores = _forms(k, "out", N.Store)
    assert stores[0] is not None and stores[1] is None   # out[m] in the loop: m changes per iteration


def test_products_of_two_ids_and_loads_are_not_affine():
    fn = make("""
        def k(x, idx, out):
            i = pk.global_id(0)
            out[i] = x[i * i] + x[idx[i]]
    """)
    k = lower(fn, 1, x=arr(), idx=arr(T.int64), out=arr())
    assert _forms(k, "x") == [None, None]


def test_uniform_non_linear_values_become_atoms():
    fn = make("""
        def k(x, out):
            i = pk.global_id(0)
            for step in range(3):
                s = 8 >> (step + 1)
                out[i] = x[i + s]
    """)
    k = lower(fn, 1, x=arr(), out=arr())
    [[(lanes, atoms, const)]] = _forms(k, "x")
    assert lanes == (("gid", 0, 1),) and const == 0
    [(text, coef)] = atoms.items()
    assert coef == 1 and ">>" in text and "step" not in text      # in terms of the loop variable


def test_comparisons_of_int64_sides_have_forms():
    fn = make("""
        def k(x, out):
            i = pk.global_id(0)
            if i + 2 < x.shape[0]:
                out[i] = x[i + 2]
    """)
    k = lower(fn, 1, x=arr(), out=arr())
    ix = AffineIndex(k)
    [cmp] = [n for n in nodes(k, N.Binary) if n.op is N.Op.LT]
    a, b = ix.compare(cmp)
    diff = a + b.scale(-1)
    assert diff.lanes == (("gid", 0, 1),) and diff.const == 2 and [c for c, _ in diff.atoms] == [-1]


def test_forms_wrap_as_int64():
    f = Form(const=(1 << 62)).scale(4)
    assert f.const == 0
    assert (Form(lanes=(("gid", 0, 3),)) + Form(lanes=(("gid", 0, -3),))).lanes == ()
