"""``simkit collect STUDY [--export]``: summarise (or export) the votes collected in Jupyter."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``collect`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("collect", help="summarise (or --export) the votes collected in "
                                              "Jupyter (STUDY/votes.sqlite)")
    p.add_argument("study")
    p.add_argument("--export", action="store_true",
                   help="write STUDY/responses.csv and STUDY/participants.csv")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the vote store's summary; with ``--export``, write the study's vote CSVs."""
    from simkit.study.model import open_study
    from simkit.votes.store import DEFAULT_STORE_NAME, VoteStore, VoteStoreError

    study = open_study(args.study)
    path = Path(args.study) / DEFAULT_STORE_NAME
    if not path.exists():  # opening would create an empty store
        raise VoteStoreError(f"{path}: no votes collected yet; run the questionnaire "
                             f"(notebooks/04_collect_votes.ipynb) on this study first")
    with VoteStore(path, study) as store:
        print(store.summary())
        if args.export:
            for written in store.export(args.study):
                print(f"wrote {written}")
    return 0
