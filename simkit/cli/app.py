"""The ``simkit`` command: the same functions as the notebooks, from a terminal.

    simkit validate STUDY
    simkit tables STUDY [--choices FILE] [--out DIR] [--weights imagenet|PATH|random:SEED] [--paper]
    simkit features STUDY --out FILE.npz [--weights ...] [--layer conv5_1] [--size 224]
    simkit demo [--out DIR] [--groups N] [--weights ...]
    simkit collect STUDY [--export]
    simkit retrieve COLLECTION --query IMAGE [-k 4] [--method style]
    simkit evaluate-retrieval COLLECTION --label COLUMN [--methods ...] [-k 5,10]
    simkit perceptual score --data material-appearance=PATH --net alexnet --out FILE.json
    simkit perceptual adapt --data study=STUDY --net alexnet --out SCALARS.npz
    simkit index COLLECTION [--scheduler tcp://HOST:PORT]
    simkit fetch NAME --out DIR
    simkit study new COLLECTION --out STUDY [--per-genre 20] [--by genre] [--seed 0]

Exit status: 0 on success, 2 when the input is invalid (the message says where and how to fix).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from simkit.study.model import StudyError, load_study

__all__ = ["main"]


class UserError(Exception):
    """Something the user can fix; printed without a traceback, exit status 2."""


def _user_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [StudyError, UserError, FileNotFoundError]
    for module, name in (("simkit.features.backbones", "WeightsUnavailableError"),
                         ("simkit.features.backbones", "WeightsError"),
                         ("simkit.features.images", "ImageError"),
                         ("simkit.fetch.museums", "FetchError")):
        try:
            errors.append(getattr(__import__(module, fromlist=[name]), name))
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (torchvision cache), a state_dict PATH, or random:SEED "
                        "(for tests and offline demos; results mean nothing)")
    p.add_argument("--layer", default="conv5_1", help="VGG-19 layer, after its ReLU")
    p.add_argument("--size", type=int, default=224, help="input size in pixels")
    p.add_argument("--policy", default="resize", choices=["resize", "keep-aspect", "native"],
                   help="preprocessing: resize to size×size, keep the aspect ratio, or native")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--cache-dir", default=None, help="feature store (default ~/.cache/simkit)")


def _add_methods_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--methods", default="gram,cosine,gram_cosine",
                   help="machine methods, comma-separated, when the choices are computed: "
                        "gram, cosine, gram_cosine (Wei et al.), style, colour, cnn, sift, orb, "
                        "lpips_<net>[_<comparison>] (e.g. lpips_alexnet, lpips_vgg16_sort)")


def _model_kwargs(args: argparse.Namespace) -> dict:
    return dict(weights=args.weights, layer=args.layer, size=args.size, policy=args.policy,
                precision=args.precision, cache_dir=args.cache_dir)


def _machine_choices(study, args, out: Path):
    """Let the machine methods choose; write choices.csv and pair_distances.csv to ``out``."""
    from simkit.fileio import write_csv
    from simkit.methods.registry import machine_choices

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    try:
        choices, distances, notes = machine_choices(study, methods, **_model_kwargs(args))
    except ValueError as e:
        if "unknown method" in str(e):
            raise UserError(f"--methods: {e}") from None
        raise
    write_csv(choices, out / "choices.csv")
    write_csv(distances, out / "pair_distances.csv")
    return study.with_choices(choices), notes


def cmd_validate(args: argparse.Namespace) -> int:
    study = load_study(args.study)
    print(study.summary())
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from simkit.analysis.tables import compute_tables
    from simkit.analysis.report import format_replay, format_tables, save_tables

    study = load_study(args.study, choices=args.choices)
    out = Path(args.out) if args.out else Path(args.study) / "results"
    notes: list[str] = []
    if study.choices is None:
        study, notes = _machine_choices(study, args, out)
    tables = compute_tables(study, ci=not args.no_ci, n_boot=args.n_boot)
    save_tables(tables, out)
    title = f"Study {args.study}: {len(study.valid_participants)} valid participants"
    for note in notes:
        title += f"\nWARNING: {note}"
    print(format_tables(tables, title))
    if args.paper:
        from simkit.analysis.published import TABLES, replay
        for name in TABLES:
            print()
            print(format_replay(replay(tables[name], name), name))
    print(f"\nwrote {out}/")
    return 0


def cmd_features(args: argparse.Namespace) -> int:
    from simkit.features.extract import extract_features, save_npz

    study = load_study(args.study)
    fs = extract_features(study, **_model_kwargs(args))
    save_npz(fs, args.out)
    if getattr(fs, "weights_note", ""):
        print(f"WARNING: {fs.weights_note}", file=sys.stderr)
    print(f"wrote {args.out}: {len(fs.image_ids)} images × "
          + ", ".join(f"{k} {v.shape[1]}" for k, v in fs.vectors.items()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Build the demo study, let the machines choose, print the paper's tables."""
    from simkit.study.demo import make_demo_study

    out = Path(args.out)
    print(f"Building the demo study in {out} (synthetic prints, SIMULATED votes) ...")
    make_demo_study(out, groups_per_genre=args.groups, image_size=args.image_size)
    if args.weights == "imagenet":
        from simkit.features.backbones import WeightsUnavailableError, load_backbone
        try:
            load_backbone("vgg19", weights="imagenet")
        except WeightsUnavailableError as e:  # not cached, no internet: say so, use random
            print(f"WARNING: {e}\n\nWARNING: the demo continues with random:0 weights: "
                  f"the machine choices below mean nothing.\n", file=sys.stderr)
            args.weights = "random:0"
    # results go to STUDY/results: a choices.csv in the study itself would be taken as
    # given machine choices by the next run
    args.study, args.choices, args.paper, args.out = str(out), None, True, None
    return cmd_tables(args)


def cmd_collect(args: argparse.Namespace) -> int:
    from simkit.votes.store import collect_command

    return collect_command(args.study, export=args.export)


def cmd_retrieve(args: argparse.Namespace) -> int:
    from simkit.cli.retrieval import retrieve_command

    return retrieve_command(args.collection, args.query, args.k, args.method, args.weights,
                            size=args.size, policy=args.policy, precision=args.precision,
                            cache_dir=args.cache_dir, index=args.index)


def cmd_evaluate_retrieval(args: argparse.Namespace) -> int:
    from simkit.cli.retrieval import evaluate_retrieval_command

    return evaluate_retrieval_command(args.collection, args.label, args.methods, args.ks,
                                      args.weights, args.out, size=args.size, policy=args.policy,
                                      precision=args.precision, cache_dir=args.cache_dir,
                                      sample=args.sample, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="simkit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a study folder and summarise it")
    p.add_argument("study")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("tables", help="replay the paper's tables on a study")
    p.add_argument("study")
    p.add_argument("--choices", help="machine choices CSV (default STUDY/choices.csv; "
                                     "without one, features are computed)")
    p.add_argument("--out", help="output folder (default STUDY/results)")
    p.add_argument("--paper", action="store_true", help="show the published tables beside ours")
    p.add_argument("--no-ci", action="store_true", help="skip the bootstrap intervals")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples")
    _add_methods_arg(p)
    _add_model_args(p)
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("features", help="extract Gram / Cosine / Gram·Cosine vectors")
    p.add_argument("study")
    p.add_argument("--out", required=True, help="FILE.npz")
    _add_model_args(p)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("demo", help="the terminal demo: demo study → machine choices → tables")
    p.add_argument("--out", default="demo-study")
    p.add_argument("--groups", type=int, default=20, help="groups per genre (paper: 20)")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--no-ci", action="store_true")
    p.add_argument("--n-boot", type=int, default=2000)
    _add_methods_arg(p)
    _add_model_args(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("collect", help="summarise (or --export) the votes collected in "
                                       "Jupyter (STUDY/votes.sqlite)")
    p.add_argument("study")
    p.add_argument("--export", action="store_true",
                   help="write STUDY/responses.csv and STUDY/participants.csv")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser("retrieve", help="the k nearest images of a query in a collection")
    p.add_argument("collection", help="a folder with images.csv (a study folder is one)")
    p.add_argument("--query", required=True, help="an image_id of the collection, or an image file")
    p.add_argument("-k", type=int, default=4)
    p.add_argument("--method", default="style",
                   help="style, colour, cnn, gram, cosine, gram_cosine, sift or orb")
    p.add_argument("--index", default="exact", choices=["exact", "approximate"])
    _add_model_args(p)
    p.set_defaults(func=cmd_retrieve)

    p = sub.add_parser("evaluate-retrieval",
                       help="precision/recall/F1@k and mAP per method, images sharing a label relevant")
    p.add_argument("collection")
    p.add_argument("--label", required=True, help="the column whose equal values are relevant")
    p.add_argument("--methods", default="style,colour,cnn,gram")
    p.add_argument("-k", dest="ks", default="5,10", help="comma-separated cut-offs")
    p.add_argument("--out", help="folder or .csv (default COLLECTION/results/retrieval.csv)")
    p.add_argument("--sample", type=int, help="evaluate a seeded random subset of N images")
    p.add_argument("--seed", type=int, default=0)
    _add_model_args(p)
    p.set_defaults(func=cmd_evaluate_retrieval)

    from simkit.cli.perceptual import add_parser as add_perceptual
    add_perceptual(sub)  # simkit perceptual score|adapt

    from simkit.scale.cluster import add_index_arguments, cmd_index
    p = sub.add_parser("index", help="features of a whole collection on Dask, into the "
                                     "chunked zarr store")
    add_index_arguments(p)
    p.set_defaults(func=cmd_index)

    from simkit.fetch.museums import add_fetch_arguments, cmd_fetch
    p = sub.add_parser("fetch", help="download a public-domain collection (once) for offline work")
    add_fetch_arguments(p)
    p.set_defaults(func=cmd_fetch)

    from simkit.study.groups import add_study_new_arguments, cmd_study_new
    study = sub.add_parser("study", help="make study folders").add_subparsers(
        dest="study_command", required=True)
    p = study.add_parser("new", help="sample groups of 5 from a collection, the paper's way")
    add_study_new_arguments(p)
    p.set_defaults(func=cmd_study_new)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
