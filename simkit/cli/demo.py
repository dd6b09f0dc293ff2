"""``simkit demo``: the terminal demo: demo study → machine choices → the paper's tables."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simkit.cli.options import MAX_SIZE, Subparsers, at_least, out_folder
from simkit.cli.tables import add_table_args, report_tables
from simkit.study.demo import MAX_GROUPS, MIN_IMAGE_SIZE

__all__ = ["add_parser", "run"]



def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``demo`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("demo", help="the terminal demo: demo study → machine choices "
                                           "→ tables")
    p.add_argument("--out", default="demo-study", type=out_folder)
    p.add_argument("--groups", type=at_least(1, MAX_GROUPS), default=20,
                   help=f"groups per genre (paper: 20; at most {MAX_GROUPS:,})")
    p.add_argument("--image-size", type=at_least(MIN_IMAGE_SIZE, MAX_SIZE), default=224,
                   help=f"the longer side of each print in pixels ({MIN_IMAGE_SIZE} to "
                        f"{MAX_SIZE}; the shorter side is about 2/3 of it)")
    add_table_args(p)
    p.set_defaults(func=run)
    return p


def _usable_weights(weights: str) -> str:
    """``weights``, or ``random:0`` (said loudly) when the ImageNet ones cannot be had."""
    if weights != "imagenet":
        return weights
    from simkit.features.backbones import WeightsUnavailableError, load_backbone
    try:
        load_backbone("vgg19", weights="imagenet")
    except WeightsUnavailableError as e:  # not cached, no internet: say so, use random
        print(f"WARNING: {e}\n\nWARNING: the demo continues with random:0 weights: "
              f"the machine choices below mean nothing.\n", file=sys.stderr)
        return "random:0"
    return weights


def run(args: argparse.Namespace) -> int:
    """Build the demo study in ``--out``, let the machines choose, print the tables."""
    from simkit.study.demo import make_demo_study

    out = Path(args.out)
    print(f"Building the demo study in {out} (synthetic prints, SIMULATED votes) ...")
    make_demo_study(out, groups_per_genre=args.groups, image_size=args.image_size)
    args = argparse.Namespace(**{**vars(args), "weights": _usable_weights(args.weights)})
    # results go to STUDY/results: a choices.csv in the study itself would be taken as
    # given machine choices by the next run
    return report_tables(str(out), args, choices=None, out=out / "results", paper=True)
