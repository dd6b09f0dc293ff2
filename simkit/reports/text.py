"""Tables as people read them: the paper's layout, as text.

``format_tables(tables)`` prints Tables 2–5 and the §4.3 summary like the paper (percent,
2 decimals), then the ceilings and tests (:mod:`simkit.reports.ceiling_text`);
``format_replay`` shows a replay beside the published values. The CSV files, at full
precision, are :mod:`simkit.reports.files`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simkit.analysis.names import display_name
from simkit.reports.ceiling_text import format_ceilings

__all__ = ["format_tables", "format_replay"]


def _pct(v) -> str:
    return "n/a" if pd.isna(v) else f"{v:.2f}"


def _grid(df: pd.DataFrame, value: str, label: str) -> str:
    wide = df.pivot(index="method", columns="genre", values=value)
    wide = wide.loc[list(dict.fromkeys(df["method"])), list(dict.fromkeys(df["genre"]))]
    wide.index = [f"{label}({display_name(m)})" for m in wide.index]
    wide.columns = [f"{g} (%)" for g in wide.columns]
    return wide.map(_pct).to_string()


def _ranked(df: pd.DataFrame, reverse: bool) -> str:
    cols = {"rank": "Rank", "genre": "Genre", "ps_majority": "Ps(Majority) (%)"}
    out = df.rename(columns=cols)
    for c in df.columns:
        if c.startswith("match_"):
            out = out.rename(columns={c: f"Majority=={display_name(c[6:])}?"})
    out["Ps(Majority) (%)"] = out["Ps(Majority) (%)"].map(_pct)
    out = out.drop(columns=["question_id"]).astype(str)
    out.insert(1, "Question", df["question_id"].to_numpy())
    if reverse:  # the paper lists Table 5 from rank 10 down to 1
        out = out.iloc[::-1]
    return out.to_string(index=False)


def format_tables(tables: dict[str, pd.DataFrame], title: str = "") -> str:
    """The paper's Tables 2–5 and §4.3 summary as text."""
    parts = [title] if title else []
    parts += ["Table 2  Average ratio of participants selecting the same pair as each method",
              _grid(tables["table2"], "avg_ps", "AvgPs"), ""]
    if len(tables["table3"]):
        parts += ["Table 3  Agreement between each method and the majority of participants",
                  _grid(tables["table3"], "agree", "Agree"), ""]
    if "chance" in tables:
        ch = tables["chance"].set_index("genre")
        parts += [f"Chance (a random pair): Ps {_pct(ch.loc['All', 'avg_ps'])} %, "
                  f"Agree {_pct(ch.loc['All', 'agree'])} %", ""]
    for name in ("table2_ci", "table3_ci"):
        if name in tables:
            ci = tables[name]
            ci = ci[ci["genre"] == "All"]
            parts.append(f"95 % bootstrap intervals, All ({'Ps' if name == 'table2_ci' else 'Agree'}):")
            for (method, value), grp in ci.groupby(["method", "value"], sort=False):
                spans = ", ".join(f"{r.resample} [{_pct(r.ci_low)}, {_pct(r.ci_high)}]"
                                  for r in grp.itertuples())
                parts.append(f"  {display_name(method):<12} {_pct(value):>6}  {spans}")
            parts.append("")
    parts += ["Table 4  The 10 easiest questions", _ranked(tables["table4"], False), "",
              "Table 5  The 10 most difficult questions", _ranked(tables["table5"], True), ""]
    easy = tables["easy"].iloc[0]
    methods = [c[len("mean_ps_"):] for c in tables["easy"].columns if c.startswith("mean_ps_")]
    parts.append(f"Easy questions (Ps(Majority) > {easy['threshold']:g} %): {int(easy['count'])}; "
                 + ", ".join(f"mean Ps({display_name(m)}) {_pct(easy[f'mean_ps_{m}'])} %"
                             for m in methods))
    if "ceiling" in tables:  # issue 15: how good could a machine be?
        parts += ["", format_ceilings(tables)]
    return "\n".join(parts)


def format_replay(replayed: pd.DataFrame, name: str) -> str:
    """A replay (see :func:`simkit.analysis.published.replay`) as text: each cell "ours | paper",
    marked ``*`` where they differ."""
    def cell(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return str(v).lower()
        if isinstance(v, (int, float, np.number)):
            return "—" if pd.isna(v) else f"{v:.2f}"
        return "—" if v is None else str(v)

    df = replayed.copy()
    df["cell"] = [f"{cell(c)} | {cell(p)}{' *' if d else ''}"
                  for c, p, d in zip(df["computed"], df["published"], df["differs"])]
    if "method" in df.columns:  # Tables 2 and 3: methods × genres, like the paper
        wide = df.pivot(index="method", columns="genre", values="cell")
        wide = wide.loc[list(dict.fromkeys(df["method"])), list(dict.fromkeys(df["genre"]))]
        wide.index = [display_name(m) for m in wide.index]
    else:
        key = [c for c in df.columns if c not in ("column", "computed", "published", "diff",
                                                   "differs", "cell")]
        wide = df.pivot(index=key, columns="column", values="cell")
        wide = wide[list(dict.fromkeys(df["column"]))]
    n = int(replayed["differs"].sum())
    return (f"{name} replayed — ours | paper ({n} of {len(df)} values differ, marked *)\n"
            + wide.to_string())
