"""The ``portakern`` command line: ``info``, ``compile``, ``bench`` and ``conformance``."""
