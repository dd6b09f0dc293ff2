"""The figures of the HTML report: per-genre bars of Table 2 (Ps) and Table 3 (Agree) with
their bootstrap intervals, the human ceiling and chance beside them; Fig. 1; Fleiss' kappa
per genre.

Colours are Okabe & Ito's colour-blind-safe palette (the people black), and each method's
bars also carry a fill pattern, so no series is told apart by colour alone.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import pandas as pd

from simkit.analysis.names import display_name
from simkit.plots.figures import fig1_curve, finite

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["genre_bars", "kappa_bars", "report_figures", "save_figures", "check_figures_folder",
           "FIGURE_NAMES", "series_style",
           "PALETTE", "SYMBOLS", "PATTERNS"]

#: Okabe & Ito's (2008) colour-blind-safe palette: the people (black) first, then one per
#: method in order (yellow last: it is faint on white).
PALETTE = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
           "#F0E442")
#: A symbol per series, beside its colour, so that no mark is told apart by colour alone.
SYMBOLS = ("●", "■", "▲", "◆", "★", "✚", "▼", "⬟")
#: A fill pattern per series (the people's bars are solid).
PATTERNS = ("", "/", "x", ".", "\\", "+", "-", "|")


def series_style(k: int) -> tuple[str, str]:
    """(colour, symbol) of series ``k``: 0 the people, 1… each method in order."""
    return PALETTE[k % len(PALETTE)], SYMBOLS[k % len(SYMBOLS)]


def _interval(sub: pd.DataFrame, intervals: pd.DataFrame | None, genres: list[str],
              method: str) -> dict | None:
    """plotly ``error_y`` from ``ci_low``/``ci_high`` rows of ``method`` (None without)."""
    if intervals is None or intervals.empty:
        return None
    ci = intervals[intervals["method"] == method].set_index("genre").reindex(genres)
    value = sub.set_index("genre").reindex(genres)["value"]
    return dict(type="data", symmetric=False, array=finite(ci["ci_high"] - value),
                arrayminus=finite(value - ci["ci_low"]), thickness=1.5, width=4)


def genre_bars(values: pd.DataFrame, *, intervals: pd.DataFrame | None = None,
               ceiling: pd.DataFrame | None = None, chance: pd.Series | None = None,
               title: str = "", yaxis_title: str = "%") -> "go.Figure":
    """Grouped bars, one group per genre and one bar per method, with intervals; the human
    ceiling (with its interval) and chance as markers over each genre.

    Parameters
    ----------
    values : DataFrame
        ``genre, method, value`` (percent).
    intervals : DataFrame, optional
        ``genre, method, ci_low, ci_high``: drawn as error bars.
    ceiling : DataFrame, optional
        ``genre, ceiling, ci_low, ci_high``: the best a method could do.
    chance : Series, optional
        genre → what a random pick scores.
    """
    import plotly.graph_objects as go

    genres = list(dict.fromkeys(values["genre"]))
    fig = go.Figure()
    for k, method in enumerate(dict.fromkeys(values["method"])):
        sub = values[values["method"] == method]
        y = sub.set_index("genre").reindex(genres)["value"]
        fig.add_trace(go.Bar(
            x=genres, y=finite(y), name=display_name(method),
            marker=dict(color=PALETTE[k % len(PALETTE)], line=dict(color="#333", width=0.5),
                        pattern=dict(shape=PATTERNS[k % len(PATTERNS)], fgcolor="#fff")),
            error_y=_interval(sub, intervals, genres, method),
            hovertemplate=f"{display_name(method)} · %{{x}}: %{{y:.2f}}<extra></extra>"))
    if ceiling is not None and not ceiling.empty:
        c = ceiling.set_index("genre").reindex(genres)
        fig.add_trace(go.Scatter(
            x=genres, y=finite(c["ceiling"]), mode="markers", name="human ceiling",
            marker=dict(symbol="line-ew-open", size=40, color="#000", line=dict(width=3)),
            error_y=dict(type="data", symmetric=False, array=finite(c["ci_high"] - c["ceiling"]),
                         arrayminus=finite(c["ceiling"] - c["ci_low"]), color="#000"),
            hovertemplate="human ceiling · %{x}: %{y:.2f}<extra></extra>"))
    if chance is not None and len(chance):
        fig.add_trace(go.Scatter(
            x=genres, y=finite(chance.reindex(genres)), mode="markers", name="chance",
            marker=dict(symbol="x-thin-open", size=14, color="#555", line=dict(width=2)),
            hovertemplate="chance · %{x}: %{y:.2f}<extra></extra>"))
    fig.update_layout(title=title, barmode="group", yaxis_title=yaxis_title,
                      xaxis_title="genre", height=440, width=880,
                      legend=dict(orientation="h", y=-0.2))
    return fig


def kappa_bars(kappa: pd.DataFrame) -> "go.Figure":
    """Fleiss' kappa per genre (``genre, kappa``)."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=list(kappa["genre"]), y=finite(kappa["kappa"]),
                           marker_color=PALETTE[0], name="Fleiss' kappa",
                           hovertemplate="%{x}: kappa %{y:.3f}<extra></extra>"))
    fig.update_layout(title="Agreement among people: Fleiss' kappa over the 10 pairs",
                      yaxis_title="kappa", xaxis_title="genre", height=360, width=720)
    return fig


def _genre_figure(tables: Mapping[str, pd.DataFrame], name: str, value: str,
                  measure: str, title: str, yaxis: str) -> "go.Figure":
    values = tables[name].rename(columns={value: "value"})
    ci = tables.get(f"{name}_ci")
    if ci is not None and not ci.empty:  # the interval over participants, as the ceiling's
        ci = ci[ci["resample"] == "participants"]
    ceiling = tables.get("ceiling")
    if ceiling is not None and not ceiling.empty:
        ceiling = ceiling[ceiling["measure"] == measure]
    chance = tables.get("chance")
    chance = chance.set_index("genre")[value] if chance is not None and len(chance) else None
    return genre_bars(values, intervals=ci, ceiling=ceiling, chance=chance, title=title,
                      yaxis_title=yaxis)


#: The names :func:`report_figures` may give (``--figures`` writes ``NAME.html``, ``NAME.png``).
FIGURE_NAMES = ("ps_by_genre", "agree_by_genre", "fig1", "kappa")


def report_figures(tables: Mapping[str, pd.DataFrame]) -> dict[str, "go.Figure"]:
    """The report's figures from :func:`simkit.tables`' result, by name (the file name
    ``--figures`` gives each): ``ps_by_genre``, ``agree_by_genre``, ``fig1``, ``kappa``
    (those the tables allow)."""
    figs: dict[str, "go.Figure"] = {}
    if "table2" in tables and len(tables["table2"]):
        figs["ps_by_genre"] = _genre_figure(
            tables, "table2", "avg_ps", "ps", "Average Ps per genre (95 % interval over "
            "participants), the human ceiling and chance", "average Ps (%)")
    if "table3" in tables and len(tables["table3"]):
        figs["agree_by_genre"] = _genre_figure(
            tables, "table3", "agree", "agree", "Agree per genre (95 % interval over "
            "participants), the human ceiling and chance", "Agree (%)")
    if "fig1" in tables and len(tables["fig1"]):
        figs["fig1"] = fig1_curve(tables["fig1"])
    if "kappa" in tables and len(tables["kappa"]):
        figs["kappa"] = kappa_bars(tables["kappa"])
    return figs


def _is_figure_page(path: Path) -> bool:
    """Whether ``path`` is a page :func:`save_figures` wrote: plotly.js inlined near its top."""
    try:
        with open(path, "rb") as fh:
            return b"plotly.js v" in fh.read(4096)
    except OSError:
        return False


def check_figures_folder(folder: str | os.PathLike) -> Path:
    """``folder`` as a place for :func:`save_figures`: not a file, and holding no file of a
    figure's name that simkit did not write (a user's ``fig1.html`` is never replaced); a
    clear :class:`~simkit.errors.UsageError` otherwise, before any work."""
    from simkit.errors import UsageError
    from simkit.fileio import new_or_replaceable

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; give the figures a folder")
    what = "a figure simkit wrote"
    for name in FIGURE_NAMES:
        page, png = folder / f"{name}.html", folder / f"{name}.png"
        new_or_replaceable(page, _is_figure_page, what)
        ours = page.is_file()  # and so simkit's, or refused above
        for path in (page, png):
            if (path.exists() or path.is_symlink()) and not (ours and path.is_file()):
                raise UsageError(f"{path} exists and is not {what}; choose another folder, "
                                 f"or move that file away")
    return folder


def save_figures(figures: Mapping[str, "go.Figure"], folder: str | os.PathLike) -> list[Path]:
    """Save each figure as ``folder/NAME.html`` (standalone, :func:`simkit.plots.save_html`)
    and, when kaleido is installed, ``folder/NAME.png``; each file atomically. Other files
    in ``folder`` are left as they are; a file of the same name is replaced only when simkit
    wrote it (:func:`check_figures_folder`).

    Returns
    -------
    list of Path
        The files written.
    """
    import importlib.util

    from simkit.fileio import atomic_write
    from simkit.plots.figures import save_html

    folder = check_figures_folder(folder)
    png = importlib.util.find_spec("kaleido") is not None
    written = []
    for name, fig in figures.items():
        save_html(fig, folder / f"{name}.html")
        written.append(folder / f"{name}.html")
        if png:
            data = fig.to_image(format="png")
            with atomic_write(folder / f"{name}.png", "wb") as fh:
                fh.write(data)
            written.append(folder / f"{name}.png")
    return written
