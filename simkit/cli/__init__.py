"""The ``simkit`` command: one module per subcommand; the only place that parses arguments
or prints. :func:`main` runs it (``[project.scripts]`` and ``python -m simkit``)."""
from simkit.cli.app import main

__all__ = ["main"]
