"""The ``simkit`` command: one module per subcommand; the only place that parses arguments or prints."""
from simkit.cli.app import main

__all__ = ["main"]
