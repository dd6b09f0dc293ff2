"""The message catalogue: every language complete, study overrides from texts.csv."""
from __future__ import annotations

import string

import pytest

from simkit.study.model import StudyError
from simkit.votes.messages import (CATALOGUE, LANGUAGES, MessagesError, messages,
                                   messages_for_study, study_texts)


def names(text: str) -> set[str]:
    return {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}


def test_every_language_has_every_key_with_the_same_placeholders():
    assert set(LANGUAGES) == {"en", "ja"}
    assert LANGUAGES["ja"] == "日本語"
    en = CATALOGUE["en"]
    for code in LANGUAGES:
        texts = messages(code)
        assert set(texts) == set(en), code
        for key, text in texts.items():
            assert text.strip(), (code, key)
            assert names(text) == names(en[key]), (code, key)
    # the Japanese catalogue is Japanese, not English left in place
    ja = messages("ja")
    same = [k for k in en if ja[k] == en[k]]
    assert same == [], same
    latin = [k for k, t in ja.items() if not any(
        "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in t)]
    assert latin == ["image_alt_titled"]  # "（{letter}）{title}": only full-width brackets
    assert ja["progress"].format(n=3, total=80) == "全80問中 3問目"
    assert messages("en")["progress"].format(n=3, total=80) == "Question 3 of 80"
    assert messages(" JA ")["next"] == "次へ"


def test_overrides_replace_texts_and_bad_ones_are_refused():
    m = messages("en", {"consent": "Our own consent.", "progress": "{n}/{total}"})
    assert m["consent"] == "Our own consent." and m["progress"].format(n=1, total=2) == "1/2"
    assert messages("en")["consent"] != "Our own consent."  # a fresh dict each call
    with pytest.raises(MessagesError, match="language 'fr' is not available.*en, ja"):
        messages("fr")
    with pytest.raises(MessagesError, match="'consnet': unknown key"):
        messages("en", {"consnet": "x"})
    with pytest.raises(MessagesError, match=r"placeholder \{count\} is not one.*\{n\}"):
        messages("en", {"progress": "{count} of {total}"})
    with pytest.raises(MessagesError, match="empty"):
        messages("ja", {"consent": "  "})


def test_study_texts_csv(tmp_path):
    assert study_texts(tmp_path) == {} and study_texts(None) == {}
    (tmp_path / "texts.csv").write_text(
        'language,key,text\nen,consent,"Run by the seminar, anonymous."\n'
        "ja,consent,ゼミが実施します。\nja,instructions,2枚選んでください。\n", encoding="utf-8")
    assert study_texts(tmp_path) == {"en": {"consent": "Run by the seminar, anonymous."},
                                     "ja": {"consent": "ゼミが実施します。",
                                            "instructions": "2枚選んでください。"}}
    assert messages_for_study(tmp_path, "ja")["consent"] == "ゼミが実施します。"
    assert messages_for_study(tmp_path, "en")["instructions"] == messages("en")["instructions"]
    for body, match in [
        ("en,consent,a\nen,welcome,b\n", r"texts.csv, line 3: key 'welcome': unknown key"),
        ("de,consent,a\n", r"texts.csv, line 2: language 'de' is not available"),
        ("en,consent,a\nen,consent,b\n", r"line 3: en,consent is given twice"),
        ("en,thanks,{answered} of {all}\n", r"line 2: key 'thanks': placeholder \{all\}"),
        ("en,consent,\n", "line 2: key 'consent': the text is empty"),
    ]:
        (tmp_path / "texts.csv").write_text("language,key,text\n" + body, encoding="utf-8")
        with pytest.raises(StudyError, match=match):
            study_texts(tmp_path)


def test_questionnaire_speaks_the_chosen_language(tmp_path):
    pytest.importorskip("ipywidgets")
    from simkit.study.demo import make_demo_study
    from simkit.votes.store import VoteError, VoteStore
    from simkit.widgets import Questionnaire

    study = make_demo_study(tmp_path / "s", groups_per_genre=1, image_size=64)
    (study.root / "texts.csv").write_text("language,key,text\nja,consent,ゼミの調査です。\n",
                                          encoding="utf-8")
    store = VoteStore.for_study(study)
    q = Questionnaire(study, store, participant_id="j1", language="ja")
    ja, en = messages_for_study(study, "ja"), messages("en")
    assert "ゼミの調査です。" in q._intro.value and ja["instructions"] in q._intro.value
    assert q._consent.description == ja["consent_agree"]
    assert [label for label, _ in q._familiarity.options][0] == ja["familiarity_1"]
    q._familiarity.value, q._impairment.value = 3, "no"
    q._field.value = ja["field_art"]
    assert q._start.disabled                     # consent not given yet
    q._consent.value = True
    assert not q._start.disabled
    q._language.value = "en"                     # the participant switches on the first page
    assert q.language == "en" and en["consent"] in q._intro.value
    assert q._field.value == en["field_art"] and q._familiarity.value == 3  # answers kept
    q._language.value = "ja"
    q._start.click()
    assert q.page == "question" and "全4問中 1問目" in q._counter.value
    assert q._next.description.startswith("次へ")
    with pytest.raises(VoteError, match="ちょうど2枚"):
        q.next()
    # stored as one spelling per field, whatever the language, with the language itself
    person = store.participant("j1")
    assert person["field"] == "Art / design" and person["language"] == "ja"
    with pytest.raises(MessagesError, match="language 'xx'"):
        Questionnaire(study, store, language="xx")


def test_question_titles_and_alt_texts_are_one_in_the_export_and_in_serve(write_study, tmp_path):
    import json

    from simkit.serve.session import ServeSession
    from simkit.study.model import load_study
    from simkit.votes.jspsych import export_experiment
    from simkit.votes.messages import image_alt, question_titles

    root = write_study({"q1": ("G", ["a1", "a2", "a3", "a4", "a5"]),
                        "q2": ("G", ["b1", "b2", "b3", "b4", "b5"])}, {}, images=True)
    untitled = load_study(root)
    assert question_titles(untitled) == {"q1": [None] * 5, "q2": [None] * 5}
    images = (root / "images.csv").read_text(encoding="utf-8").splitlines()
    titles = {"a2": "  Red Fuji ", "a3": " ", "b5": "Wave"}
    (root / "images.csv").write_text("\n".join(
        [images[0] + ",title"] + [f'{row},"{titles.get(row.split(",")[0], "")}"'
                                  for row in images[1:]]) + "\n", encoding="utf-8")
    study = load_study(root)
    want = {"q1": [None, "Red Fuji", None, None, None], "q2": [None] * 4 + ["Wave"]}
    assert question_titles(study) == want
    assert question_titles(study, ["q2"]) == {"q2": want["q2"]}
    # an in-memory study with missing titles (NaN) reads alike
    study.images.loc[study.images["image_id"] == "a3", "title"] = float("nan")
    assert question_titles(study)["q1"] == want["q1"]
    en, ja = messages("en"), messages("ja")
    assert image_alt(en, "b", "Red Fuji") == "(b) Red Fuji"
    assert image_alt(en, "a", None) == "image (a)" and image_alt(ja, "b", "赤富士") == "（b）赤富士"

    out = export_experiment(study, tmp_path / "experiment", image_px=32)
    payload = json.loads((out / "study.js").read_text(encoding="utf-8")
                         .split("=", 1)[1].rstrip().rstrip(";"))
    assert {q["id"]: [img["alt"] for img in q["images"]] for q in payload["questions"]} == {
        q: [image_alt(en, letter, t) for letter, t in zip("abcde", ts)]
        for q, ts in want.items()}
    session = ServeSession(load_study(root))
    try:
        assert session.titles == want
        assert session.page_config()["titles"] == want  # what the page's script builds on
    finally:
        session.release()
