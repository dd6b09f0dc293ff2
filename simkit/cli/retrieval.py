"""``simkit retrieve`` and ``simkit evaluate-retrieval``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import pandas as pd

from simkit.search.index import RetrievalError
from simkit.search.retrieval import DEFAULT_METHODS, _check_methods, evaluate, retrieve
from simkit.study.collection import load_collection
from simkit.study.model import StudyError

__all__ = ["retrieve_command", "evaluate_retrieval_command"]


def _user_errors() -> tuple[type[BaseException], ...]:
    from simkit.features.backbones import WeightsError, WeightsUnavailableError
    from simkit.features.images import ImageError
    from simkit.methods.local import MissingDependencyError
    return (StudyError, RetrievalError, ImageError, WeightsError, WeightsUnavailableError,
            MissingDependencyError)


def _warning(note: str) -> str:
    return note if note.startswith("WARNING") else f"WARNING: {note}"


def _parse_list(value: str | Iterable, cast=str) -> list:
    if isinstance(value, str):
        value = value.split(",")
    return [cast(v.strip() if isinstance(v, str) else v) for v in value
            if str(v).strip()]


def retrieve_command(collection: str | os.PathLike, query: str, k: int = 4,
                     method: str = "style", weights: str = "imagenet", *, size: int = 224,
                     policy: str = "resize", precision: str = "fp32",
                     cache_dir: str | os.PathLike | None = None, index: str = "exact",
                     progress: bool = True) -> int:
    """``simkit retrieve``: print the k nearest images of a query. Exit status 0, or 2
    with ``error: …`` on stderr when the input is invalid."""
    import sys

    try:
        col = load_collection(collection)
        res = retrieve(col, query, int(k), method, weights=weights, size=size,
                       policy=policy, precision=precision, cache_dir=cache_dir,
                       index=index, progress=progress)
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if res.attrs.get("weights_note"):
        print(_warning(res.attrs["weights_note"]), file=sys.stderr)
    q = res.attrs["query_id"] or res.attrs["query_file"]
    print(f"query: {q}   method: {method} ({res.attrs['metric']})   index: {index}")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(res.to_string(index=False))
    return 0


def evaluate_retrieval_command(collection: str | os.PathLike, label: str,
                               methods: str | Iterable[str] = DEFAULT_METHODS,
                               ks: str | Iterable[int] = (5, 10),
                               weights: str = "imagenet",
                               out: str | os.PathLike | None = None, *, size: int = 224,
                               policy: str = "resize", precision: str = "fp32",
                               cache_dir: str | os.PathLike | None = None,
                               sample: int | None = None, seed: int = 0,
                               progress: bool = True) -> int:
    """``simkit evaluate-retrieval``: evaluate methods with ``label`` as ground truth,
    print the table and write ``retrieval.csv`` atomically to ``out`` (a folder, default
    ``COLLECTION/results``, or a ``.csv`` path). Exit status 0, or 2 on invalid input."""
    import sys

    from simkit.fileio import write_csv

    try:
        col = load_collection(collection).subset(sample, seed)
        method_list = _check_methods(_parse_list(methods))
        try:
            k_list = _parse_list(ks, int)
        except ValueError:
            raise RetrievalError(f"-k {ks!r}: give whole numbers separated by commas, "
                                 f"like 5,10") from None
        df = evaluate(col, label, method_list, k_list, weights=weights, size=size,
                      policy=policy, precision=precision, cache_dir=cache_dir,
                      progress=progress)
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    target = Path(out) if out is not None else col.root / "results"
    if target.suffix.lower() != ".csv":
        target = target / "retrieval.csv"
    write_csv(df, target)
    if df.attrs.get("weights_note"):
        print(_warning(df.attrs["weights_note"]), file=sys.stderr)
    q = df.attrs["queries"]
    print(f"retrieval on {col.root} ({len(col.images)} images), relevant = same "
          f"{label!r}; queries with a relevant image: "
          + ", ".join(f"{m} {n}" for m, n in q.items()))
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(df.to_string(index=False))
    print(f"wrote {target}")
    return 0
