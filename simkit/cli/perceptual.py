"""``simkit perceptual score|adapt``: the perceptual metrics from a terminal.

    simkit perceptual score --data material-appearance=PATH --split test --net alexnet \\
        --comparison spatial [--weights imagenet|PATH|random:SEED] [--scalars FILE.npz] --out FILE.json
    simkit perceptual score --data study=STUDY --net alexnet --out FILE.json [--choices-out FILE.csv]
    simkit perceptual score --data distortions=FOLDER --ranking rotate,translate,... --out FILE.json
    simkit perceptual score --data bapps-2afc=ROOT[:SUBSET] --split val --out FILE.json
    simkit perceptual score --data bapps-jnd=ROOT[:SUBSET] --split val --out FILE.json
    simkit perceptual score --data svhn=FOLDER|stl10=FOLDER [--ranking ...] [--download] --out FILE.json
    simkit perceptual adapt --data material-appearance=PATH --net alexnet --comparison spatial \\
        --out SCALARS.npz [--report FILE.json] [--seeds 0,1,2,3] [--epochs 10]
    simkit perceptual replicate ...            (see simkit.cli.perceptual_replicate)

Both take ``--device auto|cpu|cuda|cuda:N|mps`` (default ``auto``: a CUDA GPU, else Apple
MPS, else the CPU); a device this machine does not have is an error (exit status 2), never a
silent fall back to the CPU.

:func:`add_parser` adds both; :func:`run` runs the one asked. Input the user can fix raises a
:class:`~simkit.errors.SimkitError` (one line, exit status 2). Every output made with a random
network says so (``"meaningful": false`` and the warning) — its numbers mean nothing.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from simkit.cli.options import (MAX_SIZE, WEIGHTS_HELP, Subparsers, add_device_arg, at_least,
                                fraction, new_or_replaceable, non_negative_int, out_file,
                                positive_float, positive_int, seed, warn)
from simkit.errors import UsageError
from simkit.features.device import resolve_device

if TYPE_CHECKING:
    from simkit.methods.perceptual.metrics import PerceptualMetric
    from simkit.methods.perceptual.networks import LossNetwork
    from simkit.methods.perceptual.twoafc import Triplets, TripletStats

__all__ = ["add_parser", "run", "score", "adapt", "parse_data"]

DATA_KINDS = ("material-appearance", "study", "distortions", "bapps-2afc", "bapps-jnd", "svhn",
              "stl10")
#: the split each kind reads unless --split says otherwise (score, adapt)
DEFAULT_SPLIT = {"material-appearance": ("test", "train"), "bapps-2afc": ("val", "train"),
                 "bapps-jnd": ("val", "val"), "svhn": ("test", "train"),
                 "stl10": ("test", "test")}
#: the splits each kind has
SPLITS = {"material-appearance": ("train", "test"), "bapps-2afc": ("train", "val"),
          "bapps-jnd": ("val",), "svhn": ("train", "test"), "stl10": ("train", "test")}
#: Longest JSON result this command recognises as its own (its results are kilobytes).
_MAX_JSON_BYTES = 50_000_000


def parse_data(spec: str) -> tuple[str, Path]:
    """``"material-appearance=PATH"`` -> ``("material-appearance", Path(PATH))``."""
    kind, sep, path = str(spec).partition("=")
    if not sep or kind not in DATA_KINDS or not path:
        raise UsageError(f"--data {spec!r}: write KIND=PATH with KIND one of "
                         f"{', '.join(DATA_KINDS)} (e.g. material-appearance=../shared/data/"
                         f"material-appearance)")
    return kind, Path(path).expanduser()


def _add_common(p: argparse.ArgumentParser, *, adapt: bool) -> None:
    from simkit.methods.perceptual.distortions import DISTORTIONS
    from simkit.methods.perceptual.metrics import COMPARISONS
    from simkit.methods.perceptual.networks import MIN_SIZE, NETWORKS

    p.add_argument("--data", required=True, metavar="KIND=PATH",
                   help="material-appearance=PATH (Lagunas et al. 2019), study=STUDY (its "
                        "votes as triplets), distortions=FOLDER (a distortion ranking), "
                        "bapps-2afc=ROOT[:SUBSET] or bapps-jnd=ROOT[:SUBSET] (BAPPS; ROOT holds "
                        "2afc/ and jnd/), svhn=FOLDER or stl10=FOLDER (the distortion-ranking "
                        "triplets of Pihlgren et al. on their images)")
    p.add_argument("--split", choices=["train", "val", "test"], default=None,
                   help="the data set's split (default: test for material-appearance, "
                        "svhn and stl10, val for BAPPS" + ("; train to adapt)" if adapt
                                                           else ")"))
    p.add_argument("--limit", type=positive_int, default=None,
                   help="svhn, stl10, bapps: only the first N images / items (of each subset)")
    p.add_argument("--download", action="store_true",
                   help="svhn, stl10: download through torchvision when the files are missing")
    p.add_argument("--net", choices=list(NETWORKS), default="alexnet")
    p.add_argument("--comparison", choices=list(COMPARISONS), default="spatial")
    p.add_argument("--weights", default="imagenet", help=WEIGHTS_HELP)
    p.add_argument("--size", type=at_least(MIN_SIZE, MAX_SIZE), default=64,
                   help="images are resized to SIZE×SIZE (default %(default)s, as LPIPS's "
                        f"64-px patches; 224 for full-size features; {MIN_SIZE} to "
                        f"{MAX_SIZE})")
    p.add_argument("--ranking", type=_ranking, default=",".join(DISTORTIONS),
                   help="distortions: the six names, least disruptive first")
    p.add_argument("--per-image", type=positive_int, default=1,
                   help="distortions: triplets per image (default %(default)s)")
    p.add_argument("--seed", type=seed, default=0, help="distortions: seed of the draws")
    p.add_argument("--batch-size", type=positive_int, default=32)
    add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``perceptual`` (with ``score`` and ``adapt``) to a ``simkit`` subparsers object."""
    top = subparsers.add_parser("perceptual", help="deep perceptual similarity (LPIPS-style "
                                                   "metrics), scored and adapted")
    sub = top.add_subparsers(dest="perceptual_command", required=True)
    p = sub.add_parser("score", help="2AFC score of a metric on triplets")
    _add_common(p, adapt=False)
    p.add_argument("--scalars", default=None, metavar="FILE.npz",
                   help="learned scalars from 'perceptual adapt' (sets --net/--comparison)")
    p.add_argument("--out", required=True, type=out_file, metavar="FILE.json",
                   help="the result (an earlier result is replaced, any other file refused)")
    p.add_argument("--choices-out", default=None, type=out_file, metavar="FILE.csv",
                   help="study: also write the metric's choice per question (choices.csv "
                        "format, for 'simkit tables --choices')")
    p.set_defaults(func=run)

    p = sub.add_parser("adapt", help="learn the per-channel scalars of a metric")
    _add_common(p, adapt=True)
    p.add_argument("--out", required=True, type=out_file, metavar="SCALARS.npz",
                   help="the learned scalars (best validation seed)")
    p.add_argument("--report", default=None, type=out_file, metavar="FILE.json",
                   help="results per seed and mean ± sd (default: OUT with .json)")
    p.add_argument("--seeds", type=_seeds, default="0,1,2,3",
                   help="comma-separated training seeds")
    p.add_argument("--epochs", type=positive_int, default=10)
    p.add_argument("--decay-epochs", type=non_negative_int, default=5)
    p.add_argument("--lr", type=positive_float, default=0.01, help="learning rate (> 0)")
    p.add_argument("--patience", type=non_negative_int, default=3)
    p.add_argument("--val-fraction", type=fraction, default=0.2,
                   help="fraction of the training data kept for validation (between 0 and 1)")
    p.add_argument("--folds", type=at_least(2), default=5,
                   help="study: cross-validation folds over questions")
    p.add_argument("--holdout", type=fraction, default=0.2,
                   help="distortions: fraction of the images kept for testing")
    p.set_defaults(func=run)
    from simkit.cli import perceptual_replicate

    perceptual_replicate.add_parser(sub)
    return top


def _split(kind: str, args: argparse.Namespace, *, adapt: bool = False) -> str | None:
    """``--split``, or the kind's default; refused when the data set has no such split."""
    if kind not in SPLITS:
        return None
    split = args.split or DEFAULT_SPLIT[kind][int(adapt)]
    if split not in SPLITS[kind]:
        raise UsageError(f"--split {split}: {kind} has {' and '.join(SPLITS[kind])}")
    return split


def _triplets(kind: str, path: Path, args: argparse.Namespace, *, split: str,
              seed: int | None = None) -> "Triplets":
    """The triplets of ``--data`` (for distortions, svhn, stl10: drawn on its images)."""
    from simkit.methods.perceptual import paper_data
    from simkit.methods.perceptual.datasets import (distortion_triplets, folder_pixels,
                                                    load_material_appearance, study_triplets)

    if kind == "material-appearance":
        return load_material_appearance(path, split)
    if kind == "study":
        from simkit.study.model import load_study
        return study_triplets(load_study(path))
    if kind == "bapps-2afc":
        root, subsets = paper_data.parse_bapps(path, "2afc", split)
        return paper_data.load_bapps_2afc(root, split, subsets, limit=args.limit)
    if kind in ("svhn", "stl10"):
        load = paper_data.load_svhn if kind == "svhn" else paper_data.load_stl10
        px = load(path, split, download=args.download, limit=args.limit)
        return distortion_triplets(px, args.ranking, seed=args.seed if seed is None else seed,
                                   per_image=args.per_image,
                                   image_ids=[f"{kind}-{split}-{i}" for i in range(len(px))])
    ids, px = folder_pixels(path, args.size)
    return distortion_triplets(px, args.ranking, seed=args.seed, per_image=args.per_image,
                               image_ids=ids)


def _meaning(net: "LossNetwork") -> dict:
    """What the JSON outputs say about the network's weights (random ones mean nothing)."""
    return {"weights": net.weights, "weights_id": net.weights_id,
            "meaningful": not net.is_random, "weights_note": net.weights_note}


def _ranking(text: str) -> list[str]:
    """An argparse type: the six distortion names, least disruptive first."""
    from simkit.methods.perceptual.distortions import check_ranking

    try:
        return check_ranking(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _seeds(text: str) -> list[int]:
    """An argparse type: comma-separated training seeds (whole numbers >= 0), at least one."""
    try:
        seeds = [seed(s) for s in str(text).split(",") if s.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: give whole numbers >= 0 separated by "
                                         f"commas, e.g. 0,1,2,3") from None
    if not seeds:
        raise argparse.ArgumentTypeError("give at least one seed")
    return seeds


def _is_result_json(path: Path) -> bool:
    """An earlier JSON result of ``score`` or report of ``adapt``: an object naming the
    data kind and the network."""
    try:
        if path.stat().st_size > _MAX_JSON_BYTES:
            return False
        out = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(out, dict) and out.get("data") in DATA_KINDS and "net" in out


def _is_choices_csv(path: Path) -> bool:
    """An earlier ``--choices-out``: a CSV whose header is ``question_id,method,choice``."""
    try:
        with open(path, "rb") as fh:
            return fh.readline(256).lstrip(b"\xef\xbb\xbf").strip() == (
                b"question_id,method,choice")
    except OSError:
        return False


def _is_scalars_npz(path: Path) -> bool:
    """An earlier ``adapt --out``: an ``.npz`` holding the metric's ``config``."""
    import zipfile

    try:
        with open(path, "rb") as fh:  # a zip (npz); np.load would read a whole .npy file
            if fh.read(4) != b"PK\x03\x04":
                return False
        with np.load(path, allow_pickle=False) as z:
            return "config" in z.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def _outputs(*pairs: tuple[str | Path, Callable[[Path], bool], str]) -> None:
    """Before any work: each output is new or this command's own (``new_or_replaceable``),
    and no two are the same file (the second would replace the first)."""
    seen: dict[Path, str] = {}
    for path, _, what in pairs:
        key = Path(path).resolve()
        if key in seen:
            raise UsageError(f"{path}: given for both {seen[key]} and {what}; give each "
                             f"output its own file")
        seen[key] = what
    for path, is_ours, what in pairs:
        new_or_replaceable(path, is_ours, what)


def run(args: argparse.Namespace) -> int:
    """Run ``simkit perceptual score`` or ``adapt``, as ``args`` asks."""
    return score(args) if args.perceptual_command == "score" else adapt(args)


def _metric(args: argparse.Namespace) -> "PerceptualMetric":
    """The metric to score: learned scalars (``--scalars``) or the baseline of ``--net``."""
    from simkit.methods.perceptual.metrics import PerceptualMetric, load_scalars

    if not args.scalars:
        return PerceptualMetric.baseline(args.net, args.comparison, weights=args.weights,
                                         size=args.size)
    try:
        metric = load_scalars(args.scalars)
    except ValueError as e:  # metrics.load_scalars refuses a bad file with a plain ValueError
        raise UsageError(f"--scalars: {e}") from None
    metric.size = args.size
    return metric


def score(args: argparse.Namespace) -> int:
    """``simkit perceptual score``: write ``n_triplets``, ``score_2afc`` (eq. 5) and more."""
    from simkit.fileio import replace_files, write_csv, write_text
    from simkit.methods.perceptual.metrics import comparison_parts
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import human_ceiling, triplet_statistics

    kind, path = parse_data(args.data)
    _outputs((args.out, _is_result_json, "a JSON result of simkit perceptual"),
             *([(args.choices_out, _is_choices_csv, "a choices CSV of simkit perceptual")]
               if args.choices_out else []))
    device = resolve_device(args.device)  # a missing GPU stops us before any data is read
    metric = _metric(args)
    split = _split(kind, args)
    if kind == "bapps-jnd":
        return _score_jnd(args, path, split, metric, device)
    triplets = _triplets(kind, path, args, split=split)
    net = load_network(metric.net, metric.weights, device=device)
    warn(net.weights_note)
    stats = triplet_statistics(triplets, net, comparison_parts(metric.comparison),
                               size=args.size, batch_size=args.batch_size,
                               progress=not args.no_progress)
    w = None if metric.scalars is None else metric.w()
    result = stats.score(metric.comparison, w)
    out = {"data": kind, "path": str(path), "split": split, "net": metric.net,
           "comparison": metric.comparison,
           "method": metric.name, "scalars": args.scalars, "size": args.size,
           "device": str(device), **_meaning(net), "judgments": triplets.note, "n_triplets": len(triplets),
           "score_2afc": result, "human_ceiling_2afc": human_ceiling(triplets.J)}
    if kind in ("svhn", "stl10"):
        out.update(ranking=list(args.ranking), seed=args.seed, per_image=args.per_image)
    if kind == "bapps-2afc":  # pooled above; per subset here (LPIPS reports both)
        sub = triplets.table["subset"].to_numpy()
        out["per_subset"] = {s: {"n_triplets": int((sub == s).sum()),
                                 "score_2afc": stats.subset(sub == s).score(metric.comparison, w)}
                             for s in triplets.info["subsets"]}
    choices = None
    if kind == "study" and args.choices_out:
        from simkit.methods.perceptual.study_adaptation import study_choices
        from simkit.study.model import load_study
        choices, _, _ = study_choices(load_study(path), [metric], batch_size=args.batch_size,
                                      progress=not args.no_progress, device=device)
        out["choices_out"] = str(args.choices_out)
    # the report and the choices it names are replaced together, or neither is
    targets = [args.out] + ([args.choices_out] if choices is not None else [])
    with replace_files(*targets) as staged:
        write_text(json.dumps(out, indent=2, default=str) + "\n", staged[0])
        if choices is not None:
            write_csv(choices, staged[1])
    print(f"{metric.name} on {kind} ({len(triplets)} triplets): 2AFC = {result:.4f} "
          f"(human ceiling {out['human_ceiling_2afc']:.4f})"
          + ("" if out["meaningful"] else "  [RANDOM NETWORK: MEANINGLESS]"))
    return 0


def _score_jnd(args: argparse.Namespace, path: Path, split: str,
               metric: "PerceptualMetric", device) -> int:
    """``score --data bapps-jnd=ROOT``: the JND mAP (pooled and per subset)."""
    from simkit.fileio import write_text
    from simkit.methods.perceptual import paper_data
    from simkit.methods.perceptual.metrics import comparison_parts
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import jnd_map, jnd_statistics

    root, subsets = paper_data.parse_bapps(path, "jnd", split)
    pairs = paper_data.load_bapps_jnd(root, split, subsets, limit=args.limit)
    net = load_network(metric.net, metric.weights, device=device)
    warn(net.weights_note)
    stats = jnd_statistics(pairs, net, comparison_parts(metric.comparison), size=args.size,
                           batch_size=args.batch_size, progress=not args.no_progress)
    w = None if metric.scalars is None else metric.w()
    d = stats.distances(metric.comparison, w)
    sub = pairs.table["subset"].to_numpy()
    out = {"data": "bapps-jnd", "path": str(path), "split": split, "net": metric.net,
           "comparison": metric.comparison, "method": metric.name, "scalars": args.scalars,
           "size": args.size, "device": str(device), **_meaning(net),
           "judgments": pairs.note, "n_pairs": len(pairs), "n_triplets": 0,
           "score_2afc": None, "jnd_map": jnd_map(d, pairs.same),
           "per_subset": {s: {"n_pairs": int((sub == s).sum()),
                              "jnd_map": jnd_map(d[sub == s], pairs.same[sub == s])}
                          for s in subsets}}
    write_text(json.dumps(out, indent=2, default=_json_default) + "\n", args.out)
    print(f"{metric.name} on bapps-jnd ({len(pairs)} pairs): JND mAP = {out['jnd_map']:.4f}"
          + ("" if out["meaningful"] else "  [RANDOM NETWORK: MEANINGLESS]"))
    return 0


def _held_out(kind: str, path: Path, args: argparse.Namespace, report: dict
              ) -> tuple["Triplets", "Triplets"]:
    """Training and test triplets of material-appearance or distortions data."""
    if kind in ("material-appearance", "svhn"):
        split = _split(kind, args, adapt=True)
        other = "test" if split == "train" else "train"
        report["split"], report["test_split"] = split, other
        train = _triplets(kind, path, args, split=split)
        # svhn: the test images get their own distortion draws
        test = _triplets(kind, path, args, split=other, seed=args.seed + 1)
        if kind == "svhn":
            report["ranking"] = train.info["ranking"]
        return train, test
    from simkit.methods.perceptual.datasets import distortion_triplets, folder_pixels
    ids, px = folder_pixels(path, args.size)
    n_test = int(round(args.holdout * len(ids)))
    if not 0 < n_test < len(ids):
        raise UsageError(f"--holdout {args.holdout}: leaves no training or no test "
                         f"images of {len(ids)}")
    perm = np.random.default_rng(args.seed).permutation(len(ids))

    def draw(idx: np.ndarray, seed: int) -> "Triplets":
        return distortion_triplets(px[idx], args.ranking, seed=seed, per_image=args.per_image,
                                   image_ids=[ids[i] for i in idx])

    train, test = draw(perm[n_test:], args.seed), draw(perm[:n_test], args.seed + 1)
    report["ranking"] = train.info["ranking"]
    return train, test


def _statistics(kind: str, path: Path, args: argparse.Namespace, net: "LossNetwork",
                kw: dict, report: dict) -> tuple["TripletStats", "TripletStats | None"]:
    """Training and test statistics (a study: cross-validated here, no test set)."""
    from simkit.methods.perceptual.metrics import comparison_parts
    from simkit.methods.perceptual.twoafc import triplet_statistics

    def stats(triplets: "Triplets") -> "TripletStats":
        return triplet_statistics(triplets, net, comparison_parts(args.comparison),
                                  size=args.size, batch_size=args.batch_size,
                                  progress=not args.no_progress)

    if kind != "study":
        train, test = _held_out(kind, path, args, report)
        return stats(train), stats(test)
    from simkit.methods.perceptual.study_adaptation import cross_validate_study
    from simkit.methods.perceptual.datasets import study_triplets
    from simkit.study.model import load_study
    study = load_study(path)
    if args.folds > len(study.questions):
        raise UsageError(f"--folds {args.folds}: the study has only {len(study.questions)} "
                         f"questions")
    cv = cross_validate_study(study, args.net, [args.comparison], weights=args.weights,
                              folds=args.folds, seeds=args.seeds, size=args.size,
                              batch_size=args.batch_size, **kw)
    report["cross_validation"] = {"folds": args.folds,
                                  "per_seed": cv.per_seed.to_dict("records"),
                                  "summary": cv.summary.to_dict("records"),
                                  "human_ceiling_2afc": cv.human_ceiling}
    return stats(study_triplets(study)), None


def adapt(args: argparse.Namespace) -> int:
    """``simkit perceptual adapt``: learn the scalars, save them and a JSON report."""
    from simkit.fileio import replace_files, write_text
    from simkit.methods.perceptual.adaptation import adapt_seeds, summarise_seeds
    from simkit.methods.perceptual.networks import load_network

    kind, path = parse_data(args.data)
    if kind in ("bapps-2afc", "bapps-jnd", "stl10"):
        raise UsageError(f"--data {kind}: adapt on material-appearance, study, distortions or "
                         f"svhn (the paper adapts on SVHN train and tests on STL-10 and BAPPS: "
                         f"'simkit perceptual replicate')")
    device = resolve_device(args.device)  # a missing GPU stops us before any work
    kw = dict(epochs=args.epochs, decay_epochs=args.decay_epochs, lr=args.lr,
              patience=args.patience, val_fraction=args.val_fraction,
              progress=not args.no_progress, device=device)
    if args.decay_epochs > args.epochs:
        raise UsageError(f"--decay-epochs {args.decay_epochs}: at most --epochs "
                         f"({args.epochs})")
    rep = Path(args.report) if args.report else Path(args.out).with_suffix(".json")
    _outputs((args.out, _is_scalars_npz, "a scalars file (.npz) of simkit perceptual adapt"),
             (rep, _is_result_json, "a JSON report of simkit perceptual"))
    net = load_network(args.net, args.weights, device=device)
    warn(net.weights_note)
    report: dict = {"data": kind, "path": str(path), "net": args.net,
                    "comparison": args.comparison, "size": args.size, "seeds": args.seeds,
                    "device": str(device), **_meaning(net)}
    train, test = _statistics(kind, path, args, net, kw, report)
    rows, results = adapt_seeds(train, test, [args.comparison], args.seeds, **kw)
    report["n_train_triplets"] = len(train)
    report["n_test_triplets"] = None if test is None else len(test)
    report["per_seed"] = rows.to_dict("records")
    report["summary"] = summarise_seeds(rows).to_dict("records")
    best = max(results.values(), key=lambda r: r.val_2afc)
    metric = best.metric()
    metric.info.update({"data": kind, "meaningful": not net.is_random})
    report["scalars"] = str(args.out)
    report["kept_seed"] = best.seed
    with replace_files(args.out, rep) as (scalars, staged_report):  # both or neither
        metric.save(scalars)
        write_text(json.dumps(report, indent=2, default=_json_default) + "\n", staged_report)
    _print_adapted(metric.name, report, len(args.seeds), net.is_random)
    print(f"scalars: {args.out}  report: {rep}")
    return 0


def _print_adapted(name: str, report: dict, n_seeds: int, is_random: bool) -> None:
    """The adapted metric's scores: on the test set, or cross-validated on a study."""
    s = report["summary"][0]
    if report["n_test_triplets"] is not None:
        print(f"{name}: test 2AFC baseline {s['baseline_2afc_mean']:.4f} -> adapted "
              f"{s['adapted_2afc_mean']:.4f} ± {np.nan_to_num(s['adapted_2afc_sd']):.4f} "
              f"over {n_seeds} seed(s)")
    else:
        for r in report["cross_validation"]["summary"]:
            print(f"{r['method']}: held-out 2AFC {r['twoafc_mean']:.4f}, Agree "
                  f"{r['agree_mean']:.1f} %, Ps {r['ps_mean']:.1f} %")
    if is_random:
        print("[RANDOM NETWORK: these numbers are MEANINGLESS; they only prove the code path]")


def _json_default(o: object) -> object:
    """NumPy values as JSON ones (anything else as its text)."""
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
