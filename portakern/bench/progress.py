"""A dependency-free progress bar on stderr: redrawn in place on a terminal, one line per step
otherwise (so logs stay readable)."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``step(label)`` marks the start of the next step; ``done()`` clears the bar."""

    def __init__(self, total: int, enabled: bool = True, stream: TextIO | None = None, width: int = 28) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.total = max(total, 1)
        self.count = 0
        self.width = width
        self.start = time.perf_counter()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def reset(self, total: int) -> None:
        """Start over with ``total`` steps."""
        self.total, self.count, self.start = max(total, 1), 0, time.perf_counter()

    def step(self, label: str) -> None:
        """Advance by one step and show ``label``."""
        self.count = min(self.count + 1, self.total)
        if not self.enabled:
            return
        frac = (self.count - 1) / self.total
        filled = int(round(frac * self.width))
        bar = "#" * filled + "-" * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        text = f"[{bar}] {self.count:>3}/{self.total} {elapsed:6.1f}s  {label}"
        if self.tty:
            self.stream.write("\r\x1b[2K" + text[:160])
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        """Finish: clear the bar (terminal) and print the total time."""
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        if self.tty:
            self.stream.write("\r\x1b[2K")
        self.stream.write(f"benchmarks done in {elapsed:.1f}s\n")
        self.stream.flush()
