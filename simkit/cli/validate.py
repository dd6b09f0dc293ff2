"""``simkit validate STUDY``: check a study folder and its image files, and summarise it."""
from __future__ import annotations

import argparse
import sys

from simkit.cli.options import Subparsers, path_arg

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``validate`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("validate", help="check a study folder and its image files")
    p.add_argument("study", type=path_arg)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the study's summary, then every image file that cannot be used.

    Returns 2 when any image file is bad (each named by images.csv line, image id and
    reason on stderr); a problem in the CSV files raises a
    :class:`~simkit.study.model.StudyError` (also exit 2).
    """
    from simkit.study.model import load_study
    from simkit.study.validate import check_image_files

    study = load_study(args.study)
    print(study.summary())
    problems = check_image_files(study, progress=not args.no_progress)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if problems:
        print(f"error: {len(problems)} of {len(study.images)} image file(s) cannot be used; "
              f"fix the lines above", file=sys.stderr)
        return 2
    print(f"image files: all {len(study.images)} found and readable")
    return 0
