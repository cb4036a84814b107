"""How IR names and outside text reach generated source: user names, comments.

Every renderer spells an IR name (a Python identifier of the user's, or a front-end temporary) through
:func:`user_ident`, which puts it in a namespace of its own: a name of ASCII letters, digits and
``_`` keeps its spelling behind a fixed prefix; any other name is encoded character by character
behind a second prefix. So no user name can be a keyword, a builtin, a macro of OpenCL's or CUDA's
headers, a prelude helper, an import (``np``, ``math``...) or a generated temporary (all of which the
renderers keep outside these prefixes), and two different names never meet (``é`` and ``u_e9_``).

The Python renderers put user names behind ``v_``/``a_`` (never a prelude name, an import or an
internal ``_pk_*``), spelled through :func:`py_name`.

Text from outside the IR (the kernel's name, its file's path) only ever reaches generated source
inside a comment, through :func:`comment_text`, which keeps a conservative set of printable ASCII and
escapes everything else, so neither ``*/`` nor a newline can end the comment early.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z0-9_]+")
_COMMENT_SAFE = re.compile(r"[A-Za-z0-9 _.,:;=+\-<>()\[\]@#~/]")


def user_ident(name: str, plain: str = "u_", encoded: str = "w_") -> str:
    """An identifier for IR name ``name``, injective over all strings: ``plain + name`` for a name of
    ASCII letters, digits and ``_``; otherwise ``encoded +`` the name with ``_`` doubled and every
    other character spelled ``_<hex code point>_`` (decodable left to right, so injective). ``plain``
    and ``encoded`` must differ and neither may be a prefix of the other."""
    if _WORD.fullmatch(name):
        return plain + name
    out = []
    for c in name:
        if c == "_":
            out.append("__")
        elif c.isascii() and c.isalnum():
            out.append(c)
        else:
            out.append(f"_{ord(c):x}_")
    return encoded + "".join(out)


def py_name(name: str) -> str:
    """The part of a Python-source identifier spelling IR name ``name`` (behind ``v_``, ``a_``...):
    every ``_`` written ``u_``, injectively (a ``u`` right before ``_`` is always that pair). So no
    two ``_`` ever meet and the part never starts with ``_``: Numba's parallel lowering doubles every
    ``_`` to legalise names and asserts the result is no existing name, which ``v__`` (``_``) and
    ``v____`` (``___``) broke. Python identifiers need no other escape (they are NFKC-normal)."""
    return name.replace("_", "u_")


def comment_text(text: str) -> str:
    """``text`` made safe inside a C block comment, a Python ``#`` comment or a docstring: every
    character outside a small printable-ASCII set (``*``, ``\\``, ``%``, quotes, control characters
    and newlines among them) becomes ``%XX`` (``%uXXXX`` above 0xff). With no ``*`` left, ``*/`` cannot
    occur; with no quote or newline, neither can a string's or a line comment's end."""
    return "".join(c if _COMMENT_SAFE.fullmatch(c) else (f"%{ord(c):02x}" if ord(c) <= 0xff else f"%u{ord(c):04x}")
                   for c in text)
