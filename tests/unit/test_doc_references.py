"""Every file of the repository cites only documents that are in it.

The contracts live in docs/ (docs/semantics.md for the numbers, docs/language.md for the language); code,
CLI help, tests and docs cite those pages. Two specification files that were never part of the repository
were once cited in ~60 places, so a reader followed references to nowhere: this test fails on any citation
of them and on any ``docs/...`` path or relative Markdown link that does not resolve.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".sh", ".json", ".yml", ".yaml"}
# Built from pieces so that this file does not cite them itself.
ABSENT_SPECS = ("NUMERICS" + ".md", "LANGUAGE" + ".md")
DOCS_PATH = re.compile(r"(?<![\w./-])docs/[\w./-]*\w")
MD_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)        # code is not prose: `k[n](x)` is no link


def _repository_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout
        names = out.splitlines()
    except (OSError, subprocess.CalledProcessError):      # an unpacked sdist: walk the tree
        names = [os.path.relpath(os.path.join(d, f), ROOT) for d, _, fs in os.walk(ROOT)
                 if ".git" not in d and "__pycache__" not in d for f in fs]
    return [ROOT / n for n in names if Path(n).suffix in TEXT_SUFFIXES and (ROOT / n).is_file()]


def _cited_docs_paths(text: str) -> list[str]:
    return [m.group(0).rstrip(".") for m in DOCS_PATH.finditer(text)]


def test_the_files_are_found():
    files = {p.relative_to(ROOT).as_posix() for p in _repository_files()}
    assert {"docs/semantics.md", "docs/language.md", "portakern/__init__.py"} <= files


def test_no_file_cites_a_specification_outside_the_repository():
    offenders = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
                 for p in _repository_files()
                 for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
                 if any(spec in line for spec in ABSENT_SPECS)]
    assert not offenders, "cite docs/semantics.md or docs/language.md instead:\n" + "\n".join(offenders)


def test_every_cited_docs_path_exists():
    missing = [f"{p.relative_to(ROOT)}: {cited}"
               for p in _repository_files()
               for cited in _cited_docs_paths(p.read_text(errors="replace"))
               if not (ROOT / cited).exists()]
    assert not missing, "cited docs/ paths that are not in the repository:\n" + "\n".join(missing)


def test_every_relative_markdown_link_resolves():
    missing = []
    for p in _repository_files():
        if p.suffix != ".md":
            continue
        for target in MD_LINK.findall(CODE.sub("", p.read_text(errors="replace"))):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (p.parent / target).exists():
                missing.append(f"{p.relative_to(ROOT)}: {target}")
    assert not missing, "Markdown links to files that are not in the repository:\n" + "\n".join(missing)


@pytest.mark.parametrize("text, expected", [
    ("see docs/semantics.md.", ["docs/semantics.md"]),
    ("(docs/backends/jax.md, section 2)", ["docs/backends/jax.md"]),
    ("the-docs/x is not a docs path; mydocs/y neither", []),
])
def test_docs_paths_are_read_from_text(text, expected):
    assert _cited_docs_paths(text) == expected
