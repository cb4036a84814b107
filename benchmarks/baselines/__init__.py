"""Hand-written baselines, one module per framework, each the way a user of that framework writes it.

Every module exposes ``BUILDERS: dict[case_name, builder]``; ``builder(arrays, n, fw)`` takes the
case's inputs already on the framework's device (``fw`` is the :class:`benchmarks.frameworks.Framework`)
and returns a zero-argument callable that runs the kernel once and returns ``{output: native array}``.
A case missing from a module has no baseline in that framework (its ratio is reported as null).
"""
