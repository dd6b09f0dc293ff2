"""Atomic file writes: a crash or Ctrl-C never leaves half a file behind.

Everything simkit saves goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder, flushed to disk, then renamed over the target in one
step (``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterator

import pandas as pd

from simkit.errors import SimkitError

__all__ = ["atomic_write", "write_csv", "write_text", "open_regular", "NotRegularFileError"]


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
