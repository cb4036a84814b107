"""A small indent/block builder for generated source (C-family and Python alike).

Code generators emit whole lines and open blocks through context managers, so the structure of the
output follows the structure of the generator and indentation is never assembled by hand::

    b = SourceBuilder()
    with b.block("if (i < n) {", "}"):
        b.line("out[i] = x[i];")
    b.render()
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class SourceBuilder:
    """Collects indented lines; ``block`` opens a nested, indented region."""

    def __init__(self, indent: str = "    ") -> None:
        self._indent = indent
        self._depth = 0
        self._lines: list[str] = []

    def line(self, text: str = "") -> None:
        """Append one line at the current depth (an empty ``text`` gives an empty line)."""
        self._lines.append(self._indent * self._depth + text if text else "")

    def lines(self, text: str) -> None:
        """Append each line of a multi-line string at the current depth (keeps its own indentation)."""
        for ln in text.splitlines():
            self.line(ln)

    @contextmanager
    def block(self, opener: str | None = None, closer: str | None = None) -> Iterator[None]:
        """Emit ``opener``, indent what the body emits, then emit ``closer`` (both optional)."""
        if opener is not None:
            self.line(opener)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if closer is not None:
                self.line(closer)

    def render(self) -> str:
        """The source text, ending with a newline."""
        return "\n".join(self._lines) + "\n"
