"""Figures of "how good could a machine be?": the participant view beside the human ceiling.

>>> fig = participant_agreement_figure(tables["participant_agreement"])   # doctest: +SKIP
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd

from simkit.analysis.names import display_name
from simkit.plots.figures import finite

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["participant_agreement_figure"]

PEOPLE_COLOUR = "#1f77b4"
METHOD_COLOUR = "#ff7f0e"


def participant_agreement_figure(participant_agreement: pd.DataFrame, genre: str = "All",
                                 note: str = "") -> "go.Figure":
    """One box per method (each point one valid participant: how often the method's pair is
    that person's pick, %) beside the people's box (how often another person picks it), with
    the people's mean — the Ps ceiling — as a dashed line.

    Parameters
    ----------
    participant_agreement : pandas.DataFrame
        :func:`simkit.analysis.participant_agreement.participant_agreement`.
    genre : str
        The genre to draw (``All`` by default).
    note : str
        Added to the title (e.g. "RANDOM weights").

    Returns
    -------
    plotly.graph_objects.Figure
        Without ``people`` rows (fewer than 2 valid participants) there is no line.
    """
    import plotly.graph_objects as go

    sel = participant_agreement[participant_agreement["genre"] == genre]
    fig = go.Figure()
    for who in dict.fromkeys(sel["who"]):
        rows = sel[sel["who"] == who]
        people = who == "people"
        fig.add_trace(go.Box(
            y=finite(rows["agree"]), name="other people" if people else display_name(who),
            text=list(rows["participant_id"]), boxpoints="all", jitter=0.4, pointpos=0,
            marker_color=PEOPLE_COLOUR if people else METHOD_COLOUR,
            hovertemplate="participant %{text}: %{y:.1f} %<extra></extra>"))
    people = sel.loc[sel["who"] == "people", "agree"]
    if len(people):
        fig.add_hline(y=float(people.mean()), line_dash="dash", line_color=PEOPLE_COLOUR,
                      annotation_text=f"human ceiling (Ps) {people.mean():.1f} %",
                      annotation_position="top right")
    title = f"How often each person's pick is matched — {genre}"
    if note:  # on its own line, in red: it must not be cut off or missed
        title += f"<br><span style='color:#a00'>{html.escape(note)}</span>"
    fig.update_layout(title=title, showlegend=False,
                      yaxis_title="questions where the pick is the person's (%)",
                      height=460, width=720, margin=dict(t=90))
    return fig
