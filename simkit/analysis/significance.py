"""Is a method above chance, and is one method better than another? Exact tests on Agree.

- **Against chance**: a method picking one of the 10 pairs uniformly at random agrees on
  question q with probability p_q = |majority set of q| / 10 (ties raise it). The number X of
  agreeing questions is Poisson-binomial; ``p_value`` = P(X ≥ n_agree), computed exactly by
  convolving the questions one by one (the exact binomial test when no question is tied).
- **Method against method**: exact two-sided McNemar test (McNemar 1947): on the questions
  where exactly one of the two agrees, a binomial test of ``a_only`` against ``b_only`` with
  p = 1/2 (p = 1 when there is no such question). Holm's step-down correction (Holm 1979)
  over the rows of one genre gives ``p_holm``.

A method without a choice for a question is tested on the questions it has
(``n_questions``).
"""
from __future__ import annotations

from fractions import Fraction
from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from simkit.analysis.tables import method_names
from simkit.study.model import PAIRS

__all__ = ["chance_tail", "mcnemar_exact", "holm", "against_chance", "compare_methods",
           "method_names", "genre_blocks", "SIGNIFICANCE_COLUMNS", "COMPARISON_COLUMNS"]

SIGNIFICANCE_COLUMNS = ["genre", "method", "n_questions", "n_agree", "agree", "chance_agree",
                        "p_value"]
COMPARISON_COLUMNS = ["genre", "method_a", "method_b", "a_only", "b_only", "p_value", "p_holm"]


def chance_tail(probs, k: int) -> float:
    """P(X ≥ k) for X a sum of independent Bernoulli(p_i) (Poisson-binomial), exactly by
    dynamic programming.

    Parameters
    ----------
    probs : sequence of float
        The success probability of each trial, in [0, 1].
    k : int
        The observed number of successes.

    Returns
    -------
    float
        The upper tail, in [0, 1]; 1.0 for k ≤ 0.
    """
    if k <= 0:
        return 1.0
    dist = np.array([1.0])
    for p in probs:
        dist = np.append(dist * (1 - p), 0.0) + np.insert(dist * p, 0, 0.0)
    return float(min(1.0, dist[k:].sum())) if k < len(dist) else 0.0


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Exact two-sided McNemar p-value: 2 · P(B ≤ min(a, b)) for B ~ Binomial(a + b, 1/2),
    capped at 1; 1.0 when a + b = 0."""
    n = a_only + b_only
    if n == 0:
        return 1.0
    low = sum(comb(n, i) for i in range(min(a_only, b_only) + 1))
    return float(min(Fraction(1), Fraction(2 * low, 2 ** n)))


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def genre_blocks(pq: pd.DataFrame):
    """``(genre, rows)`` for each genre in order, then ``("All", pq)``."""
    for genre in [*dict.fromkeys(pq["genre"]), "All"]:
        yield genre, (pq if genre == "All" else pq[pq["genre"] == genre])


def against_chance(pq: pd.DataFrame) -> pd.DataFrame:
    """Each method's Agree against a random pick, per genre and ``All``.

    Parameters
    ----------
    pq : pandas.DataFrame
        :func:`simkit.analysis.tables.per_question`.

    Returns
    -------
    pandas.DataFrame
        ``genre, method, n_questions, n_agree, agree, chance_agree, p_value`` (``agree`` and
        ``chance_agree`` in percent, NaN without a question).
    """
    size = pq["majority"].map(lambda m: len(m.split("|")) if m else 0) / len(PAIRS)
    rows = []
    for genre, sel in genre_blocks(pq):
        for m in method_names(pq):
            has = sel[f"choice_{m}"].notna().to_numpy()
            hits = sel[f"agree_{m}"].to_numpy()[has].astype(bool)
            probs = size.loc[sel.index].to_numpy()[has]
            n_q, n_agree = int(has.sum()), int(hits.sum())
            rows.append({"genre": genre, "method": m, "n_questions": n_q, "n_agree": n_agree,
                         "agree": 100.0 * n_agree / n_q if n_q else np.nan,
                         "chance_agree": 100.0 * float(probs.mean()) if n_q else np.nan,
                         "p_value": chance_tail(probs, n_agree)})
    return pd.DataFrame(rows, columns=SIGNIFICANCE_COLUMNS)


def compare_methods(pq: pd.DataFrame) -> pd.DataFrame:
    """Every unordered pair of methods (in method order) on Agree, per genre and ``All``.

    Parameters
    ----------
    pq : pandas.DataFrame
        :func:`simkit.analysis.tables.per_question`.

    Returns
    -------
    pandas.DataFrame
        ``genre, method_a, method_b, a_only, b_only, p_value, p_holm``: the questions (with
        both choices) where only a, or only b, agrees; exact McNemar; Holm within a genre.
    """
    rows = []
    for genre, sel in genre_blocks(pq):
        block = []
        for a, b in combinations(method_names(pq), 2):
            both = (sel[f"choice_{a}"].notna() & sel[f"choice_{b}"].notna()).to_numpy()
            ag_a = sel[f"agree_{a}"].to_numpy()[both].astype(bool)
            ag_b = sel[f"agree_{b}"].to_numpy()[both].astype(bool)
            a_only, b_only = int((ag_a & ~ag_b).sum()), int((ag_b & ~ag_a).sum())
            block.append({"genre": genre, "method_a": a, "method_b": b, "a_only": a_only,
                          "b_only": b_only, "p_value": mcnemar_exact(a_only, b_only)})
        for row, adj in zip(block, holm([r["p_value"] for r in block])):
            row["p_holm"] = float(adj)
        rows += block
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
