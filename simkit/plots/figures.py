"""The figures: Fig. 1, vote bars, distance heatmaps, retrieval curves, UMAP and collection maps.

Each function takes plain data (DataFrames, dicts, arrays) and returns a
``plotly.graph_objects.Figure``. The figures a view updates many times a second have their
values in a separate function (:func:`vote_bar_values`, :func:`heatmap_values`,
:func:`umap_question_traces`): a view on screen (a ``FigureWidget``) updates its traces with
those values in place, much faster than building a new figure.
"""
from __future__ import annotations

import html
import math
import os
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from simkit.analysis.names import display_name
from simkit.fileio import atomic_write
from simkit.study.model import LETTERS, PAIRS

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["fig1_curve", "vote_bars", "vote_bar_values", "distance_heatmaps", "heatmap_values",
           "retrieval_curves", "umap_map", "umap_question_traces", "collection_map",
           "save_html", "finite"]

MAJORITY_COLOUR = "#1f77b4"
OTHER_COLOUR = "#c7c7c7"
#: Okabe & Ito's colour-blind-safe colours (bluish green, vermillion, reddish purple), never
#: red against green; every view also says it in words or marks (✔ agrees / ✘ disagrees).
AGREE_COLOURS = {"agrees": "#009E73", "disagrees": "#D55E00", "mixed": "#CC79A7",
                 "no question": "#c7c7c7", "no machine choice": "#7f7f7f"}
_METHOD_DASH = ["dash", "dot", "dashdot", "longdash", "longdashdot"]
#: Okabe & Ito's colour-blind-safe palette (without its blue, the people's colour here).
OKABE_ITO = ["#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
#: Distance heatmaps side by side in one row of :func:`distance_heatmaps`; more wrap.
HEATMAPS_PER_ROW = 3


def finite(values: Any) -> Any:
    """``values`` (a number, array or nested sequence) as plain lists with NaN/inf → ``None``.

    The Jupyter widget channel sends strict JSON, which has no NaN: a NaN in a
    ``FigureWidget`` fails with "Out of range float values are not JSON compliant"."""
    if isinstance(values, (np.ndarray, pd.Series, pd.Index)):
        values = np.asarray(values).tolist()
    if isinstance(values, (list, tuple)):
        return [finite(v) for v in values]
    if isinstance(values, (float, np.floating)):
        return float(values) if math.isfinite(values) else None
    if isinstance(values, np.integer):
        return int(values)
    return values


def fig1_curve(fig1: pd.DataFrame) -> "go.Figure":
    """Fig. 1: the cumulative average Ps, questions sorted easiest first, one line per method.

    Parameters
    ----------
    fig1 : DataFrame
        ``k`` and ``cma_<method>`` columns, as :func:`simkit.analysis.tables.fig1` returns.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    methods = [c[len("cma_"):] for c in fig1.columns if c.startswith("cma_")]
    others = [m for m in methods if m != "majority"]
    for m in methods:  # the people solid and blue; each method its own colour and dash
        k = others.index(m) if m in others else -1
        line = dict(width=3, color=MAJORITY_COLOUR) if k < 0 else dict(
            width=2, color=OKABE_ITO[k % len(OKABE_ITO)], dash=_METHOD_DASH[k % len(_METHOD_DASH)])
        fig.add_trace(go.Scatter(x=finite(fig1["k"]), y=finite(fig1[f"cma_{m}"]), mode="lines",
                                 name=display_name(m), line=line))
    fig.update_layout(title="Fig. 1 — cumulative moving average of Ps, questions sorted by "
                            "Ps(Majority)", xaxis_title="number of questions (easiest first)",
                      yaxis_title="average Ps (%)", height=420, width=720)
    return fig


def vote_bar_values(votes: Mapping[str, int], majority: Sequence[str] = (),
                    picks: Mapping[str, str] | None = None) -> dict:
    """What :func:`vote_bars` draws, as plain data: ``{"y", "text", "marker_color",
    "y_range"}`` (a view on screen updates its bar with these alone, which is fast)."""
    marks: dict[str, list[str]] = {p: [] for p in PAIRS}
    for m, pair in (picks or {}).items():
        if pair in marks:
            marks[pair].append(display_name(m))
    y = [int(votes.get(p, 0)) for p in PAIRS]
    return {"y": y, "text": ["<br>".join(marks[p]) for p in PAIRS],
            "marker_color": [MAJORITY_COLOUR if p in majority else OTHER_COLOUR for p in PAIRS],
            "y_range": [0, max(1, *y) * 1.45]}


def vote_bars(votes: Mapping[str, int], majority: Sequence[str] = (),
              picks: Mapping[str, str] | None = None) -> "go.Figure":
    """The votes of one question per pair; the majority pair(s) in blue, each method's name
    above the pair it chose.

    Parameters
    ----------
    votes : mapping
        Pair (``"a-b"`` … ``"d-e"``) → number of votes; missing pairs count 0.
    majority : sequence of str
        The majority pair(s) (more than one on a tie).
    picks : mapping, optional
        Method → its chosen pair.
    """
    import plotly.graph_objects as go

    v = vote_bar_values(votes, majority, picks)
    bar = go.Bar(x=list(PAIRS), y=v["y"], text=v["text"], marker_color=v["marker_color"],
                 textposition="outside", cliponaxis=False,
                 hovertemplate="%{x}: %{y} votes<extra></extra>")
    return go.Figure(data=[bar], layout=go.Layout(
        title="Votes (blue: majority; above a bar: methods choosing it)", height=300,
        width=620, margin=dict(l=40, r=10, t=50, b=40), yaxis_title="votes",
        xaxis_title="pair", xaxis=dict(type="category"), yaxis=dict(range=v["y_range"])))


def heatmap_values(matrices: Mapping[str, np.ndarray | None],
                   picks: Mapping[str, str] | None = None) -> tuple[list, list[str]]:
    """What :func:`distance_heatmaps` draws, as plain data: ``(z per method, title per
    method)``, each ``z`` a 5×5 nested list with ``None`` where NaN (the diagonal)."""
    picks = picks or {}
    zs = [finite(np.full((5, 5), np.nan) if z is None else np.asarray(z, dtype=float))
          for z in matrices.values()]
    titles = [f"{display_name(m)}: ({picks[m][0]})-({picks[m][2]})" if picks.get(m)
              else display_name(m) for m in matrices]
    return zs, titles


def distance_heatmaps(matrices: Mapping[str, np.ndarray | None],
                      picks: Mapping[str, str] | None = None) -> "go.Figure":
    """One 5×5 heatmap per method of the distances between the five prints of a question.

    Parameters
    ----------
    matrices : mapping
        Method → symmetric 5×5 distance matrix (NaN on the diagonal), or ``None`` (empty).
    picks : mapping, optional
        Method → its chosen pair, named in the heatmap's title.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    zs, titles = heatmap_values(matrices, picks)
    # at most HEATMAPS_PER_ROW side by side, so four or more methods fit a notebook's width
    cols = max(1, min(len(zs), HEATMAPS_PER_ROW))
    rows = max(1, math.ceil(len(zs) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles or None,
                        horizontal_spacing=0.08, vertical_spacing=0.3 / rows)
    for i, (m, z) in enumerate(zip(matrices, zs)):
        row, col = i // cols + 1, i % cols + 1
        fig.add_trace(go.Heatmap(
            z=z, x=list(LETTERS), y=list(LETTERS), colorscale="Viridis_r",
            # the last heatmap's scale, beside it; wrapped rows show values in the cells only
            showscale=(rows == 1 and i == len(zs) - 1), texttemplate="%{z:.3g}",
            hovertemplate=f"{display_name(m)} (%{{y}})-(%{{x}}): %{{z:.4g}}<extra></extra>"),
            row=row, col=col)
        fig.update_yaxes(autorange="reversed", row=row, col=col)
    fig.update_layout(height=300 + 260 * (rows - 1), width=max(360, 300 * cols),
                      title="Distance between each two prints (smallest = the method's choice)",
                      margin=dict(l=30, r=10, t=70, b=30))
    return fig


def retrieval_curves(results: pd.DataFrame, metric: str = "precision") -> "go.Figure":
    """Precision@k (or recall@k, F1@k) against k, one line per method; with ``metric="pr"``
    the precision–recall curve (precision@k against recall@k).

    Parameters
    ----------
    results : DataFrame
        ``method, k, precision, recall`` [, ``f1``, ``map``], as
        :func:`simkit.search.retrieval.evaluate` returns and ``retrieval.csv`` stores.
    metric : str
        ``precision``, ``recall``, ``f1`` or ``pr``.
    """
    import plotly.graph_objects as go

    if metric not in ("precision", "recall", "f1", "pr"):
        raise ValueError(f"metric must be precision, recall, f1 or pr, not {metric!r}")
    fig = go.Figure()
    for method, sub in results.sort_values("k").groupby("method", sort=False):
        x, y = ((sub["recall"], sub["precision"]) if metric == "pr"
                else (sub["k"], sub[metric]))
        name = display_name(str(method))
        if "map" in sub and metric != "pr":
            name += f" (mAP {sub['map'].iloc[0]:.3f})" if pd.notna(sub["map"].iloc[0]) else ""
        fig.add_trace(go.Scatter(x=finite(x), y=finite(y), mode="lines+markers", name=name))
    xt, yt = ("recall@k", "precision@k") if metric == "pr" else ("k", f"{metric}@k")
    fig.update_layout(title=f"Retrieval: {yt} against {xt}", xaxis_title=xt, yaxis_title=yt,
                      height=420, width=720)
    return fig


def umap_map(points: pd.DataFrame, methods: Sequence[str] = (), *,
             colour_by: str = "colour", agreement: bool = False,
             title: str = "") -> "go.Figure":
    """A 2-D map of a study's prints: one marker trace per colour value, then the question
    overlay (its five prints, the people's majority pair, each method's pair; empty here,
    filled by :func:`umap_question_traces`).

    Parameters
    ----------
    points : DataFrame
        ``image_id, x, y, title, artist, genre`` and the ``colour_by`` column.
    methods : sequence of str
        The methods that get an (empty) line trace for their pair.
    agreement : bool
        Colour the values agrees / disagrees / … with their fixed colours.
    """
    import plotly.express as px
    import plotly.graph_objects as go

    cats = list(dict.fromkeys(points[colour_by]))
    palette = (px.colors.qualitative.Plotly + px.colors.qualitative.Dark24
               + px.colors.qualitative.Light24)
    fig = go.Figure(layout=go.Layout(
        height=560, width=720, margin=dict(l=20, r=20, t=50, b=20), title=title,
        xaxis=dict(showticklabels=False, title="UMAP 1"),
        yaxis=dict(showticklabels=False, title="UMAP 2"), hovermode="closest",
        legend=dict(itemsizing="constant")))
    for k, cat in enumerate(cats):
        sub = points[points[colour_by] == cat]
        colour = AGREE_COLOURS.get(cat) if agreement else palette[k % len(palette)]
        fig.add_trace(go.Scatter(
            x=finite(sub["x"]), y=finite(sub["y"]), mode="markers", name=str(cat),
            customdata=list(sub["image_id"]),
            marker=dict(size=8, color=colour, line=dict(width=0.5, color="white")),
            hovertext=[f"{t}<br>{a} · {g}" for t, a, g in
                       zip(sub["title"], sub["artist"], sub["genre"])],
            hoverinfo="text", showlegend=len(cats) <= 40))
    fig.add_traces(umap_question_traces(methods))
    return fig


def umap_question_traces(methods: Sequence[str] = (), question_points: Sequence = (),
                         majority_lines: Sequence = (),
                         method_lines: Mapping[str, tuple[str, str]] | None = None
                         ) -> list["go.Scatter"]:
    """The question overlay of :func:`umap_map`: the five prints, then the majority's line,
    then one line per method (a pair drawn only when both its prints are on the map).

    Parameters
    ----------
    question_points : sequence
        ``(image_id, letter, x, y)`` per print of the question.
    majority_lines, method_lines
        ``(image_id, image_id)`` pairs: the majority pair(s); method → its pair.
    """
    import plotly.graph_objects as go

    where = {i: (x, y) for i, _, x, y in question_points}
    method_lines = method_lines or {}

    def segments(pairs) -> tuple[list, list]:
        xs, ys = [], []
        for a, b in pairs:
            if a in where and b in where:
                xs += [where[a][0], where[b][0], None]
                ys += [where[a][1], where[b][1], None]
        return finite(xs), finite(ys)

    traces = [go.Scatter(x=finite([p[2] for p in question_points]),
                         y=finite([p[3] for p in question_points]),
                         text=[f"({p[1]})" for p in question_points], mode="markers+text",
                         name="question", marker=dict(size=16, color="rgba(0,0,0,0)",
                                                      line=dict(width=2.5, color="black")),
                         textposition="top center", textfont=dict(size=14),
                         hoverinfo="skip", showlegend=False)]
    xs, ys = segments(majority_lines)
    traces.append(go.Scatter(x=xs, y=ys, mode="lines", name="Majority (people)",
                             line=dict(width=5, color="black"), hoverinfo="skip"))
    for k, m in enumerate(methods):
        pair = method_lines.get(m)
        xs, ys = segments([pair] if pair else [])
        traces.append(go.Scatter(x=xs, y=ys, mode="lines", name=display_name(m),
                                 line=dict(width=3, dash=_METHOD_DASH[k % len(_METHOD_DASH)]),
                                 hoverinfo="skip"))
    return traces


def collection_map(xy: np.ndarray, labels: Sequence[str], hover: Sequence[str], *,
                   max_groups: int = 20) -> "go.Figure":
    """A WebGL map of a whole collection (``Scattergl``: SVG stalls beyond some 10,000
    points): one trace per label (the ``max_groups`` most frequent, the rest "other"), each
    point's row number in ``customdata``; the last trace, empty, marks the neighbours.

    Parameters
    ----------
    xy : array, N × 2
        Map coordinates.
    labels, hover : sequences of N str
        Each point's colour label and hover text.
    """
    import plotly.graph_objects as go

    labels = pd.Series(list(labels), dtype=str)
    top = labels.value_counts().index[:max_groups]
    labels = labels.where(labels.isin(top), "other")
    fig = go.Figure(layout=go.Layout(
        height=600, margin=dict(l=10, r=10, t=30, b=10), legend=dict(itemsizing="constant"),
        title=f"{len(xy):,} images", xaxis=dict(visible=False), yaxis=dict(visible=False)))
    size = 3 if len(xy) > 20_000 else 6
    for value in labels.unique():
        m = np.flatnonzero((labels == value).to_numpy())
        fig.add_trace(go.Scattergl(
            x=finite(xy[m, 0]), y=finite(xy[m, 1]), mode="markers", name=str(value),
            marker=dict(size=size, opacity=0.7), customdata=m.tolist(),
            text=[html.escape(hover[i]) for i in m], hoverinfo="text"))
    fig.add_trace(go.Scattergl(x=[], y=[], mode="markers", name="neighbours",
                               marker=dict(size=12, symbol="circle-open", color="black")))
    return fig


def save_html(fig: "go.Figure", path: str | os.PathLike) -> None:
    """Write ``fig`` as one standalone HTML file (plotly.js inlined: opens offline),
    atomically (a crash never leaves half a file)."""
    text = fig.to_html(full_html=True, include_plotlyjs=True)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(text)
