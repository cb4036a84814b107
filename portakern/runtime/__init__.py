"""The runtime: launch API, argument binding, backend registry, caches and configuration.

Nothing here imports a backend's framework; backends are discovered and imported lazily.
"""
