"""Rewrite a numba.cuda module into native portakern source (``portakern port``), keeping its comments
and layout: only the spans of the constructs it translates change.

Kernels get one number of dimensions for the whole module (the most any of its kernels or device
functions uses: ``.y`` is 2, ``cuda.grid(3)`` is 3), so device functions inlined into any kernel agree
with it; launches become ``k[launch_geometry(blocks, threads, ndim=K)]``, which reverses CUDA's axes
onto the ndrange and pads a launch with fewer axes with 1s (docs/porting.md). Host code keeps using
``portakern.compat.cuda`` for ``cuda.to_device`` and friends. What it cannot translate is left as it is
and listed, with its line.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .. import lang
from .cuda import scalar_casts
from .cuda_intrinsics import ATOMICS, WARP_OPS, WARP_SIZE, is_full_mask, single_literal

_DIM3 = {"threadIdx": "local_id", "blockIdx": "group_id", "blockDim": "local_size", "gridDim": "num_groups"}
_AXES = {"x": 0, "y": 1, "z": 2}
_ITEMSIZE = {"int8": 1, "uint8": 1, "int16": 2, "uint16": 2, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8,
             "float32": 4, "float64": 8}
_RENAMED = {"syncthreads": "pk.barrier", "fma": "pk.fma", "selp": "pk.where",
            "shared.array": "pk.local_array", "local.array": "pk.private_array"}


@dataclass
class Ported:
    """The rewritten source and what was left untranslated (``"LINE: message"``)."""

    text: str
    untranslated: list[str] = field(default_factory=list)
    ndim: int = 1


def _chain(node: ast.AST, cuda: str) -> str | None:
    """``"shared.array"`` for ``cuda.shared.array``; None when ``node`` is not a chain off ``cuda``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name) and node.id == cuda and parts:
        return ".".join(reversed(parts))
    return None


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _is_jit(dec: ast.expr, cuda: str) -> bool:
    return _chain(dec.func if isinstance(dec, ast.Call) else dec, cuda) == "jit"


def _used_ndim(fn: ast.FunctionDef, cuda: str) -> int:
    best = 1
    for node in ast.walk(fn):
        name = _chain(node, cuda) if isinstance(node, ast.Attribute) else None
        if name and name.split(".")[0] in _DIM3 and name.split(".")[-1] in _AXES:
            best = max(best, _AXES[name.split(".")[-1]] + 1)
        if isinstance(node, ast.Call) and _chain(node.func, cuda) in ("grid", "gridsize") and node.args \
                and isinstance(node.args[0], ast.Constant) and type(node.args[0].value) is int \
                and node.args[0].value in (1, 2, 3):
            best = max(best, node.args[0].value)
    return best


class _Rewriter:
    def __init__(self, text: str, cuda: str, ndim: int) -> None:
        self.text, self.cuda, self.ndim = text, cuda, ndim
        self.fn: ast.FunctionDef | None = None   # the jitted function being translated
        self.lines = text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.edits: list[tuple[int, int, str]] = []
        self.notes: list[str] = []
        self.dynamic: set[str] = set()            # kernels given a ``pk_shared_bytes`` parameter

    def offset(self, line: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets
        return self.starts[line - 1] + len(self.lines[line - 1].encode()[:col].decode())

    def replace(self, node: ast.AST, new: str) -> None:
        self.edits.append((self.offset(node.lineno, node.col_offset),       # type: ignore[attr-defined]
                           self.offset(node.end_lineno, node.end_col_offset), new))  # type: ignore[attr-defined]

    def source(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.text, node) or ""

    def note(self, node: ast.AST, message: str) -> None:
        self.notes.append(f"{node.lineno}: {message}")  # type: ignore[attr-defined]

    def dim(self, axis: int) -> int:
        return self.ndim - 1 - axis

    # -- kernel bodies ---------------------------------------------------------------------------
    def body(self, node: ast.AST) -> None:
        """Translate the cuda.* constructs under ``node``; a translated node is not descended into."""
        if isinstance(node, ast.Call) and self.call(node):
            return
        if isinstance(node, ast.Attribute):
            name = _chain(node, self.cuda)
            if name is not None:
                self.attribute(node, name)
                return
        for child in ast.iter_child_nodes(node):
            self.body(child)

    def call(self, node: ast.Call) -> bool:
        name = _chain(node.func, self.cuda)
        if name in ("grid", "gridsize"):
            n = node.args[0].value if len(node.args) == 1 and isinstance(node.args[0], ast.Constant) else None
            if n not in (1, 2, 3):
                self.note(node, f"cuda.{name}() needs a literal 1, 2 or 3")
                return True
            query = "global_id" if name == "grid" else "global_size"
            items = [f"pk.{query}({self.dim(a)})" for a in range(int(n))]  # type: ignore[arg-type]
            self.replace(node, items[0] if n == 1 else f"({', '.join(items)})")
            return True
        if name == "shared.array" and node.args and isinstance(node.args[0], ast.Constant) \
                and node.args[0].value == 0:
            return self.dynamic_shared(node)
        if name in WARP_OPS:
            return self.warp(node, name)
        pk_name = None
        if name in _RENAMED:
            pk_name = _RENAMED[name]
        elif name is not None and name.startswith("atomic.") and name[7:] in ATOMICS:
            builtin = ATOMICS[name[7:]]
            if builtin not in lang.BUILTINS:
                self.note(node, f"cuda.{name} is not translated: the language has no pk.{builtin} yet")
                return True
            pk_name = f"pk.{builtin}"
        if pk_name is None:
            return False
        self.replace(node.func, pk_name)
        if name is not None and name.endswith(".array") and node.args and self.fn is not None:
            for item in node.args[0].elts if isinstance(node.args[0], ast.Tuple) else [node.args[0]]:
                value = single_literal(self.fn, item.id) if isinstance(item, ast.Name) else None
                if value is not None:   # a local ``N = 100``: the language sizes arrays at compile time
                    self.replace(item, str(value))
        for child in list(node.args) + [k.value for k in node.keywords]:
            self.body(child)
        return True

    def warp(self, node: ast.Call, name: str) -> bool:
        """``cuda.shfl_down_sync(0xffffffff, v, d)`` -> ``pk.subgroup_shuffle_down(v, d)`` (the mask dropped:
        only a literal full one is translated, as the language's sub-group operations need the whole group)."""
        try:
            mask = ast.literal_eval(node.args[0]) if node.args else None
        except ValueError:
            mask = None
        if len(node.args) < 2 or node.keywords or not is_full_mask(mask):
            self.note(node, f"cuda.{name} is not translated: only a call with the literal full mask 0xffffffff "
                      "and positional arguments is")
            return True
        first = node.args[1]
        self.edits.append((self.offset(node.lineno, node.col_offset), self.offset(first.lineno, first.col_offset),
                           f"pk.{WARP_OPS[name]}("))
        for child in node.args[1:]:
            self.body(child)
        return True

    def dynamic_shared(self, node: ast.Call) -> bool:
        """``cuda.shared.array(0, dtype)``: a local array sized at launch by a new last parameter
        ``pk_shared_bytes: pk.int64`` (the launch's 4th item, in bytes; one compile serves every size)."""
        dtype = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "dtype"),
                                                             None)
        itemsize = _ITEMSIZE.get(self.source(dtype).rsplit(".", 1)[-1]) if dtype is not None else None
        fn = self.fn
        if dtype is None or itemsize is None or fn is None or fn.name in self.dynamic or fn.args.vararg \
                or fn.args.kwonlyargs:
            self.note(node, "cuda.shared.array(0, ...) (dynamic shared memory) is not translated: one array of "
                      "a named scalar dtype per kernel is; size it with pk.local_array(n, dtype), n a launch argument")
            return True
        params = fn.args.posonlyargs + fn.args.args
        if not params:
            self.note(node, "a kernel without parameters cannot take its dynamic shared memory size")
            return True
        self.dynamic.add(fn.name)
        self.replace(node, f"pk.local_array(pk_shared_bytes // {itemsize}, {self.source(dtype)})")
        last = params[-1]
        end = self.offset(last.end_lineno, last.end_col_offset)        # type: ignore[arg-type]
        self.edits.append((end, end, ", pk_shared_bytes: pk.int64"))
        return True

    def attribute(self, node: ast.Attribute, name: str) -> None:
        head, _, axis = name.partition(".")
        if head in _DIM3 and axis in _AXES:
            d = self.dim(_AXES[axis])
            self.replace(node, f"pk.{_DIM3[head]}({d})")
        elif name == "warpsize":
            self.replace(node, str(WARP_SIZE))
        else:
            self.note(node, f"cuda.{name} is not translated (run it through portakern.compat.cuda, which "
                      "emulates or refuses it: docs/porting.md)")

    # -- decorators, launches, imports -------------------------------------------------------------
    def decorator(self, dec: ast.expr, fn: ast.FunctionDef) -> None:
        kws = {k.arg: k.value for k in dec.keywords} if isinstance(dec, ast.Call) else {}
        device, debug = (_is_true(kws.get(k)) for k in ("device", "debug"))
        if isinstance(dec, ast.Call) and dec.args:
            sig = dec.args[0]
            casts = scalar_casts(sig.value) if isinstance(sig, ast.Constant) and isinstance(sig.value, str) \
                else None
            params = fn.args.posonlyargs + fn.args.args
            if device or casts is None or len(casts) != len(params):
                self.note(dec, "the numba signature is dropped: annotate scalar parameters (x: pk.float32) to "
                          "keep numba's conversion of scalar arguments")
            else:   # numba converts scalar arguments to the signature's types; a portakern annotation does too
                for param, dtype in zip(params, casts):
                    if dtype is not None and param.annotation is None:
                        self.replace(param, f"{param.arg}: pk.{dtype.name if dtype.kind != 'b' else 'bool_'}")
        self.replace(dec, "pk.func" if device else "pk.kernel(debug=True)" if debug else "pk.kernel")

    def launch(self, node: ast.Subscript, call: ast.Call | None) -> None:
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        kernel = node.value.id if isinstance(node.value, ast.Name) else ""
        if len(items) == 4:
            if kernel not in self.dynamic or call is None or call.keywords \
                    or any(isinstance(a, ast.Starred) for a in call.args):
                self.note(node, "a launch with dynamic shared memory (4th item) is not translated")
                return
            blocks, threads, nbytes = (self.source(items[i]) for i in (0, 1, 3))
            args = ", ".join([self.source(a) for a in call.args] + [f"({nbytes})"])
            self.replace(call, f"{kernel}[launch_geometry({blocks}, {threads}, ndim={self.ndim})]({args})")
        elif len(items) in (2, 3):
            blocks, threads = self.source(items[0]), self.source(items[1])
            self.replace(node, f"{self.source(node.value)}[launch_geometry({blocks}, {threads}, ndim={self.ndim})]")

    def apply(self) -> str:
        out = self.text
        for start, end, new in sorted(self.edits, reverse=True):
            out = out[:start] + new + out[end:]
        return out


def _is_cuda_import(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "numba" and any(a.name == "cuda" for a in node.names)


def _switch_imports(rw: _Rewriter, tree: ast.Module, cuda_import: str) -> None:
    """Replace ``from numba import cuda`` by ``cuda_import`` (other names it imports stay with numba,
    on the same line) and ``from numba.cuda import X`` by ``from portakern.compat.cuda import X``."""
    for node in tree.body:
        if _is_cuda_import(node):
            assert isinstance(node, ast.ImportFrom)
            alias = next(a.asname for a in node.names if a.name == "cuda")
            others = [f"{a.name} as {a.asname}" if a.asname else a.name for a in node.names if a.name != "cuda"]
            kept = f"from numba import {', '.join(others)}; " if others else ""
            rw.replace(node, kept + cuda_import.format(alias=f" as {alias}" if alias else ""))
        elif isinstance(node, ast.ImportFrom) and node.module == "numba.cuda":
            rw.replace(node, rw.source(node).replace("numba.cuda", "portakern.compat.cuda", 1))


def compat_source(text: str) -> str:
    """``text`` with only its numba.cuda imports switched to ``portakern.compat.cuda`` (how the compat
    layer runs a module unchanged; ``portakern port --check`` compares the port against it)."""
    rw = _Rewriter(text, "cuda", 1)
    _switch_imports(rw, ast.parse(text), "from portakern.compat import cuda{alias}")
    return rw.apply()


def port_source(text: str, filename: str = "<string>") -> Ported:
    """Rewrite ``text`` (a numba.cuda module) into native portakern source."""
    tree = ast.parse(text, filename)
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom) and _is_cuda_import(n)]
    if not imports:
        return Ported(text, ["1: no 'from numba import cuda' found: nothing to port"])
    cuda = next(a.asname or a.name for a in imports[0].names if a.name == "cuda")
    jitted = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)
              and any(_is_jit(d, cuda) for d in n.decorator_list)]
    ndim = max([_used_ndim(f, cuda) for f in jitted] + [1])
    rw = _Rewriter(text, cuda, ndim)
    kernels = set()
    for fn in jitted:
        for dec in fn.decorator_list:
            if _is_jit(dec, cuda):
                rw.decorator(dec, fn)
                if not (isinstance(dec, ast.Call) and any(k.arg == "device" and _is_true(k.value)
                                                          for k in dec.keywords)):
                    kernels.add(fn.name)
        rw.fn = fn
        for stmt in fn.body:
            rw.body(stmt)
    inside = {id(n) for fn in jitted for n in ast.walk(fn)}
    calls = {id(n.func): n for n in ast.walk(tree) if isinstance(n, ast.Call)}     # a launch's call, by its subscript
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and id(node) not in inside and isinstance(node.value, ast.Name) \
                and node.value.id in kernels:
            rw.launch(node, calls.get(id(node)))
        elif isinstance(node, ast.Call) and id(node) not in inside and isinstance(node.func, ast.Subscript) \
                and isinstance(node.func.value, ast.Name) and node.func.value.id not in kernels \
                and isinstance(node.func.slice, ast.Tuple) and 2 <= len(node.func.slice.elts) <= 4:
            rw.note(node, f"'{node.func.value.id}[...](...)' looks like a launch through a name that is not a "
                    "kernel of this module: it is not translated (launch the kernel by its own name)")
        elif isinstance(node, ast.Call) and id(node) not in inside and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "forall" and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in kernels:
            if len(node.args) != 1 or node.keywords:
                rw.note(node, f"{node.func.value.id}.forall(...) with a block size or stream is not translated")
                continue
            n = rw.source(node.args[0])   # forall's default: 1-D blocks of 128 threads
            rw.replace(node, f"{node.func.value.id}[launch_geometry(-(-({n}) // 128), 128, ndim={ndim})]")
    _switch_imports(rw, tree, "import portakern as pk\nfrom portakern.compat import cuda{alias}  # host arrays\n"
                    "from portakern.compat.cuda import launch_geometry")
    return Ported(rw.apply(), sorted(rw.notes, key=lambda s: int(s.split(":")[0])), ndim)
