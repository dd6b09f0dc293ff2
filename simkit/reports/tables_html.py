"""The tables of the HTML report: every table of :func:`simkit.tables`, each value with the
published one beside it where the paper printed it.

Tables come in :data:`TITLES` order, then any other (a table added later appears with its
name as title). A table with a ``genre`` column and one value (and its interval) is shown
like the paper, rows × genres; any other as it is. A value the paper printed
(:data:`simkit.analysis.published.TABLES`) is shown ``ours | paper``, marked ``*`` (and
shaded) where they differ by more than the printing precision. An empty table with
``attrs["note"]`` (the ceiling with one valid participant) is n/a with the note.
"""
from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from simkit.analysis.names import display_name

__all__ = ["TITLES", "FOLD_ROWS", "escape", "is_missing", "format_value", "table_html",
           "tables_section"]

#: name → (title, what it shows), in the order of the report; other tables follow.
TITLES = {
    "table2": ("Table 2 — average Ps", "The share of valid participants who chose the same "
               "pair as each method (Majority: the most chosen pair), averaged over the "
               "questions of each genre, in %."),
    "table3": ("Table 3 — Agree", "The share of questions whose majority pair(s) include the "
               "method's pair, in % (a pick in a tied majority agrees, §4.4)."),
    "table2_ci": ("Table 2 with 95 % intervals", "Percentile bootstrap: resampling "
                  "participants, and resampling questions within each genre."),
    "table3_ci": ("Table 3 with 95 % intervals", "Percentile bootstrap: resampling "
                  "participants, and resampling questions within each genre."),
    "ceiling": ("Human ceiling", "Each valid participant scored like a method against the "
                "majority of the others (leave-one-out; Nili et al. 2014): how well any "
                "method could do with these people, in %, with a bootstrap interval over "
                "participants."),
    "chance": ("Chance", "What a method picking one of the 10 pairs at random scores on "
               "average, in %."),
    "significance": ("Against chance", "Exact test of each method's number of agreeing "
                     "questions against a random pick (chance per question = size of the "
                     "majority set / 10)."),
    "comparisons": ("Method against method", "Exact McNemar test on the questions where only "
                    "one of the two agrees; p_holm: Holm's correction within a genre."),
    "kappa": ("Agreement among people", "Fleiss' kappa of the valid participants over the "
              "10 pairs (0: chance agreement, 1: unanimous)."),
    "table4": ("Table 4 — the 10 easiest questions", "Highest Ps(Majority) first; "
               "match: the method's pair is in the majority set."),
    "table5": ("Table 5 — the 10 hardest questions", "Rank 1 = the hardest (lowest "
               "Ps(Majority))."),
    "easy": ("§4.3 — easy questions", "Questions with Ps(Majority) above the threshold, and "
             "the mean Ps of each method over them, in %."),
    "fig1": ("Fig. 1 — its values", "Row k: the mean Ps over the k easiest questions (drawn "
             "in the figures above)."),
    "per_question": ("Every question", "Valid participants (N), their votes per pair, the "
                     "majority pair(s) (ties joined by |), and each method's choice, Ps and "
                     "Agree."),
}
#: Tables longer than this are folded (a click shows them).
FOLD_ROWS = 20
_COLUMN_PREFIXES = {"match_": "match {}", "cma_": "{} (%)", "mean_ps_": "mean Ps({}) (%)",
                    "choice_": "choice {}", "ps_": "Ps({}) (%)", "agree_": "agree {}"}
_METHOD_COLUMNS = ("method", "method_a", "method_b")

# -- cells ------------------------------------------------------------------------------------
def escape(v: Any) -> str:
    """``v`` as text safe in HTML (quotes too)."""
    return html.escape(str(v), quote=True)


def is_missing(v: Any) -> bool:
    """None, NaN or NA."""
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def format_value(v: Any, column: str) -> str:
    """A value as the report prints it: percent with 2 decimals, p-values with 3 digits,
    kappa with 3 decimals, whole numbers as they are; n/a where undefined."""
    if is_missing(v) or (isinstance(v, str) and v == ""):
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            return "n/a"
        if column.startswith("p_"):
            return f"{v:.2e}" if 0 < v < 1e-3 else f"{v:.3g}"
        if column == "kappa":
            return f"{v:.3f}"
        if float(v).is_integer() and column in ("k", "rank", "count", "N", "threshold"):
            return str(int(v))
        return f"{v:.2f}"
    return str(v)


def _label(column: str) -> str:
    for prefix, pattern in _COLUMN_PREFIXES.items():
        if column.startswith(prefix) and column != prefix.rstrip("_"):
            return pattern.format(display_name(column[len(prefix):]))
    return column


def _key(v: Any) -> Any:
    """A key value comparable between our table and the published one (80 == 80.0)."""
    if isinstance(v, (bool, np.bool_)) or is_missing(v):
        return str(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return str(v)


def _published_cells(df: pd.DataFrame, name: str) -> dict:
    """(keys…, column) → (published value, differs); empty when the paper has no such table
    or ours cannot be compared."""
    from simkit.analysis.published import TABLES, replay

    keys = TABLES.get(name)
    if keys is None or df.empty or not set(keys) <= set(df.columns):
        return {}
    r = replay(df, name)
    return {(*(_key(v) for v in row[:-3]), row[-3]): (row[-2], bool(row[-1]))
            for row in r[[*keys, "column", "published", "differs"]].itertuples(index=False)}


# -- tables -----------------------------------------------------------------------------------
def _cells(df: pd.DataFrame, name: str) -> tuple[pd.DataFrame, list[str], int, int]:
    """Every value of ``df`` as a cell of HTML (the paper's value beside ours where it has
    one); the key columns; how many values were compared and how many differ."""
    from simkit.analysis.published import TABLES

    pub = _published_cells(df, name)
    keys = TABLES.get(name, [])
    row_keys = [tuple(map(_key, k)) for k in df[keys].itertuples(index=False)] if pub else []
    out = pd.DataFrame(index=df.index)
    compared = differ = 0
    for col in df.columns:
        if col in _METHOD_COLUMNS:  # the paper's names (each looked up once)
            names = {v: display_name(str(v)) for v in df[col].dropna().unique()}
            texts = [format_value(v, col) if is_missing(v) else names[v] for v in df[col]]
        else:
            texts = [format_value(v, col) for v in df[col]]
        cells = [f"<td>{escape(t)}" for t in texts]
        if pub and col not in keys:
            for j, (text, rk) in enumerate(zip(texts, row_keys)):
                hit = pub.get((*rk, col))
                if hit is None:
                    continue
                compared += 1
                differ += hit[1]
                paper = f"<span class='paper'>| {escape(format_value(hit[0], col))}</span>"
                cells[j] = (f"<td class='differs'>{escape(text)} {paper} "
                            f"<span class='mark'>*</span>" if hit[1]
                            else f"<td>{escape(text)} {paper}")
        out[col] = cells
    # the labels of a row: text columns (not numbers or flags), but not the majority pairs
    key_cols = [c for c in df.columns if c != "majority"
                and not pd.api.types.is_numeric_dtype(df[c])
                and not pd.api.types.is_bool_dtype(df[c])]
    return out, key_cols, compared, differ


def _merge_interval(df: pd.DataFrame, cells: pd.DataFrame, keys: list[str]
                    ) -> tuple[pd.DataFrame, list[str]]:
    """``value, ci_low, ci_high`` → one cell ``value [low, high]``; the value columns left."""
    values = [c for c in df.columns if c not in keys]
    rest = [c for c in values if c not in ("ci_low", "ci_high")]
    if not ({"ci_low", "ci_high"} <= set(values) and len(rest) == 1):
        return cells, values
    spans = [f" [{escape(format_value(lo, 'ci'))}, {escape(format_value(hi, 'ci'))}]"
             for lo, hi in zip(df["ci_low"], df["ci_high"])]
    cells = cells.drop(columns=["ci_low", "ci_high"])
    cells[rest[0]] = [c + span for c, span in zip(cells[rest[0]], spans)]
    return cells, rest


def _grid(rows: Sequence[Sequence[str]], header: Sequence[str], n_keys: int) -> str:
    """An HTML table: ``rows`` of cells (``<td…`` already made for the values)."""
    head = "".join(f"<th class='k'>{escape(h)}</th>" if i < n_keys else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(header))
    body = []
    for row in rows:
        tds = [f"<td class='k'>{c[4:]}" if i < n_keys and c.startswith("<td>") else c
               for i, c in enumerate(row)]
        body.append("<tr>" + "".join(f"{c}</td>" for c in tds) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def table_html(df: pd.DataFrame, name: str) -> str:
    """One table as HTML: by genre (methods × genres, like the paper) when it has a
    ``genre`` column and one value (with its interval), else as it is; each value with the
    published one beside it where the paper has it."""
    if df.empty:
        note = df.attrs.get("note") or "no rows"
        return f"<p class='na'>n/a — {escape(note)}</p>"
    cells, keys, compared, differ = _cells(df, name)
    cells, values = _merge_interval(df, cells, keys)
    others = [k for k in keys if k != "genre"]
    # like the paper (rows × genres) only when the labels name each row once
    if "genre" in keys and len(values) == 1 and not df.duplicated(keys).any():
        v = values[0]
        row_keys = others or ["measure"]
        frame = cells.assign(genre=df["genre"].to_numpy())
        if not others:
            frame["measure"] = f"<td>{escape(_label(v))}"
        wide = frame.pivot_table(index=row_keys, columns="genre", values=v, aggfunc="first",
                                 sort=False).fillna("<td class='na'>n/a")
        wide = wide[list(dict.fromkeys(df["genre"]))]
        rows = [[*(i if isinstance(i, tuple) else (i,)), *r] for i, r in
                zip(wide.index, wide.to_numpy().tolist())]
        header = [*(others or [""]), *map(str, wide.columns)]
        body = _grid(rows, header, len(row_keys))
    else:
        order = list(cells.columns)
        leading = next((i for i, c in enumerate(order) if c not in keys), len(order))
        body = _grid(cells[order].to_numpy().tolist(), [_label(c) for c in order], leading)
    if compared:
        body = (f"<p>ours <span class='paper'>| paper</span> — <b>{differ}</b> of {compared} "
                f"published values differ by more than the paper's printing precision "
                f"(marked <span class='mark'>*</span>).</p>{body}")
    if len(df) > FOLD_ROWS:
        body = f"<details><summary>Show all {len(df)} rows</summary>{body}</details>"
    return body


def tables_section(tables: Mapping[str, pd.DataFrame]) -> str:
    """Every table of ``tables`` under one heading: the known ones, then any other, and the
    long per-question table last."""
    last = ["per_question"] if "per_question" in tables else []
    order = ([n for n in TITLES if n in tables and n not in last]
             + [n for n in tables if n not in TITLES] + last)
    parts = ["<h2 id='tables'>Tables</h2>"]
    for name in order:
        title, why = TITLES.get(name, (name, ""))
        parts.append(f"<section class='table' id='t-{escape(name)}'><h3>{escape(title)} "
                     f"<span class='paper'>({escape(name)}.csv)</span></h3>")
        if why:
            parts.append(f"<p class='why'>{escape(why)}</p>")
        parts.append(table_html(tables[name], name) + "</section>")
    return "\n".join(parts)
