"""Atomic file writes: a crash or Ctrl-C never leaves half a file behind.

Everything simkit saves goes through :func:`atomic_write`: the content is written to a
temporary file in the same folder, flushed to disk, then renamed over the target in one
step (``os.replace`` is atomic on POSIX and Windows). The file gets the mode the umask
gives (``0o666 & ~umask``), like any file the user's programs create.

Three more rules live here, once each:

- :func:`replace_set`: a command's several outputs (a results folder) are replaced as a
  set: written into a hidden sibling folder, then swapped in, so a run leaves the old set
  or the new one, never a mix, and nothing stale.
- :func:`backup_file`: a file the user made is copied to a backup whose name is unique
  (microseconds and a counter, created without overwriting) before it is replaced.
- :class:`WriteError`: a full disk, a quota, a read-only device or a refused permission
  while writing is one line naming the path (exit status 2), never a traceback.
"""
from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator

import pandas as pd

from simkit.errors import SimkitError

__all__ = ["atomic_write", "write_csv", "write_text", "WriteError", "OverwriteRefused",
           "write_error", "file_mode", "replace_set", "replace_files", "backup_file",
           "staging_folder", "new_or_replaceable"]


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", *, durable: bool = True,
                 **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    ``durable=True`` also flushes the file to disk before the rename, so it survives a
    power cut. Caches that can recompute what they hold pass ``False``: the rename alone
    already means a crashed or killed program never leaves half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(e, path) or e from None
    try:
        # mkstemp makes 0600 files whatever the umask; give the mode open() would have
        os.chmod(tmp, file_mode())
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, SimkitError):
            raise write_error(e, path) or e from None
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


# -- errors while writing ------------------------------------------------------------------
class WriteError(SimkitError, OSError):
    """A file could not be written (full disk, quota, read-only device, no permission).

    The message names the path and says that nothing was replaced."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 28]"
        return str(self.strerror)


class OverwriteRefused(SimkitError, FileExistsError):
    """A command would replace files the user made; the message names them."""


_WHY = {errno.ENOSPC: "no space left on the device holding {path}; free space",
        errno.EDQUOT: "disk quota exceeded on the device holding {path}; free space",
        errno.EROFS: "the device holding {path} is read-only; choose a writable folder",
        errno.EACCES: "no permission to write {path}; choose a folder you can write",
        errno.EPERM: "no permission to write {path}; choose a folder you can write"}


def write_error(e: OSError, path: str | os.PathLike) -> WriteError | None:
    """The one-line :class:`WriteError` for ``e`` while writing ``path``, or None when
    ``e`` is not a problem of the device (full, quota, read-only, permission).

    Parameters
    ----------
    e : OSError
        What the operating system said.
    path : path-like
        The file or folder the user asked for (not a temporary name).

    Returns
    -------
    WriteError or None
        To raise: ``raise write_error(e, path) or e``.
    """
    why = _WHY.get(e.errno)
    if why is None:
        return None
    return WriteError(e.errno, why.format(path=path) + " and run again; nothing was replaced")


# -- the umask -----------------------------------------------------------------------------
def _umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    # /proc/self/status (Linux ≥ 4.7) reads it without a change; os.umask can only read
    # it by setting it, and for that moment another thread would create files with
    # umask 0, so it is the fallback only.
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o022)
    os.umask(old)
    return old


def file_mode() -> int:
    """The mode a new file gets from ``open()``: ``0o666`` less the umask."""
    return 0o666 & ~_umask()


# -- outputs replaced as a set -------------------------------------------------------------
def _foreign(folder: Path, owned: Iterable[str]) -> list[str]:
    """Names in ``folder`` that match none of the ``owned`` patterns."""
    patterns = list(owned)
    return sorted(p.name for p in folder.iterdir()
                  if not any(fnmatch.fnmatchcase(p.name, pat) for pat in patterns))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: someone else's live process
        return True
    return True


def staging_folder(parent: Path, name: str, suffix: str = ".tmp") -> Path:
    """A new hidden folder ``parent/.NAME.PID.XXXX.SUFFIX`` to stage a set of files in.

    Staging folders of the same ``name`` left by a process that no longer runs (killed
    mid-write) are removed first; a left ``.old`` set whose folder is missing (killed
    between the two renames of :func:`replace_set`) is put back as ``parent/NAME``.
    The process id in the name tells a dead writer's leftovers from a live one's.
    """
    for left in parent.glob(f".{glob.escape(name)}.*.*"):
        parts = left.name[len(name) + 2:].split(".")
        if len(parts) < 3 or not parts[0].isdigit() or not left.is_dir() \
                or "." + parts[-1] not in (".tmp", ".old") or _pid_alive(int(parts[0])):
            continue
        kept = left / name
        if left.suffix == ".old" and kept.is_dir() and not (parent / name).exists():
            os.rename(kept, parent / name)
        shutil.rmtree(left, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{name}.{os.getpid()}.", suffix=suffix,
                                  dir=parent))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
    return stage


@contextlib.contextmanager
def replace_set(folder: str | os.PathLike, owned: Iterable[str]) -> Iterator[Path]:
    """Write a set of outputs into a fresh folder, then swap it in for ``folder``.

    Yields a hidden sibling folder to write every file of the set into. On success the
    old ``folder`` is renamed away, the new one renamed in and the old one deleted: no
    stale file of an earlier run is left beside the new ones. On any error (or a kill)
    the old ``folder`` is untouched and the partial set is removed. A kill leaves it as
    ``.NAME.PID.*.tmp`` (a kill between the two renames leaves the old set as
    ``.NAME.PID.*.old``); the next run removes it, or puts the old set back
    (:func:`staging_folder`).

    Parameters
    ----------
    folder : path-like
        The results folder (created when missing).
    owned : iterable of str
        Glob patterns of the names this command writes. An existing ``folder`` holding
        anything else (the user's files) is refused with :class:`OverwriteRefused`
        before anything is written.

    Yields
    ------
    Path
        The staging folder.
    """
    folder = Path(folder)
    owned = list(owned)
    if folder.exists() and not folder.is_dir():
        raise OverwriteRefused(f"{folder}: is a file, not a folder; give --out a folder")
    if folder.is_dir():
        other = _foreign(folder, owned)
        if other:
            raise OverwriteRefused(
                f"{folder}: holds files simkit did not write ({', '.join(other[:5])}"
                f"{', …' if len(other) > 5 else ''}); the outputs replace the whole folder, "
                f"so choose another or an empty folder (or move those files away)")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        stage = staging_folder(folder.parent, folder.name)
    except OSError as e:
        raise write_error(e, folder) or e from None
    try:
        yield stage
        _swap(stage, folder)
    except WriteError as e:  # name the folder asked for, not the staging one
        raise WriteError(e.errno, str(e).replace(str(stage), str(folder))) from None
    except OSError as e:
        raise write_error(e, folder) or e from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _swap(stage: Path, folder: Path) -> None:
    """Rename ``stage`` to ``folder``, deleting the old ``folder`` only once it is in."""
    if not folder.exists():
        os.rename(stage, folder)
        return
    old = staging_folder(folder.parent, folder.name, ".old")
    os.rename(folder, old / folder.name)
    try:
        os.rename(stage, folder)
    except BaseException:
        os.rename(old / folder.name, folder)  # put the old set back
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


# -- backups -------------------------------------------------------------------------------
def backup_file(path: str | os.PathLike, folder: str | os.PathLike) -> Path:
    """Copy ``path`` to ``folder/STEM-YYYYmmdd-HHMMSS-ffffff[-N]SUFFIX`` and return it.

    The name is unique: microseconds, and a counter when that name is taken. The copy is
    written to a temporary file, flushed to disk and then hard-linked to its name, which
    fails rather than replace an existing backup, so a backup is never overwritten and
    never half-written. Raises :class:`WriteError` when the device cannot take it.
    """
    src, folder = Path(path), Path(folder)
    data = src.read_bytes()
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now % 1 * 1e6):06d}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{src.name}.", suffix=".tmp", dir=folder)
        try:
            os.chmod(tmp, file_mode())
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            for n in range(10_000):
                name = folder / f"{src.stem}-{stamp}{f'-{n}' if n else ''}{src.suffix}"
                try:
                    os.link(tmp, name)  # never replaces an existing name
                    return name
                except FileExistsError:
                    continue
            raise FileExistsError(errno.EEXIST, f"{folder}: no free backup name")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as e:
        raise write_error(e, folder) or e from None


@contextlib.contextmanager
def replace_files(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Write several output files anywhere, then rename them all in: a set of files.

    Yields one temporary sibling path per target (same suffix, hidden name). Only when
    every one is written are they renamed over their targets, one quick rename each; on
    any error none is, and the temporaries are removed. Use :func:`replace_set` when the
    outputs share a folder of their own.
    """
    targets = [Path(p) for p in paths]
    temps = []
    try:
        for t in targets:
            t.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{t.stem}.", suffix=f".tmp{t.suffix}",
                                       dir=t.parent)
            os.close(fd)
            temps.append(Path(tmp))
        yield list(temps)
        for tmp, t in zip(temps, targets):
            os.chmod(tmp, file_mode())
            os.replace(tmp, t)
    except OSError as e:
        if isinstance(e, SimkitError):
            raise
        where = next((t for tmp, t in zip(temps, targets) if str(tmp) in str(e)), targets[0])
        raise write_error(e, where) or e from None
    finally:
        for tmp in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def new_or_replaceable(path: str | Path, is_ours: Callable[[Path], bool], what: str) -> Path:
    """``path``, refused when it is an existing file that ``is_ours`` does not recognise.

    An output file is replaced when it exists, so a file the user made (a study's
    ``images.csv`` given as ``--out`` by mistake) would be lost; only an earlier output of
    the same command (``is_ours(path)`` true) is replaced.
    """
    from simkit.errors import UsageError  # what the callers' users are told: a usage mistake

    path = Path(path)
    if path.is_file() and not is_ours(path):
        raise UsageError(f"{path} exists and is not {what}; simkit replaces only its own "
                         f"outputs: choose another file name, or move that file away")
    return path
