"""``simkit report STUDY --out report.html``: the report for colleagues, one self-contained
HTML file (see :func:`simkit.reports.html.report`)."""
from __future__ import annotations

import argparse
from pathlib import Path

from simkit.cli.options import Subparsers, out_folder, warn
from simkit.cli.tables import add_table_args, add_vectors_args, machine_choices
from simkit.errors import UsageError

__all__ = ["add_parser", "run", "report_file"]


def report_file(text: str) -> str:
    """An argparse type: the report's file, not a folder."""
    from simkit.reports.html import check_report_path

    try:
        check_report_path(text)
    except UsageError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``report`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("report", help="write the study's tables, figures and "
                                             "questions as one self-contained HTML file")
    p.add_argument("study")
    p.add_argument("--out", type=report_file, default="report.html",
                   help="the HTML file (default report.html; an earlier report is replaced, "
                        "any other file is refused)")
    p.add_argument("--choices", help="machine choices CSV (default STUDY/choices.csv; "
                                     "without one, features are computed)")
    p.add_argument("--figures", type=out_folder, metavar="DIR",
                   help="also save every figure in DIR, one file each (HTML; PNG too when "
                        "kaleido is installed); other files in DIR are left alone")
    p.add_argument("--title", help="the report's title (default: the study folder's name)")
    add_table_args(p)
    add_vectors_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Write the report of ``args.study`` to ``--out``."""
    from simkit.reports.html import report
    from simkit.analysis.tables import require_analysable
    from simkit.study.model import load_study

    study = load_study(args.study, choices=args.choices)
    if study.questions.empty:
        require_analysable(study)  # nothing to report: say so before any feature is made
    result = machine_choices(study, args) if study.choices is None else None
    for note in result.notes if result is not None else ():
        warn(note)
    out = report(study, result, out=args.out, figures=args.figures, title=args.title,
                 ci=not args.no_ci, n_boot=args.n_boot)
    size = Path(out).stat().st_size / 1e6
    print(f"wrote {out} ({size:.1f} MB)")
    if args.figures:
        print(f"wrote the figures to {args.figures}/")
    return 0
