"""An independent, pure-Python model of docs/semantics.md, used as the oracle of the semantics tests."""
