"""Atomic file writes: a crash or Ctrl-C never leaves half a file behind.

Everything simkit saves goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder, flushed to disk, then renamed over the target in one
step (``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator

import pandas as pd

from simkit.errors import SimkitError

__all__ = ["atomic_write", "write_csv", "write_text", "PathEscapeError", "inside"]

#: The longest file-name component most file systems accept (bytes).
NAME_MAX = 255


class PathEscapeError(SimkitError, ValueError):
    """A path built from data (an image id, a ``file`` cell, a museum id) would leave its
    folder, or cannot be a file name at all; the message names the value."""


def inside(root: str | os.PathLike, relative: str | os.PathLike, *,
           what: str = "path", allow_absolute: bool = False) -> Path:
    """``root / relative``, refused unless it stays inside ``root`` once resolved.

    The one containment check for paths built from data. It is made on the resolved path
    (symbolic links and ``..`` followed, also for parts that do not exist yet), so neither
    ``../../x``, an absolute path, nor a link pointing out of ``root`` gets through.

    Parameters
    ----------
    root : path-like
        The folder the path must stay in.
    relative : path-like
        The part built from data, e.g. ``f"images/{image_id}.jpg"``.
    what : str
        What the value is, for the message (e.g. ``"image id"``, ``"images.csv line 3:
        file"``).
    allow_absolute : bool
        Accept an absolute ``relative`` as it is: a table's ``file`` column may name an
        image anywhere by design (the user wrote it); relative entries are still confined.

    Returns
    -------
    Path
        ``root / relative`` as given (not resolved), checked; an allowed absolute path as
        it is.

    Raises
    ------
    PathEscapeError
        For an absolute or escaping path, a NUL byte, an empty name, or a name component
        longer than :data:`NAME_MAX` bytes.
    """
    text = os.fspath(relative)
    fix = f"use a plain relative name inside {root}" + (
        ", or an absolute path" if allow_absolute else "")
    if "\0" in text or not text.strip():
        raise PathEscapeError(f"{what} {text!r}: not a usable file name (empty or with a "
                              f"NUL byte); {fix}")
    rel = Path(text)
    if rel.is_absolute() and allow_absolute:
        return rel
    if rel.is_absolute():
        raise PathEscapeError(f"{what} {text!r} is an absolute path; {fix}")
    if any(len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in rel.parts):
        raise PathEscapeError(f"{what} {text[:60]!r}…: a name longer than {NAME_MAX} bytes; "
                              f"shorten it")
    path = Path(root) / rel
    try:
        base, target = Path(root).resolve(), path.resolve()
    except (OSError, RuntimeError) as e:  # a symbolic-link loop
        raise PathEscapeError(f"{what} {text!r}: cannot be resolved ({e}); {fix}") from None
    if not target.is_relative_to(base):
        raise PathEscapeError(f"{what} {text!r} leads outside {root} (to {target}); {fix}")
    return path


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, durable: bool = True,
                 **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    ``durable=True`` also flushes the file to disk before the rename, so it survives a
    power cut. Caches that can recompute what they hold pass ``False``: the rename alone
    already means a crashed or killed program never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write ``df`` as UTF-8 CSV without the index, atomically."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as fh:
        df.to_csv(fh, index=False)
    return Path(path)


def write_text(text: str, path: str | os.PathLike) -> Path:
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return Path(path)
