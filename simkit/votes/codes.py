"""Resume codes: the short code a participant keeps to continue the questionnaire later.

One definition for ``simkit serve`` (where the code is the participant's only credential)
and the jsPsych export (where it finds the participant's progress in the browser): the
alphabet, the length, how a code is drawn and shown, and how what a person types is read
back. Codes are drawn in the browser by ``codes.js`` (package data next to the jsPsych
files), which gets all of these from :func:`client_config`, so there is no second copy.

What a person types is read back by :func:`clean_code`: any case, spaces and dashes
anywhere, full-width characters (a Japanese input method), and Cyrillic or Greek capitals
that look like Latin ones. The alphabet leaves out 0/O and 1/I/L, which look alike on paper.

Codes handed out before this module keep working: ``simkit serve`` drew its codes from this
alphabet and length already; the jsPsych export drew 8 characters that may include ``L``,
and its lookup (in the browser's storage) reads them back with :func:`clean_code` unchanged.

>>> clean_code(" abcde-fghjk ")
'ABCDEFGHJK'
>>> normalize_code("ＡＢＣＤＥ　ＦＧＨＪＫ")
'ABCDEFGHJK'
"""
from __future__ import annotations

import secrets
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["CODE_ALPHABET", "CODE_LENGTH", "LOOKALIKES", "SEPARATORS", "CODES_JS",
           "new_code", "clean_code", "normalize_code", "show_code", "client_config", "script"]

#: The characters of a code: no 0/O, 1/I/L look-alikes (codes are read aloud and typed
#: from paper).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
#: Characters in a code (10 of 31: about 50 bits, enough for a credential).
CODE_LENGTH = 10
#: Characters typed for a letter of the alphabet that they look like (after upper-casing):
#: Cyrillic and Greek capitals from a keyboard left in another layout.
LOOKALIKES: dict[str, str] = {
    **dict(zip("АВЕКМНРСТХУЅ", "ABEKMHPCTXYS")),    # Cyrillic
    **dict(zip("ΑΒΕΖΗΚΜΝΡΤΥΧ", "ABEZHKMNPTYX")),   # Greek
}
#: Characters dropped wherever they are typed, besides white space: dashes of every kind,
#: the Japanese long-vowel mark and middle dot, underscores and dots.
SEPARATORS = "-‐‑‒–—―−ー・_."
#: The browser's side (drawing, showing, reading back), configured by :func:`client_config`.
CODES_JS = Path(__file__).with_name("jspsych_files") / "codes.js"


def new_code() -> str:
    """A new random code (:data:`CODE_LENGTH` characters of :data:`CODE_ALPHABET`).

    The questionnaires draw theirs in the browser (``codes.js``), the same way."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def clean_code(text: str) -> str:
    """What a person typed, read as a code: full-width forms folded (NFKC), upper case,
    :data:`LOOKALIKES` replaced, white space and :data:`SEPARATORS` dropped. Nothing is
    checked (see :func:`normalize_code`)."""
    folded = unicodedata.normalize("NFKC", text).upper()
    return "".join(LOOKALIKES.get(c, c) for c in folded
                   if not c.isspace() and c not in SEPARATORS)


def normalize_code(code: object) -> str:
    """``code`` as :func:`clean_code` reads it, or ``ValueError`` saying what a code is
    when that is not :data:`CODE_LENGTH` characters of :data:`CODE_ALPHABET`."""
    text = clean_code(code) if isinstance(code, str) else ""
    if len(text) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in text):
        raise ValueError(f"code must be {CODE_LENGTH} characters of {CODE_ALPHABET}")
    return text


def show_code(code: str) -> str:
    """A code as shown to the participant, in two halves: ``ABCDE-FGHJK``."""
    half = (len(code) + 1) // 2
    return f"{code[:half]}-{code[half:]}"


def client_config() -> dict[str, Any]:
    """What ``codes.js`` needs (JSON-ready): the alphabet, length, look-alikes and
    separators, and an example code to show as a placeholder."""
    example = (CODE_ALPHABET[8:] * 2)[:CODE_LENGTH]  # "ABCDEFGHJK": letters read easiest
    return {"alphabet": CODE_ALPHABET, "length": CODE_LENGTH, "lookalikes": LOOKALIKES,
            "separators": SEPARATORS, "example": show_code(example)}


@lru_cache(maxsize=1)
def script() -> str:
    """The text of ``codes.js`` (read once), for a page that inlines it."""
    return CODES_JS.read_text(encoding="utf-8")
