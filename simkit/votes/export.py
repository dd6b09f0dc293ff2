"""Votes out of the store into a study folder: responses.csv and participants.csv.

The export checks what it is about to write before it replaces anything: both files are
written to a hidden folder inside the study, read back with the study's own reader and
validated with the study's images and questions. Only then is each earlier file with
other content copied to a unique backup (``STUDY/backup``), and the new files renamed in,
participants.csv first, so that every state in between is a valid study. A store that
cannot make a valid study (e.g. ids registered by an older simkit) is refused and the
study is left as it was.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from simkit.fileio import backup_file, staging_folder, write_csv, write_error
from simkit.study.model import IMAGE_COLUMNS, StudyError, read_study_csv, validate_study_tables
from simkit.votes.errors import VoteStoreError

__all__ = ["read_questions", "write_with_backup"]

#: The files an export writes, in the order they are renamed in.
EXPORTED = ("participants.csv", "responses.csv")


def read_questions(root: Path) -> pd.DataFrame:
    """``root/questions.csv`` as strings, enough to tell which study the folder holds.

    Raises :class:`VoteStoreError` when it is missing, :class:`StudyError` when it lacks
    a column.
    """
    qpath = root / "questions.csv"
    if not qpath.exists():
        raise VoteStoreError(f"{qpath}: file not found; export into the folder of the study "
                             f"these votes belong to")
    questions = pd.read_csv(qpath, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    questions.columns = [c.strip() for c in questions.columns]
    missing = [c for c in ("question_id", "genre", *IMAGE_COLUMNS)
               if c not in questions.columns]
    if missing:
        raise StudyError(f"{qpath}, line 1: missing column(s) {', '.join(missing)}")
    return questions


def _same(name: str, meant: pd.DataFrame, read: pd.DataFrame) -> None:
    """Raise :class:`StudyError` naming the first value that does not read back as meant."""
    if list(read.columns) != list(meant.columns) or len(read) != len(meant):
        raise StudyError(f"{name} would not read back as written (its rows or columns "
                         f"change: a value holds a line break or a quote)")
    for column in meant.columns:
        diff = (meant[column] != read[column].astype(str)).to_numpy().nonzero()[0]
        if len(diff):
            raise StudyError(f"{name}, {column} {meant[column].iloc[diff[0]]!r} would not "
                             f"read back as written")


def _check_staged(root: Path, stage: Path, tables: dict[str, pd.DataFrame]) -> None:
    """Raise :class:`VoteStoreError` unless the staged files read back unchanged and make
    a valid study with ``root``'s images and questions."""
    try:
        back = {name: read_study_csv(stage / name) for name in EXPORTED}
        for name, df in tables.items():
            _same(name, df.astype(str).reset_index(drop=True), back[name])
        validate_study_tables(read_study_csv(root / "images.csv"),
                              read_study_csv(root / "questions.csv"),
                              back["responses.csv"], back["participants.csv"])
    except StudyError as e:
        raise VoteStoreError(
            f"the votes cannot be exported to {root}: {str(e).replace(str(stage), str(root))}; "
            f"nothing was replaced. Fix the store (e.g. a participant id that older simkit "
            f"accepted) or export elsewhere") from None


def write_with_backup(root: Path, responses: pd.DataFrame,
                      participants: pd.DataFrame) -> tuple[Path, Path]:
    """Write ``responses.csv`` and ``participants.csv`` into ``root``, checked first.

    An existing file with other content is first copied to a unique
    ``root/backup/NAME-YYYYmmdd-HHMMSS-ffffff.csv`` (see :func:`simkit.fileio.backup_file`).
    Returns the two paths written (responses, participants).
    """
    tables = {"participants.csv": participants, "responses.csv": responses}
    try:
        stage = staging_folder(root, "export")
    except OSError as e:
        raise write_error(e, root) or e from None
    try:
        for name, df in tables.items():
            write_csv(df, stage / name)
        _check_staged(root, stage, tables)
        for name in EXPORTED:
            target = root / name
            new = (stage / name).read_bytes()
            if target.exists() and target.read_bytes() != new:
                backup_file(target, root / "backup")
            try:
                os.replace(stage / name, target)
            except OSError as e:
                raise write_error(e, target) or e from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return root / "responses.csv", root / "participants.csv"
