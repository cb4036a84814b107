"""The indented Python-source builder."""
from portakern.codegen.pysource import PySource


def test_block_indents_body_and_adds_colon():
    src = PySource()
    with src.block("def f(x)"):
        with src.block("if x > 0"):
            src.line("return 1")
        src.line("return 0")
    text = src.render()
    assert text == "def f(x):\n    if x > 0:\n        return 1\n    return 0\n"
    ns: dict = {}
    exec(text, ns)
    assert ns["f"](3) == 1 and ns["f"](-3) == 0


def test_empty_block_gets_pass_so_source_compiles():
    src = PySource()
    with src.block("def g()"):
        with src.block("for i in range(3)"):
            src.comment("nothing to do")
    compile(src.render(), "<test>", "exec")
    assert "pass" in src.render()


def test_fresh_names_are_unique_per_prefix():
    src = PySource()
    assert [src.fresh(), src.fresh(), src.fresh("v"), src.fresh()] == ["t0", "t1", "v0", "t2"]


def test_extend_reindents_other_builder():
    inner = PySource()
    inner.line("a = 1")
    with inner.block("if a"):
        inner.line("a = 2")
    outer = PySource()
    with outer.block("def h()"):
        outer.extend(inner)
        outer.line("return a")
    ns: dict = {}
    exec(outer.render(), ns)
    assert ns["h"]() == 2
