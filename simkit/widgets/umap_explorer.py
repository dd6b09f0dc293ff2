"""UMAP explorer: every print of the study as a point, for one feature representation.

>>> ux = UmapExplorer(study, featureset, choices, group_explorer=ex)   # doctest: +SKIP
>>> ux                                                                  # doctest: +SKIP

The vectors of the chosen representation (``gram``, ``cosine``, ``gram_cosine`` or any
other in ``featureset.vectors``) are projected by :func:`simkit.search.projection.project`
(PCA → UMAP, cached on disk). Points are coloured by genre, by artist, or by whether the
machine (the method of the same name as the representation) agreed with people on the
questions the print is in. Hovering shows the print's thumbnail and title beside the map;
selecting a question draws its five prints and, as lines, the people's majority pair(s) and
each method's pair; clicking a point opens its question here and in the linked
:class:`~simkit.widgets.GroupExplorer` (which in turn moves the map when you step through
questions there).

The logic (:attr:`points`, :meth:`show_question`, :meth:`click`, :attr:`state`) works
without a browser.
"""
from __future__ import annotations

import html
import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simkit.analysis.tables import per_question
from simkit.analysis.names import display_name
from simkit.plots.figures import umap_map, umap_question_traces
from simkit.study.model import LETTERS, Study, pair_letters
from simkit.widgets.view import View, one_of, thumbnail_png

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet
    from simkit.widgets.group_explorer import GroupExplorer

__all__ = ["UmapExplorer", "COLOUR_BY"]

COLOUR_BY = ("genre", "artist", "agreement")


class UmapExplorer(View):
    """A 2-D map (PCA → UMAP) of a study's feature vectors, linked to a group explorer."""

    def __init__(self, study: Study, featureset: "FeatureSet",
                 choices: pd.DataFrame | None = None,
                 group_explorer: "GroupExplorer | None" = None, *,
                 representation: str | None = None, colour: str = "genre", n_pca: int = 50,
                 cache_dir: str | os.PathLike | None = None, thumb_size: int = 200) -> None:
        if choices is not None:
            study = study.with_choices(choices)
        self.study = study
        self.featureset = featureset
        self.methods = study.methods
        self.n_pca, self.cache_dir, self.thumb_size = n_pca, cache_dir, thumb_size
        known = set(study.images["image_id"])
        unknown = [i for i in featureset.image_ids if i not in known]
        if unknown:
            raise ValueError(f"the feature set has images that are not in the study's "
                             f"images.csv (e.g. {unknown[0]!r}); extract the features of "
                             f"this study")
        self.image_ids = list(featureset.image_ids)
        meta = study.images.set_index("image_id").reindex(self.image_ids)
        self.meta = pd.DataFrame({
            "image_id": self.image_ids,
            "genre": meta["genre"].to_numpy(),
            "artist": (meta["artist"] if "artist" in meta else pd.Series("unknown",
                       index=meta.index)).fillna("unknown").to_numpy(),
            "title": (meta["title"] if "title" in meta else pd.Series(self.image_ids,
                      index=meta.index)).fillna("").to_numpy(),
        })
        # image → the questions it appears in (usually one: groups are drawn without reuse)
        self._questions_of: dict[str, list[str]] = {}
        for row in study.questions.itertuples(index=False):
            for c in ("image_1", "image_2", "image_3", "image_4", "image_5"):
                self._questions_of.setdefault(getattr(row, c), []).append(row.question_id)
        self.table = per_question(study).set_index("question_id", drop=False)
        self._rep = one_of(representation or next(iter(featureset.vectors)),
                           featureset.vectors, "representation")
        self._colour = one_of(colour, COLOUR_BY, "colour")
        self._question: str | None = None
        self._hovered: str | None = None
        self._xy: dict[str, np.ndarray] = {}
        self._widget = None
        self.group_explorer = group_explorer
        if group_explorer is not None:
            group_explorer.on_select(self._follow)

    # -- logic ----------------------------------------------------------------------------
    @property
    def representations(self) -> list[str]:
        return list(self.featureset.vectors)

    def coordinates(self, representation: str | None = None) -> np.ndarray:
        """``N x 2`` UMAP coordinates (row i = ``image_ids[i]``), computed once, cached."""
        from simkit.search.projection import project

        rep = representation or self._rep
        if rep not in self._xy:
            self._xy[rep] = project(self.featureset.vectors[rep], n_pca=self.n_pca,
                                    cache_dir=self.cache_dir)
        return self._xy[rep]

    @property
    def agreement_method(self) -> str | None:
        """The method whose agreement the colours show: the one named like the
        representation, else the first method."""
        if not self.methods:
            return None
        return self._rep if self._rep in self.methods else self.methods[0]

    def agreement(self) -> list[str]:
        """Per image: agrees / disagrees / mixed (over its questions) / no question."""
        m = self.agreement_method
        out = []
        for i in self.image_ids:
            qs = self._questions_of.get(i, [])
            if not qs:
                out.append("no question")
            elif m is None:
                out.append("no machine choice")
            else:
                a = {bool(self.table.loc[q, f"agree_{m}"]) for q in qs}
                out.append("mixed" if len(a) == 2 else ("agrees" if a.pop() else "disagrees"))
        return out

    @property
    def points(self) -> pd.DataFrame:
        """``image_id, x, y, genre, artist, title, agreement, colour`` — one row per point."""
        xy = self.coordinates()
        df = self.meta.assign(x=xy[:, 0], y=xy[:, 1], agreement=self.agreement())
        df["colour"] = df[self._colour]
        return df[["image_id", "x", "y", "genre", "artist", "title", "agreement", "colour"]]

    def set_view(self, *, representation: str | None = None, colour: str | None = None) -> None:
        if representation is not None:
            self._rep = one_of(representation, self.featureset.vectors, "representation")
        if colour is not None:
            self._colour = one_of(colour, COLOUR_BY, "colour")
        if self._widget is not None:
            self._rebuild()

    def questions_of(self, image_id: str) -> list[str]:
        return list(self._questions_of.get(image_id, []))

    def show_question(self, question_id: str | None) -> None:
        """Draw a question's five prints and its human and machine pairs (``None`` clears)."""
        if question_id is not None and question_id not in self.table.index:
            raise KeyError(f"unknown question_id {question_id!r}")
        self._question = question_id
        if self._widget is not None:
            self._draw_question()

    def _follow(self, question_id: str | None) -> None:
        if question_id != self._question:
            self.show_question(question_id)

    def click(self, image_id: str) -> str | None:
        """What clicking a point does: open its (first) question here and in the linked
        group explorer. Returns the question id (``None`` for a print in no question)."""
        qs = self._questions_of.get(image_id, [])
        if not qs:
            return None
        self.show_question(qs[0])
        if self.group_explorer is not None and self.group_explorer.question_id != qs[0]:
            self.group_explorer.select(qs[0])
        return qs[0]

    def hover(self, image_id: str) -> None:
        """Show a print's thumbnail and title beside the map."""
        self._hovered = image_id
        if self._widget is not None:
            row = self.meta.set_index("image_id").loc[image_id]
            self._w_thumb.value = thumbnail_png(self.study.image_path(image_id), self.thumb_size)
            self._w_thumb.layout.display = None
            qs = ", ".join(self._questions_of.get(image_id, [])) or "none"
            self._w_caption.value = (f"<b>{html.escape(str(row['title']))}</b><br>"
                                     f"{html.escape(str(row['artist']))} · "
                                     f"{html.escape(str(row['genre']))}<br>"
                                     f"<code>{html.escape(image_id)}</code> · question {qs}")

    @property
    def state(self) -> dict:
        """What the map shows, as plain data."""
        q = self._question
        out = {"representation": self._rep, "colour": self._colour, "question_id": q,
               "question_points": [], "majority_lines": [], "method_lines": {},
               "hovered": self._hovered}
        if q is None:
            return out
        pos = {i: k for k, i in enumerate(self.image_ids)}
        xy = self.coordinates()
        ids = self.study.question_images(q)
        out["question_points"] = [(i, LETTERS[k], *map(float, xy[pos[i]]))
                                  for k, i in enumerate(ids) if i in pos]

        def line(pair: str) -> tuple[str, str]:
            a, b = pair_letters(pair)
            return ids[a], ids[b]

        row = self.table.loc[q]
        out["majority_lines"] = [line(p) for p in str(row["majority"]).split("|") if p]
        out["method_lines"] = {m: line(row[f"choice_{m}"]) for m in self.methods
                               if row[f"choice_{m}"]}
        return out

    # -- widgets --------------------------------------------------------------------------------
    @property
    def widget(self):
        if self._widget is None:
            self._build()
        return self._widget

    def _build(self) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self._w_rep = w.Dropdown(options=[(display_name(r), r) for r in self.representations],
                                 value=self._rep, description="Features")
        self._w_colour = w.Dropdown(options=list(COLOUR_BY), value=self._colour,
                                    description="Colour by")
        self._w_question = w.Dropdown(options=[("—", "")] + [(q, q) for q in self.table.index],
                                      value=self._question or "", description="Question")
        # hidden until a point is hovered: an empty image shows the browser's broken icon
        self._w_thumb = w.Image(format="png", layout=w.Layout(max_width=f"{self.thumb_size}px",
                                                               object_fit="contain",
                                                               display="none"))
        self._w_caption = w.HTML("<i>hover over a point</i>",
                                 layout=w.Layout(max_width=f"{self.thumb_size + 40}px"))
        self._fig = go.FigureWidget()  # traces and layout: simkit.plots.umap_map
        self._w_rep.observe(lambda ch: self.set_view(representation=ch["new"]), names="value")
        self._w_colour.observe(lambda ch: self.set_view(colour=ch["new"]), names="value")
        self._w_question.observe(
            lambda ch: None if self._syncing else self.show_question(ch["new"] or None),
            names="value")
        self._syncing = False
        side = w.VBox([self._w_thumb, self._w_caption], layout=w.Layout(margin="40px 0 0 8px"))
        self._widget = w.VBox([w.HBox([self._w_rep, self._w_colour, self._w_question]),
                               w.HBox([self._fig, side])])
        self._widget.add_class("simkit-umap-explorer")
        self._rebuild()

    def _rebuild(self) -> None:
        """Recreate the point traces (representation or colouring changed)."""
        title = (f"{display_name(self._rep)} features — PCA ({self.n_pca}) → UMAP, coloured "
                 f"by {self._colour}" + (f" ({display_name(self.agreement_method)})"
                                         if self._colour == "agreement"
                                         and self.agreement_method else ""))
        new = umap_map(self.points, self.methods, agreement=self._colour == "agreement",
                       title=title)
        self._n_point_traces = len(new.data) - 2 - len(self.methods)
        self._trace_ids = [list(t.customdata) for t in new.data[:self._n_point_traces]]
        with self._fig.batch_update():
            self._fig.data = []
            self._fig.add_traces(new.data)
            self._fig.update_layout(new.layout)
        for k in range(self._n_point_traces):
            ids = self._trace_ids[k]
            self._fig.data[k].on_click(
                lambda trace, points, state, ids=ids: points.point_inds and
                self.click(ids[points.point_inds[0]]))
            self._fig.data[k].on_hover(
                lambda trace, points, state, ids=ids: points.point_inds and
                self.hover(ids[points.point_inds[0]]))
        self._draw_question()

    def _draw_question(self) -> None:
        s = self.state
        self._syncing = True
        try:
            self._w_question.value = s["question_id"] or ""
        finally:
            self._syncing = False
        overlay = umap_question_traces(self.methods, s["question_points"],
                                       s["majority_lines"], s["method_lines"])
        n = self._n_point_traces
        with self._fig.batch_update():
            for shown, new in zip(self._fig.data[n:], overlay):
                shown.x, shown.y, shown.text = new.x, new.y, new.text
