"""Resume codes (``simkit.votes.codes``): one alphabet, generator and reading of what a
person types, for ``simkit serve`` and the jsPsych export. The browsers' side runs in
tests/test_serve.py and tests/test_jspsych.py (slow)."""
from __future__ import annotations

import json
import re

import pytest

from simkit.votes import codes
from simkit.votes.codes import (CODE_ALPHABET, CODE_LENGTH, clean_code, new_code,
                                normalize_code, show_code)

#: The alphabets before there was one: simkit serve's (10 characters) and the jsPsych
#: export's (8 characters), as handed out to participants then.
SERVE_BEFORE = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
JSPSYCH_BEFORE = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def test_codes_are_drawn_from_the_one_alphabet_without_look_alikes():
    assert len(set(CODE_ALPHABET)) == len(CODE_ALPHABET) == 31
    assert not set("0O1IL") & set(CODE_ALPHABET)
    drawn = [new_code() for _ in range(300)]
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in drawn)
    assert len(set(drawn)) == len(drawn)
    assert set("".join(drawn)) == set(CODE_ALPHABET)  # 3000 draws reach every character
    assert all(normalize_code(c) == c for c in drawn)
    assert show_code("ABCDEFGHJK") == "ABCDE-FGHJK" and show_code("ABCDEFGH") == "ABCD-EFGH"


@pytest.mark.parametrize("typed", [
    "X7KQ2M9PWZ", "x7kq2m9pwz", " x7kq2-m9pwz ", "X7KQ2 – M9PWZ", "x7 kq 2m 9p wz",
    "Ｘ７ＫＱ２－Ｍ９ＰＷＺ",          # full-width, as a Japanese input method types
    "x7kq2\u3000m9pwz", "X7KQ2ーM9PWZ",  # ideographic space, long-vowel mark
    "Х7КQ2М9РWZ",                    # Cyrillic Х, К, М, Р
    "X7ΚQ2Μ9ΡWΖ",                    # Greek Κ, Μ, Ρ, Ζ
])
def test_what_a_person_types_reads_as_the_code(typed):
    assert normalize_code(typed) == "X7KQ2M9PWZ"


@pytest.mark.parametrize("typed", ["", "X7KQ2M9PW", "X7KQ2M9PWZZ", "O7KQ2M9PWZ", "X7KQ2M9PW1",
                                   "X7KQ2M9PWL", "X7KQ2M9PW?", None, 1234567890])
def test_anything_else_is_refused_saying_what_a_code_is(typed):
    with pytest.raises(ValueError, match=f"code must be {CODE_LENGTH} characters of "
                                         f"{CODE_ALPHABET}"):
        normalize_code(typed)


def test_codes_handed_out_earlier_still_read_back():
    # the jsPsych export's 8-character codes (L allowed) are looked up as cleaned, unchanged
    assert clean_code("abcd-efgl") == "ABCDEFGL" and clean_code("ＡＢＣＤ－ＥＦＧＬ") == "ABCDEFGL"
    # simkit serve's alphabet is the one alphabet: every earlier code still normalises
    assert set(SERVE_BEFORE) == set(CODE_ALPHABET)
    assert set(CODE_ALPHABET) <= set(JSPSYCH_BEFORE)


def test_an_earlier_serve_code_still_resumes_after_a_restart(tmp_path):
    pytest.importorskip("tornado")
    from simkit.serve.session import Refused, ServeSession
    from simkit.study.demo import make_demo_study

    study = make_demo_study(tmp_path / "study", groups_per_genre=1, image_size=64)
    code = "".join(SERVE_BEFORE[(5 * k + 3) % len(SERVE_BEFORE)] for k in range(10))
    session = ServeSession(study)
    try:
        joined = session.join({"code": code, "consent": True, "familiarity": 3,
                               "field": "Other", "visual_impairment": "no"})
    finally:
        session.release()
    session = ServeSession(study)  # a restarted server: the same state file and store
    try:
        for typed in (code, code.lower(), show_code(code), " ".join(code),
                      code.translate(str.maketrans(SERVE_BEFORE, "２３４５６７８９ＡＢＣＤＥＦＧＨ"
                                                   "ＪＫＭＮＰＱＲＳＴＵＶＷＸＹＺ"))):
            back = session.resume({"code": typed})
            assert back["participant_id"] == joined["participant_id"], typed
            assert back["order"] == joined["order"]
        with pytest.raises(Refused) as refused:
            session.resume({"code": code[:-1] + "O"})
        assert refused.value.status == 400 and refused.value.key == "error_unknown_code"
    finally:
        session.release()


def _no_alphabet_copy(text: str, where: str) -> None:
    # no run of 16 or more code characters: the alphabet is not written out here
    runs = re.findall(r"[2-9A-Z]{16,}", text)
    assert not runs, (where, runs)


def test_the_browsers_get_the_alphabet_from_python(write_study, tmp_path):
    from simkit.study.model import load_study
    from simkit.votes.jspsych import FILES, export_experiment

    for name in ("codes.js", "experiment.js"):
        _no_alphabet_copy((FILES / name).read_text(encoding="utf-8"), name)
    root = write_study({"q1": ("G", ["a1", "a2", "a3", "a4", "a5"])}, {}, images=True)
    out = export_experiment(load_study(root), tmp_path / "experiment", image_px=32)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.index('src="codes.js"') < index.index('src="experiment.js"')
    assert (out / "codes.js").read_text(encoding="utf-8") == codes.script()
    payload = json.loads((out / "study.js").read_text(encoding="utf-8")
                         .split("=", 1)[1].rstrip().rstrip(";"))
    assert payload["codes"] == codes.client_config()
    assert payload["codes"]["alphabet"] == CODE_ALPHABET
    assert payload["codes"]["length"] == CODE_LENGTH

    pytest.importorskip("tornado")
    from simkit.serve.pages import asset, participant_page
    from simkit.serve.session import ServeSession

    _no_alphabet_copy(asset("participant.js"), "participant.js")
    session = ServeSession(load_study(root))
    try:
        config = session.page_config()
        page = participant_page(config, "n0nce")
    finally:
        session.release()
    assert config["codes"] == codes.client_config()
    assert page.index(codes.script()) < page.index(asset("participant.js"))
