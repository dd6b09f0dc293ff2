"""``simkit perceptual score|adapt``: the perceptual metrics from a terminal.

    simkit perceptual score --data material-appearance=PATH --split test --net alexnet \\
        --comparison spatial [--weights imagenet|PATH|random:SEED] [--scalars FILE.npz] --out FILE.json
    simkit perceptual score --data study=STUDY --net alexnet --out FILE.json [--choices-out FILE.csv]
    simkit perceptual score --data distortions=FOLDER --ranking rotate,translate,... --out FILE.json
    simkit perceptual adapt --data material-appearance=PATH --net alexnet --comparison spatial \\
        --out SCALARS.npz [--report FILE.json] [--seeds 0,1,2,3] [--epochs 10]

The cli wires them with :func:`add_parser`; each ``*_command(args)`` returns the exit
status (0 ok, 2 bad input: the message says what to fix). Every output made with a random
network says so (``"meaningful": false`` and the warning) — its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

__all__ = ["add_parser", "score_command", "adapt_command", "parse_data"]

DATA_KINDS = ("material-appearance", "study", "distortions")


def parse_data(spec: str) -> tuple[str, Path]:
    """``"material-appearance=PATH"`` -> ``("material-appearance", Path(PATH))``."""
    kind, sep, path = str(spec).partition("=")
    if not sep or kind not in DATA_KINDS or not path:
        raise ValueError(f"--data {spec!r}: write KIND=PATH with KIND one of "
                         f"{', '.join(DATA_KINDS)} (e.g. material-appearance=../shared/data/"
                         f"material-appearance)")
    return kind, Path(path).expanduser()


def _add_common(p: argparse.ArgumentParser, *, adapt: bool) -> None:
    from simkit.methods.perceptual.distortions import DISTORTIONS
    from simkit.methods.perceptual.metrics import COMPARISONS
    from simkit.methods.perceptual.networks import NETWORKS

    p.add_argument("--data", required=True, metavar="KIND=PATH",
                   help="material-appearance=PATH (Lagunas et al. 2019), study=STUDY (its "
                        "votes as triplets) or distortions=FOLDER (a distortion ranking)")
    p.add_argument("--split", choices=["train", "test"], default="train" if adapt else "test",
                   help="material-appearance split (default: %(default)s)")
    p.add_argument("--net", choices=list(NETWORKS), default="alexnet")
    p.add_argument("--comparison", choices=list(COMPARISONS), default="spatial")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (torchvision cache), a state_dict PATH, or random:SEED "
                        "(for tests and offline demos; results mean nothing)")
    p.add_argument("--size", type=int, default=64,
                   help="images are resized to SIZE×SIZE (default %(default)s, as LPIPS's "
                        "64-px patches; 224 for full-size features)")
    p.add_argument("--ranking", default=",".join(DISTORTIONS),
                   help="distortions: the six names, least disruptive first")
    p.add_argument("--per-image", type=int, default=1,
                   help="distortions: triplets per image (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="distortions: seed of the draws")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``perceptual`` (with ``score`` and ``adapt``) to a ``simkit`` subparsers object."""
    top = subparsers.add_parser("perceptual", help="deep perceptual similarity (LPIPS-style "
                                                   "metrics), scored and adapted")
    sub = top.add_subparsers(dest="perceptual_command", required=True)
    p = sub.add_parser("score", help="2AFC score of a metric on triplets")
    _add_common(p, adapt=False)
    p.add_argument("--scalars", default=None, metavar="FILE.npz",
                   help="learned scalars from 'perceptual adapt' (sets --net/--comparison)")
    p.add_argument("--out", required=True, metavar="FILE.json")
    p.add_argument("--choices-out", default=None, metavar="FILE.csv",
                   help="study: also write the metric's choice per question (choices.csv "
                        "format, for 'simkit tables --choices')")
    p.set_defaults(func=score_command)

    p = sub.add_parser("adapt", help="learn the per-channel scalars of a metric")
    _add_common(p, adapt=True)
    p.add_argument("--out", required=True, metavar="SCALARS.npz",
                   help="the learned scalars (best validation seed)")
    p.add_argument("--report", default=None, metavar="FILE.json",
                   help="results per seed and mean ± sd (default: OUT with .json)")
    p.add_argument("--seeds", default="0,1,2,3", help="comma-separated training seeds")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--decay-epochs", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--folds", type=int, default=5,
                   help="study: cross-validation folds over questions")
    p.add_argument("--holdout", type=float, default=0.2,
                   help="distortions: fraction of the images kept for testing")
    p.set_defaults(func=adapt_command)
    return top


def _errors() -> tuple[type[BaseException], ...]:
    from simkit.features.backbones import WeightsError, WeightsUnavailableError
    from simkit.features.images import ImageError
    from simkit.study.model import StudyError
    return (ValueError, WeightsError, WeightsUnavailableError, ImageError, StudyError,
            FileNotFoundError)


def _triplets(kind: str, path: Path, args, *, split: str):
    """The triplets of ``--data`` (for distortions: built from the folder's images)."""
    from simkit.methods.perceptual.datasets import distortion_triplets, folder_pixels, load_material_appearance
    from simkit.methods.perceptual.datasets import study_triplets

    if kind == "material-appearance":
        return load_material_appearance(path, split)
    if kind == "study":
        from simkit.study.model import load_study
        return study_triplets(load_study(path))
    ids, px = folder_pixels(path, args.size)
    return distortion_triplets(px, args.ranking, seed=args.seed, per_image=args.per_image,
                               image_ids=ids)


def _meaning(net) -> dict:
    return {"weights": net.weights, "weights_id": net.weights_id,
            "meaningful": not net.is_random, "weights_note": net.weights_note}


def _warn(net) -> None:
    if net.weights_note:
        print(net.weights_note, file=sys.stderr)


def _run(command, args: argparse.Namespace) -> int:
    """Run a command; input the user can fix is reported in one line, exit status 2."""
    try:
        return command(args)
    except _errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def score_command(args: argparse.Namespace) -> int:
    """``simkit perceptual score``: write ``n_triplets``, ``score_2afc`` (eq. 5) and more."""
    return _run(_score, args)


def _score(args) -> int:
    from simkit.fileio import write_csv, write_text
    from simkit.methods.perceptual.metrics import PerceptualMetric, comparison_parts, load_scalars
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import human_ceiling, triplet_statistics

    kind, path = parse_data(args.data)
    if args.scalars:
        metric = load_scalars(args.scalars)
    else:
        metric = PerceptualMetric.baseline(args.net, args.comparison, weights=args.weights,
                                           size=args.size)
    metric.weights = args.weights if not args.scalars else metric.weights
    metric.size = args.size
    triplets = _triplets(kind, path, args, split=args.split)
    net = load_network(metric.net, metric.weights)
    _warn(net)
    extra = study = None
    if kind == "study" and args.choices_out:
        from simkit.study.model import load_study
        from simkit.methods.perceptual.adaptation import question_pairs
        study = load_study(path)
        extra = question_pairs(study)
    stats = triplet_statistics(triplets, net, comparison_parts(metric.comparison),
                               size=args.size, batch_size=args.batch_size, extra_pairs=extra,
                               progress=not args.no_progress)
    w = None if metric.scalars is None else metric.w()
    score = stats.score(metric.comparison, w)
    out = {"data": kind, "path": str(path), "split": args.split if kind ==
           "material-appearance" else None, "net": metric.net, "comparison": metric.comparison,
           "method": metric.name, "scalars": args.scalars, "size": args.size,
           **_meaning(net), "judgments": triplets.note, "n_triplets": len(triplets),
           "score_2afc": score, "human_ceiling_2afc": human_ceiling(triplets.J)}
    if study is not None:
        from simkit.methods.perceptual.adaptation import _choices_from_distances, _pair_rows
        d = stats.pair_distances(metric.comparison, w)[_pair_rows(stats, extra)]
        choices, _ = _choices_from_distances(list(study.questions["question_id"]), d,
                                             metric.name)
        write_csv(choices, args.choices_out)
        out["choices_out"] = str(args.choices_out)
    write_text(json.dumps(out, indent=2, default=str) + "\n", args.out)
    print(f"{metric.name} on {kind} ({len(triplets)} triplets): 2AFC = {score:.4f} "
          f"(human ceiling {out['human_ceiling_2afc']:.4f})"
          + ("" if out["meaningful"] else "  [RANDOM NETWORK: MEANINGLESS]"))
    return 0


def adapt_command(args: argparse.Namespace) -> int:
    """``simkit perceptual adapt``: learn the scalars, save them and a JSON report."""
    return _run(_adapt, args)


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds {text!r}: give integers separated by commas, e.g. 0,1,2,3")
    if not seeds:
        raise ValueError("--seeds: give at least one seed")
    return seeds


def _adapt(args) -> int:
    from simkit.fileio import write_text
    from simkit.methods.perceptual.adaptation import adapt_seeds, cross_validate_study, summarise_seeds
    from simkit.methods.perceptual.metrics import comparison_parts
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import triplet_statistics

    kind, path = parse_data(args.data)
    seeds = _seeds(args.seeds)
    kw = dict(epochs=args.epochs, decay_epochs=args.decay_epochs, lr=args.lr,
              patience=args.patience, val_fraction=args.val_fraction,
              progress=not args.no_progress)
    bases = comparison_parts(args.comparison)
    net = load_network(args.net, args.weights)
    _warn(net)
    report: dict = {"data": kind, "path": str(path), "net": args.net,
                    "comparison": args.comparison, "size": args.size, "seeds": seeds,
                    **_meaning(net)}
    if kind == "study":
        from simkit.study.model import load_study
        study = load_study(path)
        cv = cross_validate_study(study, args.net, [args.comparison], weights=args.weights,
                                  folds=args.folds, seeds=seeds, size=args.size,
                                  batch_size=args.batch_size, **kw)
        report["cross_validation"] = {"folds": args.folds,
                                      "per_seed": cv.per_seed.to_dict("records"),
                                      "summary": cv.summary.to_dict("records"),
                                      "human_ceiling_2afc": cv.human_ceiling}
        from simkit.methods.perceptual.datasets import study_triplets
        train = triplet_statistics(study_triplets(study), net, bases, size=args.size,
                                   batch_size=args.batch_size, progress=not args.no_progress)
        test = None
    else:
        if kind == "material-appearance":
            tr_t = _triplets(kind, path, args, split=args.split)
            other = "test" if args.split == "train" else "train"
            te_t = _triplets(kind, path, args, split=other)
            report["split"], report["test_split"] = args.split, other
        else:
            from simkit.methods.perceptual.datasets import distortion_triplets, folder_pixels
            ids, px = folder_pixels(path, args.size)
            n_test = int(round(args.holdout * len(ids)))
            if not 0 < n_test < len(ids):
                raise ValueError(f"--holdout {args.holdout}: leaves no training or no test "
                                 f"images of {len(ids)}")
            perm = np.random.default_rng(args.seed).permutation(len(ids))
            te_i, tr_i = perm[:n_test], perm[n_test:]
            mk = lambda idx, s: distortion_triplets(px[idx], args.ranking, seed=s,  # noqa: E731
                                                    per_image=args.per_image,
                                                    image_ids=[ids[i] for i in idx])
            tr_t, te_t = mk(tr_i, args.seed), mk(te_i, args.seed + 1)
            report["ranking"] = tr_t.info["ranking"]
        train = triplet_statistics(tr_t, net, bases, size=args.size,
                                   batch_size=args.batch_size, progress=not args.no_progress)
        test = triplet_statistics(te_t, net, bases, size=args.size,
                                  batch_size=args.batch_size, progress=not args.no_progress)
    rows, results = adapt_seeds(train, test, [args.comparison], seeds, **kw)
    report["n_train_triplets"] = len(train)
    report["n_test_triplets"] = None if test is None else len(test)
    report["per_seed"] = rows.to_dict("records")
    report["summary"] = summarise_seeds(rows).to_dict("records")
    best = max(results.values(), key=lambda r: r.val_2afc)
    metric = best.metric()
    metric.info.update({"data": kind, "meaningful": not net.is_random})
    metric.save(args.out)
    report["scalars"] = str(args.out)
    report["kept_seed"] = best.seed
    rep = Path(args.report) if args.report else Path(args.out).with_suffix(".json")
    write_text(json.dumps(report, indent=2, default=_json_default) + "\n", rep)
    s = report["summary"][0]
    if test is not None:
        print(f"{metric.name}: test 2AFC baseline {s['baseline_2afc_mean']:.4f} -> adapted "
              f"{s['adapted_2afc_mean']:.4f} ± {np.nan_to_num(s['adapted_2afc_sd']):.4f} "
              f"over {len(seeds)} seed(s)")
    else:
        for r in report["cross_validation"]["summary"]:
            print(f"{r['method']}: held-out 2AFC {r['twoafc_mean']:.4f}, Agree "
                  f"{r['agree_mean']:.1f} %, Ps {r['ps_mean']:.1f} %")
    if net.is_random:
        print("[RANDOM NETWORK: these numbers are MEANINGLESS; they only prove the code path]")
    print(f"scalars: {args.out}  report: {rep}")
    return 0


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
