"""The questions of the HTML report: for each, its five prints (a)–(e) as thumbnails, the
people's majority pair(s) (ties all shown) and each method's pair.

Each series (the people, then each method) has a colour of Okabe & Ito's colour-blind-safe
palette *and* a symbol and its name in text, so that no mark relies on colour alone
(:func:`simkit.plots.report_figures.series_style`: the figures' colours).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

import pandas as pd

from simkit.analysis.names import display_name
from simkit.analysis.tables import method_names
from simkit.plots.report_figures import series_style
from simkit.reports.tables_html import escape, format_value, is_missing
from simkit.study.model import IMAGE_COLUMNS, LETTERS, PAIRS

if TYPE_CHECKING:
    from simkit.study.model import Study

__all__ = ["question_frame", "questions_section"]

# -- questions --------------------------------------------------------------------------------
def question_frame(study: "Study", tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per question of ``study``: its five image ids, and from ``per_question`` the
    votes, majority and each method's choice; without votes (no ``per_question`` table) the
    machine choices of ``study`` alone. A method without a choice for a question has NaN."""
    base = study.questions[["question_id", "genre", *IMAGE_COLUMNS]].astype(str)
    pq = tables.get("per_question")
    if pq is not None and len(pq):
        return base.merge(pq.drop(columns=["genre"]), on="question_id", how="left")
    if study.choices is not None and len(study.choices):
        wide = study.choices.pivot(index="question_id", columns="method", values="choice")
        wide = wide[study.methods].add_prefix("choice_").reset_index()
        return base.merge(wide, on="question_id", how="left")
    return base


def _pair_text(pair: str) -> str:
    return f"({pair[0]})-({pair[2]})"


def _image_caption(study: "Study") -> dict[str, str]:
    """image_id → "title, artist" (what images.csv has of them)."""
    cols = [c for c in ("title", "artist", "year") if c in study.images.columns]
    out = {}
    for row in study.images.itertuples(index=False):
        bits = [str(getattr(row, c)) for c in cols if str(getattr(row, c)) not in ("", "nan")]
        out[str(row.image_id)] = ", ".join(bits)
    return out


def _pick_lines(row: pd.Series, methods: Sequence[str]) -> tuple[list[str], dict[str, list]]:
    """The list items (people, then each method) and, per letter, the badges to show."""
    badges: dict[str, list[str]] = {ch: [] for ch in LETTERS}

    def badge(k: int, name: str, pair: str) -> None:
        colour, sym = series_style(k)
        for ch in (pair[0], pair[2]):
            badges[ch].append(f"<span class='badge' style='border-color:{colour}' "
                              f"title='{escape(name)}'>{sym} {escape(name)}</span>")

    colour, sym = series_style(0)
    majority = "" if is_missing(row.get("majority")) else str(row["majority"])
    n = row.get("N")
    if not majority or is_missing(n):  # no per-question table: no valid votes yet
        people = "no votes"
    else:
        pairs = majority.split("|")
        top = int(row[f"votes_{pairs[0]}"])
        people = " or ".join(_pair_text(p) for p in pairs) + f" — {top} of {int(n)} votes"
        if len(pairs) > 1:
            people += f" each (a tie of {len(pairs)} pairs: all count as the majority)"
        for p in pairs:
            badge(0, "People", p)
    items = [f"<li><span class='sw' style='background:{colour}'></span>{sym} "
             f"<b>People (majority)</b>: {people}</li>"]
    for k, m in enumerate(methods, start=1):
        colour, sym = series_style(k)
        choice = row.get(f"choice_{m}")
        if is_missing(choice) or not str(choice):
            text = "no choice"
        else:
            choice = str(choice)
            badge(k, display_name(m), choice)
            text = _pair_text(choice)
            if majority and not is_missing(n):
                votes = int(row[f"votes_{choice}"])
                agrees = "✓ in the majority" if choice in majority.split("|") else \
                    "✗ not the majority"
                text += f" — {votes} vote{'s' if votes != 1 else ''}, {agrees}"
        items.append(f"<li><span class='sw' style='background:{colour}'></span>{sym} "
                     f"<b>{escape(display_name(m))}</b>: {text}</li>")
    return items, badges


def _question_card(row: pd.Series, methods: Sequence[str], thumbnails: Mapping[str, str],
                   captions: Mapping[str, str]) -> str:
    qid = str(row["question_id"])
    head = f"Question {escape(qid)} · {escape(row['genre'])}"
    if not is_missing(row.get("ps_majority")):
        head += f" · Ps(Majority) {format_value(row['ps_majority'], 'ps')} % · N {int(row['N'])}"
    items, badges = _pick_lines(row, methods)
    figs = []
    for ch, col in zip(LETTERS, IMAGE_COLUMNS):
        image_id = str(row[col])
        alt = f"({ch}) {image_id} {captions.get(image_id, '')}".strip()
        src = thumbnails.get(image_id)
        img = (f"<img src='{src}' alt='{escape(alt)}'>" if src else
               "<div class='na'>(no thumbnail)</div>")
        figs.append(f"<figure class='thumb'>{img}<figcaption><b>({ch})</b> {escape(image_id)}"
                    f"<br>{''.join(badges[ch])}</figcaption></figure>")
    votes = ""
    if "votes_a-b" in row.index and not is_missing(row.get("N")):
        counts = sorted(((int(row[f"votes_{p}"]), p) for p in PAIRS), key=lambda t: -t[0])
        votes = ("<p class='votes'>Votes: " + " · ".join(f"{p} {c}" for c, p in counts if c)
                 + "</p>")
    return (f"<section class='q' id='q-{escape(qid)}'><h3>{head}</h3>"
            f"<div class='thumbs'>{''.join(figs)}</div><ul class='picks'>{''.join(items)}"
            f"</ul>{votes}</section>")


def questions_section(study: "Study", tables: Mapping[str, pd.DataFrame],
                       thumbnails: Mapping[str, str]) -> str:
    """The questions' section: a legend, then one card per question."""
    frame = question_frame(study, tables)
    methods = method_names(frame)
    legend = " ".join(f"<span class='badge' style='border-color:{series_style(k)[0]}'>"
                      f"{series_style(k)[1]} {escape(name)}</span>" for k, name in
                      enumerate(["People (majority)", *map(display_name, methods)]))
    captions = _image_caption(study)
    cards = [_question_card(row, methods, thumbnails, captions) for _, row in frame.iterrows()]
    return (f"<h2 id='questions'>The questions</h2><p>For each question, the five prints "
            f"(a)–(e); under each print, who chose a pair containing it: {legend}. "
            f"Ties of the majority are all shown.</p>" + "\n".join(cards))
