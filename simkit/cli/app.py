"""The ``simkit`` command: the same functions as the notebooks, from a terminal.

    simkit validate STUDY
    simkit tables STUDY [--choices FILE] [--out DIR] [--weights imagenet|PATH|random:SEED] [--paper] [--by COLUMN]
                 [--methods gram,embed:timm:MODEL] [--vectors NAME=FILE] [--device auto]
    simkit report STUDY [--out report.html] [--choices FILE] [--methods ...] [--weights ...]
                 [--device auto] [--figures DIR]
    simkit features STUDY --out FILE.npz [--weights ...] [--layer conv5_1] [--size 224]
    simkit models [MODEL] [--source timm] [--filter dinov2]
    simkit demo [--out DIR] [--groups N] [--weights ...]
    simkit collect STUDY [--export]
    simkit import wide FILE STUDY --id-column COLUMN --map MAP.csv [--skip-unreadable]
    simkit import jspsych FILE [FILE ...] STUDY
    simkit export jspsych STUDY --out DIR [--language en|ja]
    simkit serve STUDY [--host HOST] [--port PORT] [--language en|ja]
    simkit retrieve COLLECTION --query IMAGE [-k 4] [--method style]
    simkit evaluate-retrieval COLLECTION --label COLUMN [--methods ...] [-k 5,10]
    simkit perceptual score --data material-appearance=PATH --net alexnet --out FILE.json
    simkit perceptual adapt --data study=STUDY --net alexnet --out SCALARS.npz
    simkit perceptual replicate --out DIR [--nets alexnet] [--rankings 20] [--quick]
    simkit index COLLECTION [--scheduler tcp://HOST:PORT]
    simkit fetch NAME --out DIR
    simkit study new COLLECTION --out STUDY [--per-genre 20] [--by genre] [--seed 0]
    simkit --version

Exit status: 0 on success, 2 when the input is invalid (one line on stderr says where and
how to fix it), 130 when interrupted. Any other failure is a bug and shows its traceback.

Besides :class:`~simkit.errors.SimkitError`, one kind of ``OSError`` is the user's
environment, not a bug, and is also one line and exit status 2 (:func:`environment_error`):

* a full disk, an exceeded quota or a read-only file system (``ENOSPC``, ``EDQUOT``,
  ``EROFS``), wherever it happens: no fix in simkit would help;
* a missing file, no permission, a file where a folder is needed or a folder where a file
  is needed, a name too long or a loop of links (``ENOENT``, ``EACCES``, ``EPERM``,
  ``ENOTDIR``, ``EISDIR``, ``EEXIST``, ``ENAMETOOLONG``, ``ELOOP``), only
  when the path is one the user gave (an argument, or beside or under one) or lies in the
  cache folder. The same error on any other path (a file of simkit itself) is a bug and
  keeps its traceback.

simkit's own warnings (e.g. a feature cache that cannot be written) are one line each,
``WARNING: …`` on stderr; other libraries' warnings keep Python's format.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import warnings
from pathlib import Path
from typing import Iterable, NoReturn

from simkit.cli import (collect, demo, evaluate_retrieval, features, fetch, index, models,
                        perceptual, retrieve, study, tables, validate)
from simkit.cli import export, import_votes, report, serve
from simkit.errors import SimkitError, UsageError
from simkit.fileio import write_error

__all__ = ["main", "build_parser", "version", "environment_error"]

#: One module per subcommand, in the order of ``simkit --help``.
COMMANDS = (validate, tables, features, models, demo, collect, serve, import_votes, export,
            retrieve, evaluate_retrieval, perceptual, index, fetch, study, report)


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError`: one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def version() -> str:
    """The installed distribution's version, else the package's own (a checkout on
    ``sys.path``). One metadata look-up by name: cheap enough for every start."""
    from importlib import metadata

    import simkit
    from simkit.errors import DISTRIBUTION

    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return simkit.__version__


def build_parser() -> argparse.ArgumentParser:
    """The ``simkit`` parser: each subcommand from its own module's ``add_parser``."""
    parser = Parser(prog="simkit", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"simkit {version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


#: Always the environment, whatever the path: the fix is outside simkit (the message is
#: :func:`simkit.fileio.write_error`'s, so a disk error reads the same everywhere).
DEVICE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
#: The environment when the path is the user's (see the module docstring), else a bug.
PATH_ERRNOS = {
    errno.ENOENT: "it does not exist; check the path",
    errno.EACCES: "permission denied; choose a folder you can write to, or fix its "
                  "permissions",
    errno.EPERM: "operation not permitted; choose another path",
    errno.ENOTDIR: "a file is in the way where a folder is needed; give a folder path",
    errno.EEXIST: "a file is in the way where a folder is needed; give a folder path",
    errno.EISDIR: "it is a folder where a file is needed; give a file name",
    errno.ENAMETOOLONG: "the name is too long; give a shorter path",
    errno.ELOOP: "too many levels of symbolic links; fix the links",
}


def environment_error(e: OSError, user_paths: Iterable[str]) -> str | None:
    """The one-line message for an ``OSError`` that is the user's environment, else
    ``None`` (a bug: it keeps its traceback). See the module docstring for the rules.

    Parameters
    ----------
    e : OSError
        The error.
    user_paths : iterable of str
        The paths the user gave (argument values) and the cache folder.

    Returns
    -------
    str or None
        ``"PATH: reason; how to fix it"``.
    """
    names = [os.path.abspath(f) for f in (e.filename2, e.filename)
             if isinstance(f, (str, os.PathLike))]
    if e.errno in DEVICE_ERRNOS:
        return str(write_error(e, names[0] if names else "the output"))
    if e.errno not in PATH_ERRNOS:
        return None
    given = [Path(os.path.abspath(p)) for p in user_paths if p]
    for name in map(Path, names):
        # the path itself, a file under it, or beside it (an atomic write's temporary file)
        if any(name == g or g in name.parents or name.parent == g.parent for g in given):
            return f"{name}: {e.strerror or e}: {PATH_ERRNOS[e.errno]}"
    return None


def _user_paths(args: argparse.Namespace) -> list[str]:
    """Every string argument (``NAME=PATH`` counts its PATH) and the cache folder."""
    from simkit.config import cache_root

    values = [v for v in vars(args).values() if isinstance(v, str) and "\0" not in v]
    paths = values + [v.split("=", 1)[1] for v in values if "=" in v]
    try:
        return [*paths, str(cache_root())]
    except SimkitError:  # an unusable $SIMKIT_CACHE: no cache folder to count
        return paths


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """simkit's warnings as one line on stderr; others as Python shows them."""
    if category.__module__.split(".")[0] == "simkit":
        from tqdm.auto import tqdm

        tqdm.write(f"WARNING: {message}", file=sys.stderr)  # on its own line, not in a bar
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def main(argv: list[str] | None = None) -> int:
    """Run ``simkit`` with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as e:  # --help and --version: argparse has printed them
            return int(e.code or 0)
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except SimkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        message = environment_error(e, _user_paths(args) if args is not None else [])
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: files already written are complete", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
