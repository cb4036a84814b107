"""portakern's benchmark suite: kernels written once in portakern (``kernels``), hand-written
baselines per framework (``baselines``), sizes and references (``cases``) and the machine's
memory-bandwidth probe (``probe``). Run it with ``portakern bench`` (see docs/benchmarks.md)."""
