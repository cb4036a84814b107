"""What the numba.cuda example tests share: the module as numba.cuda wrote it, its cases run by
numba-cuda's simulator (the reference), and its ``portakern port`` rewrite loaded from a file."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent

_REFERENCE_RUNNER = """
import sys, numpy as np
sys.path.insert(0, sys.argv[3])
from kit import original_source
ns = {"__name__": "original"}
exec(compile(original_source(sys.argv[1]), sys.argv[1], "exec"), ns)
np.savez(sys.argv[2], **{c + "/" + k: v for c, f in ns["CASES"].items() for k, v in f().items()})
"""


def original_source(path: str | Path) -> str:
    """The module's text with its imports switched back from portakern.compat to numba."""
    text = Path(path).read_text()
    text = text.replace("from portakern.compat import cuda", "from numba import cuda")
    return text.replace("from portakern.compat.cuda import", "from numba.cuda import")


def simulator_reference(module: Path, folder: Path) -> dict[str, np.ndarray]:
    """Every case's outputs (``case/key``) as numba-cuda's simulator computes them for the original."""
    out = folder / "reference.npz"
    subprocess.run([sys.executable, "-c", _REFERENCE_RUNNER, str(module), str(out), str(HERE)], check=True,
                   env=dict(os.environ, NUMBA_ENABLE_CUDASIM="1"), timeout=600, cwd=str(HERE))
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def ported_namespace(module: Path, folder: Path) -> tuple[dict, list[str]]:
    """The namespace of the module's ``portakern port`` rewrite, run from a file, and what it left."""
    from portakern.compat.port import port_source

    result = port_source(original_source(module), module.name)
    path = folder / f"{module.stem}_ported.py"
    path.write_text(result.text)
    ns: dict = {"__name__": f"{module.stem}_ported", "__file__": str(path)}
    exec(compile(result.text, str(path), "exec"), ns)
    return ns, result.untranslated
