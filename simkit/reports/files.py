"""Tables as tools read them: a results folder of CSV files, every value at full precision.

``save_tables(tables, out_dir)`` writes every table, each file atomically;
:data:`RESULT_FILES` names what such a folder may hold, so that ``simkit tables`` replaces the
set in one step and never a folder of the user's (:func:`simkit.fileio.replace_set`).
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from simkit.fileio import write_csv

__all__ = ["save_tables", "RESULT_FILES"]

#: The names a results folder of ``simkit tables`` may hold (glob patterns): the tables
#: and the machine choices computed for them. A folder holding anything else is the
#: user's and is not replaced (see :func:`simkit.fileio.replace_set`).
RESULT_FILES = ("per_question.csv", "table[2-5].csv", "table[23]_ci.csv", "fig1.csv",
                "easy.csv", "chance.csv", "vote_counts.csv", "choices.csv",
                "pair_distances.csv", "ceiling.csv", "significance.csv", "comparisons.csv",
                "kappa.csv", "split_half.csv", "ceiling_fraction.csv", "ps_comparisons.csv",
                "participant_agreement.csv", "participant_tests.csv", "by_*.csv")


def save_tables(tables: dict[str, pd.DataFrame], out_dir: str | os.PathLike) -> list[Path]:
    """Write each table to ``out_dir/<name>.csv`` (full precision; booleans as true/false)."""
    out = Path(out_dir)
    written = []
    for name, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if df[c].dtype == bool:
                df[c] = df[c].map({True: "true", False: "false"})
        written.append(write_csv(df, out / f"{name}.csv"))
    return written
