"""``simkit validate STUDY``: check a study folder and summarise it."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``validate`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("validate", help="check a study folder and summarise it")
    p.add_argument("study")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the study's summary; a problem raises a :class:`~simkit.study.model.StudyError`."""
    from simkit.study.model import load_study

    print(load_study(args.study).summary())
    return 0
