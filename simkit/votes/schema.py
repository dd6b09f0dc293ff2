"""The vote store's SQLite schema: its tables, and the study it belongs to."""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from simkit.study.model import IMAGE_COLUMNS, Study
from simkit.votes.errors import VoteStoreError
from simkit.votes.participants import study_fingerprint

__all__ = ["SCHEMA_VERSION", "create_tables", "check_foreign"]

SCHEMA_VERSION = "1"


def _not_a_store(path: Path, why: str) -> VoteStoreError:
    return VoteStoreError(f"{path}: not a simkit vote store ({why}); it was left unchanged: "
                          f"move it away or choose another path")


def check_foreign(path: Path) -> None:
    """Raise :class:`VoteStoreError` unless ``path`` is a vote store or an empty SQLite file.

    Reads the schema over a read-only connection, so a file that is refused (someone
    else's database, or no database at all) is never modified: not even switched to WAL.
    """
    if not path.is_file():
        raise _not_a_store(path, "not a regular file")
    try:
        with open(path, "rb") as fh:
            header = fh.read(16)
    except OSError as e:
        raise VoteStoreError(f"{path}: cannot read the vote store ({e.strerror}); make it "
                             f"readable") from None
    if header != b"SQLite format 3\x00":
        raise _not_a_store(path, "not an SQLite file")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise _not_a_store(path, f"SQLite says: {e}") from None
    if tables and "meta" not in tables:
        raise _not_a_store(path, "an SQLite file with other tables")


def create_tables(conn: sqlite3.Connection, study: Study, path: Path) -> None:
    """Create the vote store's tables for ``study`` in ``conn`` (inside a write transaction).

    Does nothing when they exist; raises :class:`VoteStoreError` for an SQLite file with
    other tables (``path`` names it in the message).
    """
    qs = study.questions
    fingerprint = study_fingerprint(qs)
    rows = [(str(r.question_id), i, *[str(getattr(r, c)) for c in IMAGE_COLUMNS])
            for i, r in enumerate(qs.itertuples(index=False))]
    tables = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and "meta" not in tables:  # someone else's database: leave it alone
        raise VoteStoreError(f"{path}: not a simkit vote store (an SQLite file "
                         f"with other tables); move it away or choose another path")
    if {"meta", "questions", "participants", "responses"} <= tables:
        return
    conn.execute("CREATE TABLE IF NOT EXISTS meta ("
                 "key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("CREATE TABLE IF NOT EXISTS questions ("
                 "question_id TEXT PRIMARY KEY, position INTEGER NOT NULL, "
                 + ", ".join(f"{c} TEXT NOT NULL" for c in IMAGE_COLUMNS) + ")")
    conn.execute("CREATE TABLE IF NOT EXISTS participants ("
                 "participant_id TEXT PRIMARY KEY, visual_impairment TEXT, "
                 "familiarity TEXT, field TEXT, extra TEXT NOT NULL DEFAULT '{}', "
                 "seed INTEGER, question_order TEXT, registered_at REAL NOT NULL)")
    conn.execute("CREATE TABLE IF NOT EXISTS responses ("
                 "participant_id TEXT NOT NULL REFERENCES participants, "
                 "question_id TEXT NOT NULL REFERENCES questions, "
                 "choice TEXT NOT NULL, seconds REAL, answered_at REAL NOT NULL, "
                 "PRIMARY KEY (participant_id, question_id))")
    # Two kernels may create the same new file at once: the first one wins and the
    # second one finds (and later checks) its fingerprint.
    have = conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
    if have is None:
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("fingerprint", fingerprint), ("schema", SCHEMA_VERSION),
            ("created_at", str(time.time())),
            ("study", str(study.root) if study.root is not None else "")])
        conn.executemany("INSERT INTO questions VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
