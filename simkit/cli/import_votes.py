"""``simkit import wide|jspsych …``: votes given elsewhere into the study's vote store.

    simkit import wide FILE STUDY --id-column COLUMN --map MAP.csv [--skip-unreadable] [--export]
    simkit import jspsych FILE [FILE ...] STUDY [--export]

Both write ``STUDY/votes.sqlite`` (as the questionnaire does) in one transaction or not at
all; ``--export`` then writes ``responses.csv`` and ``participants.csv`` (as ``simkit collect
STUDY --export``). Importing the same file again adds nothing.
"""
from __future__ import annotations

import argparse
import sys

from simkit.cli.options import Subparsers

__all__ = ["add_parser", "run_wide", "run_jspsych"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``import`` (with ``wide`` and ``jspsych``) to the ``simkit`` subparsers."""
    top = subparsers.add_parser("import", help="import votes collected elsewhere (a form's "
                                               "table, a jsPsych data file)")
    sub = top.add_subparsers(dest="import_command", required=True)
    p = sub.add_parser("wide", help="a one-row-per-participant table (Google Forms, "
                                    "Qualtrics, LimeSurvey): CSV or .xlsx")
    p.add_argument("file", help="the exported table (.csv, or .xlsx with openpyxl)")
    p.add_argument("study")
    p.add_argument("--id-column", required=True,
                   help="the column holding each participant's id")
    p.add_argument("--map", required=True, dest="map_file",
                   help="MAP.csv: column,question_id,participant_column (one of the last "
                        "two filled on each row)")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="import the readable cells and list those left out")
    p.add_argument("--export", action="store_true",
                   help="then write STUDY/responses.csv and STUDY/participants.csv")
    p.set_defaults(func=run_wide)
    j = sub.add_parser("jspsych", help="the data of the experiment 'simkit export jspsych' "
                                       "wrote (CSV or JSON; JATOS, Pavlovia, cognition.run)")
    j.add_argument("files", nargs="+", metavar="FILE", help="one or more data files")
    j.add_argument("study")
    j.add_argument("--export", action="store_true",
                   help="then write STUDY/responses.csv and STUDY/participants.csv")
    j.set_defaults(func=run_jspsych)
    return top


def _finish(store, study_dir: str, export: bool) -> None:
    pids = store.participants()
    complete = sum(store.progress(p).complete for p in pids)
    print(f"{store.path}: {len(pids)} participant(s), {complete} answered every question")
    if export:
        for written in store.export(study_dir):
            print(f"wrote {written}")
    else:
        print(f"next: simkit collect {study_dir} --export (writes responses.csv and "
              f"participants.csv), then simkit tables {study_dir}")


def run_wide(args: argparse.Namespace) -> int:
    """Import a wide table; exit 2 listing every unreadable cell (nothing written)."""
    from simkit.study.model import open_study
    from simkit.votes.imports import (UnreadableCells, apply_import, plan_wide_import,
                                      read_map, read_wide)
    from simkit.votes.store import VoteStore

    study = open_study(args.study)
    table = read_wide(args.file)
    mapping = read_map(args.map_file, study.questions["question_id"])
    plan = plan_wide_import(table, mapping, args.id_column)
    if plan.unreadable and not args.skip_unreadable:
        raise UnreadableCells(plan.path, plan.unreadable)  # before the store is created
    with VoteStore.for_study(study) as store:
        result = apply_import(store, plan, skip_unreadable=args.skip_unreadable)
        note = " (Qualtrics: 2 extra header rows skipped)" if table.skipped_header_rows else ""
        print(f"{args.file}: {len(table.rows)} row(s){note}; added {result.participants_added} "
              f"participant(s) and {result.votes_added} vote(s); "
              f"{result.votes_already_there} vote(s) already in the store")
        if result.left_out:
            print(f"left out {len(result.left_out)} unreadable cell(s):", file=sys.stderr)
            for cell in result.left_out:
                print(f"  {cell}", file=sys.stderr)
        _finish(store, args.study, args.export)
    return 0


def run_jspsych(args: argparse.Namespace) -> int:
    """Import jsPsych data files of the exported experiment."""
    from simkit.study.model import open_study
    from simkit.votes.jspsych import read_data
    from simkit.votes.store import VoteStore

    study = open_study(args.study)
    data = read_data(args.files, study)
    with VoteStore.for_study(study) as store:
        added = store.add_answers(data.participants, data.votes,
                                  source=", ".join(args.files))
        print(f"{len(args.files)} file(s), {len(data.participants)} participant(s): added "
              f"{added['participants']} participant(s) and {added['votes']} vote(s); "
              f"{added['identical']} vote(s) already in the store")
        for note in data.notes:
            print(f"note: {note}", file=sys.stderr)
        _finish(store, args.study, args.export)
    return 0
