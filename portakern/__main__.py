"""``python -m portakern`` is the ``portakern`` command."""
from portakern.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
