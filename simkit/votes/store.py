"""Collect human votes: a SQLite vote store that many participants can write at once.

Wei et al. ran an online questionnaire: a self-assessment, then 80 questions "select the most
similar pair of images" in groups of 5. :class:`simkit.widgets.Questionnaire` runs it in a
notebook; this module keeps the votes safe.

One SQLite file per study (by default ``STUDY/votes.sqlite``) holds the participants'
self-assessment and their answers. SQLite in WAL mode lets many kernels (a whole class on one
JupyterHub) write the same file: each answer is one short transaction, a busy writer is waited
for (``busy_timeout``) and retried with back-off, and a committed answer survives a killed
kernel. The primary key ``(participant_id, question_id)`` makes duplicates impossible; a
participant who answers a question again replaces the answer.

The file remembers which study it belongs to (a fingerprint of the question ids and their
image ids) and refuses to be used with another study.

>>> study = load_study("demo-study")                           # doctest: +SKIP
>>> store = VoteStore.for_study(study)                          # STUDY/votes.sqlite
>>> store.register("p01", familiarity=3, field="design", visual_impairment=False)
>>> store.record("p01", "q001", "(e)-(d)", seconds=4.2)        # stored as "d-e"
>>> store.export(study.root)      # STUDY/responses.csv and STUDY/participants.csv
>>> compute_tables(store.to_study(study), ci=False)            # live analysis

From a terminal, ``simkit collect STUDY --export`` does the export (:mod:`simkit.cli.collect`).
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import pandas as pd

from simkit.study.model import Study, normalize_choice
from simkit.votes.errors import StoreMismatch, StoreUnavailable, VoteError, VoteStoreError
from simkit.votes.export import read_questions, write_with_backup
from simkit.votes.participants import (ASSESSMENT, Progress, assessment_values,
                                       check_participant_id, question_order,
                                       study_fingerprint)
from simkit.votes.schema import check_foreign, create_tables

__all__ = ["VoteStore", "VoteStoreError", "StoreMismatch", "StoreUnavailable", "VoteError",
           "Progress", "study_fingerprint", "question_order",
           "DEFAULT_STORE_NAME"]

DEFAULT_STORE_NAME = "votes.sqlite"
_KNOWN = ASSESSMENT
T = TypeVar("T")


def _is_busy(e: sqlite3.Error) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


class VoteStore:
    """The votes of one study in one SQLite file, safe for many concurrent writers.

    ``VoteStore(path, study)`` opens the file or creates it for ``study``;
    ``VoteStore(path)`` opens an existing one (it knows its questions).
    ``timeout`` is how long (seconds) a write waits for other writers before
    :class:`StoreUnavailable`; ``read_only=True`` never writes (a teacher's live view).
    """

    def __init__(self, path: str | os.PathLike, study: Study | None = None, *,
                 timeout: float = 10.0, read_only: bool = False) -> None:
        self.path = Path(path)
        self.timeout = float(timeout)
        self.read_only = read_only
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        exists = self.path.exists() and self.path.stat().st_size > 0
        if not exists and (study is None or read_only):
            raise VoteStoreError(
                f"{self.path}: no vote store here yet; create it for a study with "
                f"VoteStore.for_study(study) (or VoteStore(path, study))")
        if exists and not read_only:
            check_foreign(self.path)  # before anything could write to someone else's file
        self._connect()
        if study is not None and not read_only:
            # Idempotent, and always run: another kernel may have created the file a moment
            # ago without having committed its tables yet.
            self._create(study)
        self._load_meta()
        if study is not None:
            self.check_study(study)

    @classmethod
    def for_study(cls, study: Study, **kwargs: Any) -> "VoteStore":
        """The study's own store, ``STUDY/votes.sqlite`` (created on first use)."""
        if study.root is None:
            raise VoteStoreError("this study has no folder (study.root is None); give the store "
                             "a path: VoteStore(path, study)")
        return cls(Path(study.root) / DEFAULT_STORE_NAME, study, **kwargs)

    # -- connection ---------------------------------------------------------------------
    def _connect(self) -> None:
        try:
            if self.read_only:
                uri = f"{self.path.resolve().as_uri()}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, timeout=self.timeout,
                                       isolation_level=None, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=self.timeout,
                                       isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            # FULL: a confirmed answer is on disk before record() returns.
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self.read_only:
                self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
        except sqlite3.DatabaseError as e:
            raise self._translate(e, "open") from None
        except OSError as e:
            raise StoreUnavailable(f"{self.path}: cannot open the vote store ({e}); check "
                                   f"that the folder exists and is writable") from None
        self._conn = conn

    def close(self) -> None:
        """Close the file (a later call reopens it)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "VoteStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VoteStore({str(self.path)!r}, questions={len(self._questions)})"

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            self._connect()
        return self._conn

    def _translate(self, e: sqlite3.Error, action: str) -> VoteStoreError:
        text = str(e).lower()
        if _is_busy(e):
            return StoreUnavailable(
                f"{self.path}: the vote store is locked by another writer (waited "
                f"{self.timeout:g} s to {action}); nothing was saved, try again")
        if "readonly" in text or "read-only" in text or "read only" in text:
            return StoreUnavailable(
                f"{self.path}: the vote store is read-only, cannot {action}; nothing was "
                f"saved. Make the file and its folder writable (or open it without "
                f"read_only=True)")
        if "not a database" in text or "malformed" in text or "no such table" in text:
            return VoteStoreError(f"{self.path}: not a simkit vote store (SQLite says: {e}); "
                              f"move the file away or choose another path")
        return StoreUnavailable(f"{self.path}: cannot {action} ({e}); nothing was saved, "
                                f"try again")

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying with back-off while the file is locked, up to ``timeout``."""
        deadline = time.monotonic() + self.timeout
        delay = 0.01
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay * random.uniform(0.5, 1.5))  # jitter: writers don't march
                delay = min(delay * 2, 0.5)

    def _write(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One write transaction: BEGIN IMMEDIATE, ``fn``, COMMIT, retried while locked."""
        if self.read_only:
            raise StoreUnavailable(f"{self.path}: opened read-only, cannot {action}; "
                                   f"open it with read_only=False to write")

        def attempt() -> T:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not mid-transaction
            try:
                out = fn(conn)
                conn.execute("COMMIT")
                return out
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

        with self._lock:
            try:
                return self._retry(attempt)
            except sqlite3.IntegrityError as e:
                raise VoteError(f"{self.path}: cannot {action}: {e}") from None
            except sqlite3.DatabaseError as e:
                raise self._translate(e, action) from None

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._retry(lambda: self.conn.execute(sql, params).fetchall())
            except sqlite3.DatabaseError as e:
                raise self._translate(e, "read") from None

    # -- schema and identity ------------------------------------------------------------
    def _create(self, study: Study) -> None:
        self._write("create the vote store", lambda conn: create_tables(conn, study, self.path))

    def _load_meta(self) -> None:
        meta = dict(self._read("SELECT key, value FROM meta"))
        if "fingerprint" not in meta:
            raise VoteStoreError(f"{self.path}: not a simkit vote store (no study fingerprint); "
                             f"move the file away or choose another path")
        self.fingerprint = meta["fingerprint"]
        self._questions = [q for (q,) in self._read(
            "SELECT question_id FROM questions ORDER BY position")]
        self._question_set = set(self._questions)

    def check_study(self, study_or_questions: Study | pd.DataFrame) -> None:
        """Raise :class:`StoreMismatch` unless this store belongs to that study."""
        qs = study_or_questions.questions if isinstance(study_or_questions, Study) \
            else study_or_questions
        theirs = study_fingerprint(qs)
        if theirs != self.fingerprint:
            where = getattr(study_or_questions, "root", None)
            raise StoreMismatch(
                f"{self.path} holds the votes of another study (fingerprint "
                f"{self.fingerprint}, but the study{f' at {where}' if where else ''} has "
                f"{theirs}: its questions or their images differ). Use a new store file "
                f"for this study (e.g. STUDY/{DEFAULT_STORE_NAME}) or open the study the "
                f"votes belong to")

    @property
    def question_ids(self) -> list[str]:
        """The study's question ids, in questions.csv order."""
        return list(self._questions)

    # -- participants -------------------------------------------------------------------
    def register(self, participant_id: str, **answers: Any) -> None:
        """Register a participant with their self-assessment (or update it).

        Known answers: ``familiarity`` (1–5), ``field`` (text), ``visual_impairment``
        (yes/no), ``seed`` and ``order`` (the random question order shown, a list of
        question ids). Other keyword answers are kept and exported as extra columns.
        Answers not given keep their earlier value.
        """
        pid = check_participant_id(participant_id)
        values: dict[str, Any] = assessment_values(answers, pid)
        for key in _KNOWN:
            answers.pop(key, None)
        if "seed" in answers:
            values["seed"] = int(answers.pop("seed"))
        if "order" in answers:
            order = [str(q) for q in answers.pop("order")]
            bad = [q for q in order if q not in self._question_set]
            if bad or len(set(order)) != len(order):
                raise VoteError(f"participant {pid!r}: the question order must list each "
                                f"question id of the study once (problem: "
                                f"{bad[:3] or 'a repeated id'})")
            values["question_order"] = json.dumps(order)
        extra = {k: (v if isinstance(v, (int, float, bool)) or v is None else str(v))
                 for k, v in answers.items()}

        def upsert(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT extra FROM participants WHERE participant_id=?",
                               (pid,)).fetchone()
            if row is None:
                conn.execute("INSERT INTO participants (participant_id, registered_at) "
                             "VALUES (?, ?)", (pid, time.time()))
                merged = extra
            else:
                merged = {**json.loads(row[0]), **extra}
            sets = {**values, "extra": json.dumps(merged, sort_keys=True)}
            conn.execute(f"UPDATE participants SET {', '.join(f'{k}=?' for k in sets)} "
                         f"WHERE participant_id=?", (*sets.values(), pid))

        self._write(f"register participant {pid!r}", upsert)

    def is_registered(self, participant_id: str) -> bool:
        return bool(self._read("SELECT 1 FROM participants WHERE participant_id=?",
                               (str(participant_id),)))

    def participant(self, participant_id: str) -> dict[str, Any]:
        """A registered participant's self-assessment, seed and question ``order``."""
        rows = self._read("SELECT visual_impairment, familiarity, field, extra, seed, "
                          "question_order FROM participants WHERE participant_id=?",
                          (str(participant_id),))
        if not rows:
            raise self._unknown(participant_id)
        vi, fam, field, extra, seed, order = rows[0]
        return {"participant_id": str(participant_id), "visual_impairment": vi,
                "familiarity": fam, "field": field, **json.loads(extra), "seed": seed,
                "order": json.loads(order) if order else None}

    def participants(self) -> list[str]:
        """Registered participant ids, in the order they registered."""
        return [p for (p,) in self._read(
            "SELECT participant_id FROM participants ORDER BY registered_at, rowid")]

    def _unknown(self, participant_id: object) -> VoteError:
        return VoteError(f"participant {participant_id!r} is not registered in {self.path}; "
                         f"call store.register({participant_id!r}, familiarity=..., "
                         f"field=..., visual_impairment=...) first")

    # -- votes --------------------------------------------------------------------------
    def record(self, participant_id: str, question_id: str, choice: str,
               seconds: float | None = None) -> str:
        """Save one answer and return its canonical choice (``"d-e"``).

        When this returns, the answer is on disk. Answering the same question again
        replaces the earlier answer. Raises :class:`VoteError` for an unknown participant
        or question or a bad choice, :class:`StoreUnavailable` when the store cannot be
        written now (nothing saved: keep the answer and retry).
        """
        return self.record_many([(participant_id, question_id, choice, seconds)])[0]

    def record_many(self, answers: "list[tuple[str, str, str, float | None]]") -> list[str]:
        """Save several ``(participant_id, question_id, choice, seconds)`` answers in one
        transaction (one disk sync for all: a server saving many participants' answers at
        once) and return their canonical choices. All are saved or none; each is checked
        as :meth:`record` checks it, and a later answer to the same question wins."""
        rows = [self._checked(*answer) for answer in answers]

        def upsert(conn: sqlite3.Connection) -> None:
            for pid in dict.fromkeys(r[0] for r in rows):
                if conn.execute("SELECT 1 FROM participants WHERE participant_id=?",
                                (pid,)).fetchone() is None:
                    raise self._unknown(pid)
            now = time.time()
            conn.executemany(
                "INSERT INTO responses VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (participant_id, question_id) DO UPDATE SET "
                "choice=excluded.choice, seconds=excluded.seconds, "
                "answered_at=excluded.answered_at", [(*r, now) for r in rows])

        if rows:
            what = (f"the answer of {rows[0][0]!r} to {rows[0][1]!r}" if len(rows) == 1
                    else f"{len(rows)} answers")
            self._write(f"record {what}", upsert)
        return [r[2] for r in rows]

    def _checked(self, participant_id: str, question_id: str, choice: str,
                 seconds: float | None) -> tuple[str, str, str, float | None]:
        pid, qid = str(participant_id), str(question_id)
        if qid not in self._question_set:
            raise VoteError(f"question {question_id!r} is not in this study (its ids are "
                            f"{', '.join(self._questions[:3])}, … — see questions.csv)")
        try:
            canon = normalize_choice(choice)
        except ValueError as e:
            raise VoteError(f"participant {pid!r}, question {qid!r}: {e}") from None
        if seconds is not None:
            seconds = float(seconds)
            if not seconds >= 0:
                raise VoteError(f"participant {pid!r}, question {qid!r}: seconds {seconds!r} "
                                f"must be a time ≥ 0 (or None)")
        return pid, qid, canon, seconds

    def answered(self, participant_id: str) -> dict[str, str]:
        """``{question_id: choice}`` of everything a participant has answered."""
        return dict(self._read("SELECT question_id, choice FROM responses "
                               "WHERE participant_id=?", (str(participant_id),)))

    def seconds(self, participant_id: str) -> dict[str, float | None]:
        """``{question_id: seconds}`` spent by a participant on each answered question."""
        return dict(self._read("SELECT question_id, seconds FROM responses "
                               "WHERE participant_id=?", (str(participant_id),)))

    def progress(self, participant_id: str) -> Progress:
        """How many of the study's questions a registered participant has answered."""
        if not self.is_registered(participant_id):
            raise self._unknown(participant_id)
        return Progress(len(self.answered(participant_id)), len(self._questions))

    # -- tables -------------------------------------------------------------------------
    def responses(self) -> pd.DataFrame:
        """``participant_id, question_id, choice, seconds`` (strings, as in responses.csv),
        participants in registration order, questions in questions.csv order."""
        rows = self._read(
            "SELECT r.participant_id, r.question_id, r.choice, r.seconds FROM responses r "
            "JOIN participants p USING (participant_id) "
            "JOIN questions q USING (question_id) "
            "ORDER BY p.registered_at, p.rowid, q.position")
        df = pd.DataFrame(rows, columns=["participant_id", "question_id", "choice", "seconds"])
        df["seconds"] = ["" if s is None else f"{s:.3f}" for s in df["seconds"]]
        return df.astype(str)

    def participants_table(self) -> pd.DataFrame:
        """``participant_id, visual_impairment, familiarity, field, [extra…], seed,
        question_order`` (strings, as in participants.csv)."""
        rows = self._read(
            "SELECT participant_id, visual_impairment, familiarity, field, extra, seed, "
            "question_order FROM participants ORDER BY registered_at, rowid")
        records, extra_keys = [], {}
        for pid, vi, fam, field, extra, seed, order in rows:
            extra = json.loads(extra)
            extra_keys.update(dict.fromkeys(extra))
            records.append({"participant_id": pid, "visual_impairment": vi or "",
                            "familiarity": fam or "", "field": field or "", **extra,
                            "seed": "" if seed is None else str(seed),
                            "question_order": " ".join(json.loads(order)) if order else ""})
        columns = ["participant_id", *_KNOWN, *(k for k in extra_keys if k not in
                   ("participant_id", *_KNOWN, "seed", "question_order")),
                   "seed", "question_order"]
        df = pd.DataFrame(records, columns=columns)
        return df.fillna("").astype(str)

    def to_study(self, study: Study) -> Study:
        """``study`` with the votes collected so far instead of its own (live analysis).

        Participants who have not answered every question, or who reported a visual
        impairment, are excluded by the analysis as usual."""
        self.check_study(study)
        return Study(study.images, study.questions, self.responses(),
                     self.participants_table(), study.choices, study.root)

    def export(self, study_dir: str | os.PathLike | Study) -> tuple[Path, Path]:
        """Write ``responses.csv`` and ``participants.csv`` into the study folder
        (atomically) and return their paths.

        The folder's questions must be this store's (else :class:`StoreMismatch`). What
        would be written is checked first (a store that cannot make a valid study is
        refused with :class:`VoteStoreError` and nothing is replaced). An existing
        responses.csv / participants.csv with other content is first copied to a unique
        ``STUDY/backup/NAME-YYYYmmdd-HHMMSS-ffffff.csv``, so no earlier votes are lost."""
        root = Path(study_dir.root if isinstance(study_dir, Study) else study_dir)
        self.check_study(read_questions(root))
        return write_with_backup(root, self.responses(), self.participants_table())

    def summary(self) -> str:
        """A human-readable summary, as printed by ``simkit collect``."""
        total = len(self._questions)
        counts = dict(self._read("SELECT participant_id, COUNT(*) FROM responses "
                                 "GROUP BY participant_id"))
        pids = self.participants()
        complete = sum(counts.get(p, 0) >= total for p in pids)
        lines = [f"vote store: {self.path}", f"questions: {total}",
                 f"participants: {len(pids)} registered, {complete} answered every question",
                 f"responses: {sum(counts.values())}"]
        for p in pids:
            lines.append(f"  {p}: {counts.get(p, 0)}/{total}")
        return "\n".join(lines)

    # -- imports ------------------------------------------------------------------------
    def add_answers(self, participants: dict[str, dict[str, Any]],
                    votes: dict[tuple[str, str], str | tuple[str, float | None]], *,
                    source: str = "the import") -> dict[str, int]:
        """Add participants and votes given elsewhere (a form, jsPsych) in ONE transaction.

        ``participants``: id → self-assessment answers (``familiarity``, ``field``,
        ``visual_impairment``, other columns kept as extras); ``votes``: (id, question id)
        → choice, or (choice, seconds spent). A participant already in the store keeps
        their registration; a vote already there with the same choice is skipped. A
        different choice or self-assessment answer is refused with :class:`VoteError`
        listing them all (``source`` names where they come from) and nothing is written,
        so importing the same answers twice adds nothing. Returns counts: ``participants``
        and ``votes`` added, ``identical`` votes skipped (see :mod:`simkit.votes.batch`).
        """
        from simkit.votes.batch import add_batch, prepare_batch

        batch = prepare_batch(participants, votes, self._question_set, source)
        return self._write(f"import the answers of {source}",
                           lambda conn: add_batch(conn, batch, self.path))
