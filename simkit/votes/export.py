"""Votes out of the store into a study folder: responses.csv and participants.csv, with a
backup of any earlier version, so no votes are ever lost."""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from simkit.fileio import write_csv
from simkit.study.model import IMAGE_COLUMNS, StudyError
from simkit.votes.errors import VoteStoreError

__all__ = ["read_questions", "write_with_backup"]


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


def write_with_backup(root: Path, responses: pd.DataFrame,
                      participants: pd.DataFrame) -> tuple[Path, Path]:
    """Write ``responses.csv`` and ``participants.csv`` into ``root`` (atomically).

    An existing file with other content is first copied to
    ``root/backup/NAME-YYYYmmdd-HHMMSS.csv``. Returns the two paths written.
    """
    out = []
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name, df in (("responses.csv", responses), ("participants.csv", participants)):
        target = root / name
        new = df.to_csv(index=False, lineterminator="\n").encode("utf-8")
        if target.exists() and target.read_bytes() != new:
            backup = root / "backup" / f"{target.stem}-{stamp}.csv"
            backup.parent.mkdir(exist_ok=True)
            backup.write_bytes(target.read_bytes())
        out.append(write_csv(df, target))
    return out[0], out[1]
