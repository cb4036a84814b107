"""A small builder for indented Python source.

Code generators emit structured Python through this builder instead of concatenating strings::

    src = PySource()
    src.line("import numpy as np")
    with src.block("def f(x, n)"):
        with src.block("for i in range(n)"):
            src.line("x[i] += 1")
    text = src.render()

``block`` appends the colon, indents its body and emits ``pass`` when the body stayed empty, so a
generator never produces a syntax error for an empty ``if`` or loop. ``fresh`` hands out unique
names (``t0``, ``t1``...) that cannot clash with each other. Nothing here imports a framework.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PySource"]


class PySource:
    """An append-only list of Python source lines with a current indentation level."""

    def __init__(self, indent: str = "    ") -> None:
        self._indent = indent
        self._lines: list[str] = []
        self._level = 0
        self._counters: dict[str, int] = {}

    @property
    def level(self) -> int:
        """The current indentation depth (0 at module level)."""
        return self._level

    def line(self, text: str = "") -> None:
        """Append one line at the current indentation (an empty ``text`` gives a blank line)."""
        self._lines.append(self._indent * self._level + text if text else "")

    def lines(self, text: str) -> None:
        """Append every line of a multi-line ``text`` at the current indentation, keeping its own
        relative indentation (handy for pasting a prelude or a docstring)."""
        for piece in text.splitlines():
            self.line(piece)

    def comment(self, text: str) -> None:
        """Append ``# text`` (one comment line per line of ``text``)."""
        for piece in text.splitlines() or [""]:
            self.line(f"# {piece}".rstrip())

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        """``header:`` followed by an indented body; an empty body becomes ``pass``."""
        self.line(header.rstrip(":") + ":")
        start = len(self._lines)
        self._level += 1
        try:
            yield
        finally:
            if not any(ln.strip() and not ln.strip().startswith("#") for ln in self._lines[start:]):
                self.line("pass")
            self._level -= 1

    @contextmanager
    def indented(self) -> Iterator[None]:
        """Indent what is emitted inside, without a header (for continuation lines)."""
        self._level += 1
        try:
            yield
        finally:
            self._level -= 1

    def fresh(self, prefix: str = "t") -> str:
        """A new name ``<prefix><n>``, unique per prefix within this builder."""
        n = self._counters.get(prefix, 0)
        self._counters[prefix] = n + 1
        return f"{prefix}{n}"

    def extend(self, other: PySource) -> None:
        """Append the lines of ``other``, re-indented to the current level."""
        for ln in other._lines:
            self._lines.append(self._indent * self._level + ln if ln else "")

    def render(self) -> str:
        """The source text, ending with a newline."""
        return "\n".join(self._lines) + "\n"

    def __str__(self) -> str:
        return self.render()
