"""``simkit tables STUDY``: replay the paper's tables on a study (machine choices computed
when the study has none)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from simkit.cli.options import (Subparsers, add_methods_arg, add_model_args, at_least,
                                model_kwargs, out_folder, path_arg, warn)
from simkit.checks import MAX_BOOT
from simkit.errors import UsageError

if TYPE_CHECKING:
    from simkit.methods.choices import MachineChoices
    from simkit.study.model import Study

__all__ = ["add_parser", "run", "add_table_args", "add_vectors_args", "name_and_file",
           "register_own_vectors", "report_tables", "machine_choices"]




def add_table_args(p: argparse.ArgumentParser) -> None:
    """The options that ``tables`` and ``demo`` share."""
    p.add_argument("--no-ci", action="store_true", help="skip the bootstrap intervals")
    p.add_argument("--n-boot", type=at_least(1, MAX_BOOT), default=2000,
                   help=f"bootstrap resamples (at most {MAX_BOOT:,})")
    add_methods_arg(p)
    add_model_args(p)


def add_parser(subparsers: Subparsers) -> argparse.ArgumentParser:
    """Add ``tables`` to the ``simkit`` subparsers."""
    p = subparsers.add_parser("tables", help="replay the paper's tables on a study")
    p.add_argument("study", type=path_arg)
    p.add_argument("--choices", help="machine choices CSV (default STUDY/choices.csv; "
                                     "without one, features are computed)")
    p.add_argument("--out", type=out_folder, help="output folder (default STUDY/results)")
    p.add_argument("--paper", action="store_true", help="show the published tables beside ours")
    p.add_argument("--by", metavar="COLUMN",
                   help="also every table per group of participants, grouped by this column "
                        "of participants.csv (e.g. familiarity, field): by_COLUMN_*.csv")
    add_table_args(p)
    add_vectors_args(p)
    p.set_defaults(func=run)
    return p


def name_and_file(text: str) -> tuple[str, str]:
    """An argparse type: ``NAME=FILE`` (``--vectors mine=embeddings.npz``)."""
    name, sep, file = str(text).partition("=")
    if not sep or not name.strip() or not file.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: give NAME=FILE, e.g. "
                                         f"mine=embeddings.npz")
    return name.strip().lower(), file.strip()


def add_vectors_args(p: argparse.ArgumentParser) -> None:
    """``--vectors NAME=FILE`` (repeatable) and ``--vectors-metric``: your own vectors."""
    from simkit.search.distances import METRICS

    p.add_argument("--vectors", type=name_and_file, action="append", default=[],
                   metavar="NAME=FILE",
                   help="your own vectors as a method NAME to use in --methods: a .npz "
                        "(image_ids, vectors), a .csv or .parquet (image_id + one column "
                        "per dimension) or a .npy (rows in images.csv order); repeat with "
                        "the same NAME for a collection split in files")
    p.add_argument("--vectors-metric", choices=METRICS, default=METRICS[0],
                   help="how --vectors are compared")


def register_own_vectors(study: "Study", args: argparse.Namespace) -> list[str]:
    """Register each ``--vectors`` NAME (its files concatenated) as a method; the names.

    All or none: when one cannot be registered, those registered before are removed. A
    ``.npy`` file's rows are taken in the study's images.csv order.
    """
    from simkit.methods.own_vectors import register_vectors, vectors_for
    from simkit.methods.registry import UnknownMethodError, unregister_method
    from simkit.study.model import IMAGE_COLUMNS

    files: dict[str, list[str]] = {}
    for name, file in getattr(args, "vectors", None) or []:
        files.setdefault(name, []).append(file)
    ids = study.images["image_id"].astype(str).tolist()
    asked = study.questions[IMAGE_COLUMNS].astype(str).to_numpy().ravel()
    done: list[str] = []
    try:
        for name, paths in files.items():
            try:
                method = register_vectors(name, paths, metric=args.vectors_metric,
                                          image_ids=ids, replace=True)
            except UnknownMethodError as e:
                raise UsageError(f"--vectors {name}={paths[0]}: {e}") from None
            done.append(name)
            vectors_for(method, dict.fromkeys(asked))  # every image asked about, up front
    except BaseException:
        for name in done:
            unregister_method(name)
        raise
    for name in done:
        if name not in [m.strip().lower() for m in args.methods]:
            warn(f"--vectors {name}: not used; add it to --methods (e.g. --methods "
                 f"gram,{name})")
    return done


def machine_choices(study: "Study", args: argparse.Namespace) -> "MachineChoices":
    """The machine methods' choices for ``study``, as ``simkit.choose`` makes them
    (``--vectors`` registered for this call only)."""
    from simkit.methods.choices import choose
    from simkit.methods.registry import UnknownMethodError, unregister_method

    own = register_own_vectors(study, args)
    try:
        return choose(study, args.methods, **model_kwargs(args))
    except UnknownMethodError as e:
        raise UsageError(f"--methods: {e}") from None
    finally:
        for name in own:
            unregister_method(name)


def report_tables(study_dir: str, args: argparse.Namespace, *, choices: str | None,
                  out: Path, paper: bool) -> int:
    """Compute, save and print the tables of ``study_dir`` (choices computed if none)."""
    from simkit.analysis.published import TABLES, replay
    from simkit.reports.files import RESULT_FILES, save_tables
    from simkit.reports.text import format_replay, format_tables
    from simkit.analysis.all_tables import compute_tables
    from simkit.analysis.tables import require_analysable
    from simkit.fileio import replace_set, write_csv
    from simkit.study.model import load_study

    from simkit.analysis.by_group import group_values

    from simkit.config import paper_data_dir

    if paper:
        paper_data_dir()  # an unusable $SIMKIT_PAPER_DATA: refused before any work
    study = load_study(study_dir, choices=choices)
    require_analysable(study)  # before any feature is computed or file written
    by = getattr(args, "by", None)
    if by is not None:
        group_values(study, by)  # an unknown column: refused before any feature is computed
    notes: list[str] = []
    computed = None
    if study.choices is None:
        computed = machine_choices(study, args)
        study, notes = computed.study_with_choices(study), computed.notes
    tables = compute_tables(study, ci=not args.no_ci, n_boot=args.n_boot, by=by)
    # every output at once, only once the tables succeeded: the old set or the new one
    with replace_set(out, RESULT_FILES) as stage:
        if computed is not None:
            write_csv(computed.choices, stage / "choices.csv")
            write_csv(computed.distances, stage / "pair_distances.csv")
        save_tables(tables, stage)
    title = f"Study {study_dir}: {len(study.valid_participants)} valid participants"
    # undefined with fewer than 2 valid participants
    for name in ("ceiling", "kappa", "split_half", "participant_agreement", "participant_tests"):
        if tables[name].attrs.get("note"):
            warn(f"{name}.csv: {tables[name].attrs['note']}")
    for note in notes:
        warn(note)
        title += f"\nWARNING: {note}"  # the results carry it too, wherever they are kept
    print(format_tables(tables, title))
    if paper:
        for name in TABLES:
            print()
            print(format_replay(replay(tables[name], name), name))
    print(f"\nwrote {out}/")
    return 0


def run(args: argparse.Namespace) -> int:
    """Replay the tables of ``args.study`` into ``--out`` (default ``STUDY/results``)."""
    out = Path(args.out) if args.out else Path(args.study) / "results"
    return report_tables(args.study, args, choices=args.choices, out=out, paper=args.paper)
