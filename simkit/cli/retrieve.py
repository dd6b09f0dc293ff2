"""``simkit retrieve COLLECTION --query IMAGE``: the k nearest images of a query."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers, add_model_args, path_arg, positive_int, warn

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``retrieve`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("retrieve", help="the k nearest images of a query in a collection")
    p.add_argument("collection", type=path_arg, help="a folder with images.csv (a study folder is one)")
    p.add_argument("--query", required=True, help="an image_id of the collection, or an image file")
    p.add_argument("-k", type=positive_int, default=4)
    p.add_argument("--method", default="style",
                   help="style, colour, cnn, gram, cosine, gram_cosine, sift or orb")
    p.add_argument("--index", default="exact", choices=["exact", "approximate"])
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the ``-k`` nearest images of ``--query`` by ``--method``."""
    import pandas as pd

    from simkit.search.retrieval import retrieve
    from simkit.study.collection import load_collection

    res = retrieve(load_collection(args.collection), args.query, args.k, args.method,
                   weights=args.weights, size=args.size, policy=args.policy,
                   precision=args.precision, cache_dir=args.cache_dir, device=args.device,
                   index=args.index,
                   progress=not args.no_progress)
    warn(res.attrs.get("weights_note", ""))
    q = res.attrs["query_id"] or res.attrs["query_file"]
    print(f"query: {q}   method: {args.method} ({res.attrs['metric']})   index: {args.index}")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(res.to_string(index=False))
    return 0
