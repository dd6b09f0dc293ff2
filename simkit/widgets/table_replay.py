"""Table replay: a computed table beside the published one, differences highlighted.

>>> tables = compute_tables(study)                     # doctest: +SKIP
>>> TableReplay(tables)                                 # doctest: +SKIP   (shows the view)

Pick Table 2, 3, 4, 5, the easy-question summary (§4.3) or Fig. 1. Each cell shows ours
beside the paper's value (from :func:`simkit.analysis.published.replay`); a cell that differs by more
than the paper's printing precision is highlighted. Tables 2 and 3 add their 95 %
bootstrap intervals (over participants and over questions). Fig. 1 is drawn as a plotly
line chart with the Majority's curve and every method's. "How good could a machine be?"
(when the tables have a ``ceiling``) shows the ceilings, the split-half agreement, kappa,
the tests and comparisons, the groups of a ``by`` split, and the participant view.

The logic (:meth:`frame`, :meth:`html`, :attr:`n_differences`) works without a browser.
"""
from __future__ import annotations

import pandas as pd

from simkit.analysis.by_group import group_stems
from simkit.analysis.published import replay
from simkit.analysis.names import display_name
from simkit.plots.ceilings import participant_agreement_figure
from simkit.plots.figures import fig1_curve
from simkit.widgets.view import View, one_of

__all__ = ["TableReplay", "TABLE_NAMES", "CEILINGS"]

#: name → title, in the order of the dropdown
TABLE_NAMES = {
    "table2": "Table 2 — average Ps per genre",
    "table3": "Table 3 — agreement with the majority",
    "table4": "Table 4 — the 10 easiest questions",
    "table5": "Table 5 — the 10 hardest questions",
    "easy": "§4.3 — easy questions (Ps(Majority) > 80 %)",
    "fig1": "Fig. 1 — cumulative average Ps, easiest questions first",
}
#: the view of issue 15's measures (not a published table: nothing to replay)
CEILINGS = "ceilings"
_CEILINGS_TITLE = "How good could a machine be? — ceilings, tests, split-half, groups"
_DIFF_STYLE = "background-color: #ffd6d6; font-weight: bold"


def _fmt(v) -> str:
    if isinstance(v, bool) or str(v) in ("True", "False"):
        return str(v).lower()
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—" if v is None else str(v)
    return "—" if pd.isna(f) else f"{f:.2f}"


class TableReplay(View):
    """Computed tables (from :func:`simkit.analysis.all_tables.compute_tables`) beside the paper's."""

    def __init__(self, tables: dict[str, pd.DataFrame], *, name: str = "table2") -> None:
        missing = [n for n in TABLE_NAMES if n not in tables]
        if missing:
            raise ValueError(f"tables lacks {', '.join(missing)}; pass the dict returned by "
                             f"simkit.analysis.all_tables.compute_tables(study)")
        self.tables = tables
        self._name = name
        self._widget = None

    # -- logic --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._name

    @property
    def views(self) -> dict[str, str]:
        """name → title of every view: the paper's tables, and the ceilings when computed."""
        extra = {CEILINGS: _CEILINGS_TITLE} if "ceiling" in self.tables else {}
        return {**TABLE_NAMES, **extra}

    def select(self, name: str) -> None:
        self._name = one_of(name, self.views, "table")
        if self._widget is not None:
            self._redraw()

    def replayed(self, name: str | None = None) -> pd.DataFrame | None:
        """The long comparison of :func:`simkit.analysis.published.replay` (``None`` for Fig. 1, which
        the paper prints only as a figure)."""
        name = name or self._name
        return None if name in ("fig1", CEILINGS) else replay(self.tables[name], name)

    def n_differences(self, name: str | None = None) -> int:
        r = self.replayed(name)
        return 0 if r is None else int(r["differs"].sum())

    def frame(self, name: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """``(wide, differs)``: one row per method (Tables 2, 3) or rank (4, 5) or threshold,
        columns ``(column, "ours" | "paper")``; ``differs`` flags the cells to highlight."""
        name = name or self._name
        r = self.replayed(name)
        if r is None:
            fig = self.tables["fig1"]
            return fig, pd.DataFrame(False, index=fig.index, columns=fig.columns)
        if "method" in r.columns:
            index, cols = "method", "genre"
            r = r.assign(method=r["method"].map(display_name))
        else:
            index = [c for c in r.columns if c not in
                     ("column", "computed", "published", "diff", "differs")][0]
            cols = "column"
        order_i = list(dict.fromkeys(r[index]))
        order_c = list(dict.fromkeys(r[cols]))
        parts, flags = {}, {}
        for c in order_c:
            sub = r[r[cols] == c].set_index(index).reindex(order_i)
            parts[(c, "ours")] = sub["computed"].map(_fmt)
            parts[(c, "paper")] = sub["published"].map(_fmt)
            flags[(c, "ours")] = sub["differs"].astype(bool)
            flags[(c, "paper")] = sub["differs"].astype(bool)
        wide = pd.DataFrame(parts)
        differs = pd.DataFrame(flags)
        wide.columns = differs.columns = pd.MultiIndex.from_tuples(wide.columns)
        return wide, differs

    def ci_frame(self, name: str | None = None) -> pd.DataFrame | None:
        """Table 2/3 values with their 95 % intervals: ``value [low, high]`` per resample."""
        name = name or self._name
        ci = self.tables.get(f"{name}_ci")
        if ci is None or len(ci) == 0:
            return None
        ci = ci.assign(cell=[f"{v:.2f} [{lo:.2f}, {hi:.2f}]" for v, lo, hi in
                             zip(ci["value"], ci["ci_low"], ci["ci_high"])],
                       method=ci["method"].map(display_name))
        wide = ci.pivot_table(index=["resample", "method"], columns="genre", values="cell",
                              aggfunc="first", sort=False)
        return wide[list(dict.fromkeys(ci["genre"]))]

    def ceilings_frames(self) -> dict[str, pd.DataFrame]:
        """The frames of the ceilings view, by caption (rows as the CSV files have them)."""
        t = self.tables
        out = {}

        def add(caption: str, key: str, index: list[str], drop: tuple[str, ...] = ()):
            df = t.get(key)
            if df is not None and len(df):
                df = df.drop(columns=[c for c in drop if c in df.columns])
                for col in ("method", "method_a", "method_b"):
                    if col in df.columns:
                        df = df.assign(**{col: df[col].map(display_name)})
                out[caption] = df.set_index(index)
            elif df is not None and df.attrs.get("note"):
                out[caption] = pd.DataFrame({"note": [df.attrs["note"]]})

        add("Human ceiling (%): each person against the others' majority, bootstrap over "
            "people", "ceiling", ["genre", "measure"])
        add("Split-half agreement of the majority (%), range over splits", "split_half",
            ["genre"])
        add("Fleiss' kappa among people", "kappa", ["genre"])
        add("Each method as a fraction of the ceiling", "ceiling_fraction",
            ["genre", "method", "measure"])
        add("Against chance (exact, ties kept)", "significance", ["genre", "method"])
        add("Method against method on Agree (exact McNemar, Holm)", "comparisons",
            ["genre", "method_a", "method_b"])
        add("Method against method on Ps (exact sign-flip, Holm) and effect sizes",
            "ps_comparisons", ["genre", "method_a", "method_b"])
        for stem in group_stems(t):
            add(f"Groups {stem[3:]}: sizes", f"{stem}_groups", ["group"])
            add(f"Groups {stem[3:]}: Agree (%)", f"{stem}_table3", ["group", "genre", "method"])
            add(f"Groups {stem[3:]}: human ceiling (%)", f"{stem}_ceiling",
                ["group", "genre", "measure"])
        return out

    def html(self, name: str | None = None) -> str:
        """The view of a table as HTML (a pandas Styler; differing cells highlighted)."""
        name = name or self._name
        if name == CEILINGS:
            parts = [f"<h4>{_CEILINGS_TITLE}</h4>"]
            for caption, df in self.ceilings_frames().items():
                parts += [f"<p><b>{caption}</b></p>",
                          df.to_html(float_format=lambda v: f"{v:.4g}", na_rep="n/a")]
            return "\n".join(parts)
        if name == "fig1":
            return (f"<h4>{TABLE_NAMES[name]}</h4><p>The paper prints Fig. 1 only as a figure: "
                    f"our curves are drawn below.</p>")
        wide, differs = self.frame(name)
        styler = wide.style.apply(lambda _: differs.map(lambda d: _DIFF_STYLE if d else ""),
                                  axis=None)
        styler = styler.set_table_attributes('class="simkit-replay"')
        n, total = self.n_differences(name), int(differs.size / 2)
        out = [f"<h4>{TABLE_NAMES[name]}</h4>",
               f'<p class="simkit-replay-summary">ours | paper — <b>{n}</b> of {total} values '
               f"differ by more than the paper's printing precision (highlighted).</p>",
               styler.to_html()]
        ci = self.ci_frame(name)
        if ci is not None:
            out += ["<p>95 % bootstrap intervals (ours): resampling participants, and "
                    "resampling questions within each genre.</p>", ci.to_html()]
        return "\n".join(out)

    def figure(self, name: str | None = None):
        """Fig. 1 (:func:`simkit.plots.fig1_curve`), or for the ceilings view the participant
        view (:func:`simkit.plots.participant_agreement_figure`), as a plotly figure."""
        if (name or "fig1") == CEILINGS:
            return participant_agreement_figure(self.tables["participant_agreement"])
        return fig1_curve(self.tables["fig1"])

    # -- widgets ------------------------------------------------------------------------------
    @property
    def widget(self):
        if self._widget is None:
            import ipywidgets as w

            self._w_pick = w.Dropdown(options=[(t, n) for n, t in self.views.items()],
                                      value=self._name, description="Table",
                                      layout=w.Layout(width="480px"))
            self._w_html = w.HTML()
            self._w_plot = w.Output()
            self._w_pick.observe(lambda ch: self.select(ch["new"]), names="value")
            self._widget = w.VBox([self._w_pick, self._w_html, self._w_plot])
            self._redraw()
        return self._widget

    def _redraw(self) -> None:
        self._w_pick.value = self._name
        self._w_html.value = self.html()
        self._w_plot.clear_output()
        if self._name in ("fig1", CEILINGS):
            import plotly.graph_objects as go
            with self._w_plot:
                from IPython.display import display
                display(go.FigureWidget(self.figure(self._name)))
