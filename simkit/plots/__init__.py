"""Plotly figures of simkit's results: every function returns a figure and never displays it.

>>> fig = fig1_curve(tables["fig1"])            # doctest: +SKIP
>>> save_html(fig, "fig1.html")                 # doctest: +SKIP   (standalone HTML)

The widgets show these same figures (as ``plotly.graph_objects.FigureWidget``) and the
notebooks may show or save them. Every number goes through :func:`finite`, so NaN and
infinity become ``None`` (a gap) and a figure always serialises as strict JSON, which the
Jupyter widget channel requires. plotly is imported inside the functions.
"""
from __future__ import annotations

from simkit.plots.figures import (collection_map, distance_heatmaps, fig1_curve, finite,
                                  heatmap_values, retrieval_curves, save_html, umap_map,
                                  umap_question_traces, vote_bar_values, vote_bars)
from simkit.plots.ceilings import participant_agreement_figure
from simkit.plots.explain import channel_pair_bars, saliency_overlay
from simkit.plots.report_figures import genre_bars, kappa_bars, report_figures, save_figures

__all__ = ["fig1_curve", "vote_bars", "vote_bar_values", "distance_heatmaps", "heatmap_values",
           "retrieval_curves", "umap_map", "umap_question_traces", "collection_map",
           "save_html", "finite", "participant_agreement_figure", "genre_bars", "kappa_bars",
           "report_figures", "save_figures", "saliency_overlay", "channel_pair_bars"]
