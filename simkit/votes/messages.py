"""Every text a participant sees, in every language: one message catalogue.

The questionnaire widget (:class:`simkit.widgets.Questionnaire`), the served questionnaire
(``simkit serve``) and the jsPsych export all take their participant-facing texts from here,
so a study reads the same in Jupyter, in a browser and online, in English or Japanese.

>>> m = messages("ja")
>>> m["progress"].format(n=3, total=80)
'全80問中 3問目'

Texts with placeholders use :meth:`str.format` names (``{n}``, ``{total}``, ``{code}`` …);
:data:`PLACEHOLDERS` lists them per key. A study may replace any text (usually the consent
and the instructions) with an optional ``STUDY/texts.csv``::

    language,key,text
    en,consent,"This study is run by the ukiyo-e seminar of ... Your answers are anonymous."
    ja,consent,"この調査は……が実施します。回答は匿名で扱います。"

read by :func:`study_texts` (the one place that reads it) and applied by
:func:`messages_for_study`. An unknown language or key, a repeated ``language,key``, an
empty text or a placeholder the key does not have is refused with the file and line.
"""
from __future__ import annotations

import os
import string
from pathlib import Path
from typing import Any, Iterable, Mapping

from simkit.errors import SimkitError

__all__ = ["LANGUAGES", "DEFAULT_LANGUAGE", "CATALOGUE", "PLACEHOLDERS", "TEXTS_FILE",
           "FIELD_KEYS", "FAMILIARITY_KEYS", "MessagesError", "messages", "check_language",
           "study_texts", "messages_for_study", "placeholders", "canonical_field",
           "question_titles", "image_alt"]

#: The optional file in a study folder that overrides texts of the catalogue.
TEXTS_FILE = "texts.csv"
DEFAULT_LANGUAGE = "en"

#: The field-of-study choices of the self-assessment, in the order shown (any text is fine).
FIELD_KEYS = ("field_cs", "field_engineering", "field_art", "field_humanities",
              "field_natural_sciences", "field_social_sciences", "field_other",
              "field_no_answer")
#: The 5-point familiarity scale (1 = not at all … 5 = very).
FAMILIARITY_KEYS = tuple(f"familiarity_{i}" for i in range(1, 6))

_EN: dict[str, str] = {
    "language_name": "English",
    "language_label": "Language",
    "title": "Which images look alike?",
    # consent and instructions: what a study usually overrides (texts.csv)
    "consent_title": "Before you start",
    "consent": (
        "This is a short study of how people judge the similarity of images. It takes "
        "about 15 minutes. Taking part is voluntary and you may stop at any time. We "
        "record your answers, how long each one took and your answers to three questions "
        "about you, under a random code, never your name. The answers are used for "
        "research only."),
    "consent_agree": "I agree and want to take part",
    "instructions_title": "How it works",
    "instructions": (
        "You will see groups of five Japanese woodblock prints (ukiyo-e). In each group, "
        "pick the two that look the most similar to you. There are no right or wrong "
        "answers: we want your own impression."),
    # the paper's self-assessment
    "assessment_intro": "First, three questions about you.",
    "familiarity_question": "How familiar are you with ukiyo-e?",
    "familiarity_1": "1 · not at all",
    "familiarity_2": "2 · a little",
    "familiarity_3": "3 · somewhat",
    "familiarity_4": "4 · quite",
    "familiarity_5": "5 · very",
    "field_question": "Your field of study or work:",
    "field_placeholder": "choose or type",
    "field_cs": "Computer science",
    "field_engineering": "Engineering",
    "field_art": "Art / design",
    "field_humanities": "Art history / humanities",
    "field_natural_sciences": "Natural sciences",
    "field_social_sciences": "Social sciences",
    "field_other": "Other",
    "field_no_answer": "Prefer not to say",
    "impairment_question": "Do you have a visual impairment (for example colour blindness)?",
    "yes": "Yes",
    "no": "No",
    "start": "Start",
    # the questions
    "question_prompt": "Which two images are the most similar?",
    "question_help": ("Tap or click the two most similar images. Keyboard: 1–5 or a–e to "
                      "pick, Enter to go on."),
    "question_help_widget": ("Click the two most similar images (keyboard: Tab to move, "
                             "Space to pick, then Next)."),
    "progress": "Question {n} of {total}",
    "picked_count": "{count} of 2 picked",
    "image_alt": "image ({letter})",
    "image_alt_titled": "({letter}) {title}",
    "pick_image": "pick image ({letter})",
    "picked_mark": "picked",
    "next": "Next",
    "back": "Back",
    "finish": "Finish",
    # resume with a code
    "your_code": "Your code: {code} (keep it to continue later)",
    "resume_prompt": "Started before? Enter your code to continue where you stopped:",
    "resume_placeholder": "your code, e.g. {example}",
    "resume": "Resume",
    # the end
    "thanks_title": "Thank you!",
    "thanks": "You answered {answered} of {total} questions.",
    "saved": "Your answers are saved.",
    "save_again": "Save again",
    "start_over": "Next person: start again",
    # what can go wrong, as a participant sees it
    "error_pick_two": "Pick exactly two images (the most similar pair) first.",
    "error_assessment": "Please answer the three questions about you first.",
    "error_field_empty": "Your field of study is empty; pick one (or “Prefer not to say”).",
    "error_consent": "Please agree to take part before you start.",
    "error_unknown_code": ("There is no participant with code {code} in this study; check "
                           "the code, or start as a new participant."),
    "unsaved_one": ("⚠ 1 answer is kept here but could not be saved yet; saving is tried "
                    "again at your next click."),
    "unsaved_many": ("⚠ {count} answers are kept here but could not be saved yet; saving "
                     "is tried again at your next click."),
    "unsaved_assessment": ("⚠ Your self-assessment is kept here but could not be saved "
                           "yet; saving is tried again at your next click."),
    "error_offline": ("No connection right now. Your answer is kept on this device and sent "
                      "again automatically; please keep this page open."),
    "saving": "Saving…",
    "error_session_closed": ("This session is closed: no more answers are taken. Thank you "
                             "for your interest."),
    "error_bad_link": ("This link does not work. Please ask the person running the study "
                       "for the current link."),
    "error_server": "Something went wrong on our side. Please try again in a moment.",
}

_JA: dict[str, str] = {
    "language_name": "日本語",
    "language_label": "言語",
    "title": "似ている画像はどれですか？",
    "consent_title": "はじめる前に",
    "consent": (
        "これは、人が画像の似ている・似ていないをどのように判断するかを調べる短い調査です。"
        "所要時間は約15分です。参加は任意で、いつでも中止できます。記録するのは、"
        "あなたの回答、各回答にかかった時間、あなたご自身についての3つの質問への回答で、"
        "お名前ではなく無作為のコードで管理します。回答は研究の目的にのみ使用します。"),
    "consent_agree": "内容に同意して参加します",
    "instructions_title": "回答のしかた",
    "instructions": (
        "日本の木版画（浮世絵）が5枚ずつ表示されます。各グループの中で、"
        "いちばん似ていると思う2枚を選んでください。正解・不正解はありません。"
        "あなた自身の印象でお答えください。"),
    "assessment_intro": "まず、あなたご自身について3つ質問します。",
    "familiarity_question": "浮世絵にどのくらいなじみがありますか？",
    "familiarity_1": "1 · まったくない",
    "familiarity_2": "2 · 少しある",
    "familiarity_3": "3 · ある程度ある",
    "familiarity_4": "4 · かなりある",
    "familiarity_5": "5 · とてもある",
    "field_question": "専攻または職業の分野を教えてください：",
    "field_placeholder": "選ぶか入力してください",
    "field_cs": "情報科学",
    "field_engineering": "工学",
    "field_art": "美術・デザイン",
    "field_humanities": "美術史・人文学",
    "field_natural_sciences": "自然科学",
    "field_social_sciences": "社会科学",
    "field_other": "その他",
    "field_no_answer": "回答しない",
    "impairment_question": "視覚に障がい（たとえば色覚の障がい）はありますか？",
    "yes": "はい",
    "no": "いいえ",
    "start": "はじめる",
    "question_prompt": "いちばん似ている2枚はどれですか？",
    "question_help": ("いちばん似ている2枚をタップまたはクリックしてください。"
                      "キーボードでは 1〜5 または a〜e で選び、Enter で次に進みます。"),
    "question_help_widget": ("いちばん似ている2枚をクリックしてください（キーボードでは Tab "
                             "で移動、Space で選択し、「次へ」を押します）。"),
    "progress": "全{total}問中 {n}問目",
    "picked_count": "2枚中 {count}枚を選択中",
    "image_alt": "画像（{letter}）",
    "image_alt_titled": "（{letter}）{title}",
    "pick_image": "画像（{letter}）を選ぶ",
    "picked_mark": "選択済み",
    "next": "次へ",
    "back": "戻る",
    "finish": "完了",
    "your_code": "あなたのコード：{code}（あとで続きから回答するときに必要です）",
    "resume_prompt": "以前に回答を始めた方は、コードを入力すると中断したところから再開できます：",
    "resume_placeholder": "コード（例：{example}）",
    "resume": "再開する",
    "thanks_title": "ご協力ありがとうございました！",
    "thanks": "全{total}問中 {answered}問に回答しました。",
    "saved": "回答は保存されました。",
    "save_again": "もう一度保存する",
    "start_over": "次の方：最初から始める",
    "error_pick_two": "先に、いちばん似ている2枚をちょうど2枚選んでください。",
    "error_assessment": "先に、あなたご自身についての3つの質問に答えてください。",
    "error_field_empty": "専攻・分野が空欄です。選ぶか入力してください（「回答しない」も選べます）。",
    "error_consent": "はじめる前に、参加への同意をお願いします。",
    "error_unknown_code": ("コード {code} の参加者はこの調査に登録されていません。"
                           "コードを確かめるか、新しく回答を始めてください。"),
    "unsaved_one": ("⚠ 1件の回答はこの画面に保持されていますが、まだ保存できていません。"
                    "次に操作したときにもう一度保存を試みます。"),
    "unsaved_many": ("⚠ {count}件の回答はこの画面に保持されていますが、まだ保存できていません。"
                     "次に操作したときにもう一度保存を試みます。"),
    "unsaved_assessment": ("⚠ ご自身についての回答はこの画面に保持されていますが、まだ保存"
                           "できていません。次に操作したときにもう一度保存を試みます。"),
    "error_offline": ("現在、接続できません。回答はこの端末に保持され、自動的に再送信されます。"
                      "このページを開いたままにしてください。"),
    "saving": "保存しています…",
    "error_session_closed": ("この回答セッションは終了しました。これ以上の回答は受け付けて"
                             "いません。ご関心をお寄せいただき、ありがとうございました。"),
    "error_bad_link": ("このリンクは使えません。調査の担当者に最新のリンクをお尋ねください。"),
    "error_server": "サーバー側で問題が起きました。少し待ってから、もう一度お試しください。",
}

#: Every language's complete catalogue (the same keys in each).
CATALOGUE: dict[str, dict[str, str]] = {"en": _EN, "ja": _JA}
#: The languages a participant can choose, code → the language's own name.
LANGUAGES: dict[str, str] = {code: texts["language_name"] for code, texts in CATALOGUE.items()}


class MessagesError(SimkitError, ValueError):
    """An unknown language or text key, or an override that cannot be used."""


def placeholders(text: str) -> set[str]:
    """The :meth:`str.format` names in ``text`` (``ValueError`` for a malformed brace)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


#: The placeholders of each key (an override may use these and no others).
PLACEHOLDERS: dict[str, frozenset[str]] = {k: frozenset(placeholders(v)) for k, v in _EN.items()}


def check_language(language: str) -> str:
    """``language`` as a catalogue code (``"en"``, ``"ja"``), or :class:`MessagesError`."""
    code = str(language).strip().lower()
    if code not in CATALOGUE:
        raise MessagesError(f"language {language!r} is not available; choose one of "
                            f"{', '.join(CATALOGUE)}")
    return code


def messages(language: str = DEFAULT_LANGUAGE,
             overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The participant-facing texts of ``language``, with ``overrides`` in their place.

    Parameters
    ----------
    language : str
        A code of :data:`LANGUAGES`.
    overrides : mapping of str to str, optional
        ``{key: text}`` replacing catalogue texts (e.g. a study's own consent text).

    Returns
    -------
    dict of str to str
        A fresh dict, key → text; format the texts with placeholders yourself.

    Raises
    ------
    MessagesError
        For an unknown language, an unknown key, or an override using a placeholder the
        key does not have.
    """
    texts = dict(CATALOGUE[check_language(language)])
    for key, text in (overrides or {}).items():
        problem = _override_problem(key, text)
        if problem:
            raise MessagesError(f"text override {key!r}: {problem}")
        texts[key] = text
    return texts


def _override_problem(key: str, text: str) -> str | None:
    """Why ``text`` cannot replace catalogue text ``key`` (None when it can)."""
    if key not in PLACEHOLDERS:
        return (f"unknown key; the keys are {', '.join(sorted(PLACEHOLDERS))} (see "
                f"simkit.votes.messages)")
    if not str(text).strip():
        return "the text is empty; give a text or leave the key out"
    try:
        names = placeholders(text)
    except ValueError as e:
        return (f"malformed braces ({e}); write a literal brace as {{{{ or }}}}")
    extra = names - PLACEHOLDERS[key]
    if extra:
        allowed = ", ".join("{" + n + "}" for n in sorted(PLACEHOLDERS[key])) or "none"
        return (f"placeholder {', '.join('{' + n + '}' for n in sorted(extra))} is not one "
                f"of this text's (allowed: {allowed})")
    return None


def canonical_field(text: str) -> str:
    """A field-of-study answer as stored: a catalogue choice in any language becomes its
    English label (so ``participants.csv`` spells each field one way, whichever language
    the participant chose); any other text is kept as typed (stripped)."""
    text = str(text).strip()
    for texts in CATALOGUE.values():
        for key in FIELD_KEYS:
            if text == texts[key]:
                return _EN[key]
    return text


def study_texts(root: str | os.PathLike | None) -> dict[str, dict[str, str]]:
    """A study's own texts from ``ROOT/texts.csv`` (``language,key,text``), by language.

    Returns ``{}`` when the study has no folder or no such file. Raises
    :class:`simkit.study.model.StudyError` (one line: file, line, value, how to fix) for an
    unknown language or key, a repeated ``language,key``, an empty text or a placeholder
    the key does not have.
    """
    from simkit.study.model import StudyError, read_table, row_location

    if root is None or not (Path(root) / TEXTS_FILE).exists():
        return {}
    path = Path(root) / TEXTS_FILE
    df = read_table(path, ["language", "key", "text"])
    out: dict[str, dict[str, str]] = {}
    for i, (language, key, text) in enumerate(
            df[["language", "key", "text"]].itertuples(index=False)):
        where = row_location(df, i)
        if language.lower() not in CATALOGUE:
            raise StudyError(f"{where}: language {language!r} is not available; use one of "
                             f"{', '.join(CATALOGUE)}")
        problem = _override_problem(key, text)
        if problem:
            raise StudyError(f"{where}: key {key!r}: {problem}")
        texts = out.setdefault(language.lower(), {})
        if key in texts:
            raise StudyError(f"{where}: {language},{key} is given twice; keep one row")
        texts[key] = text
    return out


def messages_for_study(study_or_root: object, language: str = DEFAULT_LANGUAGE
                       ) -> dict[str, str]:
    """:func:`messages` of ``language`` with the study's ``texts.csv`` applied.

    ``study_or_root`` is a :class:`~simkit.study.model.Study` (its ``root``), a folder path,
    or None (the catalogue as it is)."""
    # a Study has .root; so has a Path (its "/"), hence the check on .questions
    root = study_or_root.root if hasattr(study_or_root, "questions") else study_or_root
    code = check_language(language)
    return messages(code, study_texts(root).get(code))


def question_titles(study: Any, question_ids: Iterable[str] | None = None
                    ) -> dict[str, list[str | None]]:
    """Question id → the titles of its five images a–e, as a participant sees them.

    A title is ``images.csv``'s ``title``, stripped; ``None`` where it is blank or the study
    has no titles. ``question_ids``: these questions only (default: all, in order). Used
    for the images' alt texts (:func:`image_alt`) in the served questionnaire and the
    jsPsych export, and for the captions of :class:`simkit.widgets.GroupExplorer`.
    """
    import pandas as pd

    images = study.images
    titles = (dict(zip(images["image_id"].astype(str), images["title"]))
              if "title" in images.columns else {})

    def title(image_id: str) -> str | None:
        value = titles.get(image_id)
        return None if value is None or pd.isna(value) else str(value).strip() or None

    ids = study.questions["question_id"] if question_ids is None else question_ids
    return {str(q): [title(i) for i in study.question_images(str(q))] for q in ids}


def image_alt(texts: Mapping[str, str], letter: str, title: str | None) -> str:
    """The alt text of image ``letter`` in the language of ``texts`` (a :func:`messages`
    catalogue): "(a) TITLE", or "image (a)" without a title. The served page's script
    builds the same from the same two texts."""
    return (texts["image_alt_titled"].format(letter=letter, title=title) if title
            else texts["image_alt"].format(letter=letter))
