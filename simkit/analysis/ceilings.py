"""How good could a machine be? The human ceiling of Agree and Ps, and agreement among people.

- **Ceiling** (leave-one-out, as the lower noise ceiling of Nili et al. 2014 / rsatoolbox):
  each valid participant p is scored like a method against the *other* N − 1 participants.
  ``agree``: p's pick is in the majority set of the others' votes (ties kept, §4.4 rule);
  ``ps``: the others' votes for p's pick / (N − 1). The ceiling is the mean over valid
  participants and the questions of a genre (× 100); its interval is a percentile bootstrap
  over participants of the per-participant means (the same resampling as
  :func:`simkit.analysis.tables.bootstrap_ci`).
- **Fleiss' kappa** (Fleiss 1971) of the valid participants over the 10 pairs, each question
  a subject, with the generalisation to unequal raters per subject: P_i = (Σ_j n_ij² − n_i) /
  (n_i (n_i − 1)) over subjects with n_i ≥ 2, P̄ their mean, p_j = Σ_i n_ij / Σ_i n_i,
  P_e = Σ_j p_j², κ = (P̄ − P_e) / (1 − P_e) (NaN when P_e = 1: one pair chosen by all).

- **Fraction of the ceiling**: each method's Agree (Table 3) and average Ps (Table 2)
  divided by the ceiling of the same measure and genre (a ratio: 1 = as good as a person
  against the others). The method is scored against all N people, the ceiling against N − 1:
  close enough to compare for the paper's N, a little generous to people for small N.

All need at least 2 valid participants; with fewer, the rows are left out and the returned
frame's ``attrs["note"]`` says why (nothing is divided by zero).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simkit.analysis.tables import (check_boot_args, genre_masks, onehot_votes,
                                    participant_weights, percentile_interval)
from simkit.study.model import PAIRS, Study

__all__ = ["leave_one_out", "human_ceiling", "fleiss_kappa", "ceiling_fraction",
           "too_few_participants",
           "CEILING_COLUMNS", "KAPPA_COLUMNS", "FRACTION_COLUMNS"]

CEILING_COLUMNS = ["genre", "measure", "ceiling", "ci_low", "ci_high"]
KAPPA_COLUMNS = ["genre", "kappa"]
FRACTION_COLUMNS = ["genre", "method", "measure", "value", "ceiling", "fraction"]


def too_few_participants(columns: list[str], what: str, n: int) -> pd.DataFrame:
    """An empty table of ``columns`` whose ``attrs["note"]`` says that ``what`` needs at
    least 2 valid participants and the study has ``n``."""
    out = pd.DataFrame(columns=columns)
    out.attrs["note"] = (f"{what} needs at least 2 valid participants (the study has {n}); "
                         f"it is undefined, so no row is written")
    return out


def leave_one_out(onehot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each participant scored against the others, per question.

    Parameters
    ----------
    onehot : numpy.ndarray
        Participants × questions × 10 pairs, 1 where the participant chose the pair
        (:func:`simkit.analysis.tables.onehot_votes`); at least 2 participants.

    Returns
    -------
    agree, ps : numpy.ndarray
        Participants × questions: 1.0 where the pick is in the others' majority set, and
        the others' share (0–1) of votes for the pick.
    """
    n_p = onehot.shape[0]
    others = onehot.sum(axis=0)[None] - onehot  # (P, Q, 10)
    for_pick = (others * onehot).sum(axis=2)    # the others' votes for p's own pick
    top = others.max(axis=2)
    agree = ((for_pick == top) & (top > 0)).astype(float)
    return agree, for_pick / (n_p - 1)


def human_ceiling(study: Study, *, ci: bool = True, n_boot: int = 2000,
                  level: float = 0.95, seed: int = 0,
                  onehot: np.ndarray | None = None) -> pd.DataFrame:
    """The leave-one-out ceiling of Agree and Ps per genre and ``All``, with intervals.

    Parameters
    ----------
    study : Study
        A study with questions and valid participants.
    ci : bool
        Compute the intervals (else ``ci_low`` and ``ci_high`` are NaN).
    n_boot : int
        Bootstrap resamples of the participants.
    level : float
        Confidence level of the percentile interval.
    seed : int
        Seed of the resampling.
    onehot : numpy.ndarray, optional
        :func:`simkit.analysis.tables.onehot_votes` of ``study``, when it is already made
        (every table of :func:`~simkit.analysis.all_tables.compute_tables` shares one).

    Returns
    -------
    pandas.DataFrame
        ``genre, measure, ceiling, ci_low, ci_high`` (percent, unrounded), ``measure``
        ``agree`` or ``ps``. Empty, with ``attrs["note"]``, for fewer than 2 valid
        participants.
    """
    check_boot_args(n_boot, level)
    if onehot is None:
        onehot, _ = onehot_votes(study)
    n_p = onehot.shape[0]
    if n_p < 2:
        return too_few_participants(CEILING_COLUMNS, "the human ceiling", n_p)
    agree, ps = leave_one_out(onehot)
    genres = study.questions["genre"].to_numpy()
    weights = participant_weights(n_p, n_boot, np.random.default_rng(seed))  # (B, P)
    rows = []
    for genre, cols in genre_masks(genres):
        for measure, score in (("agree", agree), ("ps", ps)):
            per_person = score[:, cols].mean(axis=1) * 100  # (P,)
            low, high = (percentile_interval(weights @ per_person / n_p, level) if ci
                         else (np.nan, np.nan))
            rows.append({"genre": genre, "measure": measure,
                         "ceiling": float(per_person.mean()), "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows, columns=CEILING_COLUMNS)


def _kappa(votes: np.ndarray) -> float:
    """Fleiss' kappa of a subjects × categories count matrix (unequal raters allowed)."""
    n_i = votes.sum(axis=1)
    rated = n_i >= 2
    if not rated.any():
        return float("nan")
    v, n = votes[rated], n_i[rated]
    p_bar = float(np.mean(((v ** 2).sum(axis=1) - n) / (n * (n - 1))))
    p_j = v.sum(axis=0) / n.sum()
    p_e = float((p_j ** 2).sum())
    return float("nan") if p_e == 1 else (p_bar - p_e) / (1 - p_e)


def fleiss_kappa(pq: pd.DataFrame) -> pd.DataFrame:
    """Fleiss' kappa of the valid participants over the 10 pairs, per genre and ``All``.

    Parameters
    ----------
    pq : pandas.DataFrame
        :func:`simkit.analysis.tables.per_question` (columns ``genre``, ``N`` and
        ``votes_<pair>``).

    Returns
    -------
    pandas.DataFrame
        ``genre, kappa``; empty, with ``attrs["note"]``, for fewer than 2 valid
        participants.
    """
    n = int(pq["N"].max()) if len(pq) else 0
    if n < 2:
        return too_few_participants(KAPPA_COLUMNS, "Fleiss' kappa", n)
    votes = pq[[f"votes_{p}" for p in PAIRS]].to_numpy(dtype=np.int64)
    genres = pq["genre"].to_numpy()
    rows = [{"genre": g, "kappa": _kappa(votes[genres == g])} for g in dict.fromkeys(genres)]
    rows.append({"genre": "All", "kappa": _kappa(votes)})
    return pd.DataFrame(rows, columns=KAPPA_COLUMNS)


def ceiling_fraction(table2: pd.DataFrame, table3: pd.DataFrame,
                     ceiling: pd.DataFrame) -> pd.DataFrame:
    """Every method's Agree and average Ps as a fraction of the human ceiling.

    Parameters
    ----------
    table2, table3 : pandas.DataFrame
        :func:`simkit.analysis.tables.table2` and :func:`~simkit.analysis.tables.table3`.
    ceiling : pandas.DataFrame
        :func:`human_ceiling` (empty for fewer than 2 valid participants).

    Returns
    -------
    pandas.DataFrame
        ``genre, method, measure, value, ceiling, fraction`` (``value`` and ``ceiling`` in
        percent, ``fraction`` = value / ceiling, NaN where the ceiling is 0 or undefined);
        empty, with ``attrs["note"]``, when the ceiling is undefined.
    """
    if ceiling.empty:
        out = pd.DataFrame(columns=FRACTION_COLUMNS)
        out.attrs["note"] = ceiling.attrs.get("note", "the human ceiling is undefined")
        return out
    top = ceiling.set_index(["genre", "measure"])["ceiling"]
    rows = []
    for measure, table, col in (("agree", table3, "agree"), ("ps", table2, "avg_ps")):
        if table.empty:  # no machine choices: no method to compare
            continue
        for r in table[table["method"] != "majority"].itertuples(index=False):
            value, c = float(getattr(r, col)), float(top.get((r.genre, measure), np.nan))
            rows.append({"genre": r.genre, "method": r.method, "measure": measure,
                         "value": value, "ceiling": c,
                         "fraction": value / c if c > 0 else np.nan})
    return pd.DataFrame(rows, columns=FRACTION_COLUMNS)
