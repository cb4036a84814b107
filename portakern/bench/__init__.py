"""Support package of ``portakern bench``: machine description, timing, the runner, reports.

The suite itself (kernels, baselines, sizes, bandwidth probe) lives in the repository's
``benchmarks/`` directory; :func:`portakern.bench.suite.load` finds it.
"""
