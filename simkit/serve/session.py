"""One serving session of a study: its tokens, its participants' codes, and every rule a
request must pass before anything is written to the vote store.

Free of HTTP: :mod:`simkit.serve.server` turns requests into calls here and a
:class:`Refused` into its HTTP status. The rules:

- A participant is known by a **code** (:mod:`simkit.votes.codes`) that their own browser
  draws at random (the only credential; it is also what they type to resume). Their
  participant id in the store is ``p-`` + a keyed hash of the code, so the id reveals nothing
  about the code, and joining again with the same code (a retried request) is the same participant.
- Every answer is an upsert on ``(participant, question)``: sending it twice, after a
  reload or a lost connection, stores it once.
- A session has a participant token (in the link handed out) and a teacher token (the
  teacher's page); both, the key of the codes and whether the session is closed live in
  ``STUDY/votes.serve.json`` (mode 0600), so a restarted server keeps its links.
- Only one server runs per study: it holds a lock on ``STUDY/votes.serve.lock``.
"""
from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simkit.errors import SimkitError
from simkit.study.model import LETTERS, Study, normalize_choice
from simkit.votes import codes
from simkit.votes.codes import CODE_ALPHABET, CODE_LENGTH
from simkit.votes.errors import StoreUnavailable, VoteError
from simkit.votes.messages import (FIELD_KEYS, LANGUAGES, canonical_field, check_language,
                                   messages, question_titles, study_texts)
from simkit.votes.participants import (familiarity_level, participant_seed, question_order,
                                       yes_no)
from simkit.votes.store import DEFAULT_STORE_NAME, VoteStore

__all__ = ["Refused", "ServeSession", "ServeError", "STATE_NAME", "LOCK_NAME",
           "CODE_ALPHABET", "CODE_LENGTH", "normalize_code", "MAX_FIELD_LENGTH"]

STATE_NAME = "votes.serve.json"
LOCK_NAME = "votes.serve.lock"
MAX_FIELD_LENGTH = 200
#: The longest time on one question that is believed (seconds); longer is a sleeping tab.
MAX_SECONDS = 24 * 3600.0


class ServeError(SimkitError):
    """The session cannot start (another server holds the study, a damaged state file)."""


@dataclass
class Refused(Exception):
    """A request that is refused and writes nothing: its HTTP ``status``, the catalogue
    ``key`` of what the participant is told, and a ``detail`` for the developer."""

    status: int
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


def normalize_code(code: object) -> str:
    """A participant code as :func:`simkit.votes.codes.normalize_code` reads it; a code
    that is none is :class:`Refused` (400)."""
    try:
        return codes.normalize_code(code)
    except ValueError as e:
        raise Refused(400, "error_unknown_code", str(e)) from None


class ServeSession:
    """The study served now: tokens, texts, and the checked writes to its vote store.

    Parameters
    ----------
    study : Study
        The study (its folder holds the vote store and the session's state file).
    language : str
        The language the participant pages open in.
    new_session : bool
        Draw new tokens (old links stop working) and open the session again.
    timeout : float
        Seconds a store write waits for the file before the request is answered 503.
    """

    def __init__(self, study: Study, *, language: str = "en", new_session: bool = False,
                 timeout: float = 5.0) -> None:
        if study.root is None:
            raise ServeError("this study has no folder; serve a study folder")
        self.study = study
        self.root = Path(study.root)
        self.language = check_language(language)
        # every language's texts, with the study's texts.csv (read once; refused at start
        # if bad)
        overrides = study_texts(study.root)
        self.texts = {code: messages(code, overrides.get(code)) for code in LANGUAGES}
        self._lock_fh = self._take_lock()
        try:
            self.store = VoteStore(self.root / DEFAULT_STORE_NAME, study, timeout=timeout)
            self._state = self._load_state(new_session)
        except BaseException:
            self.release()
            raise
        self.question_ids = [str(q) for q in study.questions["question_id"]]
        self._questions = set(self.question_ids)
        self._known = set(self.store.participants())  # the server is the only writer
        #: question id → the five images' titles (None: no title), for the alt texts
        self.titles = question_titles(study, self.question_ids)

    # -- lock and state -----------------------------------------------------------------
    def _take_lock(self) -> Any:
        path = self.root / LOCK_NAME
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; one server per study by care
            return None
        fh = open(path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            pid = fh.read().strip() or "?"
            fh.close()
            raise ServeError(f"{path}: another 'simkit serve' (process {pid}) is serving "
                             f"this study; stop it first (one server is the only writer "
                             f"of the vote store)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        return fh

    def release(self) -> None:
        """Close the store and give up the study's lock (the server stops)."""
        with contextlib.suppress(AttributeError):
            self.store.close()
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    @property
    def state_path(self) -> Path:
        return self.root / STATE_NAME

    def _load_state(self, new: bool) -> dict[str, Any]:
        path = self.state_path
        if path.exists() and not new:
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
                if not all(isinstance(state.get(k), str) and state[k] for k in
                           ("session", "teacher", "key")):
                    raise ValueError("tokens missing")
            except (ValueError, OSError) as e:
                raise ServeError(f"{path}: cannot read the session state ({e}); start a new "
                                 f"session with --new-session (old links stop working)") \
                    from None
            return state
        state = {"session": secrets.token_urlsafe(9), "teacher": secrets.token_urlsafe(18),
                 "key": secrets.token_hex(32), "closed": False, "created_at": time.time()}
        self._save_state(state)
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        from simkit.fileio import atomic_write

        with atomic_write(self.state_path, "w", encoding="utf-8") as fh:
            os.chmod(fh.name, 0o600)  # it holds the tokens: the owner's eyes only
            json.dump(state, fh, indent=1)

    @property
    def session_token(self) -> str:
        return self._state["session"]

    @property
    def teacher_token(self) -> str:
        return self._state["teacher"]

    @property
    def closed(self) -> bool:
        return bool(self._state.get("closed"))

    def close(self) -> None:
        """Close the session: from now on every answer is refused (410) and none written."""
        if not self.closed:
            self._save_state({**self._state, "closed": True, "closed_at": time.time()})
            self._state = {**self._state, "closed": True}

    def check_token(self, token: str, teacher: bool = False) -> None:
        """Raise :class:`Refused` (404) unless ``token`` is the session's (or teacher's)."""
        mine = self.teacher_token if teacher else self.session_token
        if not hmac.compare_digest(str(token).encode(), mine.encode()):
            raise Refused(404, "error_bad_link", "unknown link")

    # -- participants -------------------------------------------------------------------
    def participant_id(self, code: str) -> str:
        """The store id of a participant code (a keyed hash: the id does not reveal it)."""
        digest = hmac.new(bytes.fromhex(self._state["key"]), normalize_code(code).encode(),
                          hashlib.sha256).hexdigest()
        return f"p-{digest[:12]}"

    def _check_open(self) -> None:
        if self.closed:
            raise Refused(410, "error_session_closed", "the session is closed")

    def _participant(self, body: dict[str, Any]) -> str:
        pid = self.participant_id(body.get("code"))
        claimed = body.get("participant_id")
        if claimed is not None and claimed != pid:
            raise Refused(403, "error_bad_link", "participant_id does not match the code")
        return pid

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register a participant (their consent and self-assessment) and return their
        question order; the same code again is the same participant (retries are safe)."""
        self._check_open()
        pid = self._participant(body)
        if body.get("consent") is not True:
            raise Refused(400, "error_consent", "consent must be true")
        try:
            fam = familiarity_level(body.get("familiarity"), pid)
            vi = yes_no(body.get("visual_impairment"), pid)
        except VoteError as e:
            raise Refused(400, "error_assessment", str(e)) from None
        field = body.get("field")
        if not isinstance(field, str) or not field.strip() or len(field) > MAX_FIELD_LENGTH \
                or not field.isprintable():
            raise Refused(400, "error_field_empty",
                          f"field must be 1-{MAX_FIELD_LENGTH} printable characters")
        try:
            language = check_language(body.get("language", self.language))
        except SimkitError as e:
            raise Refused(400, "error_server", str(e)) from None
        if pid in self._known:  # a retried join, or the same code twice: keep the order
            return self.resume(body)
        seed = participant_seed(pid)
        order = question_order(self.question_ids, seed)
        self._write(lambda: self.store.register(
            pid, familiarity=fam, field=canonical_field(field), visual_impairment=vi,
            seed=seed, order=order, language=language))
        self._known.add(pid)
        return {"participant_id": pid, "order": order, "answered": {}}

    def resume(self, body: dict[str, Any]) -> dict[str, Any]:
        """A known participant's order and confirmed answers (403 for an unknown code)."""
        pid = self._participant(body)
        if pid not in self._known:
            raise Refused(403, "error_unknown_code", "no participant with this code")
        info = self.store.participant(pid)
        order = info["order"] or question_order(self.question_ids, participant_seed(pid))
        return {"participant_id": pid, "order": order, "answered": self.store.answered(pid),
                "language": info.get("language")}

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """Save one answer (an upsert on participant and question) and confirm it."""
        row = self.check_answer(body)
        return self.save_answers([row])[0]

    def check_answer(self, body: dict[str, Any]) -> tuple[str, str, str, float | None]:
        """An answer request as ``(participant_id, question_id, choice, seconds)``, or
        :class:`Refused`; reads nothing from the store (the event loop may call it)."""
        self._check_open()
        pid = self._participant(body)
        if pid not in self._known:
            raise Refused(403, "error_unknown_code", "no participant with this code")
        qid = body.get("question_id")
        if not isinstance(qid, str) or qid not in self._questions:
            raise Refused(404, "error_server", f"no question {str(qid)[:40]!r} in this study")
        try:
            if not isinstance(body.get("choice"), str):
                raise ValueError("choice must be text such as \"b-d\"")
            choice = normalize_choice(body["choice"])
        except ValueError as e:
            raise Refused(400, "error_pick_two", str(e)) from None
        seconds = body.get("seconds")
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                    or not 0 <= seconds <= MAX_SECONDS:
                raise Refused(400, "error_server",
                              f"seconds must be a number from 0 to {MAX_SECONDS:g}")
            seconds = round(float(seconds), 3)
        return pid, qid, choice, seconds

    def save_answers(self, rows: list[tuple[str, str, str, float | None]]
                     ) -> list[dict[str, Any]]:
        """Write checked answers in one transaction (one disk sync for all); 503 when the
        store is busy (nothing written)."""
        self._write(lambda: self.store.record_many(rows))
        return [{"question_id": qid, "choice": choice} for _, qid, choice, _ in rows]

    def _write(self, fn: Any) -> Any:
        try:
            return fn()
        except StoreUnavailable as e:
            raise Refused(503, "error_server", str(e)) from None

    # -- the teacher's view -------------------------------------------------------------
    def progress(self) -> dict[str, Any]:
        """Participants, answers and answers per question so far (read from the store)."""
        responses = self.store.responses()
        per_q = responses.groupby("question_id").size().to_dict()
        per_p = responses.groupby("participant_id").size()
        total = len(self.question_ids)
        return {"participants": len(self.store.participants()),
                "complete": int((per_p >= total).sum()), "answers": len(responses),
                "questions": total, "closed": self.closed,
                "per_question": [{"question_id": q, "answers": int(per_q.get(q, 0))}
                                 for q in self.question_ids]}

    def page_config(self) -> dict[str, Any]:
        """What the participant page needs: texts, languages, the questions' titles."""
        return {"texts": self.texts, "language": self.language, "languages": LANGUAGES,
                "titles": self.titles, "total": len(self.question_ids),
                "session": self.session_token, "closed": self.closed,
                "letters": list(LETTERS), "codes": codes.client_config(),
                "field_keys": list(FIELD_KEYS)}
