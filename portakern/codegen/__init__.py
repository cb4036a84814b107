"""Shared code generators: the C-family renderer, the vectorising lowering, the Python-source builder
and the Python renderer of the Numba backends."""
