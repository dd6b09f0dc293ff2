"""Options shared by several subcommands, and the checks of option values.

The value checks are argparse ``type=`` functions: a bad value becomes one line naming the
option (``error: argument --size: …``) and exit status 2, before any work starts.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

from simkit import checks
from simkit.fileio import new_or_replaceable

__all__ = ["Subparsers", "at_least", "positive_int", "non_negative_int", "seed", "name_list",
           "int_list", "out_folder", "out_file", "path_arg", "new_or_replaceable", "MAX_SIZE",
           "add_model_args", "add_methods_arg", "add_device_arg", "model_kwargs", "warn",
           "float_between", "positive_float", "non_negative_float", "fraction"]

#: What ``ArgumentParser.add_subparsers`` returns (its class is private to argparse).
Subparsers = Any

WEIGHTS_HELP = ("imagenet (torchvision cache), a state_dict PATH, or random:SEED "
                "(for tests and offline demos; results mean nothing)")


def at_least(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number ``>= low`` (and ``<= high`` when given: a size
    or count past it would exhaust the memory or the disk, not give a result)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is too small; give at least {low}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"{value} is too large; give at most {high:,}")
        return value
    parse.__name__ = f"integer >= {low}"  # argparse names the type in some messages
    return parse


positive_int = at_least(1)
non_negative_int = at_least(0)
#: A random seed: numpy's generators take whole numbers from 0 (a negative one was a
#: traceback deep inside numpy).
seed = at_least(0)
#: The largest input size in pixels (the Python API checks the same bound).
MAX_SIZE = checks.MAX_SIZE


def float_between(low: float, high: float | None = None, *, low_open: bool = False,
                  high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number from ``low`` (excluded when ``low_open``) to
    ``high`` (excluded when ``high_open``); nan and inf are refused (``float()`` takes
    them, and they only failed later, deep in numpy or torch)."""
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(
                f"{value:g} is too small; give {'more than' if low_open else 'at least'} "
                f"{low:g}")
        if high is not None and (value > high or (high_open and value == high)):
            raise argparse.ArgumentTypeError(
                f"{value:g} is too large; give {'less than' if high_open else 'at most'} "
                f"{high:g}")
        return value
    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


#: A finite number > 0 (a learning rate).
positive_float = float_between(0.0, low_open=True)
#: A finite number >= 0 (seconds to wait).
non_negative_float = float_between(0.0)
#: A finite fraction strictly between 0 and 1 (of the data kept for validation or testing).
fraction = float_between(0.0, 1.0, low_open=True, high_open=True)


def path_arg(text: str) -> str:
    """An argparse type: a path that is not empty or blank (``""`` silently meant the
    current folder, and the messages then named ``images.csv`` without a folder)."""
    if not str(text).strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not a path; give a folder or file "
                                         f"path (. for the current folder)")
    return text


def name_list(text: str) -> list[str]:
    """An argparse type: comma-separated names, at least one (``"gram, cosine"``)."""
    names = [s.strip() for s in str(text).split(",") if s.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name, comma-separated")
    return names


def int_list(text: str) -> list[int]:
    """An argparse type: comma-separated whole numbers >= 1, at least one (``"5,10"``)."""
    try:
        return [positive_int(s) for s in name_list(text)]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give whole numbers >= 1 separated by commas, like 5,10") from None


def out_folder(text: str) -> str:
    """An argparse type: a folder to write into, which exists or can be created (no file
    is in the way), so a run never fails at its end for a bad ``--out``."""
    from simkit.paths import NotAFolderError, check_folder

    try:
        check_folder(text, "the folder", "give a folder path")
    except NotAFolderError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def out_file(text: str) -> str:
    """An argparse type: a file to write, not an existing folder, in a folder that exists
    or can be created."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name in it, "
                                         f"like {Path(text) / 'out.npz'}")
    out_folder(str(Path(text).parent))
    return text


def add_model_args(p: argparse.ArgumentParser, *, cache_help: str = "feature store") -> None:
    """``--weights --layer --size --policy --precision --cache-dir``: the network and input."""
    p.add_argument("--weights", default="imagenet", help=WEIGHTS_HELP)
    p.add_argument("--layer", default="conv5_1", help="VGG-19 layer, after its ReLU")
    p.add_argument("--size", type=at_least(16, MAX_SIZE), default=224,
                   help=f"input size in pixels (16 to {MAX_SIZE})")
    p.add_argument("--policy", default="resize", choices=["resize", "keep-aspect", "native"],
                   help="preprocessing: resize to size×size, keep the aspect ratio, or native")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"],
                   help="fp32, or bf16/fp16 autocast (fp16 on GPUs only)")
    add_device_arg(p)
    p.add_argument("--cache-dir", default=None, type=out_folder, help=f"{cache_help} (default ~/.cache/simkit)")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    """``--device``: where the networks run."""
    p.add_argument("--device", default="auto",
                   help="auto (CUDA, then Apple MPS, then the CPU), cpu, cuda, cuda:N or mps; "
                        "a device that is not there is an error, never a fallback")


def add_methods_arg(p: argparse.ArgumentParser) -> None:
    """``--methods``: the machine methods that choose when a study has no choices."""
    p.add_argument("--methods", type=name_list, default="gram,cosine,gram_cosine",
                   help="machine methods, comma-separated, when the choices are computed: "
                        "gram, cosine, gram_cosine (Wei et al.), style, colour, cnn, sift, orb, "
                        "lpips_<net>[_<comparison>] (e.g. lpips_alexnet, lpips_vgg16_sort), or "
                        "any model: REPR[-METRIC]:MODEL[@LAYER], e.g. "
                        "embed:timm:vit_small_patch16_224 (see simkit models)")


def model_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of the extraction functions, from :func:`add_model_args`."""
    return dict(weights=args.weights, layer=args.layer, size=args.size, policy=args.policy,
                precision=args.precision, cache_dir=args.cache_dir, device=args.device)


def warn(note: str) -> None:
    """Print a warning (e.g. random weights) on stderr, where results do not go."""
    if note:
        print(note if note.startswith("WARNING") else f"WARNING: {note}", file=sys.stderr)
