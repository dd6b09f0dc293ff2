"""``simkit features STUDY --out FILE.npz``: extract Gram / Cosine / Gram·Cosine vectors."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers, add_model_args, model_kwargs, out_file, warn

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``features`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("features", help="extract Gram / Cosine / Gram·Cosine vectors")
    p.add_argument("study")
    p.add_argument("--out", required=True, type=out_file, help="FILE.npz")
    p.add_argument("--model", default="vgg19",
                   help="any model of `simkit models` (default vgg19, as in Wei et al.); "
                        "--layer then names one of its layers with maps or tokens")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Extract the study's vectors and save them to ``--out``."""
    from simkit.features.extract import extract_features, save_npz
    from simkit.study.model import load_study

    from simkit.errors import UsageError
    from simkit.features.models import default_layer

    if args.layer == "conv5_1" and default_layer(args.model) != "conv5_1":
        raise UsageError(f"--layer: conv5_1 is a VGG layer; give a layer of {args.model} "
                         f"with feature maps or tokens (see: simkit models {args.model})")
    fs = extract_features(load_study(args.study), backbone=args.model, **model_kwargs(args))
    save_npz(fs, args.out)
    warn(getattr(fs, "weights_note", ""))
    print(f"wrote {args.out}: {len(fs.image_ids)} images × "
          + ", ".join(f"{k} {v.shape[1]}" for k, v in fs.vectors.items()))
    return 0
