"""XLA:CPU computes ``exp`` with other code inside a YNN fusion than in its loop fusions (on this
jaxlib, 55941 of 4M float32 results differ), and jnp's softmax runs as one YNN fusion. portakern's
jax lowering writes reductions as slice trees (in the kernel's order), never as the reduces YNN
picks up, so its executables hold no YNN fusion and ``exp`` has one set of bits whatever fuses it.
If a new XLA started fusing portakern's graphs that way, this test says so."""
from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
pytest.importorskip("portakern_jax")
jnp = jax.numpy

from benchmarks import kernels as suite  # noqa: E402

ROWS = 4096


def _hlo(fn, *args) -> str:  # noqa: ANN001
    return jax.jit(fn).lower(*args).compile().as_text()


def test_the_suites_row_kernels_compile_without_ynn_fusions_where_jnp_gets_one():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((ROWS, 1024)).astype(np.float32))
    if "__ynn_fusion" not in _hlo(lambda a: jax.nn.softmax(a, axis=1), x):
        pytest.skip("this jaxlib makes no YNN fusion of jax.nn.softmax: nothing to tell apart")
    g = jnp.ones(1024, jnp.float32)
    out = jnp.zeros_like(x)
    texts = {
        "softmax": _hlo(lambda a, o: suite.softmax.on("jax")[(ROWS, 64), (1, 64)](a, o, 64, 6), x, out),
        "layernorm": _hlo(lambda a, o: suite.layernorm.on("jax")[(ROWS, 64), (1, 64)](
            a, g, g, o, np.float32(1e-5), 64, 6), x, out),
    }
    for name, text in texts.items():
        assert "__ynn_fusion" not in text, name
