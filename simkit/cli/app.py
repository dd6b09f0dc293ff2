"""The ``simkit`` command: the same functions as the notebooks, from a terminal.

    simkit validate STUDY
    simkit tables STUDY [--choices FILE] [--out DIR] [--weights imagenet|PATH|random:SEED] [--paper]
    simkit features STUDY --out FILE.npz [--weights ...] [--layer conv5_1] [--size 224]
    simkit demo [--out DIR] [--groups N] [--weights ...]
    simkit collect STUDY [--export]
    simkit retrieve COLLECTION --query IMAGE [-k 4] [--method style]
    simkit evaluate-retrieval COLLECTION --label COLUMN [--methods ...] [-k 5,10]
    simkit perceptual score --data material-appearance=PATH --net alexnet --out FILE.json
    simkit perceptual adapt --data study=STUDY --net alexnet --out SCALARS.npz
    simkit index COLLECTION [--scheduler tcp://HOST:PORT]
    simkit fetch NAME --out DIR
    simkit study new COLLECTION --out STUDY [--per-genre 20] [--by genre] [--seed 0]
    simkit --version

Exit status: 0 on success, 2 when the input is invalid (one line on stderr says where and
how to fix it), 130 when interrupted. Any other failure is a bug and shows its traceback.
"""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from simkit.cli import (collect, demo, evaluate_retrieval, features, fetch, index, perceptual,
                        retrieve, study, tables, validate)
from simkit.errors import SimkitError, UsageError

__all__ = ["main", "build_parser", "version"]

#: One module per subcommand, in the order of ``simkit --help``.
COMMANDS = (validate, tables, features, demo, collect, retrieve, evaluate_retrieval,
            perceptual, index, fetch, study)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError`: one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def version() -> str:
    """The installed distribution's version, else the package's own."""
    from importlib import metadata

    import simkit

    try:  # the distribution's name may differ from the import name
        dist = (metadata.packages_distributions().get("simkit") or ["simkit"])[0]
        return metadata.version(dist)
    except metadata.PackageNotFoundError:  # a checkout on sys.path, not installed
        return simkit.__version__


def build_parser() -> argparse.ArgumentParser:
    """The ``simkit`` parser: each subcommand from its own module's ``add_parser``."""
    parser = Parser(prog="simkit", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"simkit {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``simkit`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help and --version: argparse has printed them
            return int(e.code or 0)
        return args.func(args)
    except SimkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
