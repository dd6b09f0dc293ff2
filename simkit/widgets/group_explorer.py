"""Group explorer: one question at a time — the five prints, the votes, every method's pair.

>>> ex = GroupExplorer(study, choices, distances)       # doctest: +SKIP
>>> ex                                                  # doctest: +SKIP   (shows the view)
>>> ex.select("q007"); ex.state["majority"]             # doctest: +SKIP
['b-d']

The logic lives in plain methods and properties (:meth:`select`, :attr:`questions`,
:attr:`state`) that tests drive without a browser; the ipywidgets and plotly figures only
reflect :attr:`state`. Changing the question updates the existing figure traces in place
(no figure is rebuilt) and thumbnails are cached, so a redraw takes a few milliseconds.

``choices`` (``question_id, method, choice``, as from :func:`simkit.methods.choices.study_choices`
or ``choices.csv``) defaults to the study's own; ``distances`` (``question_id, method,
pair, distance``) adds each method's 5×5 distance matrix as a heatmap.

**Explain** (on demand): a method and a pair (default: the method's pick) of the shown
question, explained by :func:`simkit.methods.explain.explain` only when the button is
pressed (or :meth:`GroupExplorer.explain` is called) — the two prints with the saliency
or occlusion map overlaid (an opacity slider), the channel pairs that contribute most, and
the explanation's notes (random weights say so). ``explain_options`` are passed to it
(``weights``, ``fallback_weights``, ``size``, ``device`` …).
"""
from __future__ import annotations

import html
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from simkit.analysis.tables import per_question
from simkit.analysis.names import display_name
from simkit.plots.figures import (AGREE_COLOURS, MAJORITY_COLOUR, distance_heatmaps,
                                  heatmap_values, vote_bar_values, vote_bars)
from simkit.study.model import LETTERS, PAIRS, Study, pair_letters
from simkit.votes.messages import question_titles
from simkit.widgets.view import View, one_of, thumbnail_png

__all__ = ["GroupExplorer", "thumbnail_png", "ORDERS", "OWN_PICK"]

#: Navigation orders: the paper's Tables 4 and 5 (easiest / hardest first) as an order.
ORDERS = ("questions.csv", "easiest first", "hardest first")
ALL_GENRES = "All genres"
#: The pair menu's first entry: explain the pair the method picked.
OWN_PICK = "its pick"
def _distance_matrices(distances: pd.DataFrame | None) -> dict[tuple[str, str], np.ndarray]:
    """(question_id, method) → symmetric 5×5 matrix (NaN on the diagonal / missing)."""
    out: dict[tuple[str, str], np.ndarray] = {}
    if distances is None or len(distances) == 0:
        return out
    for col in ("question_id", "method", "pair", "distance"):
        if col not in distances.columns:
            raise ValueError(f"distances needs columns question_id, method, pair, distance "
                             f"(as from simkit.search.distances.pair_distances); {col!r} is missing")
    for (q, m), grp in distances.groupby(["question_id", "method"], sort=False):
        mat = np.full((5, 5), np.nan)
        for pair, d in zip(grp["pair"], grp["distance"]):
            i, j = pair_letters(str(pair))
            mat[i, j] = mat[j, i] = float(d)
        out[str(q), str(m)] = mat
    return out


class GroupExplorer(View):
    """Pick a genre and a question; see the prints, the votes and each method's pair.

    Parameters
    ----------
    study : Study
        The study (images, questions, votes).
    choices : DataFrame, optional
        Machine choices ``question_id, method, choice``; default: ``study.choices``.
    distances : DataFrame, optional
        ``question_id, method, pair, distance`` for the 5×5 heatmaps.
    thumb_size : int
        Longer side of the thumbnails, in pixels.
    explain_options : mapping, optional
        Keyword arguments of :func:`simkit.methods.explain.explain` for the Explain
        control, e.g. ``{"weights": "imagenet", "fallback_weights": "random:0"}``.
    """

    def __init__(self, study: Study, choices: pd.DataFrame | None = None,
                 distances: pd.DataFrame | None = None, *, thumb_size: int = 160,
                 explain_options: Mapping[str, Any] | None = None) -> None:
        if choices is not None:
            study = study.with_choices(choices)
        self.study = study
        self.methods: list[str] = study.methods
        self.table = per_question(study).set_index("question_id", drop=False)
        self._distances = _distance_matrices(distances)
        self.thumb_size = thumb_size
        self._genre = study.genres[0] if study.genres else ALL_GENRES
        self._order = ORDERS[0]
        self._only_disagreements = False
        self._question_id: str | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._widget = None
        self.explain_options = dict(explain_options or {})
        self.explanation = None  # the last Explanation, for the shown question only
        self.explain_error = ""
        qs = self.questions
        if not qs:
            raise ValueError("the study has no questions to explore")
        self._question_id = qs[0]

    # -- logic (no widgets) ---------------------------------------------------------------
    @property
    def genres(self) -> list[str]:
        return [*self.study.genres, ALL_GENRES]

    def disagrees(self, question_id: str) -> bool:
        """True when at least one method's pair is not in the majority set."""
        row = self.table.loc[question_id]
        return any(not bool(row[f"agree_{m}"]) for m in self.methods)

    @property
    def questions(self) -> list[str]:
        """The question ids the slider walks through: genre, filter and order applied."""
        t = self.table
        if self._genre != ALL_GENRES:
            t = t[t["genre"] == self._genre]
        if self._only_disagreements and self.methods:
            t = t[[self.disagrees(q) for q in t["question_id"]]]
        if self._order == "easiest first":
            t = t.sort_values("ps_majority", ascending=False, kind="stable")
        elif self._order == "hardest first":
            t = t.sort_values("ps_majority", ascending=True, kind="stable")
        return list(t["question_id"])

    @property
    def question_id(self) -> str | None:
        return self._question_id

    def set_view(self, *, genre: str | None = None, order: str | None = None,
                 only_disagreements: bool | None = None) -> None:
        """Change the navigation (genre, order, filter); keeps the question when it is
        still in the list, else moves to the first one."""
        if genre is not None:
            self._genre = one_of(genre, self.genres, "genre")
        if order is not None:
            self._order = one_of(order, ORDERS, "order")
        if only_disagreements is not None:
            self._only_disagreements = bool(only_disagreements)
        qs = self.questions
        if self._question_id not in qs:
            self._question_id = qs[0] if qs else None
        self._changed()

    def select(self, question_id: str) -> None:
        """Show ``question_id`` (switching genre / dropping the filter when needed)."""
        if question_id not in self.table.index:
            raise KeyError(f"unknown question_id {question_id!r}")
        if question_id not in self.questions:
            if self._genre != ALL_GENRES:
                self._genre = str(self.table.loc[question_id, "genre"])
            if question_id not in self.questions:
                self._only_disagreements = False
        self._question_id = question_id
        self._changed()

    def step(self, delta: int = 1) -> None:
        """Move ``delta`` questions along the current list (clamped at the ends)."""
        qs = self.questions
        if not qs:
            return
        i = qs.index(self._question_id) if self._question_id in qs else 0
        self._question_id = qs[max(0, min(len(qs) - 1, i + delta))]
        self._changed()

    def explain(self, method: str | None = None, pair: str | None = None):
        """Explain ``method``'s ``pair`` (default: the first method, its own pick) on the
        shown question; kept in :attr:`explanation` until the question changes. A
        problem the user can fix is kept in :attr:`explain_error` (and shown) instead."""
        from simkit.errors import SimkitError
        from simkit.methods.explain import explain

        if self._question_id is None:
            raise ValueError("no question is shown")
        method = method or (self.methods[0] if self.methods else "gram")
        pair = None if pair in (None, "", OWN_PICK) else pair
        options = {"progress": False, **self.explain_options}
        try:
            self.explanation = explain(self.study, self._question_id, method, pair, **options)
            self.explain_error = ""
        except SimkitError as e:
            self.explanation, self.explain_error = None, str(e)
        if self._widget is not None:
            self._show_explanation()
        return self.explanation

    def on_select(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(question_id)`` whenever the shown question changes."""
        self._listeners.append(callback)

    @property
    def state(self) -> dict:
        """What the view shows, as plain data (``None`` values when no question)."""
        q = self._question_id
        if q is None:
            return {"question_id": None, "genre": self._genre, "questions": []}
        row = self.table.loc[q]
        ids = self.study.question_images(q)
        # the captions: an image's title, its id where it has none
        titles = [t or i for t, i in zip(question_titles(self.study, [q])[q], ids)]
        majority = [p for p in str(row["majority"]).split("|") if p]
        qs = self.questions
        return {
            "question_id": q,
            "genre": str(row["genre"]),
            "questions": qs,
            "position": qs.index(q) if q in qs else None,
            "image_ids": ids,
            "titles": titles,
            "votes": {p: int(row[f"votes_{p}"]) for p in PAIRS},
            "n": int(row["N"]),
            "majority": majority,
            "ps_majority": float(row["ps_majority"]),
            "methods": {m: {"pair": str(row[f"choice_{m}"]), "ps": float(row[f"ps_{m}"]),
                            "agree": bool(row[f"agree_{m}"])} for m in self.methods},
            "distances": {m: self._distances.get((q, m)) for m in self.methods
                          if (q, m) in self._distances},
        }

    def choices_html(self, state: dict | None = None) -> str:
        """The side-by-side pairs as HTML (stable class names and ``data-*`` attributes,
        so a browser test can read what is shown)."""
        s = state or self.state
        if s["question_id"] is None:
            return "<p>No question matches the filter.</p>"
        cells = [
            ("majority", "Majority", " ".join(f"({p[0]})-({p[2]})" for p in s["majority"]),
             "|".join(s["majority"]), s["ps_majority"], None)]
        for m, v in s["methods"].items():
            cells.append((m, display_name(m), f"({v['pair'][0]})-({v['pair'][2]})"
                          if v["pair"] else "—", v["pair"], v["ps"], v["agree"]))
        boxes = []
        for key, name, shown, raw, ps, agree in cells:
            if agree is None:
                mark, colour = "", MAJORITY_COLOUR
                tie = " (tie)" if len(s["majority"]) > 1 else ""
                mark = f'<div style="font-size:85%;color:#555">people{tie}</div>'
            else:
                colour = AGREE_COLOURS["agrees" if agree else "disagrees"]
                mark = (f'<div class="simkit-agree" data-method="{key}" data-agree='
                        f'"{str(agree).lower()}" style="color:{colour};font-weight:bold">'
                        f'{"✔ agrees" if agree else "✘ disagrees"}</div>')
            boxes.append(
                f'<div class="simkit-choice-box" style="border:2px solid {colour};'
                f'border-radius:6px;padding:6px 10px;margin:2px;min-width:110px;'
                f'text-align:center">'
                f'<div style="font-weight:bold">{html.escape(name)}</div>'
                f'<div class="simkit-choice" data-method="{key}" data-pairs="{raw}" '
                f'style="font-size:130%">{html.escape(shown)}</div>'
                f'<div>Ps {ps:.1f} %</div>{mark}</div>')
        return ('<div class="simkit-choices" data-question="{}" style="display:flex;'
                'flex-wrap:wrap">{}</div>').format(html.escape(s["question_id"]), "".join(boxes))

    def _changed(self) -> None:
        if self.explanation is not None and self.explanation.question_id != self._question_id:
            self.explanation = None  # an explanation of another question: not shown
            self.explain_error = ""
        if self._widget is not None:
            self._redraw()
        for cb in list(self._listeners):
            cb(self._question_id)

    # -- widgets ----------------------------------------------------------------------------
    @property
    def widget(self):
        """The ipywidgets view (built on first use)."""
        if self._widget is None:
            self._build()
            self._redraw()
        return self._widget

    def _build(self) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self._syncing = False
        self._w_genre = w.Dropdown(options=self.genres, value=self._genre, description="Genre")
        self._w_order = w.Dropdown(options=list(ORDERS), value=self._order,
                                   description="Order")
        self._w_filter = w.Checkbox(value=self._only_disagreements,
                                    description="only disagreements", indent=False,
                                    disabled=not self.methods)
        self._w_slider = w.IntSlider(min=0, max=max(0, len(self.questions) - 1), value=0,
                                     description="Question", continuous_update=True,
                                     layout=w.Layout(width="420px"))
        self._w_slider.add_class("simkit-question-slider")
        self._w_label = w.HTML()
        self._w_label.add_class("simkit-question-label")
        self._w_thumbs = [w.Image(format="png", layout=w.Layout(max_width=f"{self.thumb_size}px",
                                                                  max_height=f"{self.thumb_size}px",
                                                                  object_fit="contain"))
                          for _ in LETTERS]
        self._w_captions = [w.HTML(layout=w.Layout(max_width=f"{self.thumb_size}px"))
                            for _ in LETTERS]
        cards = [w.VBox([img, cap], layout=w.Layout(align_items="center", margin="0 6px"))
                 for img, cap in zip(self._w_thumbs, self._w_captions)]
        self._w_choices = w.HTML()
        self._w_choices.add_class("simkit-choices-panel")

        s = self.state
        self._bars = go.FigureWidget(vote_bars(*self._vote_args(s)))
        children = [w.HBox([self._w_genre, self._w_order, self._w_filter]),
                    w.HBox([self._w_slider, self._w_label]),
                    w.HBox(cards), self._w_choices, self._bars]
        self._heat_methods = [m for m in self.methods if any(k[1] == m for k in self._distances)]
        self._heat = None
        if self._heat_methods:
            self._heat = go.FigureWidget(distance_heatmaps(*self._heat_args(s)))
            children.append(self._heat)
        children.append(self._build_explain(w))
        self._widget = w.VBox(children)
        self._widget.add_class("simkit-group-explorer")

        def on_nav(change):
            if self._syncing:
                return
            self.set_view(genre=self._w_genre.value, order=self._w_order.value,
                          only_disagreements=self._w_filter.value)

        def on_slider(change):
            if self._syncing:
                return
            qs = self.questions
            if qs:
                self._question_id = qs[min(change["new"], len(qs) - 1)]
                self._changed()

        for c in (self._w_genre, self._w_order, self._w_filter):
            c.observe(on_nav, names="value")
        self._w_slider.observe(on_slider, names="value")

    def _build_explain(self, w):
        """The Explain control: method, pair, button, opacity and the output area."""
        names = self.methods or ["gram"]
        self._w_x_method = w.Dropdown(options=[(display_name(m), m) for m in names],
                                      value=names[0], description="Explain")
        self._w_x_pair = w.Dropdown(options=[OWN_PICK, *PAIRS], value=OWN_PICK,
                                    description="pair", layout=w.Layout(width="180px"))
        self._w_x_button = w.Button(description="Explain", icon="search",
                                    tooltip="which regions and channels drive this pair's "
                                            "distance (computed now)")
        self._w_x_button.add_class("simkit-explain-button")
        self._w_x_opacity = w.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05,
                                          description="opacity", readout_format=".2f")
        self._w_x_info = w.HTML()
        self._w_x_info.add_class("simkit-explain-info")
        self._w_x_figures = w.VBox()
        self._x_overlay = None

        def on_click(_):
            self._w_x_info.value = "<i>computing the explanation …</i>"
            self.explain(self._w_x_method.value, self._w_x_pair.value)

        def on_opacity(change):
            if self._x_overlay is not None:
                with self._x_overlay.batch_update():
                    for trace in self._x_overlay.data:
                        if trace.type == "heatmap":
                            trace.opacity = change["new"]

        self._w_x_button.on_click(on_click)
        self._w_x_opacity.observe(on_opacity, names="value")
        box = w.VBox([w.HBox([self._w_x_method, self._w_x_pair, self._w_x_button,
                              self._w_x_opacity]), self._w_x_info, self._w_x_figures])
        box.add_class("simkit-explain")
        return box

    def _show_explanation(self) -> None:
        import plotly.graph_objects as go

        from simkit.methods.explain import notes_html
        from simkit.plots.explain import channel_pair_bars, saliency_overlay

        e = self.explanation
        if e is None:
            self._x_overlay = None
            self._w_x_figures.children = ()
            self._w_x_info.value = (
                f'<pre class="simkit-explain-error" style="color:#a00;white-space:pre-wrap;'
                f'font-family:inherit">{html.escape(self.explain_error)}</pre>'
                if self.explain_error else "")
            return
        self._w_x_info.value = (
            notes_html(e.notes, short=True) + f'<div class="simkit-explain-summary" data-method='
            f'"{html.escape(e.method)}" data-pair="{e.pair}" data-technique="{e.technique}">'
            f'{html.escape(display_name(e.method))}, pair ({e.letters[0]})-({e.letters[1]})'
            f'{" (its pick)" if e.pair == e.pick else f" (its pick: {e.pick})"}: '
            f'{html.escape(e.technique)} map — {html.escape(e.map_meaning)}</div>')
        self._x_overlay = go.FigureWidget(saliency_overlay(e, opacity=self._w_x_opacity.value))
        figures = [self._x_overlay]
        if e.channel_pairs is not None:
            figures.append(go.FigureWidget(channel_pair_bars(e)))
        self._w_x_figures.children = figures

    def _redraw(self) -> None:
        if self.explanation is None:
            self._show_explanation()  # the question changed: the old explanation goes
        s = self.state
        self._syncing = True
        try:
            self._w_genre.value = self._genre
            self._w_order.value = self._order
            self._w_filter.value = self._only_disagreements
            n = len(s["questions"])
            self._w_slider.max = max(0, n - 1)
            self._w_slider.disabled = n <= 1
            if s["position"] is not None:
                self._w_slider.value = s["position"]
        finally:
            self._syncing = False
        if s["question_id"] is None:
            self._w_label.value = "<b>no question matches</b>"
            self._w_choices.value = self.choices_html(s)
            return
        self._w_label.value = (f'<span class="simkit-question-id">{html.escape(s["question_id"])}'
                               f'</span> — {html.escape(s["genre"])} '
                               f'({s["position"] + 1} of {n}), N = {s["n"]}')
        for k, image_id in enumerate(s["image_ids"]):
            self._w_thumbs[k].value = thumbnail_png(self.study.image_path(image_id),
                                                    self.thumb_size)
            self._w_captions[k].value = (
                f'<div style="text-align:center"><b>({LETTERS[k]})</b> '
                f'<span style="font-size:85%">{html.escape(s["titles"][k])}</span></div>')
        self._w_choices.value = self.choices_html(s)
        bars = vote_bar_values(*self._vote_args(s))
        with self._bars.batch_update():  # update the traces in place: no new figure
            self._bars.data[0].update(y=bars["y"], text=bars["text"],
                                      marker_color=bars["marker_color"])
            self._bars.layout.yaxis.range = bars["y_range"]
        if self._heat is not None:
            zs, titles = heatmap_values(*self._heat_args(s))
            with self._heat.batch_update():
                for i, (z, title) in enumerate(zip(zs, titles)):
                    self._heat.data[i].z = z
                    self._heat.layout.annotations[i].text = title

    def _vote_args(self, s: dict) -> tuple:
        """The arguments of :func:`~simkit.plots.vote_bars` for state ``s``."""
        picks = {m: v["pair"] for m, v in s.get("methods", {}).items()}
        return s.get("votes", {}), s.get("majority", []), picks

    def _heat_args(self, s: dict) -> tuple:
        """The arguments of :func:`~simkit.plots.distance_heatmaps` for state ``s``."""
        picks = {m: v["pair"] for m, v in s.get("methods", {}).items()}
        return {m: s.get("distances", {}).get(m) for m in self._heat_methods}, picks
