"""Does a method pick what a person picks as often as other people do? The participant view.

For each valid participant p:

- a method m: ``agree`` = the share of questions (of the genre, among those m has a choice
  for) on which m's pair **is** p's pick, × 100;
- ``people``: the same share for each *other* valid participant o in place of m, averaged
  over the others — how often another person picks what p picks. Per question this is
  (votes for p's pick − 1) / (N − 1), so the mean of the ``people`` rows is the Ps ceiling of
  :func:`simkit.analysis.ceilings.human_ceiling`, and the mean of a method's rows is its
  average Ps (Table 2): the distributions behind those two numbers, one value per person.

A method whose distribution sits below the people's agrees with individuals less than they
agree with each other. Without at least 2 valid participants the ``people`` rows are
undefined and left out (``attrs["note"]`` says so).

:func:`participant_tests` asks whether the difference is more than chance: for each method,
on the questions it has a choice for, the paired differences d_p = (method matches p) −
(another person matches p, averaged over the others) over the valid participants, tested with
the two-sided sign-flip test of :func:`simkit.analysis.paired.sign_flip_test` (each
d_p × questions × (N − 1) is a whole number, so the null distribution is exact, up to very
large studies), Holm over the methods of a genre. p = 1 when every d_p is 0; n/a without a question.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simkit.analysis.ceilings import leave_one_out, too_few_participants
from simkit.analysis.tables import genre_masks, onehot_votes
from simkit.study.model import PAIRS, Study

__all__ = ["participant_agreement", "participant_tests", "PARTICIPANT_COLUMNS",
           "PARTICIPANT_TEST_COLUMNS"]

PARTICIPANT_COLUMNS = ["genre", "participant_id", "who", "agree"]
PARTICIPANT_TEST_COLUMNS = ["genre", "method", "n_participants", "n_questions",
                            "mean_method", "mean_people", "diff", "p_value", "p_holm"]


def _choice_index(study: Study, qids: list[str]) -> dict[str, np.ndarray]:
    """method → the index in PAIRS of its pair on each question of ``qids`` (-1: no choice)."""
    pair_index = {p: i for i, p in enumerate(PAIRS)}
    out = {}
    for m in study.methods:
        ch = study.choices[study.choices["method"] == m].set_index("question_id")["choice"]
        out[m] = np.array([pair_index.get(ch.get(q), -1) for q in qids], dtype=np.int64)
    return out


def participant_agreement(study: Study, *, onehot: np.ndarray | None = None) -> pd.DataFrame:
    """Each valid participant's agreement with each method and with the other people.

    Parameters
    ----------
    study : Study
        A study with valid participants (and machine choices for the method rows).
    onehot : numpy.ndarray, optional
        :func:`simkit.analysis.tables.onehot_votes` of ``study``, when it is already made
        (every table of :func:`~simkit.analysis.all_tables.compute_tables` shares one).

    Returns
    -------
    pandas.DataFrame
        ``genre, participant_id, who, agree`` (percent, unrounded), ``who`` ``people`` or a
        method name; per genre and ``All``. A method without a choice for any question of a
        genre has ``agree`` n/a there.
    """
    if onehot is None:
        onehot, _ = onehot_votes(study)
    qids = list(study.questions["question_id"])  # onehot's questions, in this order
    pids = study.valid_participants
    n_p = onehot.shape[0]
    genres = study.questions["genre"].to_numpy()
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # who → (P, Q) hits, (Q,) has
    if n_p >= 2:
        scores["people"] = (leave_one_out(onehot)[1], np.ones(len(qids), bool))
    for m, idx in _choice_index(study, qids).items():
        has = idx >= 0
        hits = np.take_along_axis(onehot, np.maximum(idx, 0)[None, :, None], axis=2)[..., 0]
        scores[m] = (hits * has, has)
    rows = []
    for genre, cols in genre_masks(genres):
        for who, (hits, has) in scores.items():
            use = cols & has
            agree = (hits[:, use].mean(axis=1) * 100 if use.any()
                     else np.full(n_p, np.nan))
            rows += [{"genre": genre, "participant_id": p, "who": who, "agree": float(a)}
                     for p, a in zip(pids, agree)]
    out = pd.DataFrame(rows, columns=PARTICIPANT_COLUMNS)
    if n_p < 2:
        out.attrs["note"] = (f"agreement among people needs at least 2 valid participants "
                             f"(the study has {n_p}); the 'people' rows are left out")
    return out


def participant_tests(study: Study, *, onehot: np.ndarray | None = None) -> pd.DataFrame:
    """Does each method match individual people as often as other people do? Per genre
    and ``All`` (see the module).

    Parameters
    ----------
    study : Study
        A study with at least 2 valid participants and machine choices.
    onehot : numpy.ndarray, optional
        :func:`simkit.analysis.tables.onehot_votes` of ``study``, when it is already made
        (every table of :func:`~simkit.analysis.all_tables.compute_tables` shares one).

    Returns
    -------
    pandas.DataFrame
        :data:`PARTICIPANT_TEST_COLUMNS`: the means over people (percent) of the method's and
        the other people's matches on the method's questions, their difference (points), the
        exact sign-flip p-value and Holm's within a genre. Empty, with ``attrs["note"]``,
        for fewer than 2 valid participants.
    """
    from simkit.analysis.paired import sign_flip_test
    from simkit.analysis.significance import holm

    if onehot is None:
        onehot, _ = onehot_votes(study)
    qids = list(study.questions["question_id"])  # onehot's questions, in this order
    n_p = onehot.shape[0]
    if n_p < 2:
        return too_few_participants(PARTICIPANT_TEST_COLUMNS, "the participant tests", n_p)
    # whole numbers: the others' votes for each person's pick, per question
    others = ((onehot.sum(axis=0)[None] - onehot) * onehot).sum(axis=2).astype(np.int64)
    choice_index = _choice_index(study, qids)
    genres = study.questions["genre"].to_numpy()
    rows = []
    for genre, cols in genre_masks(genres):
        block = []
        for m, idx in choice_index.items():
            use = cols & (idx >= 0)
            n_q = int(use.sum())
            row = {"genre": genre, "method": m, "n_participants": n_p, "n_questions": n_q,
                   "mean_method": np.nan, "mean_people": np.nan, "diff": np.nan,
                   "p_value": np.nan}
            if n_q:
                hits = onehot[:, use, :][:, np.arange(n_q), idx[use]].sum(axis=1)
                hits = hits.astype(np.int64)
                same = others[:, use].sum(axis=1)
                mean_m = float(hits.mean()) / n_q * 100
                mean_p = float(same.mean()) / (n_q * (n_p - 1)) * 100
                row.update(mean_method=mean_m, mean_people=mean_p, diff=mean_m - mean_p,
                           p_value=sign_flip_test(hits * (n_p - 1) - same))
            block.append(row)
        tested = [r for r in block if not np.isnan(r["p_value"])]
        for r, adj in zip(tested, holm([r["p_value"] for r in tested])):
            r["p_holm"] = float(adj)
        rows += [{**r, "p_holm": r.get("p_holm", np.nan)} for r in block]
    return pd.DataFrame(rows, columns=PARTICIPANT_TEST_COLUMNS)
