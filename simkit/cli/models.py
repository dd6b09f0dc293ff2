"""``simkit models``: the models a method can be made from, and each model's layers."""
from __future__ import annotations

import argparse

from simkit.cli.options import Subparsers, positive_int

__all__ = ["add_parser", "run"]

_HOW = ("A method name is REPR[-METRIC]:MODEL[@LAYER], REPR one of embed, gram, cosine, "
        "gram_cosine;\ne.g. --methods gram,embed:timm:vit_small_patch16_224,"
        "gram:resnet50@layer4")


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``models`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("models", help="list the models (torchvision, timm, open_clip) "
                                             "and their layers")
    p.add_argument("model", nargs="?", help="show this model's layers "
                                            "(e.g. timm:vit_small_patch16_224)")
    p.add_argument("--source", choices=["torchvision", "timm", "open_clip"],
                   help="one library only")
    p.add_argument("--filter", default="", help="names containing this text, e.g. dinov2")
    p.add_argument("--limit", type=positive_int, default=40,
                   help="at most this many names per library (default 40)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Print the models (or one model's layers)."""
    from simkit.features.models import SOURCES, check_model, list_models, model_layers

    if args.model is not None:  # "" is an unknown model, not "list them all"
        name = check_model(args.model)
        layers = model_layers(name)
        print(f"{name}: {len(layers)} layers (any module name is a layer too)")
        for layer in layers:
            print(f"  {layer}")
        print(_HOW)
        return 0
    from simkit.errors import MissingExtraError

    for source in [args.source] if args.source else SOURCES:
        try:
            names = list_models(source, args.filter)
        except MissingExtraError as e:
            print(f"{source}: not installed ({e})")
            continue
        more = len(names) - args.limit
        print(f"{source}: {len(names)} model(s)" + (f" matching {args.filter!r}"
                                                     if args.filter else ""))
        for n in names[:args.limit]:
            print(f"  {n}")
        if more > 0:
            print(f"  … and {more} more (--filter TEXT or --limit N)")
    print(_HOW)
    return 0
