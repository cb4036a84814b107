"""``analyze(fn)``: a kernel's or helper's source, parameters, hash and frozen globals.

Cheap by design: ``analyze`` reads the source text and the signature; the AST, the list of globals
the body reads, the source hash and ``index_dims`` are computed on first use and cached.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
import textwrap
import types as pytypes
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from .. import types as T
from ..errors import CompileError
from ..ir.nodes import Loc
from ..lang import BUILTINS, Func

__all__ = ["ParamSpec", "FunctionSource", "analyze", "FRONTEND_VERSION"]

#: Bumped when the front end's output changes for the same source (part of every source hash).
FRONTEND_VERSION = "1"

Annotation = Any  # ScalarType | ArrayAnnotation | types.constexpr | None


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """A parameter: its name and its annotation (ScalarType, ArrayAnnotation, ``pk.constexpr`` or None)."""

    name: str
    annotation: Annotation = None


class FunctionSource:
    """The analysed source of a kernel or ``@pk.func``: see ``analyze``."""

    def __init__(self, fn: Callable[..., Any], text: str, first_line: int, filename: str,
                 params: tuple[ParamSpec, ...]) -> None:
        self.fn = fn
        self.name: str = fn.__name__
        self.text = text                  # dedented source of the def (decorators included)
        self.first_line = first_line      # absolute line number of the first line of ``text``
        self.filename = filename
        self.params = params

    # ------------------------------------------------------------------------------ lazy analysis
    @cached_property
    def tree(self) -> ast.FunctionDef:
        """The function's AST with absolute line numbers and no decorators (parsed once)."""
        try:
            module = ast.parse(self.text, filename=self.filename)
        except SyntaxError as exc:
            line = self.first_line + (exc.lineno or 1) - 1
            raise CompileError(f"cannot parse the source of '{self.name}': {exc.msg}",
                               loc=self.loc_at(line, 0), hint="is the function defined in a file?") from None
        ast.increment_lineno(module, self.first_line - 1)
        fdef = next((n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
        if fdef is None or fdef.name != self.name and self.name != "<lambda>":
            raise CompileError(f"cannot find the definition of '{self.name}' in its source",
                               loc=self.loc_at(self.first_line, 0),
                               hint="kernels must be defined with 'def' (not lambda)")
        if isinstance(fdef, ast.AsyncFunctionDef):
            raise CompileError("async functions cannot be kernels", loc=self.loc_at(fdef.lineno, fdef.col_offset),
                               hint="use a plain 'def'")
        fdef.decorator_list = []
        return fdef

    @cached_property
    def _indent(self) -> int:
        raw = linecache.getline(self.filename, self.first_line)
        return len(raw) - len(raw.lstrip()) if raw.strip() else 0

    def loc_at(self, line: int, col: int) -> Loc:
        """A :class:`Loc` for an absolute line and a column of the dedented source."""
        text = linecache.getline(self.filename, line).rstrip("\n")
        if not text:
            rel = line - self.first_line
            lines = self.text.splitlines()
            text = lines[rel] if 0 <= rel < len(lines) else ""
            return Loc(self.filename, line, col, text)
        return Loc(self.filename, line, col + self._indent, text)

    def loc(self, node: ast.AST) -> Loc:
        """The :class:`Loc` of an AST node of this function."""
        return self.loc_at(getattr(node, "lineno", self.first_line), getattr(node, "col_offset", 0))

    @cached_property
    def local_names(self) -> frozenset[str]:
        """Every name the function binds (parameters and assignment targets): Python's local scope."""
        names = {p.name for p in self.params}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
        return frozenset(names - self.declared_global)

    @cached_property
    def declared_global(self) -> frozenset[str]:
        """Names declared ``global``/``nonlocal`` (reading them freezes them; writing is an error)."""
        return frozenset(n for node in ast.walk(self.tree) if isinstance(node, (ast.Global, ast.Nonlocal))
                         for n in node.names)

    @cached_property
    def _free_refs(self) -> tuple[tuple[str, ...], ...]:
        """Name chains the body reads from outside: ('np', 'float32'), ('N',), ...; first-seen order."""
        seen: dict[tuple[str, ...], None] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                    and node.value.id not in self.local_names:
                seen[(node.value.id, node.attr)] = None
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in self.local_names:
                seen[(node.id,)] = None
        return tuple(seen)

    def lookup(self, name: str) -> tuple[bool, Any]:
        """Resolve a free name as Python would: closure, module globals, builtins. ``(found, value)``."""
        code = self.fn.__code__
        if name in code.co_freevars and self.fn.__closure__ is not None:
            cell = self.fn.__closure__[code.co_freevars.index(name)]
            try:
                return True, cell.cell_contents
            except ValueError:
                return False, None
        g = self.fn.__globals__
        if name in g:
            return True, g[name]
        b = g.get("__builtins__", __builtins__)
        b = b.__dict__ if isinstance(b, pytypes.ModuleType) else b
        if isinstance(b, dict) and name in b:
            return True, b[name]
        return False, None

    @cached_property
    def _frozen_slots(self) -> tuple[tuple[Any, str, str | None], ...]:
        """(namespace dict or cell, name, attr) for every outside value the body reads."""
        slots = []
        code = self.fn.__code__
        for chain in self._free_refs:
            name = chain[0]
            if name in code.co_freevars and self.fn.__closure__ is not None:
                ns: Any = self.fn.__closure__[code.co_freevars.index(name)]
            elif name in self.fn.__globals__ or not self.lookup(name)[0]:
                ns = self.fn.__globals__   # (an unbound name may be defined later: watch it too)
            else:
                continue  # a builtin: nothing that can change
            attr = chain[1] if len(chain) > 1 else None
            if attr is not None:
                root = _slot_value(ns, name)
                if not isinstance(root, pytypes.ModuleType) or _is_library_module(root):
                    continue
            elif any(c[0] == name and len(c) > 1 for c in self._free_refs) and \
                    isinstance(_slot_value(ns, name), pytypes.ModuleType):
                continue
            slots.append((ns, name, attr))
        return tuple(slots)

    def frozen_values(self, _active: frozenset[int] = frozenset()) -> tuple[Any, ...]:
        """The current values of the globals and closure cells the body reads (hashable, cheap:
        run on every launch). Numbers by value and type, helpers by source hash and their own
        frozen values, others by identity."""
        out = []
        active = None
        for ns, name, attr in self._frozen_slots:
            v = ns.get(name, _UNBOUND) if type(ns) is dict else _slot_value(ns, name)
            if attr is not None:
                v = getattr(v, attr, _UNBOUND)
            t = type(v)
            if t is int or t is bool:          # the common case first: no call
                out.append((t.__name__, v))
                continue
            if active is None:
                active = _active | {id(self)}
            out.append(_freeze(v, active))
        return tuple(out)

    @cached_property
    def source_hash(self) -> str:
        """sha256 of this function's source and of every ``@pk.func`` it calls, transitively."""
        h = hashlib.sha256(f"portakern-frontend-{FRONTEND_VERSION}\0{self.name}\0{self.text}".encode())
        for dep in self._funcs_called(set()):
            h.update(b"\0" + dep.text.encode())
        return h.hexdigest()

    def _funcs_called(self, seen: set[int]) -> list[FunctionSource]:
        """The analysed ``@pk.func`` helpers this function names, transitively (each once)."""
        out: list[FunctionSource] = []
        for chain in self._free_refs:
            found, v = self.lookup(chain[0])
            if found and len(chain) > 1 and isinstance(v, pytypes.ModuleType):
                v = getattr(v, chain[1], None)
            if isinstance(v, Func) and id(v) not in seen:
                seen.add(id(v))
                try:
                    dep = func_source(v)
                except CompileError:
                    continue  # reported when the call is compiled
                out.append(dep)
                out.extend(dep._funcs_called(seen))
        return out

    @cached_property
    def index_dims(self) -> int:
        """1 + the highest literal dimension the body passes to an index query (at least 1)."""
        queries = {BUILTINS[n] for n in ("global_id", "local_id", "group_id", "global_size", "local_size",
                                          "num_groups")}
        best = 0
        trees = [self.tree] + [f.tree for f in self._funcs_called(set())]
        for tree in trees:
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and len(node.args) == 1
                        and isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int):
                    continue
                target = _static_resolve(self, node.func)
                if target in queries and 0 <= node.args[0].value <= 2:
                    best = max(best, node.args[0].value)
        return best + 1


_UNBOUND = object()


def _slot_value(ns: Any, name: str) -> Any:
    if isinstance(ns, dict):
        return ns.get(name, _UNBOUND)
    try:
        return ns.cell_contents
    except ValueError:
        return _UNBOUND


def _is_library_module(mod: pytypes.ModuleType) -> bool:
    name = mod.__name__.split(".")[0]
    return name in ("math", "numpy", "portakern", "builtins")


def _freeze(v: Any, active: frozenset[int] = frozenset()) -> Any:
    t = type(v)
    if t is int or t is bool:
        return (t.__name__, v)
    if t is float:
        return ("float", v.hex())
    if isinstance(v, np.generic) and not isinstance(v, np.ndarray):
        return (v.dtype.str, v.tobytes())
    if isinstance(v, Func):
        try:
            src = func_source(v)
            if id(src) in active:   # a recursive helper: reported when compiled
                return ("func", src.source_hash)
            return ("func", src.source_hash, src.frozen_values(active))
        except CompileError:
            return ("func", id(v))
    if t is tuple:
        return ("tuple",) + tuple(_freeze(x, active) for x in v)
    if v is _UNBOUND:
        return ("unbound",)
    return ("obj", t.__qualname__, id(v))


def _static_resolve(src: FunctionSource, node: ast.expr) -> Any:
    """The object a Name or Name.attr expression names right now (None when unknown)."""
    if isinstance(node, ast.Name) and node.id not in src.local_names:
        return src.lookup(node.id)[1]
    if isinstance(node, ast.Attribute):
        base = _static_resolve(src, node.value)
        if isinstance(base, pytypes.ModuleType):
            return getattr(base, node.attr, None)
    return None


def _annotation(src_fn: Callable[..., Any], name: str, ann: Any, loc: Loc) -> Annotation:
    if ann is inspect.Parameter.empty or ann is None:
        return None
    for _ in range(2):   # a quoted annotation under ``from __future__ import annotations`` is quoted twice
        if not isinstance(ann, str):
            break
        try:
            ann = eval(ann, src_fn.__globals__)  # noqa: S307 - the user's own annotation, as typing does
        except Exception as exc:  # noqa: BLE001
            raise CompileError(f"cannot evaluate the annotation of parameter '{name}': {exc}", loc=loc,
                               hint="use pk.float32, pk.Array[pk.float32, 1] or pk.constexpr") from None
    if ann is T.constexpr or isinstance(ann, T.ArrayAnnotation):
        return ann
    try:
        st = T.as_scalar_type(ann)
    except TypeError:
        raise CompileError(f"parameter '{name}' has an annotation portakern does not understand: {ann!r}",
                           loc=loc, hint="use a scalar type (pk.float32), pk.Array[dtype, ndim] or pk.constexpr"
                           ) from None
    if st.is_half:
        raise CompileError(f"kernel '{src_fn.__name__}': parameter '{name}' is annotated {st!r}: {st} is an "
                           "array storage type, not a "
                           "scalar type", loc=loc, hint=f"pass a float32 scalar, or annotate pk.Array[pk.{st}]")
    return st


def analyze(fn: Callable[..., Any]) -> FunctionSource:
    """Read ``fn``'s source (``inspect``, so ``linecache``-registered sources work) and parameters.

    Raises :class:`CompileError` when the source is unavailable or an annotation is invalid.
    """
    if not isinstance(fn, pytypes.FunctionType):
        raise CompileError(f"a kernel must be a Python function, got {type(fn).__name__}",
                           hint="decorate a 'def' with @pk.kernel")
    filename = fn.__code__.co_filename
    try:
        lines, first = inspect.getsourcelines(fn)
    except Exception as exc:  # noqa: BLE001 - OSError, TypeError, or a stale linecache entry
        raise CompileError(f"cannot read the source of '{fn.__name__}' ({exc})",
                           loc=Loc(filename, fn.__code__.co_firstlineno),
                           hint="define kernels in a file, or register the source in linecache") from None
    text = textwrap.dedent("".join(lines))
    first = max(first, 1)
    def_loc = Loc(filename, first, 0, lines[0].rstrip("\n") if lines else "")
    code = fn.__code__
    if code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS):
        raise CompileError(f"'{fn.__name__}' takes *args or **kwargs, which kernels cannot",
                           loc=def_loc, hint="list every parameter explicitly")
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise CompileError(f"cannot read the signature of '{fn.__name__}': {exc}", loc=def_loc) from None
    params = tuple(ParamSpec(p.name, _annotation(fn, p.name, p.annotation, def_loc))
                   for p in sig.parameters.values())
    return FunctionSource(fn, text, first, filename, params)


def func_source(f: Any) -> FunctionSource:
    """The (cached) analysis of a ``pk.func`` helper."""
    src = f._pk_source
    if src is None:
        src = analyze(f.fn)
        f._pk_source = src
    return src
