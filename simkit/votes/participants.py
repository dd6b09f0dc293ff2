"""A participant's side of the questionnaire: self-assessment answers, question order,
progress, and the study fingerprint their votes are tied to."""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd

from simkit.study.model import IMAGE_COLUMNS
from simkit.votes.errors import VoteError

__all__ = ["Progress", "study_fingerprint", "question_order", "yes_no", "familiarity_level",
           "check_participant_id", "MAX_ID_LENGTH", "participant_seed", "ASSESSMENT",
           "assessment_values", "YES_SPELLINGS", "NO_SPELLINGS", "read_yes_no"]

#: The longest participant id accepted (characters).
MAX_ID_LENGTH = 200
#: The self-assessment answers the store keeps in columns of their own.
ASSESSMENT = ("visual_impairment", "familiarity", "field")

#: How a yes and a no may be spelt (compared in lower case, stripped): in the questionnaire,
#: ``simkit serve``, the store and imported tables alike.
YES_SPELLINGS = frozenset({"yes", "y", "true", "1", "はい"})
NO_SPELLINGS = frozenset({"no", "n", "false", "0", "いいえ"})


@dataclass(frozen=True)
class Progress:
    """How far a participant is: ``answered`` of ``total`` questions."""

    answered: int
    total: int

    @property
    def complete(self) -> bool:
        """Whether every question is answered."""
        return self.answered >= self.total


def study_fingerprint(questions: pd.DataFrame) -> str:
    """A short hash of a study's questions.csv: question ids, genres and the five image
    ids of each question, in order.

    Two studies with the same fingerprint ask the same questions about the same image ids,
    so votes collected for one count for the other. (Ids, not pixels: replacing an image
    file but keeping its id keeps the fingerprint.)"""
    h = hashlib.sha256()
    table = questions[["question_id", "genre", *IMAGE_COLUMNS]].astype(str)
    for row in table.itertuples(index=False):
        h.update(("\t".join(v.strip() for v in row) + "\n").encode("utf-8"))
    return h.hexdigest()[:16]


def check_participant_id(participant_id: object) -> str:
    """``participant_id`` as text, or :class:`VoteError` when it is not a usable id.

    An id is 1 to :data:`MAX_ID_LENGTH` printable characters (``str.isprintable``: no
    control characters such as ``\\r``, ``\\n``, tab or NUL, no Unicode line or paragraph
    separators, no spaces other than the plain one), without a comma or a double quote,
    and without spaces at either end. Such an id is written to participants.csv and
    responses.csv and read back unchanged, so an export is always a valid study.
    """
    pid = str(participant_id)
    bad = ("is empty" if not pid.strip() else
           f"is longer than {MAX_ID_LENGTH} characters" if len(pid) > MAX_ID_LENGTH else
           "has spaces at either end" if pid != pid.strip() else
           "contains a control character, line break or unusual space"
           if not pid.isprintable() else
           "contains a comma or a double quote" if "," in pid or '"' in pid else None)
    if bad:
        raise VoteError(f"participant_id {participant_id!r} {bad}; use 1-{MAX_ID_LENGTH} "
                        f"printable characters without commas, quotes or surrounding spaces "
                        f"(e.g. 'p01')")
    return pid


def question_order(question_ids: Iterable[str], seed: int) -> list[str]:
    """The questions in a random order drawn from ``seed`` (the same seed, the same order)."""
    order = list(question_ids)
    random.Random(seed).shuffle(order)
    return order


def read_yes_no(value: object) -> str | None:
    """``"yes"`` or ``"no"`` for a bool or one of :data:`YES_SPELLINGS` /
    :data:`NO_SPELLINGS` (any case, spaces around); ``None`` for anything else."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value).strip().lower()
    return "yes" if text in YES_SPELLINGS else "no" if text in NO_SPELLINGS else None


def yes_no(value: object, participant_id: str) -> str:
    """A visual-impairment answer as ``"yes"`` / ``"no"``; raises :class:`VoteError`."""
    answer = read_yes_no(value)
    if answer is not None:
        return answer
    raise VoteError(f"participant {participant_id!r}: visual_impairment {value!r} is not "
                    f"yes/no (or True/False)")


def familiarity_level(value: object, participant_id: str) -> str:
    """A familiarity answer as ``"1"`` … ``"5"``; raises :class:`VoteError`."""
    try:
        level = int(str(value).strip())
    except ValueError:
        level = 0
    if not 1 <= level <= 5 or isinstance(value, float) and value != level:
        raise VoteError(f"participant {participant_id!r}: familiarity {value!r} is not a "
                        f"whole number from 1 (not familiar) to 5 (very familiar)")
    return str(level)


def participant_seed(participant_id: str) -> int:
    """A participant's default order seed: stable, so the same id gives the same order
    (in the notebook's questionnaire and in ``simkit serve`` alike)."""
    return int.from_bytes(hashlib.sha256(str(participant_id).encode("utf-8")).digest()[:4],
                          "big")


def assessment_values(answers: dict[str, Any], participant_id: str) -> dict[str, str]:
    """The self-assessment answers among ``answers`` (those of :data:`ASSESSMENT` that are
    given), normalised as stored: ``yes``/``no``, ``"1"``-``"5"``, the field stripped.
    Raises :class:`VoteError` for an answer that cannot be read."""
    values: dict[str, str] = {}
    if "visual_impairment" in answers:
        values["visual_impairment"] = yes_no(answers["visual_impairment"], participant_id)
    if "familiarity" in answers:
        values["familiarity"] = familiarity_level(answers["familiarity"], participant_id)
    if "field" in answers:
        values["field"] = str(answers["field"]).strip()
    return values
