"""``simkit export jspsych STUDY --out DIR [--language en|ja]``: the questionnaire as a
self-contained jsPsych experiment for online studies (JATOS, Pavlovia, cognition.run, any
static web host)."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers, out_folder, positive_int

__all__ = ["add_parser", "run_jspsych"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``export`` (with ``jspsych``) to the ``simkit`` subparsers."""
    top = subparsers.add_parser("export", help="write the questionnaire for other tools")
    sub = top.add_subparsers(dest="export_command", required=True)
    p = sub.add_parser("jspsych", help="a self-contained jsPsych 7 experiment (no CDN): "
                                       "upload to JATOS, Pavlovia, cognition.run or any "
                                       "static host")
    p.add_argument("study")
    p.add_argument("--out", required=True, type=out_folder, help="the experiment folder")
    p.add_argument("--language", default="en",
                   help="the participants' language: en or ja (default en)")
    p.add_argument("--image-px", type=positive_int, default=800,
                   help="longest side of the images written (default 800)")
    p.set_defaults(func=run_jspsych)
    return top


def run_jspsych(args: argparse.Namespace) -> int:
    """Write the experiment and say how to try it and put it online."""
    from simkit.study.model import open_study
    from simkit.votes.jspsych import export_experiment

    study = open_study(args.study)
    out = export_experiment(study, args.out, args.language, image_px=args.image_px)
    print(f"wrote {out}: {len(study.questions)} groups, {args.language}; open "
          f"{out / 'index.html'} to try it")
    print(f"upload: see {out / 'README.md'} (JATOS, Pavlovia, cognition.run, any static host)")
    print(f"then: simkit import jspsych DATA_FILE {args.study} --export")
    return 0
