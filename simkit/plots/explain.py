"""Figures of an explained choice (:class:`simkit.methods.explain.Explanation`).

>>> e = simkit.explain(study, "q01", "gram", weights="random:0")   # doctest: +SKIP
>>> saliency_overlay(e, opacity=0.5)                               # doctest: +SKIP
>>> channel_pair_bars(e, top=15)                                   # doctest: +SKIP

Both take the explanation and return a ``plotly.graph_objects.Figure``; both put its notes
(e.g. random weights) in red in the title, so no view of an explanation hides them.
"""
from __future__ import annotations

import base64
import html
import io
import math
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from simkit.analysis.names import display_name
from simkit.plots.figures import finite

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["saliency_overlay", "channel_pair_bars", "overlay_map", "MAP_SIDE"]

#: Gradient maps: transparent where the gradient is small, so the print shows through.
SEQUENTIAL = [[0.0, "rgba(40,0,80,0)"], [0.25, "rgba(120,20,160,0.35)"],
              [0.6, "rgba(230,60,30,0.8)"], [1.0, "rgba(255,230,0,1)"]]
#: Occlusion maps: red where the region makes the prints differ (hiding it brings them
#: together), blue where it makes them alike, transparent near 0.
DIVERGING = [[0.0, "rgba(178,24,43,1)"], [0.5, "rgba(247,247,247,0)"],
             [1.0, "rgba(33,102,172,1)"]]
#: The longest side a map is drawn at (larger maps are averaged over square blocks), so a
#: figure stays small enough for the notebook's widget channel.
MAP_SIDE = 112


def _png_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def overlay_map(values: np.ndarray, max_side: int = MAP_SIDE) -> tuple[np.ndarray, int]:
    """``(map averaged over k x k blocks, k)``: the smallest k that brings the longer side
    to at most ``max_side``; NaN pixels are left out of a block's mean (an all-NaN block
    is NaN)."""
    a = np.asarray(values, dtype=np.float64)
    k = max(1, math.ceil(max(a.shape) / max_side))
    if k == 1:
        return a, 1
    h, w = (math.ceil(n / k) * k for n in a.shape)
    padded = np.full((h, w), np.nan)
    padded[:a.shape[0], :a.shape[1]] = a
    blocks = padded.reshape(h // k, k, w // k, k)
    ok = np.isfinite(blocks)
    count = ok.sum(axis=(1, 3))
    total = np.where(ok, blocks, 0.0).sum(axis=(1, 3))
    return np.where(count > 0, total / np.maximum(count, 1), np.nan), k


def _note_lines(e: Any) -> list[str]:
    # a plotly title does not wrap: long notes are broken into lines here; a note's
    # how-to-fix lines (after its first line) stay in the explanation's own text
    return [line for n in e.notes for line in textwrap.wrap(f"⚠ {n.splitlines()[0]}", 92)]


def _rounded(z: np.ndarray) -> list:
    # 4 significant digits are more than a colour scale shows, and the figure 3x smaller
    return [[None if not math.isfinite(v) else float(f"{v:.4g}") for v in row]
            for row in np.asarray(z, dtype=float).tolist()]


def _title(e: Any, what: str) -> tuple[str, int]:
    """The title with every note in red below it, and its number of lines."""
    lines = _note_lines(e)
    notes = "".join(f"<br><span style='color:#a00'><b>{html.escape(x)}</b></span>"
                    for x in lines)
    return f"{html.escape(what)}{notes}", 1 + len(lines)


def _title_layout(text: str) -> dict:
    # anchored at the top of the figure, so a title of many lines grows into the margin
    # made for it instead of over the plot
    return dict(text=text, font=dict(size=13), x=0.01, xanchor="left", y=1,
                yref="container", yanchor="top", pad=dict(t=10))


def saliency_overlay(explanation: Any, *, opacity: float = 0.5,
                     max_side: int = MAP_SIDE) -> "go.Figure":
    """The two prints of the pair side by side with their maps overlaid.

    Parameters
    ----------
    explanation : Explanation
        From :func:`simkit.explain`.
    opacity : float
        Of the map over the print (0: the print only, 1: the map only).
    max_side : int
        Maps larger than this are drawn averaged over square blocks.

    Gradient maps share one sequential scale from 0; occlusion maps one diverging scale
    centred on 0 (red: the region makes the prints differ, blue: alike); both end at the
    99th percentile of the two maps' absolute values.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    e = explanation
    a, b = e.letters
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.04, subplot_titles=[
        f"({letter}) {html.escape(i)}" for letter, i in zip((a, b), e.image_ids)])
    maps = [np.asarray(m, dtype=np.float64) for m in e.maps]
    finite_values = np.concatenate([m[np.isfinite(m)] for m in maps])
    # the scale ends at the 99th percentile: a few extreme pixels would leave the rest of
    # the map invisible (the pixels above it show in the top colour)
    top = float(np.percentile(np.abs(finite_values), 99)) if finite_values.size else 0.0
    occlusion = e.technique == "occlusion"
    for col, (rgb, m) in enumerate(zip(e.images, maps), start=1):
        z, k = overlay_map(m, max_side)
        fig.add_trace(go.Image(source=_png_uri(rgb), hoverinfo="skip"), row=1, col=col)
        fig.add_trace(go.Heatmap(
            z=_rounded(z), x0=(k - 1) / 2, dx=k, y0=(k - 1) / 2, dy=k, opacity=opacity,
            colorscale=DIVERGING if occlusion else SEQUENTIAL,
            zmin=-top if occlusion else 0.0, zmax=top if top > 0 else 1.0,
            showscale=col == 2, colorbar=dict(thickness=12, len=0.8),
            hovertemplate="x %{x:.0f}, y %{y:.0f}: %{z:.3g}<extra></extra>"),
            row=1, col=col)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
        fig.update_yaxes(showticklabels=False, autorange="reversed", scaleanchor=f"x{col}",
                         row=1, col=col)
    what = (f"{display_name(e.method)} on {e.question_id}: pair ({a})-({b}), distance "
            f"{e.distance:.4g} — {e.technique} map")
    title, lines = _title(e, what)
    fig.update_layout(title=_title_layout(title), height=380 + 18 * lines, width=720,
                      margin=dict(l=10, r=10, t=50 + 18 * lines, b=10))
    return fig


def channel_pair_bars(explanation: Any, top: int = 15) -> "go.Figure":
    """The ``top`` channel pairs contributing most to the squared distance, with their
    share (of all the pairs, which sum to ``d²``); a note in the figure when the method
    has no channel pairs."""
    import plotly.graph_objects as go

    e = explanation
    fig = go.Figure()
    pairs = e.top_channel_pairs(top)
    if pairs is None or not len(pairs):
        fig.add_annotation(text=f"{html.escape(display_name(e.method))} has no channel pairs "
                                f"to show (only Gram, Cosine and Gram·Cosine matrices "
                                f"compared by Euclidean distance have them)",
                           showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        what = "Channel pairs"
    else:
        labels = [f"{i} × {j}" for i, j in zip(pairs["channel_i"], pairs["channel_j"])]
        shares = 100 * pairs["share"].to_numpy(dtype=float)
        fig.add_trace(go.Bar(
            x=finite(shares[::-1]), y=labels[::-1], orientation="h", marker_color="#1f77b4",
            text=[f"{s:.3g} %" for s in shares[::-1]], textposition="auto",
            customdata=finite(pairs["contribution"].to_numpy(dtype=float)[::-1]),
            hovertemplate="channels %{y}: %{x:.2f} % of d² (%{customdata:.4g})<extra></extra>"))
        fig.update_xaxes(title="share of the squared distance (%)")
        fig.update_yaxes(title="channel i × channel j", type="category")
        what = (f"{display_name(e.method)} on {e.question_id}, pair ({e.letters[0]})-"
                f"({e.letters[1]}): the {len(pairs)} channel pairs that contribute most to d²")
    title, lines = _title(e, what)
    fig.update_layout(title=_title_layout(title), width=720,
                      height=max(300, 24 * top + 120) + 18 * lines,
                      margin=dict(l=10, r=10, t=30 + 18 * lines, b=40))
    return fig
