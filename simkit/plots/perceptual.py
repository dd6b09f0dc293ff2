"""Figures of the replication of Pihlgren et al. (Figs. 2 and 3), from
:func:`simkit.methods.perceptual.replication.summarise`'s tables. Each returns a plotly
figure; ``note`` (e.g. "RANDOM weights: meaningless") is added to the title."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simkit.plots.figures import finite

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["replication_fig2", "replication_fig3"]

_MARKERS = {"baseline": "circle", "scalars": "x", "net": "cross"}
_NAMES = {"baseline": "baseline", "scalars": "adapted (scalars)", "net": "adapted (net)"}


def _title(text: str, note: str) -> str:
    return text + (f"<br><sub>{note}</sub>" if note else "")


def replication_fig2(per_ranking: pd.DataFrame, note: str = "") -> "go.Figure":
    """Fig. 2: per ranking, the 2AFC of every baseline (●) and adapted (×, mean ± sd over
    the repeats) metric on SVHN (left) and STL-10 (right). Rankings are ordered and
    coloured by the baselines' mean STL-10 2AFC (red: lowest, blue: highest)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pr = per_ranking.copy()
    base = pr[pr.variant == "baseline"].groupby("ranking")["stl10_2afc"].mean()
    order = {r: k for k, r in enumerate(base.sort_values(kind="stable").index)}
    for r in pr["ranking"].unique():  # rankings with no baseline go last
        order.setdefault(r, len(order))
    pr["position"] = pr["ranking"].map(order)
    n = max(len(order) - 1, 1)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("SVHN", "STL-10"), shared_yaxes=True)
    for col, data in enumerate(("svhn", "stl10"), start=1):
        for variant in ("baseline", "scalars", "net"):
            sel = pr[pr.variant == variant]
            if not len(sel):
                continue
            sd = sel.get(f"{data}_2afc_sd")
            fig.add_trace(go.Scatter(
                x=finite(sel["position"] + {"baseline": -0.15, "scalars": 0.0,
                                            "net": 0.15}[variant]),
                y=finite(sel[f"{data}_2afc"]), mode="markers", name=_NAMES[variant],
                legendgroup=variant, showlegend=col == 1,
                error_y=None if variant == "baseline" or sd is None else
                dict(type="data", array=finite(sd.fillna(0.0)), visible=True, thickness=1),
                marker=dict(symbol=_MARKERS[variant], size=8, color=finite(sel["position"] / n),
                            colorscale="RdBu", cmin=0, cmax=1,
                            line=dict(width=1, color="#333")),  # a white middle stays visible
                customdata=np.stack([sel["ranking"], sel["net"], sel["comparison"]], 1),
                hovertemplate="ranking %{customdata[0]}<br>%{customdata[1]} / "
                              "%{customdata[2]}<br>2AFC %{y:.4f}<extra></extra>"),
                row=1, col=col)
        fig.add_hline(y=0.5, line_dash="dot", row=1, col=col)
        fig.update_xaxes(title_text="ranking (by baseline STL-10 2AFC)", row=1, col=col)
    fig.update_yaxes(title_text="2AFC", range=[0, 1.02], row=1, col=1)
    fig.update_layout(title=_title("Fig. 2: 2AFC per ranking, baseline (●) and adapted (×)",
                                   note), legend_title_text="")
    return fig


def replication_fig3(per_metric: pd.DataFrame, note: str = "", data: str = "stl10"
                     ) -> "go.Figure":
    """Fig. 3: the mean 2AFC over all rankings on ``data`` (STL-10 in the paper) per
    network and comparison: baseline and adapted bars side by side."""
    import plotly.graph_objects as go

    pm = per_metric.copy()
    pm["metric"] = pm["net"] + " / " + pm["comparison"]
    fig = go.Figure()
    for variant, colour in (("baseline", "#e6550d"), ("scalars", "#3182bd"),
                            ("net", "#9ecae1")):
        sel = pm[pm.variant == variant]
        if len(sel):
            fig.add_trace(go.Bar(x=list(sel["metric"]), y=finite(sel[f"{data}_2afc"]),
                                 name=_NAMES[variant], marker_color=colour))
    fig.add_hline(y=0.5, line_dash="dot", annotation_text="chance")
    label = {"stl10": "STL-10", "svhn": "SVHN"}.get(data, data)
    fig.update_layout(barmode="group", yaxis=dict(title=f"mean 2AFC on {label}",
                                                    range=[0, 1]),
                      title=_title(f"Fig. 3: mean {label} 2AFC over all rankings, per "
                                   f"network and comparison", note))
    return fig
