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
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simkit.analysis.tables import onehot_votes
from simkit.study.model import PAIRS, Study

__all__ = ["participant_agreement", "PARTICIPANT_COLUMNS"]

PARTICIPANT_COLUMNS = ["genre", "participant_id", "who", "agree"]


def participant_agreement(study: Study) -> pd.DataFrame:
    """Each valid participant's agreement with each method and with the other people.

    Parameters
    ----------
    study : Study
        A study with valid participants (and machine choices for the method rows).

    Returns
    -------
    pandas.DataFrame
        ``genre, participant_id, who, agree`` (percent, unrounded), ``who`` ``people`` or a
        method name; per genre and ``All``. A method without a choice for any question of a
        genre has ``agree`` n/a there.
    """
    onehot, qids = onehot_votes(study)
    pids = study.valid_participants
    n_p = onehot.shape[0]
    genres = study.questions["genre"].to_numpy()
    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # who → (P, Q) hits, (Q,) has
    if n_p >= 2:
        others = onehot.sum(axis=0)[None] - onehot
        scores["people"] = ((others * onehot).sum(axis=2) / (n_p - 1), np.ones(len(qids), bool))
    pair_index = {p: i for i, p in enumerate(PAIRS)}
    for m in study.methods:
        ch = study.choices[study.choices["method"] == m].set_index("question_id")["choice"]
        idx = np.array([pair_index.get(ch.get(q), -1) for q in qids], dtype=np.int64)
        has = idx >= 0
        hits = np.take_along_axis(onehot, np.maximum(idx, 0)[None, :, None], axis=2)[..., 0]
        scores[m] = (hits * has, has)
    rows = []
    for genre in [*dict.fromkeys(genres), "All"]:
        cols = np.ones(len(genres), bool) if genre == "All" else genres == genre
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
