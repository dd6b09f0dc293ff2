"""``simkit features STUDY --out FILE.npz``: extract Gram / Cosine / Gram·Cosine vectors."""
from __future__ import annotations

import argparse
from pathlib import Path

from simkit.cli.options import (Subparsers, add_model_args, model_kwargs, new_or_replaceable,
                                out_file, path_arg, warn)

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``features`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("features", help="extract Gram / Cosine / Gram·Cosine vectors")
    p.add_argument("study", type=path_arg)
    p.add_argument("--out", required=True, type=out_file,
                   help="FILE.npz (an existing file is replaced only when it is a features "
                        "file)")
    p.add_argument("--model", default="vgg19",
                   help="any model of `simkit models` (default vgg19, as in Wei et al.); "
                        "--layer then names one of its layers with maps or tokens")
    add_model_args(p)
    p.set_defaults(func=run)
    return p


def _is_features_file(path: Path) -> bool:
    """An earlier output of ``simkit features`` (:func:`simkit.features.extract.save_npz`):
    an npz archive holding ``image_ids`` and ``config``; a user's own vectors file lacks
    ``config`` and is kept."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return {"image_ids.npy", "config.npy"} <= set(z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def run(args: argparse.Namespace) -> int:
    """Extract the study's vectors and save them to ``--out``."""
    from simkit.features.extract import extract_features, save_npz
    from simkit.study.model import load_study

    from simkit.errors import UsageError
    from simkit.features.models import default_layer

    # before any work: the output must not be a file the user made (a study's images.csv)
    new_or_replaceable(args.out, _is_features_file, "a features file (.npz) of simkit")
    if args.layer == "conv5_1" and default_layer(args.model) != "conv5_1":
        raise UsageError(f"--layer: conv5_1 is a VGG layer; give a layer of {args.model} "
                         f"with feature maps or tokens (see: simkit models {args.model})")
    fs = extract_features(load_study(args.study), backbone=args.model, **model_kwargs(args))
    save_npz(fs, args.out)
    warn(getattr(fs, "weights_note", ""))
    print(f"wrote {args.out}: {len(fs.image_ids)} images × "
          + ", ".join(f"{k} {v.shape[1]}" for k, v in fs.vectors.items()))
    return 0
