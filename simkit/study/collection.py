"""Collections: any folder of images with ``images.csv`` (``image_id, file`` + label columns).

Every study folder is a collection. A folder in the WikiArt layout (``metadata.csv`` with a
``filename`` column, like ``shared/data/ukiyoe-wikiart``) is read as a collection too, with
the other metadata columns as labels.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from simkit.paths import PathEscapeError, inside
from simkit.study.model import (StudyError, check_unique, read_study_csv, read_table,
                                row_location)

__all__ = ["CollectionError", "Collection", "load_collection", "read_images", "image_file",
           "ASPECTS", "image_aspects", "filter_images", "ADDED_COLUMNS"]

#: Aspect-ratio filters: width / height ranges.
ASPECTS = {"portrait": (0.0, 0.95), "square": (0.95, 1.05), "landscape": (1.05, np.inf)}


class CollectionError(StudyError):
    """A collection folder or its images.csv is invalid; the message says how to fix it."""


@dataclass
class Collection:
    """Images of a folder with their labels; ``images`` has ``image_id, file`` first."""

    root: Path
    images: pd.DataFrame
    source: str = "images.csv"

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.images["image_id"]]

    @property
    def label_columns(self) -> list[str]:
        return [c for c in self.images.columns if c not in ("image_id", "file")]

    def path(self, image_id: str) -> Path:
        row = self.images.loc[self.images["image_id"] == image_id]
        if row.empty:
            raise CollectionError(f"{image_id!r} is not an image_id of {self.root / self.source}")
        return image_file(self.root, row.iloc[0]["file"], f"image {image_id!r}")

    @property
    def paths(self) -> dict[str, Path]:
        """``{image_id: absolute path}`` in file order (the input of feature extraction)."""
        return {i: image_file(self.root, f, f"image {i!r}")
                for i, f in zip(self.ids, self.images["file"])}

    def labels(self, column: str) -> np.ndarray:
        if column not in self.images.columns:
            raise CollectionError(
                f"{self.root / self.source} has no column {column!r}; label columns: "
                f"{', '.join(self.label_columns) or '(none)'}")
        return self.images[column].astype(str).str.strip().to_numpy()

    def subset(self, n: int | None, seed: int = 0) -> "Collection":
        """A seeded random sample of ``n`` images (all when ``n`` is None or larger)."""
        if n is None or n >= len(self.images):
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self.images), n, replace=False))
        return Collection(self.root, self.images.iloc[rows].reset_index(drop=True),
                          self.source)


def load_collection(path: str | os.PathLike, *, check_files: bool = True) -> Collection:
    """Read and validate a collection folder (see the module docstring).

    Raises :class:`CollectionError` naming the file, line and value of the first problem:
    a missing images.csv or column, an empty or repeated image_id, an image file that is
    not there.
    """
    root = Path(path)
    if not root.is_dir():
        raise CollectionError(f"{root}: not a folder; a collection is a folder with "
                              f"images.csv (image_id,file + label columns)")
    csv_path = root / "images.csv"
    if csv_path.exists():
        source = "images.csv"
        df = _read_table(csv_path, ("image_id", "file"))
    elif (root / "metadata.csv").exists():
        source = "metadata.csv"  # the WikiArt layout
        df = _read_table(root / "metadata.csv", ("filename",))
        stems = [Path(f).stem for f in df["filename"]]
        ids = stems if len(set(stems)) == len(stems) else list(df["filename"])
        df.insert(0, "image_id", ids)
        df.insert(1, "file", df.pop("filename"))
    else:
        raise CollectionError(f"{csv_path}: file not found; a collection folder needs "
                              f"images.csv with columns image_id,file (+ label columns)")
    try:
        check_unique(df, "image_id", "image")
    except StudyError as e:
        raise CollectionError(str(e)) from None
    if check_files:
        for i, f in enumerate(df["file"]):
            if f == "":
                raise CollectionError(f"{row_location(df, i)}: empty file; give the image's path "
                                      f"(relative to {root})")
            p = image_file(root, f, row_location(df, i))
            if not p.is_file():
                raise CollectionError(f"{row_location(df, i)}: image file {f!r} not found (looked "
                                      f"for {p}); fix the path (relative to the folder)")
    if df.empty:
        raise CollectionError(f"{root / source}: no images listed; add one row per image")
    return Collection(root, df, source)


def image_file(root: Path, file: str, where: str) -> Path:
    """The image file ``file`` of the collection ``root``: an absolute path as written (the
    user's choice), a relative one only if it stays inside ``root`` once resolved (``..``
    and symbolic links followed). Raises :class:`CollectionError` naming ``where``."""
    try:
        return inside(root, file, what=f"{where}: file", allow_absolute=True)
    except PathEscapeError as e:
        raise CollectionError(str(e)) from None


def _read_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """A collection's CSV, read and checked like a study's (line numbers kept)."""
    try:
        return read_table(path, list(required))
    except StudyError as e:
        raise CollectionError(str(e)) from None


#: The columns :func:`read_images` adds to those of images.csv (not the file's own).
ADDED_COLUMNS = ("path", "aspect")


def read_images(path: str | os.PathLike) -> pd.DataFrame:
    """The images table of a collection (or of a study: same images.csv), checked, as strings.

    Unlike :func:`load_collection` it needs ``images.csv`` and leaves missing files to the
    caller (a collection that is still being fetched is fine).

    Adds ``path`` (absolute file path) and ``aspect`` (width / height, NaN if unknown).
    Raises :class:`~simkit.study.model.StudyError` naming the file and line of a problem.
    """
    root = Path(path)
    if root.is_file() and root.name == "images.csv":
        root = root.parent
    if not (root / "images.csv").exists():
        raise StudyError(f"{root}: no images.csv; a collection is a folder made by "
                         f"`simkit fetch` (or a study folder)")
    df = read_study_csv(root / "images.csv", "images.csv")
    check_unique(df, "image_id", "image")
    lines = df.attrs.get("lines", [])
    df = df.reset_index(drop=True)
    files = [image_file(root, f, row_location(df, k)) for k, f in enumerate(df["file"])]
    df["path"] = [str(p if p.is_absolute() else p.resolve()) for p in files]
    if "width" in df.columns and "height" in df.columns:
        w = pd.to_numeric(df["width"], errors="coerce")
        h = pd.to_numeric(df["height"], errors="coerce")
        df["aspect"] = w / h
    else:
        df["aspect"] = float("nan")
    df.attrs.update(path=str(root / "images.csv"), lines=lines, root=str(root.resolve()))
    return df


def image_aspects(images: pd.DataFrame) -> pd.Series:
    """The ``aspect`` (width / height) of each image of ``images`` (from :func:`read_images`),
    read from the file header (``path``) where unknown; NaN where the file cannot be read."""
    from simkit.features.images import image_aspect

    a = pd.to_numeric(images["aspect"], errors="coerce")
    for k in np.flatnonzero(a.isna().to_numpy()):
        a.iloc[k] = image_aspect(images["path"].iloc[k])
    return a


def filter_images(images: pd.DataFrame, *, genre: str | None = None, artist: str | None = None,
                  text: str | None = "", aspect: str | tuple[float, float] | None = None
                  ) -> list[str]:
    """The ``image_id`` of the images that pass every filter given, in table order.

    ``genre`` / ``artist``: exact label; ``text``: words in the title (case-insensitive);
    ``aspect``: a name of :data:`ASPECTS` or a ``(min, max)`` width / height range, on the
    ``aspect`` column as it is (fill it first with :func:`image_aspects`). ``None`` or
    ``""``: no filter.
    """
    df = images
    keep = pd.Series(True, index=df.index)
    for col, value in (("genre", genre), ("artist", artist)):
        if value not in (None, ""):
            keep &= df.get(col, pd.Series("", index=df.index)).astype(str) == str(value)
    text = (text or "").strip().lower()
    if text:
        hay = df.get("title", pd.Series("", index=df.index)).fillna("").astype(str)
        keep &= hay.str.lower().str.contains(re.escape(text), regex=True)
    if aspect not in (None, ""):
        if isinstance(aspect, str) and aspect not in ASPECTS:
            raise ValueError(f"aspect {aspect!r}: use one of {', '.join(ASPECTS)} or a "
                             f"(min, max) width/height range")
        lo, hi = ASPECTS[aspect] if isinstance(aspect, str) else aspect
        a = pd.to_numeric(df["aspect"], errors="coerce")
        keep &= (a >= lo) & (a < hi)
    return list(df.loc[keep, "image_id"])
