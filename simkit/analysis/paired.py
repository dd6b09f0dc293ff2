"""Is one method's Ps higher than another's, and by how much? Paired tests and effect sizes.

Each unordered pair of methods (a, b) is compared on the questions where both have a choice:

- **Ps, paired sign-flip permutation test**: d_q = votes for a's pair − votes for b's pair on
  question q (a whole number: Ps = votes / N). Under "no difference" each d_q is as likely to
  have the opposite sign; ``p_value`` = P(|Σ ±d_q| ≥ |Σ d_q|), two-sided. Because the d_q are
  whole numbers, the null distribution of the sum is computed **exactly**, by convolving the
  questions one by one (a seeded Monte Carlo test only beyond :data:`MAX_EXACT_WORK`, far
  past the paper's size); p = 1 when every d_q is 0. Holm (1979) within a genre gives
  ``p_holm``.
- **Effect sizes**: ``agree_diff`` = Agree(a) − Agree(b) in percentage points and
  ``cohen_g`` = a_only / (a_only + b_only) − ½ (Cohen's g for the McNemar test of
  :func:`simkit.analysis.significance.compare_methods`; n/a without a discordant question);
  ``ps_diff`` = mean Ps(a) − Ps(b) in points, ``ps_dz`` = mean d / sd d (Cohen's d_z of paired
  differences; n/a when sd is 0 or under 2 questions) and ``ps_rank_biserial`` = (R⁺ − R⁻) /
  (R⁺ + R⁻), the matched-pairs rank-biserial correlation (Kerby 2014) of the nonzero d_q
  ranked by size (ties: average ranks; n/a when every d_q is 0).
- **Intervals**: ``*_ci_low``/``*_ci_high`` of both differences are 95 % percentile intervals
  of a paired bootstrap over the block's questions: for each genre (then ``All``), for each
  pair in order, one ``rng.multinomial(n, [1/n] * n, size=n_boot)`` draw of
  ``numpy.random.default_rng(seed)``; n/a under 2 questions.
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from simkit.analysis.significance import genre_blocks, holm, method_names
from simkit.analysis.tables import check_boot_args, percentile_interval
from simkit.study.model import PAIRS

__all__ = ["sign_flip_exact", "sign_flip_test", "rank_biserial", "ps_comparisons",
           "MAX_EXACT_WORK", "PS_COMPARISON_COLUMNS"]

PS_COMPARISON_COLUMNS = ["genre", "method_a", "method_b", "n_questions", "agree_diff",
                         "agree_ci_low", "agree_ci_high", "cohen_g", "ps_diff", "ps_ci_low",
                         "ps_ci_high", "ps_dz", "ps_rank_biserial", "p_value", "p_holm"]


def sign_flip_exact(d) -> float:
    """Two-sided exact sign-flip p-value of whole-number paired differences ``d``:
    P(|Σ s_i |d_i|| ≥ |Σ d_i|) for independent fair signs s_i; 1.0 when all are 0."""
    d = np.asarray(d, dtype=np.int64)
    d = d[d != 0]
    if d.size == 0:
        return 1.0
    observed = abs(int(d.sum()))
    absd = np.abs(d)
    total = int(absd.sum())
    dist = np.zeros(2 * total + 1)  # index i ↔ sum i − total
    dist[total] = 1.0
    for x in absd:
        x = int(x)
        dist = 0.5 * (np.roll(dist, x) + np.roll(dist, -x))  # no wrap: |sum| ≤ total
    sums = np.abs(np.arange(-total, total + 1))
    return float(min(1.0, dist[sums >= observed].sum()))


#: Above this many steps (questions × the span of the sums) the exact convolution gives way
#: to a seeded Monte Carlo test: only studies far larger than the paper's get there.
MAX_EXACT_WORK = 200_000_000


def sign_flip_test(d, *, n_perm: int = 20_000, seed: int = 0) -> float:
    """Two-sided sign-flip p-value of whole-number paired differences ``d``: exact
    (:func:`sign_flip_exact`) unless that needs more than :data:`MAX_EXACT_WORK` steps,
    then Monte Carlo with ``n_perm`` seeded sign draws, p = (1 + #{|S*| ≥ |S|}) /
    (1 + n_perm)."""
    d = np.asarray(d, dtype=np.int64)
    d = d[d != 0]
    if d.size * 2 * int(np.abs(d).sum()) <= MAX_EXACT_WORK:
        return sign_flip_exact(d)
    rng = np.random.default_rng(seed)
    observed = abs(int(d.sum()))
    hits = 0
    for start in range(0, n_perm, 1000):  # in chunks: memory stays small
        signs = rng.choice(np.array([-1, 1], dtype=np.int64), size=(min(1000, n_perm - start),
                                                                       d.size))
        hits += int((np.abs(signs @ d) >= observed).sum())
    return (1 + hits) / (1 + n_perm)


def rank_biserial(d) -> float:
    """Matched-pairs rank-biserial correlation of paired differences (NaN when all are 0)."""
    d = np.asarray(d, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return float("nan")
    r = pd.Series(np.abs(d)).rank(method="average").to_numpy()
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def _votes_for(sel: pd.DataFrame, method: str) -> np.ndarray:
    """Votes for the method's pair on each question (-1 where it has no choice)."""
    votes = sel[[f"votes_{p}" for p in PAIRS]].to_numpy(dtype=np.int64)
    index = {p: i for i, p in enumerate(PAIRS)}
    idx = np.array([index.get(c, -1) if isinstance(c, str) else -1
                    for c in sel[f"choice_{method}"]], dtype=np.int64)
    return np.where(idx >= 0, votes[np.arange(len(idx)), np.maximum(idx, 0)], -1)


def ps_comparisons(pq: pd.DataFrame, *, n_boot: int = 2000, level: float = 0.95,
                   seed: int = 0) -> pd.DataFrame:
    """Every unordered pair of methods on Ps (exact paired sign-flip test, Holm within a
    genre) and the effect sizes of their Agree and Ps differences, per genre and ``All``.

    Parameters
    ----------
    pq : pandas.DataFrame
        :func:`simkit.analysis.tables.per_question`.
    n_boot : int
        Paired bootstrap resamples of the questions (intervals of the differences).
    level : float
        Confidence level of the intervals.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    pandas.DataFrame
        :data:`PS_COMPARISON_COLUMNS` (differences in percentage points; see the module).
    """
    check_boot_args(n_boot, level)
    rng = np.random.default_rng(seed)
    methods = method_names(pq)
    rows = []
    for genre, sel in genre_blocks(pq):
        votes = {m: _votes_for(sel, m) for m in methods}
        agree = {m: sel[f"agree_{m}"].to_numpy() for m in methods}
        n_people = sel["N"].to_numpy(dtype=float)
        block = []
        for a, b in combinations(methods, 2):
            both = (votes[a] >= 0) & (votes[b] >= 0)
            n = int(both.sum())
            d = (votes[a] - votes[b])[both]
            ps_d = d / n_people[both] * 100
            ag = (agree[a][both].astype(bool).astype(float)
                  - agree[b][both].astype(bool).astype(float)) * 100
            a_only, b_only = int((ag > 0).sum()), int((ag < 0).sum())
            row = {"genre": genre, "method_a": a, "method_b": b, "n_questions": n,
                   "agree_diff": float(ag.mean()) if n else np.nan,
                   "cohen_g": a_only / (a_only + b_only) - 0.5 if a_only + b_only else np.nan,
                   "ps_diff": float(ps_d.mean()) if n else np.nan,
                   "ps_dz": (float(ps_d.mean() / ps_d.std(ddof=1))
                             if n >= 2 and ps_d.std(ddof=1) > 0 else np.nan),
                   "ps_rank_biserial": rank_biserial(d),
                   "p_value": sign_flip_test(d, seed=seed) if n else 1.0}
            lows_highs = {"agree": (np.nan, np.nan), "ps": (np.nan, np.nan)}
            if n >= 2:
                w = rng.multinomial(n, np.full(n, 1 / n), size=n_boot) / n  # (B, n)
                lows_highs = {"agree": percentile_interval(w @ ag, level),
                              "ps": percentile_interval(w @ ps_d, level)}
            for k, (lo, hi) in lows_highs.items():
                row[f"{k}_ci_low"], row[f"{k}_ci_high"] = lo, hi
            block.append(row)
        for row, adj in zip(block, holm([r["p_value"] for r in block])):
            row["p_holm"] = float(adj)
        rows += block
    return pd.DataFrame(rows, columns=PS_COMPARISON_COLUMNS)
