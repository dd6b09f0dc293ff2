"""``simkit evaluate-retrieval COLLECTION --label COLUMN``: precision/recall/F1@k and mAP."""
from __future__ import annotations

import argparse
from pathlib import Path

from simkit.cli.options import (Subparsers, add_model_args, int_list, name_list,
                                new_or_replaceable, out_file, out_folder, path_arg, positive_int,
                                seed, warn)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``evaluate-retrieval`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("evaluate-retrieval", help="precision/recall/F1@k and mAP per "
                                                         "method, images sharing a label relevant")
    p.add_argument("collection", type=path_arg)
    p.add_argument("--label", required=True, help="the column whose equal values are relevant")
    p.add_argument("--methods", type=name_list, default="style,colour,cnn,gram")
    p.add_argument("-k", dest="ks", type=int_list, default="5,10",
                   help="comma-separated cut-offs")
    p.add_argument("--out", type=_out_target,
                   help="folder or .csv (default COLLECTION/results/retrieval.csv); an "
                        "existing file is replaced only when it is such a table")
    p.add_argument("--sample", type=positive_int,
                   help="evaluate a seeded random subset of N images")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def _out_target(text: str) -> str:
    """An argparse type: a ``.csv`` file or a folder, checked before any work."""
    return out_file(text) if Path(text).suffix.lower() == ".csv" else out_folder(text)


def _target(out: str | None, root: Path) -> Path:
    """The file the table is written to: ``--out`` (a .csv, or a folder for
    ``retrieval.csv``), default ``COLLECTION/results/retrieval.csv``."""
    target = Path(out) if out is not None else root / "results"
    return target if target.suffix.lower() == ".csv" else target / "retrieval.csv"


def _is_retrieval_table(path: Path) -> bool:
    """An earlier output of this command: a CSV whose header starts ``method,k,``."""
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip(b"\xef\xbb\xbf").startswith(b"method,k,")
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    """Evaluate the methods, print the table, write ``retrieval.csv`` (atomically)."""
    import pandas as pd

    from simkit.fileio import write_csv
    from simkit.search.retrieval import evaluate
    from simkit.study.collection import load_collection

    col = load_collection(args.collection).subset(args.sample, args.seed)
    # before any work: never replace a file the user made (a collection's images.csv)
    target = new_or_replaceable(_target(args.out, col.root), _is_retrieval_table,
                                "a retrieval table of simkit")
    df = evaluate(col, args.label, args.methods, args.ks, weights=args.weights, size=args.size,
                  policy=args.policy, precision=args.precision, cache_dir=args.cache_dir,
                  device=args.device,
                  progress=not args.no_progress)
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
