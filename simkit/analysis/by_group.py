"""Do people who know ukiyo-e agree more? Every table split by a participant column.

The participants are grouped by the value of one column of ``participants.csv``
(``familiarity``, ``field`` or any other; a blank cell is its own group, ``(blank)``). Each
group is analysed as a study of its own — the same questions and machine choices, only that
group's participants (valid as in the paper: every question answered, no visual
impairment) — giving Table 2 (Ps), Table 3 (Agree), the tests against chance and between
methods, the human ceiling and Fleiss' kappa per group, each with a ``group`` column first,
and the sizes of the groups. A number undefined
for a group (no valid participant; fewer than 2 for the ceiling and kappa) is n/a (NaN), never
0. A column with one value is one group (``attrs["note"]`` says so), not an error.

The tables are keyed ``by_<column>_groups``, ``by_<column>_table2``, ``…_table3``,
``…_significance``, ``…_comparisons``, ``…_ceiling``, ``…_kappa`` (``<column>`` made safe for a file name).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from simkit.analysis.ceilings import CEILING_COLUMNS, KAPPA_COLUMNS, fleiss_kappa, human_ceiling
from simkit.analysis.significance import against_chance, compare_methods
from simkit.analysis.tables import onehot_votes, per_question, table2, table3
from simkit.errors import UsageError
from simkit.study.model import Study

__all__ = ["group_values", "split_by", "tables_by", "file_stem", "group_stems", "GROUP_COLUMNS"]

GROUP_COLUMNS = ["group", "n_participants", "n_valid"]
BLANK = "(blank)"


def file_stem(column: str) -> str:
    """``by_<column>`` with every character but letters, digits, ``-`` and ``_`` made ``_``."""
    return "by_" + re.sub(r"[^A-Za-z0-9_-]", "_", column)


def group_stems(tables) -> list[str]:
    """The ``by_<column>`` stems of the splits in ``tables`` (each has a ``<stem>_groups``
    table), in order."""
    return [k[:-len("_groups")] for k in tables if k.startswith("by_") and k.endswith("_groups")]


def group_values(study: Study, column: str) -> pd.Series:
    """The group of each recruited participant (index ``participant_id``), as text.

    Raises
    ------
    UsageError
        When ``participants.csv`` has no such column; the message lists those it has.
    """
    parts = study.participants
    if column not in parts.columns or column == "participant_id":
        have = [c for c in parts.columns if c != "participant_id"]
        raise UsageError(
            f"--by {column}: participants.csv has no column {column!r} to group the "
            f"participants by; its columns are "
            f"{', '.join(have) if have else '(none but participant_id)'} — add the column "
            f"to participants.csv or choose one of those")
    values = parts[column].fillna("").astype(str).str.strip().replace("", BLANK)
    return pd.Series(values.to_numpy(), index=parts["participant_id"].to_numpy(), name=column)


def _order(values) -> list[str]:
    uniq = list(dict.fromkeys(values))
    try:
        return sorted(uniq, key=float)  # 1 … 5 as numbers, not as text
    except ValueError:
        return sorted(uniq)


def split_by(study: Study, column: str) -> dict[str, Study]:
    """One study per group of ``column`` (same questions and choices), in group order."""
    groups = group_values(study, column)
    out = {}
    for g in _order(groups):
        ids = set(groups.index[groups.to_numpy() == g])
        out[g] = Study(study.images, study.questions,
                       study.responses[study.responses["participant_id"].isin(ids)]
                       .reset_index(drop=True),
                       study.participants[study.participants["participant_id"].isin(ids)]
                       .reset_index(drop=True),
                       study.choices, study.root)
    return out


def _undefined(template: pd.DataFrame, value_columns: list[str]) -> pd.DataFrame:
    return template.assign(**{c: np.nan for c in value_columns})


def tables_by(study: Study, column: str, *, ci: bool = True, n_boot: int = 2000,
              seed: int = 0, pq: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Tables 2 and 3, the tests, the ceiling and kappa per group of ``column``, and the
    group sizes.

    Parameters
    ----------
    study : Study
        A study whose ``participants.csv`` has ``column``.
    column : str
        The participant column to group by.
    ci, n_boot, seed
        The ceiling's bootstrap interval (as :func:`simkit.analysis.ceilings.human_ceiling`).
    pq : pandas.DataFrame, optional
        :func:`simkit.analysis.tables.per_question` of the whole ``study``, when it is
        already made (it gives the tables' rows where a group's numbers are undefined).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``by_<column>_groups`` (``group, n_participants, n_valid``) and
        ``by_<column>_table2``, ``_table3``, ``_significance``, ``_comparisons``,
        ``_ceiling``, ``_kappa``: the study-wide
        columns with ``group`` first.
    """
    stem = file_stem(column)
    groups = split_by(study, column)
    full = per_question(study) if pq is None else pq
    genres = [*dict.fromkeys(study.questions["genre"]), "All"]
    templates = {
        "table2": _undefined(table2(full), ["avg_ps"]),
        "table3": _undefined(table3(full), ["agree"]).reindex(
            columns=["genre", "method", "agree"]),
        "significance": _undefined(against_chance(full),
                                   ["n_agree", "agree", "chance_agree", "p_value"]),
        "comparisons": _undefined(compare_methods(full), ["a_only", "b_only", "p_value",
                                                          "p_holm"]),
        "ceiling": pd.DataFrame([{"genre": g, "measure": m} for g in genres
                                 for m in ("agree", "ps")]).reindex(columns=CEILING_COLUMNS),
        "kappa": pd.DataFrame({"genre": genres}).reindex(columns=KAPPA_COLUMNS),
    }
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in templates}
    sizes = []
    for g, sub in groups.items():
        n_valid = len(sub.valid_participants)
        sizes.append({"group": g, "n_participants": len(sub.participants), "n_valid": n_valid})
        made = dict(templates)
        if n_valid:
            pq = per_question(sub)
            made["table2"], made["table3"] = table2(pq), table3(pq)
            made["significance"], made["comparisons"] = against_chance(pq), compare_methods(pq)
        if n_valid >= 2:
            made["ceiling"] = human_ceiling(sub, ci=ci, n_boot=n_boot, seed=seed,
                                            onehot=onehot_votes(sub)[0])
            made["kappa"] = fleiss_kappa(pq)
        for k, df in made.items():
            df = df.reindex(columns=templates[k].columns)  # table3 without methods: no rows
            parts[k].append(df.assign(group=g)[["group", *df.columns]])
    out = {f"{stem}_groups": pd.DataFrame(sizes, columns=GROUP_COLUMNS)}
    for k, frames in parts.items():
        out[f"{stem}_{k}"] = pd.concat(frames, ignore_index=True)
    if len(groups) == 1:
        out[f"{stem}_groups"].attrs["note"] = (
            f"every participant has the same {column} ({next(iter(groups))!r}): one group")
    return out
