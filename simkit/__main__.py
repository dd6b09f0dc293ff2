"""``python -m simkit``: the ``simkit`` command."""
import sys

from simkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
