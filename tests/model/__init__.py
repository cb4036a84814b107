"""An independent, pure-Python model of NUMERICS.md, used as the oracle of the semantics tests."""
