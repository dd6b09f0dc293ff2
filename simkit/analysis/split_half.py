"""Would another group of people pick the same majority? Split-half agreement.

The valid participants are split at random into two halves of equal size (with an odd
number, one person, drawn at random, sits out each split). For each question each half has
its own majority set (ties kept); the halves **agree** on the question when their majority
sets share a pair — the paper's tie rule (§4.4) applied between two groups of people. The
split-half agreement of a genre is the share of its questions on which the halves agree
(× 100), averaged over the splits.

Interpretation: it is plain agreement, not a correlation, so no Spearman–Brown correction is
applied; it answers "how reproducible is a majority of N/2 people?" and is a *lower* bound
for the reproducibility of the majority of all N (a larger group's majority is steadier).
Read beside the leave-one-out ceiling (:mod:`simkit.analysis.ceilings`), it says how much
of a method's disagreement could be the people's own noise. ``low`` and ``high`` are the
central ``level`` range of the agreement over the splits: how much the answer depends on
the particular split, not a sampling interval.

Every split is enumerated (exactly, each ordered pair of halves once) when there are at most
``n_splits`` of them; otherwise ``n_splits`` splits are drawn with ``numpy.random.default_rng
(seed)``: for each split one permutation of the participants, the first ⌊N/2⌋ in the
permutation form half A and the next ⌊N/2⌋ half B.
"""
from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pandas as pd

from simkit.analysis.ceilings import too_few_participants
from simkit.analysis.tables import genre_masks, onehot_votes, percentile_interval
from simkit.errors import UsageError
from simkit.study.model import Study

__all__ = ["split_half", "halves", "halves_agree", "SPLIT_HALF_COLUMNS"]

SPLIT_HALF_COLUMNS = ["genre", "agree", "low", "high", "n_splits", "half_size"]


def halves(n_p: int, n_splits: int, seed: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The splits of ``n_p`` participants: ``(A, B, exact)`` with A and B (splits × ⌊n_p/2⌋)
    participant indices; ``exact`` when every ordered split is listed."""
    h = n_p // 2
    if comb(n_p, h) * comb(n_p - h, h) <= n_splits:
        a, b = [], []
        for first in combinations(range(n_p), h):
            rest = [i for i in range(n_p) if i not in first]
            for second in combinations(rest, h):
                a.append(first)
                b.append(second)
        return np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), True
    rng = np.random.default_rng(seed)
    perm = np.stack([rng.permutation(n_p) for _ in range(n_splits)])
    return perm[:, :h], perm[:, h:2 * h], False


def halves_agree(onehot: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Splits × questions: True where the majority sets of halves ``a`` and ``b`` share a pair.

    Parameters
    ----------
    onehot : numpy.ndarray
        Participants × questions × 10 pairs (:func:`simkit.analysis.tables.onehot_votes`).
    a, b : numpy.ndarray
        Splits × half size: participant indices of each half.
    """
    n_s, n_p = len(a), onehot.shape[0]
    rows = np.arange(n_s)[:, None]
    wa, wb = np.zeros((n_s, n_p)), np.zeros((n_s, n_p))
    wa[rows, a], wb[rows, b] = 1.0, 1.0
    # membership weights, not fancy indexing: (S, P) @ (P, Q·10) stays small in memory
    ca = np.einsum("sp,pqk->sqk", wa, onehot)  # (S, Q, 10) vote counts of each half
    cb = np.einsum("sp,pqk->sqk", wb, onehot)
    ma = (ca == ca.max(axis=2, keepdims=True)) & (ca > 0)
    mb = (cb == cb.max(axis=2, keepdims=True)) & (cb > 0)
    return (ma & mb).any(axis=2)


def split_half(study: Study, *, n_splits: int = 1000, level: float = 0.95,
               seed: int = 0, onehot: np.ndarray | None = None) -> pd.DataFrame:
    """Split-half agreement of the people's majority, per genre and ``All``.

    Parameters
    ----------
    study : Study
        A study with questions and valid participants.
    n_splits : int
        Random splits to draw (all of them, exactly, when there are no more than this).
    level : float
        Width of the range over splits (``low``, ``high``).
    seed : int
        Seed of the random splits.
    onehot : numpy.ndarray, optional
        :func:`simkit.analysis.tables.onehot_votes` of ``study``, when it is already made
        (every table of :func:`~simkit.analysis.all_tables.compute_tables` shares one).

    Returns
    -------
    pandas.DataFrame
        ``genre, agree, low, high, n_splits, half_size`` (percent, unrounded). Empty, with
        ``attrs["note"]``, for fewer than 2 valid participants.
    """
    if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)) or n_splits < 1:
        raise UsageError(f"n_splits {n_splits!r}: the number of splits must be a whole "
                         f"number of at least 1 (1000 by default)")
    if not 0 < level < 1:
        raise UsageError(f"level {level!r}: must be between 0 and 1, e.g. 0.95")
    if onehot is None:
        onehot, _ = onehot_votes(study)
    n_p = onehot.shape[0]
    if n_p < 2:
        return too_few_participants(SPLIT_HALF_COLUMNS, "the split-half agreement", n_p)
    a, b, _ = halves(n_p, n_splits, seed)
    hit = halves_agree(onehot, a, b).astype(float)  # (S, Q)
    genres = study.questions["genre"].to_numpy()
    rows = []
    for genre, cols in genre_masks(genres):
        per_split = hit[:, cols].mean(axis=1) * 100
        low, high = percentile_interval(per_split, level)
        rows.append({"genre": genre, "agree": float(per_split.mean()), "low": low, "high": high,
                     "n_splits": len(a), "half_size": n_p // 2})
    return pd.DataFrame(rows, columns=SPLIT_HALF_COLUMNS)
