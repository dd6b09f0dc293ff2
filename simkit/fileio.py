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

__all__ = ["atomic_write", "write_csv", "write_text"]


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
