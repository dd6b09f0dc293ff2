"""Paths that come from data or from the user: confined to their folder, read only when safe.

Two rules live here, once each:

- :func:`inside`: a path built from data (an image id, a ``file`` cell, a museum id) stays
  inside its folder, checked on the resolved path (symbolic links and ``..`` followed).
- :func:`open_regular`: a user-given file is read only when it is a regular file, so a
  FIFO or a link to ``/dev/zero`` is refused instead of hanging the program.
- :func:`check_folder`: a folder to write into (an ``--out``, a cache) is refused before any
  work when a file stands where it or one of its parents should be.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO

from simkit.errors import SimkitError

__all__ = ["NAME_MAX", "PathEscapeError", "inside", "NotRegularFileError", "open_regular",
           "NotAFolderError", "check_folder"]

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


def open_regular(path: str | os.PathLike, *, max_bytes: int | None = None) -> IO[bytes]:
    """Open a user-given file for reading in binary mode, only if it is a regular file.

    A FIFO, a socket or a device (a link to ``/dev/zero``) would block or never end when
    read, so it is refused with :class:`NotRegularFileError` (an ``OSError`` and a
    :class:`~simkit.errors.SimkitError`) before a byte is read. The file is opened
    non-blocking (opening a FIFO with no writer would otherwise wait forever) and the
    check is made on the open descriptor, so the file cannot be swapped between the
    check and the read. ``max_bytes`` refuses larger files the same way. A path with a NUL
    byte is refused too. Missing files and permission errors stay ordinary ``OSError``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    max_bytes : int, optional
        The largest size accepted.

    Returns
    -------
    IO[bytes]
        A binary file object positioned at the start; close it (``with``).
    """
    if "\0" in os.fspath(path):
        raise NotRegularFileError(f"{path!r}: the path contains a NUL byte; remove it",
                                  "the path contains a NUL byte")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        st = os.fstat(fd)
        kind = _FILE_KINDS.get(stat.S_IFMT(st.st_mode), "not a file")
        if not stat.S_ISREG(st.st_mode):
            why = f"not a regular file ({kind})"
            raise NotRegularFileError(f"{path}: {why}; give a regular file", why)
        if max_bytes is not None and st.st_size > max_bytes:
            why = f"{st.st_size:,} bytes, more than the limit of {max_bytes:,}"
            raise NotRegularFileError(f"{path}: {why}; use a smaller file", why)
        if hasattr(os, "set_blocking"):  # a regular file: reads block normally
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class NotRegularFileError(SimkitError, OSError):
    """A path that cannot be read as a file: a FIFO, a device, a folder, too large, or a
    path with a NUL byte. ``strerror`` is the reason without the path."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        # strerror alone (errno stays None) keeps str(e) == message
        self.strerror = reason or message

    def __reduce__(self):  # keeps the reason across processes (Dask workers)
        return type(self), (str(self), self.strerror)


_FILE_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device",
               stat.S_IFBLK: "a block device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


class NotAFolderError(SimkitError, ValueError):
    """A folder to write into cannot be made: a file is in the way; the message says where."""


def check_folder(path: str | os.PathLike, what: str, fix: str) -> Path:
    """``path`` as a :class:`Path`, when it is a folder or can be made one.

    Raises :class:`NotAFolderError` when ``path``, or the nearest of its parents that exists,
    is not a folder (``--cache-dir`` or ``--out`` naming a file): ``"{what} {path} cannot be created:
    {file} is a file, not a folder; {fix}"``.
    """
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise NotAFolderError(f"{what} {path} cannot be created: {p} is a file, not a "
                                 f"folder; {fix}")
            break
    return path
