"""Checks of a study's image files, for ``simkit validate`` and anyone who wants them first.

:func:`~simkit.study.model.load_study` checks the CSV files; the images they name are only
read when features are extracted. :func:`check_image_files` looks at every image now and
returns every problem (not only the first), each naming the image id and its images.csv line:

>>> problems = check_image_files(load_study("STUDY"))      # doctest: +SKIP
>>> print("\\n".join(map(str, problems)))                   # doctest: +SKIP
"""
from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

from simkit.paths import PathEscapeError, inside
from simkit.study.model import Study, row_location

__all__ = ["Problem", "check_image_files"]


@dataclass(frozen=True)
class Problem:
    """One image file that cannot be used: where it is named, which image, and why."""

    location: str  #: "FILE, line N" of the image's row in images.csv
    image_id: str
    reason: str    #: what is wrong and how to fix it

    def __str__(self) -> str:
        return f"{self.location}: image {self.image_id!r}: {self.reason}"


def check_image_files(study: Study, *, max_pixels: int | None = None,
                      progress: bool = True) -> list[Problem]:
    """Every problem with the image files of ``study``, in images.csv order.

    Each file must be named, exist, be a regular file (not a folder, pipe or device:
    checked before opening, so a pipe cannot make this hang), lie inside the study folder
    when its path is relative (absolute paths are allowed by design), and have an image
    header Pillow can read with at most ``max_pixels`` pixels (default: simkit's limit,
    :data:`simkit.features.images.MAX_PIXELS`) and sides of at least ``MIN_SIDE``. Then
    its pixel data is decoded, as feature extraction will (only once the header is within
    the limit, so a decompression bomb is never expanded): a truncated or corrupt file is
    a problem here, not later.

    Parameters
    ----------
    study : Study
        A loaded study (:func:`~simkit.study.model.load_study`).
    max_pixels : int, optional
        The largest image, in pixels.
    progress : bool
        Show a progress bar when the check takes more than two seconds (decoding a
        collection of thousands of prints takes minutes).

    Returns
    -------
    list of Problem
        Empty when every image file is usable.
    """
    from tqdm.auto import tqdm

    from simkit.features.images import MAX_PIXELS

    limit = MAX_PIXELS if max_pixels is None else max_pixels
    problems = []
    rows = zip(study.images["image_id"], study.images["file"])
    for i, (image_id, file) in enumerate(tqdm(rows, total=len(study.images), unit="img",
                                              desc="checking images", delay=2,
                                              disable=not progress)):
        reason = _file_problem(study.root, file, limit)
        if reason:
            problems.append(Problem(row_location(study.images, i), image_id, reason))
    return problems


def _file_problem(root: Path | None, file: str, max_pixels: int) -> str:
    """Why the image ``file`` (a cell of images.csv) cannot be used, or ""."""
    if not file:
        return "the file cell is empty; name the image file (relative to the study folder)"
    if "\0" in file:
        return "the file path contains a NUL byte; fix the path in images.csv"
    path = Path(file)
    if not path.is_absolute():
        if root is None:
            return f"file {file!r} is relative but the study has no folder; use an absolute path"
        try:  # the one containment rule: "../x" and links that lead out are both outside
            path = inside(root, file, what="file")
        except PathEscapeError as e:
            return (f"file {file!r} lies outside the study folder {root} ({e}); move the "
                    f"image into the folder, or give its absolute path")
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return (f"file {file!r} not found ({path}); check the file column (it is relative "
                f"to the study folder)")
    except OSError as e:
        return f"file {file!r} cannot be read ({e.strerror or e})"
    if stat.S_ISDIR(mode):
        return f"file {file!r} is a folder, not an image file; point it at an image"
    if not stat.S_ISREG(mode):
        return f"file {file!r} is not a regular file (a pipe, socket or device); use an image file"
    return _image_problem(path, file, max_pixels)


def _image_problem(path: Path, file: str, max_pixels: int) -> str:
    """Why the image in the regular file ``path`` is unusable (its header, then its pixel
    data, decoded only within ``max_pixels``), or ""."""
    from PIL import Image

    from simkit.features.images import MIN_SIDE

    if path.stat().st_size == 0:
        return f"file {file!r} is empty (0 bytes); copy the image again"
    if not os.access(path, os.R_OK):
        return f"file {file!r} is not readable; check its permissions"
    with warnings.catch_warnings():
        # Our own limit applies below; Pillow's bomb warning would only repeat it.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            return _too_large(file, None, max_pixels)
        except Exception as e:  # Pillow raises UnidentifiedImageError, OSError, SyntaxError…
            return (f"file {file!r} is not an image Pillow can read ({type(e).__name__}); "
                    f"replace it with a JPEG, PNG, TIFF, WebP or BMP image")
        with img:
            w, h = img.size
            if w * h > max_pixels:
                return _too_large(file, (w, h), max_pixels)
            if min(w, h) < MIN_SIDE:
                return (f"file {file!r} is {w}x{h} pixels; both sides must be at least "
                        f"{MIN_SIDE} px, use a larger version of the image")
            try:  # within the limit now: decode every pixel, as feature extraction will
                img.load()
            except Exception as e:  # OSError ("image file is truncated"), SyntaxError, …
                return (f"file {file!r}: the image data is truncated or corrupt ({e}); "
                        f"copy or export the image again")
    return ""


def _too_large(file: str, size: tuple[int, int] | None, max_pixels: int) -> str:
    shown = "" if size is None else f" {size[0]}x{size[1]} = {size[0] * size[1]:,} pixels"
    return (f"file {file!r}:{shown} exceeds the limit of {max_pixels:,} pixels "
            f"(decompression-bomb guard); resize the image")
