"""Every error portakern raises on purpose is a :class:`PortakernError`."""
from __future__ import annotations

__all__ = ["PortakernError", "CompileError", "LaunchError", "BackendUnavailable", "KernelIndexError",
           "MissingDependency"]


class PortakernError(Exception):
    """Base class of every error portakern raises on purpose."""


class CompileError(PortakernError):
    """The kernel's source is outside the language or does not type.

    The message carries ``file:line``, the source line with a caret under the construct, what is
    wrong and a hint. ``loc`` is the :class:`portakern.ir.Loc` when known.
    """

    def __init__(self, message: str, loc: object = None, hint: str = "") -> None:
        self.loc = loc
        self.hint = hint
        self.reason = message
        super().__init__(_format(message, loc, hint))


def _format(message: str, loc: object, hint: str) -> str:
    if loc is None or not getattr(loc, "line", 0):
        return message + (f"\n  hint: {hint}" if hint else "")
    text = getattr(loc, "text", "") or ""
    col = max(0, getattr(loc, "col", 0))
    stripped = text.lstrip()
    caret_col = max(0, col - (len(text) - len(stripped)))
    out = [f'{loc.file}:{loc.line}: {message}']  # type: ignore[attr-defined]
    if stripped:
        out += ["    " + stripped.rstrip(), "    " + " " * caret_col + "^"]
    if hint:
        out.append(f"  hint: {hint}")
    return "\n".join(out)


class LaunchError(PortakernError, ValueError):
    """Wrong arguments, ndrange or work-group; names the parameter, what was given and what was expected."""


class BackendUnavailable(PortakernError, RuntimeError):
    """The backend is not installed or has no device; says why and what fixes it."""


class KernelIndexError(PortakernError, IndexError):
    """An index out of bounds, found by the bounds checks (on by default; docs/safety.md): kernel,
    array, index, shape and source line."""


class MissingDependency(PortakernError, ImportError):
    """A command or option needs an optional package that is not installed; the message names the
    package and the extra that installs it (``pip install "portakern[extra]"``)."""
