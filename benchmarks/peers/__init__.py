"""Peers: the suite's kernels written idiomatically in the frameworks a user would pick instead of
portakern (``portakern bench --peers warp,taichi,torch``).

One module per framework, shaped like the hand-written baselines: a ``Framework`` class (``to_dev``,
``to_host``, ``sync``, ``device_name``) and ``builders[case_name](arrays, n, fw) -> run``. A module
is imported only when its peer is asked for, so an absent framework costs nothing but a note.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: peer name -> (module, attribute holding the builders or a function returning them, extra to install)
PEERS: dict[str, tuple[str, str, str]] = {
    "warp": ("warp_", "BUILDERS", "warp"),
    "taichi": ("taichi_", "BUILDERS", "taichi"),
    "torch": ("torch_", "BUILDERS", "torch"),
    "torch-compile": ("torch_", "compiled_builders", "torch"),
}
#: a name on the command line that stands for several peers
GROUPS = {"torch": ("torch", "torch-compile")}


@dataclass
class Peer:
    """A loaded peer: its framework object and its builders."""

    name: str
    fw: Any
    builders: dict[str, Callable[..., Any]]
    library: frozenset[str] = field(default_factory=frozenset)


def expand(names: list[str]) -> list[str]:
    """The peers ``names`` asks for, in order, groups expanded; ValueError naming the known ones."""
    unknown = [n for n in names if n not in PEERS and n not in GROUPS]
    if unknown:
        raise ValueError(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
    out: list[str] = []
    for n in names:
        for p in GROUPS.get(n, (n,)):
            if p not in out:
                out.append(p)
    return out


def extra(name: str) -> str:
    """The pip extra that installs a peer's framework."""
    return PEERS[name][2]


def load(name: str) -> Peer:
    """Import a peer's module; raises ImportError (or the framework's own error) when unusable."""
    module_name, attr, _ = PEERS[name]
    module = importlib.import_module(f"{__name__}.{module_name}")
    builders = getattr(module, attr)
    if callable(builders):
        builders = builders()
    return Peer(name, module.Framework(), builders, frozenset(getattr(module, "LIBRARY", ())))
