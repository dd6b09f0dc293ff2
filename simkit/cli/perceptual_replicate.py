"""``simkit perceptual replicate``: Pihlgren et al.'s experiment and its Table 3.

    simkit perceptual replicate --out DIR [--data-root DIR] [--nets alexnet] [--comparisons spatial]
        [--rankings 20] [--repeats 4] [--quick] [--fabricated] [--device auto]

Runs (or resumes) :func:`simkit.methods.perceptual.replication.replicate`, then writes and
prints Table 3 beside the published one, Figs. 2–3 and the §4 correlations.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

from simkit.cli.options import (MAX_SIZE, WEIGHTS_HELP, Subparsers, add_device_arg, at_least,
                                name_list, positive_int, warn)
from simkit.errors import UsageError
from simkit.features.device import resolve_device

__all__ = ["add_parser", "run", "comma_choices"]


def comma_choices(valid) -> "Callable[[str], list[str]]":
    """An argparse type: a comma-separated list of names from ``valid``."""
    def parse(text: str) -> list[str]:
        try:
            names = name_list(text)
        except argparse.ArgumentTypeError:  # no name at all: the same message as a bad one
            names = []
        if not names or any(n not in valid for n in names):
            raise argparse.ArgumentTypeError(f"{text!r}: use names from {', '.join(valid)}")
        return names
    return parse


def add_parser(sub: Subparsers) -> None:
    """``simkit perceptual replicate``: the paper's experiment and its Table 3."""
    from simkit.methods.perceptual.networks import MIN_SIZE
    from simkit.methods.perceptual.metrics import COMPARISONS
    from simkit.methods.perceptual.networks import NETWORKS
    from simkit.methods.perceptual.replication import Protocol

    d = Protocol()
    p = sub.add_parser("replicate", help="Pihlgren et al.'s experiment: random distortion "
                                         "rankings, baseline vs adapted, Table 3")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="results folder (runs/ one file per run; a rerun resumes)")
    p.add_argument("--data-root", default="perceptual-data", metavar="DIR",
                   help="folder holding svhn/, stl10/ and bapps/ (default %(default)s)")
    for name, what in (("svhn", "SVHN (train_32x32.mat, test_32x32.mat)"),
                       ("stl10", "STL-10 (the folder holding stl10_binary/)"),
                       ("bapps", "BAPPS (the folder holding 2afc/ and jnd/)")):
        p.add_argument(f"--{name}", default=None, metavar="DIR",
                       help=f"{what}; default DATA_ROOT/{name}")
    p.add_argument("--nets", type=comma_choices(NETWORKS), default=list(d.nets),
                   help="comma-separated loss networks (default: the paper's "
                        "alexnet,squeezenet,vgg16)")
    p.add_argument("--comparisons", type=comma_choices(COMPARISONS), default=list(d.comparisons),
                   help="comma-separated comparisons (default: all five)")
    p.add_argument("--rankings", type=positive_int, default=d.rankings,
                   help="random rankings of the six distortions (default %(default)s)")
    p.add_argument("--repeats", type=positive_int, default=d.repeats,
                   help="trainings of each adapted metric (default %(default)s)")
    p.add_argument("--weights", default=d.weights, help=WEIGHTS_HELP)
    p.add_argument("--size", type=at_least(MIN_SIZE, MAX_SIZE), default=d.size,
                   help=f"images are resized to SIZE px before distorting (default "
                        f"%(default)s; {MIN_SIZE} to {MAX_SIZE})")
    p.add_argument("--no-net-variant", action="store_true",
                   help="skip the 'adapted net' (fine-tuned AlexNet) runs")
    p.add_argument("--quick", action="store_true",
                   help="a small subset for a laptop (AlexNet, spatial, 2 rankings, 1 repeat, "
                        "300 train / 100 test images, 40 BAPPS items per subset): NOT the "
                        "paper's experiment")
    p.add_argument("--fabricated", action="store_true",
                   help="run on tiny random data sets written in the real formats to a "
                        "temporary folder (offline try-out; every number is meaningless)")
    p.add_argument("--download", action="store_true",
                   help="download SVHN and STL-10 through torchvision when missing")
    add_device_arg(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``simkit perceptual replicate``: run or resume the experiment, write and print
    Table 3 beside the published one, Figs. 2–3 and the correlations."""
    import dataclasses
    import tempfile

    from simkit.features.models.network import random_seed
    from simkit.methods.perceptual import paper_data, replication as rp
    from simkit.methods.perceptual.networks import RANDOM_NOTE

    fields = dict(nets=tuple(args.nets), comparisons=tuple(args.comparisons),
                  rankings=args.rankings, repeats=args.repeats, weights=str(args.weights),
                  size=args.size, net_variant=not args.no_net_variant)
    protocol = rp.Protocol(**fields)
    if args.quick:  # the quick subset overrides what it names, and only that
        protocol = dataclasses.replace(protocol, **rp.QUICK)
    if args.fabricated:
        protocol = dataclasses.replace(protocol, fabricated=True)
    device = resolve_device(args.device)
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="simkit-fabricated-") as tmp:
        if args.fabricated:
            paths = paper_data.fabricate(tmp)
            warn("WARNING: FABRICATED data (tiny random images and judgments, written in the "
                 "real formats): every number below is MEANINGLESS; it only proves the code "
                 "path")
        else:
            paths = paper_data.data_paths(args.data_root)
            for k in ("svhn", "stl10", "bapps"):
                if getattr(args, k):
                    paths[k] = Path(getattr(args, k)).expanduser()
            todo = [r for r in protocol.runs() if not rp.run_files(out, r).is_file()]
            missing = paper_data.missing_data(paths)
            if args.download:  # torchvision fetches SVHN and STL-10; BAPPS must be there
                missing = [m for m in missing if "--download" not in m]
            if todo and missing:
                raise UsageError(f"the replication needs {len(missing)} more data file(s)/"
                                 f"folder(s): " + "; ".join(missing) + " (or try it offline "
                                 "with --quick --fabricated)")
        if protocol.quick:
            warn("WARNING: --quick runs a SMALL SUBSET of the protocol (AlexNet, spatial, 2 "
                 "rankings, 1 training, a few hundred images): not the paper's experiment")
        results = rp.replicate(out, paths, protocol, device=device, download=args.download,
                               progress=not args.no_progress,
                               log=lambda m: print(m, flush=True))
    summary = rp.summarise(results)
    random_weights = random_seed(protocol.weights) is not None
    meaningless = (protocol.fabricated or random_weights
                   or bool(len(results) and not results["meaningful"].all()))
    note = ("MEANINGLESS: " + "; ".join(x for x in (
        "fabricated data" if protocol.fabricated else "",
        "random weights" if random_weights else "",
        "a quick subset" if protocol.quick else "") if x)) if meaningless else (
        "a quick subset, not the paper's experiment" if protocol.quick else "")
    _write_replication(out, results, summary, note)
    side = rp.side_by_side(summary.table3)
    print()
    print("Table 3 (AlexNet, spatial; mean over rankings and trainings): ours | paper")
    if note:
        print(f"[{note.upper()}]")
    print(side.pivot(index="method", columns="column", values="ours").reindex(
        list(rp.TABLE3_METHODS.values()))[rp.SCORE_COLUMNS].round(4).to_string())
    print("--- paper ---")
    print(rp.published("table3").set_index("method")[rp.SCORE_COLUMNS].to_string())
    print()
    print("Correlations (§4): computed | published")
    print(summary.correlations[["measure", "data", "computed", "published", "n"]]
          .round(4).to_string(index=False))
    for n in summary.notes:
        print("note:", n)
    if random_weights:
        warn(RANDOM_NOTE.format(spec=protocol.weights))
    print(f"results: {out} (table3.csv, table3_vs_paper.csv, correlations.csv, "
          f"results.csv, per_ranking.csv, per_metric.csv, fig2.html, fig3.html)")
    return 0


def _write_replication(out: Path, results, summary, note: str) -> None:
    """The replication's tables (each atomically) and, with plotly, its figures."""
    from simkit.fileio import write_csv, write_text
    from simkit.methods.perceptual import replication as rp

    write_csv(results, out / "results.csv")
    write_csv(summary.table3, out / "table3.csv")
    write_csv(rp.side_by_side(summary.table3), out / "table3_vs_paper.csv")
    write_csv(summary.correlations, out / "correlations.csv")
    write_csv(summary.per_ranking, out / "per_ranking.csv")
    write_csv(summary.per_metric, out / "per_metric.csv")
    write_text(json.dumps({"note": note, "notes": summary.notes}, indent=2) + "\n",
               out / "notes.json")
    try:
        from simkit.plots.figures import save_html
        from simkit.plots.perceptual import replication_fig2, replication_fig3
        save_html(replication_fig2(summary.per_ranking, note), out / "fig2.html")
        save_html(replication_fig3(summary.per_metric, note), out / "fig3.html")
    except ImportError:  # plotly is in the lab extra
        warn("fig2.html and fig3.html need plotly: pip install 'simkit-similarity[lab]'")
