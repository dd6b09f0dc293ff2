"""The published numbers of Wei et al. (2022), and a replay that puts ours beside them.

>>> published("table2").head(2)                         # doctest: +NORMALIZE_WHITESPACE
       genre    method  avg_ps
0  Yakusha-e  majority   47.68
1  Yakusha-e      gram   20.00

``replay(computed, "table2")`` returns one row per published value with the computed value,
the difference and a ``differs`` flag. The data files and where each number comes from are
in ``simkit/analysis/wei2022/`` (see its README), installed with the package.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simkit.errors import UsageError

__all__ = ["TABLES", "data_dir", "published", "replay", "TOLERANCE"]


def data_dir() -> Path:
    """The folder of the published tables: the package's ``wei2022`` data (installed with
    simkit), or ``$SIMKIT_PAPER_DATA`` when set."""
    from importlib.resources import files

    from simkit.config import paper_data_dir

    return paper_data_dir() or Path(str(files("simkit.analysis") / "wei2022"))
#: table name → the key columns that identify a row
TABLES = {"table2": ["genre", "method"], "table3": ["genre", "method"],
          "table4": ["rank"], "table5": ["rank"], "easy": ["threshold"]}
#: The paper prints 2 decimals, rounded (Table 2) or truncated (Tables 4, 5): either way a
#: printed value is within 0.01 percentage points of the exact one.
TOLERANCE = 0.01


def published(name: str) -> pd.DataFrame:
    """One of the paper's tables (``table2``, ``table3``, ``table4``, ``table5``, ``easy``),
    in the CSV format ``simkit tables`` writes."""
    from simkit.config import ConfigError

    if name not in TABLES:
        raise UsageError(f"no published table {name!r}; choose one of {', '.join(TABLES)}")
    path = data_dir() / f"{name}.csv"
    if not path.is_file():
        # a SimkitError (one line, exit 2), not a FileNotFoundError traceback
        raise ConfigError(f"{path} is missing; simkit's published data ship inside the "
                          f"package (simkit/analysis/wei2022); unset SIMKIT_PAPER_DATA or "
                          f"point it at a folder with {name}.csv")
    df = pd.read_csv(path, dtype={"question_id": str}, keep_default_na=False)
    for col in df.columns:
        if col.startswith("match_"):
            df[col] = df[col].astype(str).str.lower().map({"true": True, "false": False})
    return df


def replay(computed: pd.DataFrame, name: str) -> pd.DataFrame:
    """Compare a computed table with the published one, value by value.

    Returns ``*keys, column, computed, published, diff, differs`` — ``diff`` is
    computed − published for numbers (NaN otherwise); ``differs`` is True where a number is
    off by more than :data:`TOLERANCE` or a label/flag is not the same, and where either
    side has no value. Only the paper's methods and genres can be compared; other rows of
    ``computed`` are left out.
    """
    keys = TABLES[name]
    pub = published(name)
    comp = computed.copy()
    for k in keys:  # align key types (e.g. threshold 80 vs 80.0)
        comp[k] = comp[k].astype(pub[k].dtype) if k in comp else np.nan
    value_cols = [c for c in pub.columns if c not in keys and c != "question_id"]
    long_pub = pub.melt(id_vars=keys, value_vars=value_cols, var_name="column",
                        value_name="published")
    present = [c for c in value_cols if c in comp.columns]
    long_comp = comp.melt(id_vars=keys, value_vars=present, var_name="column",
                          value_name="computed")
    out = long_pub.merge(long_comp, on=[*keys, "column"], how="left")
    out = out[[*keys, "column", "computed", "published"]]
    num = pd.to_numeric(out["published"], errors="coerce").notna() & out["published"].map(
        lambda v: not isinstance(v, (bool, np.bool_)))
    diff = pd.Series(np.nan, index=out.index)
    diff[num] = pd.to_numeric(out.loc[num, "computed"], errors="coerce") - \
        pd.to_numeric(out.loc[num, "published"])
    out["diff"] = diff
    same_label = out["computed"].astype(str) == out["published"].astype(str)
    out["differs"] = np.where(num, ~(diff.abs() <= TOLERANCE), ~same_label)
    out.loc[out["computed"].isna(), "differs"] = True
    return out.reset_index(drop=True)
