"""The questionnaire of Wei et al. in a notebook: a self-assessment, then "which two images
are the most similar?" for every 5-image question, in a random order per participant.

Every step is a plain method, so the same questionnaire runs headless (tests, a simulated
participant) and in JupyterLab (the widgets only show the state and call the methods):

>>> q = Questionnaire(study, VoteStore.for_study(study))          # doctest: +SKIP
>>> q.start(familiarity=3, field="design", visual_impairment=False)
>>> q.current_question, q.images                                  # 'q007', 5 image ids (a–e)
>>> q.toggle("b"); q.toggle("d"); q.next()                        # answer "b-d", go on
>>> q                                                             # in a notebook: the view

Answers go to the :class:`~simkit.votes.store.VoteStore` as soon as "Next" is pressed. When the
store cannot be written (locked, read-only), the answers stay in memory (``q.pending``), a
warning says so, and every later click tries again: nothing is lost.
A participant resumes with their code: ``Questionnaire(study, store, participant_id=CODE)``
or the "Resume" box on the first page.

Every text comes from the message catalogue (:mod:`simkit.votes.messages`) in the
questionnaire's ``language`` (``"en"`` or ``"ja"``), with the study's own ``texts.csv``
applied; the participant may switch the language on the first page
(:meth:`Questionnaire.set_language`), and the language is recorded with their answers.
"""
from __future__ import annotations

import html
import secrets
import time
from typing import Any, Callable

import ipywidgets as widgets

from simkit.votes.messages import (CATALOGUE, DEFAULT_LANGUAGE, FAMILIARITY_KEYS,
                                   FIELD_KEYS, LANGUAGES, canonical_field, check_language,
                                   messages, study_texts)
from simkit.votes.participants import familiarity_level, participant_seed, yes_no
from simkit.votes.store import (Progress, StoreUnavailable, VoteError, VoteStore,
                                question_order)
from simkit.study.model import LETTERS, Study, normalize_choice
from simkit.widgets.view import View, placeholder_png, thumbnail_png

__all__ = ["Questionnaire", "FIELDS", "FAMILIARITY"]

#: Suggested fields of study, in English (any text is accepted; see the catalogue).
FIELDS = [CATALOGUE["en"][k] for k in FIELD_KEYS]
#: The 5-point scale of the self-assessment, in English.
FAMILIARITY = {i: CATALOGUE["en"][k] for i, k in enumerate(FAMILIARITY_KEYS, start=1)}

_FONT = "22px"  # readable from the back of a room with a projector
_BIG = "font-size:26px; line-height:1.4"
_NOTE = "#ffe8b3"  # messages: a light orange box (dark text), in light and dark themes
# ToggleButtons have no font size of their own: a style sheet scoped to the questionnaire.
_CSS = ("<style>.simkit-questionnaire .widget-toggle-buttons button, "
        ".simkit-questionnaire button {font-size: %s; min-height: 48px}</style>" % _FONT)


def _button(description: str, **kw: Any) -> widgets.Button:
    b = widgets.Button(description=description, layout=widgets.Layout(height="52px",
                       width=kw.pop("width", "auto"), min_width="140px"), **kw)
    b.style.font_size = _FONT
    return b


class Questionnaire(View):
    """Collect one participant's votes on ``study`` into ``store``.

    ``participant_id``: a code to register (or, if already in the store, to resume);
    by default a new random code, shown on screen so the participant can resume later.
    ``seed``: the random question order (default: derived from the participant id);
    seed and order are recorded in the store. ``thumb_px`` is the largest side of the
    images shown. ``clock`` (seconds) times each question; tests may pass their own.
    ``language``: the texts' language (a code of :data:`simkit.votes.messages.LANGUAGES`);
    the participant may change it on the first page.
    """

    def __init__(self, study: Study, store: VoteStore, participant_id: str | None = None,
                 seed: int | None = None, *, thumb_px: int = 320,
                 clock: Callable[[], float] = time.monotonic,
                 language: str = DEFAULT_LANGUAGE) -> None:
        store.check_study(study)
        self.study, self.store = study, store
        self._overrides = study_texts(study.root)  # texts.csv: read once, checked here
        self.language = check_language(language)
        self.texts = messages(self.language, self._overrides.get(self.language))
        self.participant_id = str(participant_id) if participant_id else \
            f"p-{secrets.token_hex(3)}"
        self.seed = seed
        self.page = "assessment"          # → "question" → "done"
        self.order: list[str] = []
        self.index = 0
        self.warning = ""
        self._thumb_px = thumb_px
        self._clock = clock
        self._picked: list[str] = []       # letters, in the order clicked
        self._answers: dict[str, str] = {}  # saved or pending, question id → choice
        self._spent: dict[str, float] = {}  # seconds on each question, over all visits
        self._pending: dict[str, tuple[str, float]] = {}
        self._pending_registration: dict[str, Any] | None = None
        self._shown_at: float | None = None
        self._syncing = False
        self._build()
        if participant_id and store.is_registered(self.participant_id):
            self._resume_from_store()
        self._render()

    # -- state, read-only ---------------------------------------------------------------
    @property
    def current_question(self) -> str | None:
        """The question id on screen (None on the first and last pages)."""
        return self.order[self.index] if self.page == "question" else None

    @property
    def images(self) -> list[str]:
        """The image ids of the current question, a–e."""
        q = self.current_question
        return self.study.question_images(q) if q else []

    @property
    def selected(self) -> tuple[str, ...]:
        """The letters picked on the current question, sorted, e.g. ``('b', 'd')``."""
        return tuple(sorted(self._picked))

    @property
    def choice(self) -> str | None:
        """The picked pair as a choice (``"b-d"``) when exactly two are picked."""
        return normalize_choice("-".join(self._picked)) if len(self._picked) == 2 else None

    @property
    def can_go_next(self) -> bool:
        return self.page == "question" and len(self._picked) == 2

    @property
    def progress(self) -> Progress:
        """Questions answered (saved or waiting to be saved) of all questions."""
        return Progress(len(self._answers), len(self.study.questions))

    @property
    def pending(self) -> dict[str, str]:
        """Answers kept in memory because the store could not be written yet."""
        return {q: c for q, (c, _) in self._pending.items()}

    @property
    def finished(self) -> bool:
        return self.page == "done"

    # -- actions ------------------------------------------------------------------------
    def set_language(self, language: str) -> None:
        """Show every text in ``language`` (``"en"``, ``"ja"``) from now on."""
        self.language = check_language(language)
        self.texts = messages(self.language, self._overrides.get(self.language))
        if self._language.value != self.language:
            self._language.value = self.language
        self._label()
        self._render()

    def start(self, familiarity: int, field: str, visual_impairment: bool | str) -> None:
        """Submit the self-assessment and show the first question.

        ``familiarity``: with ukiyo-e, 1 (not at all) to 5 (very); ``field``: of study or
        work; ``visual_impairment``: yes/no (for example colour blindness)."""
        if self.page != "assessment":
            raise VoteError("the self-assessment is already done; answer the questions")
        pid = self.participant_id
        fam = familiarity_level(familiarity, pid)
        if field is None or not str(field).strip():
            raise VoteError(self.texts["error_field_empty"])
        vi = yes_no(visual_impairment, pid)
        seed = self.seed if self.seed is not None else participant_seed(pid)
        self.order = question_order(self.study.questions["question_id"], seed)
        self._pending_registration = {"familiarity": fam, "field": canonical_field(field),
                                      "visual_impairment": vi, "seed": seed,
                                      "order": self.order, "language": self.language}
        self._flush()
        self.page, self.index = "question", 0
        self._enter_question()
        self._render()

    def resume(self, participant_id: str) -> None:
        """Continue as a participant already in the store, where they stopped."""
        if self.page != "assessment":
            raise VoteError("resume from the first page, before starting")
        code = str(participant_id).strip()
        if not code or not self.store.is_registered(code):
            raise VoteError(self.texts["error_unknown_code"].format(code=repr(code)))
        self.participant_id = code
        self._resume_from_store()
        self._render()

    def toggle(self, letter: str) -> None:
        """Pick or unpick an image (a–e). A third pick replaces the earliest one."""
        if self.page != "question":
            raise VoteError("no question is on screen")
        letter = str(letter).strip().lower()
        if len(letter) != 1 or letter not in LETTERS:
            raise VoteError(f"{letter!r} is not an image letter a-e")
        if letter in self._picked:
            self._picked.remove(letter)
        else:
            self._picked.append(letter)
            if len(self._picked) > 2:
                self._picked.pop(0)
        if self._pending or self._pending_registration:
            self._flush()  # the store may be free again: retry on every action
        self._render()

    def next(self) -> None:
        """Save the picked pair (two images) for the current question and move on."""
        if not self.can_go_next:
            raise VoteError(self.texts["error_pick_two"]
                            if self.page == "question" else "no question is on screen")
        qid, choice = self.order[self.index], self.choice
        self._leave_question()
        self._answers[qid] = choice
        self._pending[qid] = (choice, round(self._spent.get(qid, 0.0), 3))
        self._flush()
        self.index += 1
        if self.index >= len(self.order):  # the end: anything skipped (resume) comes last
            todo = [i for i, q in enumerate(self.order) if q not in self._answers]
            self.index = todo[0] if todo else self.index
        if self.index >= len(self.order):
            self.page = "done"
        else:
            self._enter_question()
        self._render()

    def back(self) -> None:
        """Go to the previous question (its answer can be changed, then "Next" again)."""
        if self.page != "question" or self.index == 0:
            raise VoteError("there is no previous question")
        self._leave_question()
        self.index -= 1
        self._enter_question()
        if self._pending or self._pending_registration:
            self._flush()
        self._render()

    def retry(self) -> bool:
        """Try again to save the answers kept in memory; True when all are saved."""
        ok = self._flush()
        self._render()
        return ok

    # -- internals ----------------------------------------------------------------------
    def _resume_from_store(self) -> None:
        info = self.store.participant(self.participant_id)
        order = info["order"]
        if not order or set(order) != set(self.study.questions["question_id"]):
            seed = info["seed"] if info["seed"] is not None else (
                self.seed if self.seed is not None else participant_seed(self.participant_id))
            order = question_order(self.study.questions["question_id"], seed)
            self._pending_registration = {"seed": seed, "order": order}
            self._flush()
        self.order = list(order)
        self._answers = self.store.answered(self.participant_id)
        self._spent = {q: s or 0.0 for q, s in self.store.seconds(self.participant_id).items()}
        todo = [i for i, q in enumerate(self.order) if q not in self._answers]
        if todo:
            self.page, self.index = "question", todo[0]
            self._enter_question()
        else:
            self.page, self.index = "done", len(self.order)

    def _enter_question(self) -> None:
        qid = self.order[self.index]
        previous = self._answers.get(qid)
        self._picked = [previous[0], previous[2]] if previous else []
        self._shown_at = self._clock()

    def _leave_question(self) -> None:
        qid = self.order[self.index]
        if self._shown_at is not None:
            self._spent[qid] = self._spent.get(qid, 0.0) + max(0.0, self._clock() - self._shown_at)
        self._shown_at = None

    def _flush(self) -> bool:
        """Write what is waiting (registration first, then answers in order)."""
        try:
            if self._pending_registration is not None:
                self.store.register(self.participant_id, **self._pending_registration)
                self._pending_registration = None
            for qid in list(self._pending):
                choice, seconds = self._pending[qid]
                self.store.record(self.participant_id, qid, choice, seconds)
                del self._pending[qid]
        except StoreUnavailable as e:
            n = len(self._pending)
            key = "unsaved_assessment" if not n else "unsaved_one" if n == 1 else "unsaved_many"
            self.warning = f"{self.texts[key].format(count=n)} ({e})"
            return False
        self.warning = ""
        return True

    def _thumb(self, image_id: str) -> bytes:
        """The image as PNG bytes, its longest side ``thumb_px`` (aspect ratio kept)."""
        try:
            return thumbnail_png(self.study.image_path(image_id), self._thumb_px)
        except (OSError, KeyError, ValueError):  # missing or unreadable: a grey square
            return placeholder_png(self._thumb_px)

    # -- the view -----------------------------------------------------------------------
    def _build(self) -> None:
        """Create the widgets; their texts are set by :meth:`_label` (the language)."""
        W = widgets
        self._code = W.HTML()
        self._css = W.HTML(_CSS)
        self._message = W.HTML()
        # page 1: language, consent and instructions, self-assessment, resume
        self._language = W.ToggleButtons(options=[(name, code) for code, name in
                                                  LANGUAGES.items()], value=self.language,
                                         style={"button_width": "auto"})
        self._language.observe(lambda change: change["new"] == self.language or self._ui(
            lambda: self.set_language(change["new"])), "value")
        self._intro = W.HTML()
        self._consent = W.Checkbox(value=False, indent=False,
                                   layout=W.Layout(width="auto", margin="10px 0"))
        self._consent.style.font_size = _FONT
        self._familiarity = W.ToggleButtons(value=None, style={"button_width": "auto"})
        self._field = W.Combobox(ensure_option=False, layout=W.Layout(width="420px"))
        self._field.style.font_size = _FONT
        self._impairment = W.ToggleButtons(value=None, style={"button_width": "120px"})
        self._start = _button("", button_style="primary")
        self._resume_code = W.Text(layout=W.Layout(width="300px"))
        self._resume_code.style.font_size = _FONT
        self._resume = _button("")
        for w in (self._consent, self._familiarity, self._field, self._impairment):
            w.observe(lambda _: self._render(), "value")
        self._start.on_click(lambda _: self._ui(self._ui_start))
        self._resume.on_click(lambda _: self._ui(lambda: self.resume(self._resume_code.value)))
        self._labels = {key: W.HTML() for key in (
            "language_label", "familiarity_question", "field_question",
            "impairment_question", "resume_prompt")}
        label = self._labels
        self._page_assessment = W.VBox([
            W.HBox([label["language_label"], self._language],
                   layout=W.Layout(align_items="center")),
            self._intro, self._consent,
            label["familiarity_question"], self._familiarity,
            label["field_question"], self._field,
            label["impairment_question"], self._impairment,
            W.HBox([self._start], layout=W.Layout(margin="20px 0")),
            label["resume_prompt"],
            W.HBox([self._resume_code, self._resume]),
        ])
        # page 2: one question
        self._counter = W.HTML()
        self._bar = W.IntProgress(min=0, max=max(1, len(self.study.questions)),
                                  layout=W.Layout(width="100%", height="24px"))
        self._images = [W.Image(format="png", layout=W.Layout(
            width="100%", max_height=f"{self._thumb_px}px", object_fit="contain"))
            for _ in LETTERS]
        self._toggles = []
        for letter in LETTERS:
            t = W.ToggleButton(description=f"({letter})",
                               layout=W.Layout(width="100%", height="52px"))
            t.style.font_size = _FONT
            t.observe(lambda change, letter=letter: self._on_toggle(letter), "value")
            self._toggles.append(t)
        columns = [W.VBox([img, tog], layout=W.Layout(flex="1 1 0%", min_width="0",
                   align_items="center", margin="0 6px"))
                   for img, tog in zip(self._images, self._toggles)]
        self._back = _button("")
        self._next = _button("", button_style="primary")
        self._back.on_click(lambda _: self._ui(self.back))
        self._next.on_click(lambda _: self._ui(self.next))
        self._help = W.HTML()
        self._page_question = W.VBox([
            self._counter, self._bar, self._help,
            W.HBox(columns, layout=W.Layout(width="100%", align_items="flex-end")),
            W.HBox([self._back, self._next], layout=W.Layout(
                justify_content="space-between", margin="16px 0")),
        ])
        # page 3: thank you
        self._thanks = W.HTML()
        self._retry = _button("")
        self._retry.on_click(lambda _: self._ui(self.retry))
        self._page_done = W.VBox([self._thanks, self._retry])
        self.widget = W.VBox([self._css, self._code, self._page_assessment, self._message],
                             layout=W.Layout(max_width="1400px"))
        self.widget.add_class("simkit-questionnaire")
        self._label()

    def _label(self) -> None:
        """Set every fixed text in the current language (the catalogue's, or the study's)."""
        t, esc = self.texts, html.escape
        self._syncing = True  # new option labels must not count as the participant's clicks
        try:
            for key, w in self._labels.items():
                w.value = f"<div style='{_BIG}; margin-top:14px'>{esc(t[key])}</div>"
            self._intro.value = (
                f"<h2 style='font-size:34px'>{esc(t['title'])}</h2>"
                f"<div style='{_BIG}'><b>{esc(t['consent_title'])}</b><br>{esc(t['consent'])}"
                f"</div><div style='{_BIG}; margin-top:10px'><b>"
                f"{esc(t['instructions_title'])}</b><br>{esc(t['instructions'])} "
                f"{esc(t['assessment_intro'])}</div>")
            self._consent.description = t["consent_agree"]
            level = self._familiarity.value
            self._familiarity.options = [(t[k], i) for i, k in
                                         enumerate(FAMILIARITY_KEYS, start=1)]
            self._familiarity.value = level
            # a field picked from the list stays picked, in the new language
            typed = canonical_field(self._field.value)
            english = CATALOGUE["en"]  # canonical_field's spelling
            self._field.options = [t[k] for k in FIELD_KEYS]
            self._field.value = next((t[k] for k in FIELD_KEYS if english[k] == typed),
                                     self._field.value)
            self._field.placeholder = t["field_placeholder"]
            answer = self._impairment.value
            self._impairment.options = [(t["no"], "no"), (t["yes"], "yes")]
            self._impairment.value = answer
            self._start.description = f"{t['start']} ▶"
            self._resume_code.placeholder = t["resume_placeholder"].format(example="p-1a2b3c")
            self._resume.description = t["resume"]
            self._help.value = f"<div style='{_BIG}'>{esc(t['question_help_widget'])}</div>"
            self._back.description = f"◀ {t['back']}"
            self._retry.description = t["save_again"]
            for letter, tog in zip(LETTERS, self._toggles):
                tog.tooltip = t["pick_image"].format(letter=letter)
        finally:
            self._syncing = False

    def _ui(self, action: Callable[[], object]) -> None:
        """Run a click's action; a refused action becomes a message, not a traceback."""
        if self._syncing:
            return
        try:
            action()
        except VoteError as e:
            self._render()
            self._message.value = self._box(str(e), _NOTE)

    def _ui_start(self) -> None:
        if not self._consent.value:
            raise VoteError(self.texts["error_consent"])
        self.start(self._familiarity.value, self._field.value, self._impairment.value)

    def _on_toggle(self, letter: str) -> None:
        if not self._syncing:
            self._ui(lambda: self.toggle(letter))

    @staticmethod
    def _box(text: str, colour: str) -> str:
        # a coloured box, dark text on it whatever the theme (readable in a dark JupyterLab)
        return (f"<div style='{_BIG}; background:{colour}; color:#111; padding:10px; "
                f"border-radius:6px; margin-top:10px'>{html.escape(text)}</div>")

    def _render(self) -> None:
        """Make the widgets show the current state (they never hold state of their own)."""
        t = self.texts
        self._syncing = True
        try:
            code = html.escape(self.participant_id)
            self._code.value = (f"<div style='font-size:18px; opacity:0.75'>"
                                f"{html.escape(t['your_code']).format(code=f'<b>{code}</b>')}</div>")
            self._message.value = self._box(self.warning, _NOTE) if self.warning else ""
            if self.page == "assessment":
                page = self._page_assessment
                self._start.disabled = (not self._consent.value
                                        or self._familiarity.value is None
                                        or not str(self._field.value or "").strip()
                                        or self._impairment.value is None)
            elif self.page == "question":
                page = self._page_question
                n, total = self.index + 1, len(self.order)
                self._counter.value = (f"<div style='font-size:30px; font-weight:bold'>"
                                       f"{html.escape(t['progress'].format(n=n, total=total))}"
                                       f"</div>")
                self._bar.value = self.progress.answered
                for img, image_id in zip(self._images, self.images):
                    img.value = self._thumb(image_id)
                for letter, tog in zip(LETTERS, self._toggles):
                    tog.value = letter in self._picked
                    # blue ("info"), never green against red, and a tick as well as a
                    # colour: readable for colour-blind participants
                    tog.button_style = "info" if tog.value else ""
                    tog.description = f"({letter}) ✓" if tog.value else f"({letter})"
                self._back.disabled = self.index == 0
                self._next.disabled = not self.can_go_next
                self._next.description = f"{t['finish']} ✔" if n == total else f"{t['next']} ▶"
            else:
                page = self._page_done
                done = t["thanks"].format(answered=self.progress.answered,
                                          total=self.progress.total)
                self._thanks.value = (
                    f"<h2 style='font-size:34px'>{html.escape(t['thanks_title'])}</h2>"
                    f"<div style='{_BIG}'>{html.escape(done)}"
                    f"{'' if self._pending else ' ' + html.escape(t['saved'])}</div>")
                self._retry.layout.display = "" if self._pending else "none"
            self.widget.children = (self._css, self._code, page, self._message)
        finally:
            self._syncing = False

    def __repr__(self) -> str:
        return (f"Questionnaire(participant={self.participant_id!r}, page={self.page!r}, "
                f"answered={self.progress.answered}/{self.progress.total})")
