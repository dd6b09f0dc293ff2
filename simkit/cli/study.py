"""``simkit study new COLLECTION --out STUDY``: sample groups of 5, the paper's way."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers, name_list, out_folder, path_arg, positive_int, seed

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``study`` (with ``new``) to the ``simkit`` subparsers."""
    from simkit.study.groups import GROUP_SIZE

    top = subparsers.add_parser("study", help="make study folders")
    sub = top.add_subparsers(dest="study_command", required=True)
    p = sub.add_parser("new", help="sample groups of 5 from a collection, the paper's way")
    p.add_argument("collection", type=path_arg, help="a collection folder (simkit fetch) or a study folder")
    p.add_argument("--out", required=True, type=out_folder, help="the new study folder")
    p.add_argument("--per-genre", type=positive_int, default=20,
                   help="groups per label (paper: 20 groups from 100 prints)")
    p.add_argument("--group-size", type=int, default=GROUP_SIZE, choices=[GROUP_SIZE],
                   help="images per group (a question shows 5)")
    p.add_argument("--by", default="genre",
                   help="the images.csv column to group within (genre, artist, …)")
    p.add_argument("--labels", default=None, type=name_list,
                   help="comma-separated values of --by to use, in order (default: all "
                        "with enough images)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--copy-images", action="store_true",
                   help="copy the images into STUDY/images (default: refer to the collection)")
    p.set_defaults(func=run)
    return top


def run(args: argparse.Namespace) -> int:
    """Write the new study and say how many groups each label got."""
    from simkit.study.groups import GROUP_SIZE, new_study

    study = new_study(args.collection, args.out, by=args.by, per_label=args.per_genre,
                      group_size=args.group_size, seed=args.seed, labels=args.labels,
                      copy_images=args.copy_images)
    print(f"wrote {args.out}: {len(study.questions)} groups of {GROUP_SIZE} "
          f"({len(study.images)} images), grouped by {args.by}, seed {args.seed}")
    for label, k in study.questions["genre"].value_counts(sort=False).items():
        note = "" if k == args.per_genre else f"  (fewer than {args.per_genre}: not enough images)"
        print(f"  {label}: {k}{note}")
    print("next: collect votes (notebooks/04_collect_votes.ipynb or 08_build_a_study.ipynb)")
    return 0
