"""Many answers at once, for imports: checked first, then written in one transaction
(:meth:`simkit.votes.store.VoteStore.add_answers` runs :func:`add_batch` inside its write
transaction, so a refused batch writes nothing).

A vote already in the store with the same choice is skipped; a different choice, or a
self-assessment answer that differs from the stored one, is a conflict: the whole batch is
refused, listing them. So importing the same file twice adds nothing, and answers of two
different people who happen to share an id are never mixed.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simkit.study.model import normalize_choice
from simkit.votes.errors import VoteError
from simkit.votes.participants import ASSESSMENT, assessment_values, check_participant_id

__all__ = ["Batch", "prepare_batch", "add_batch", "KNOWN"]

#: The self-assessment columns the store keeps in columns of their own.
KNOWN = ASSESSMENT
_SHOWN_CONFLICTS = 20


@dataclass
class Batch:
    """Normalised answers: ``participants`` id → (known answers, extras); ``votes``
    (id, question id) → (canonical choice, seconds or None)."""

    participants: dict[str, tuple[dict[str, Any], dict[str, str]]]
    votes: dict[tuple[str, str], tuple[str, float | None]]
    source: str


def prepare_batch(participants: dict[str, dict[str, Any]],
                  votes: dict[tuple[str, str], str | tuple[str, float | None]],
                  question_ids: set[str], source: str) -> Batch:
    """Check and normalise a batch (ids, self-assessment values, choices) before any
    write; raises :class:`VoteError` naming ``source`` and the first bad value."""
    rows: dict[str, tuple[dict[str, Any], dict[str, str]]] = {}
    for pid, answers in participants.items():
        pid = check_participant_id(pid)
        answers = {k: v for k, v in answers.items() if v is not None}
        values: dict[str, Any] = assessment_values(answers, pid)
        rows[pid] = (values, {k: str(v) for k, v in answers.items() if k not in KNOWN})
    canon: dict[tuple[str, str], tuple[str, float | None]] = {}
    for (pid, qid), given in votes.items():
        choice, seconds = (given, None) if isinstance(given, str) else given
        if pid not in rows:
            raise VoteError(f"{source}: a vote of {pid!r} without their registration")
        if qid not in question_ids:
            raise VoteError(f"{source}: question {qid!r} is not in this study")
        try:
            canon[(pid, qid)] = (normalize_choice(choice), seconds)
        except ValueError as e:
            raise VoteError(f"{source}: participant {pid!r}, question {qid!r}: {e}") from None
    return Batch(rows, canon, source)


def _conflicts(conn: sqlite3.Connection, batch: Batch) -> tuple[list[str], list[str], dict]:
    """(conflicts, new participant ids, existing votes) of ``batch`` against the store."""
    conflicts: list[str] = []
    new_pids = []
    for pid, (values, extra) in batch.participants.items():
        have = conn.execute("SELECT visual_impairment, familiarity, field, extra "
                            "FROM participants WHERE participant_id=?", (pid,)).fetchone()
        if have is None:
            new_pids.append(pid)
            continue
        stored = {**dict(zip(KNOWN, have[:3])), **json.loads(have[3])}
        for key, value in {**values, **extra}.items():
            if stored.get(key) not in (None, "") and str(stored[key]) != str(value):
                conflicts.append(f"participant {pid!r}: {key} {value!r} but the store has "
                                 f"{stored[key]!r}")
    existing = {(p, q): c for p, q, c in conn.execute(
        "SELECT participant_id, question_id, choice FROM responses")}
    for key, (choice, _) in batch.votes.items():
        if key in existing and existing[key] != choice:
            conflicts.append(f"participant {key[0]!r}, question {key[1]!r}: {choice!r} but "
                             f"the store has {existing[key]!r}")
    return conflicts, new_pids, existing


def add_batch(conn: sqlite3.Connection, batch: Batch, path: Path) -> dict[str, int]:
    """Write ``batch`` through ``conn`` (inside the caller's transaction); raises
    :class:`VoteError` listing every conflict, before writing anything."""
    conflicts, new_pids, existing = _conflicts(conn, batch)
    if conflicts:
        more = (f"; … ({len(conflicts) - _SHOWN_CONFLICTS} more)"
                if len(conflicts) > _SHOWN_CONFLICTS else "")
        raise VoteError(f"{batch.source}: {len(conflicts)} answer(s) differ from those already "
                        f"in {path}; nothing was imported. Give these participants other "
                        f"ids, or remove them from one side: "
                        + "; ".join(conflicts[:_SHOWN_CONFLICTS]) + more)
    now = time.time()
    for pid in new_pids:
        values, extra = batch.participants[pid]
        conn.execute("INSERT INTO participants (participant_id, visual_impairment, familiarity, "
                     "field, extra, registered_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (pid, values.get("visual_impairment"), values.get("familiarity"),
                      values.get("field"), json.dumps(extra, sort_keys=True), now))
    new_votes = [(p, q, c, s, now) for (p, q), (c, s) in batch.votes.items()
                 if (p, q) not in existing]
    conn.executemany("INSERT INTO responses VALUES (?, ?, ?, ?, ?)", new_votes)
    return {"participants": len(new_pids), "votes": len(new_votes),
            "identical": len(batch.votes) - len(new_votes)}
