"""``simkit evaluate-retrieval COLLECTION --label COLUMN``: precision/recall/F1@k and mAP."""
from __future__ import annotations

import argparse
from pathlib import Path

from simkit.cli.options import (Subparsers, add_model_args, int_list, name_list, positive_int,
                                warn)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``evaluate-retrieval`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("evaluate-retrieval", help="precision/recall/F1@k and mAP per "
                                                         "method, images sharing a label relevant")
    p.add_argument("collection")
    p.add_argument("--label", required=True, help="the column whose equal values are relevant")
    p.add_argument("--methods", type=name_list, default="style,colour,cnn,gram")
    p.add_argument("-k", dest="ks", type=int_list, default="5,10",
                   help="comma-separated cut-offs")
    p.add_argument("--out", help="folder or .csv (default COLLECTION/results/retrieval.csv)")
    p.add_argument("--sample", type=positive_int,
                   help="evaluate a seeded random subset of N images")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Evaluate the methods, print the table, write ``retrieval.csv`` (atomically)."""
    import pandas as pd

    from simkit.fileio import write_csv
    from simkit.search.retrieval import evaluate
    from simkit.study.collection import load_collection

    col = load_collection(args.collection).subset(args.sample, args.seed)
    df = evaluate(col, args.label, args.methods, args.ks, weights=args.weights, size=args.size,
                  policy=args.policy, precision=args.precision, cache_dir=args.cache_dir,
                  device=args.device,
                  progress=not args.no_progress)
    target = Path(args.out) if args.out is not None else col.root / "results"
    if target.suffix.lower() != ".csv":
        target = target / "retrieval.csv"
    write_csv(df, target)
    warn(df.attrs.get("weights_note", ""))
    q = df.attrs["queries"]
    print(f"retrieval on {col.root} ({len(col.images)} images), relevant = same "
          f"{args.label!r}; queries with a relevant image: "
          + ", ".join(f"{m} {n}" for m, n in q.items()))
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(df.to_string(index=False))
    print(f"wrote {target}")
    return 0
