"""The choice step every method ends with: each question's closest pair of its five images.

>>> choices, distances = choose_from_features(study, featureset, ["gram"])   # doctest: +SKIP

A method's *choice* for a question is the pair of its 10 (:data:`~simkit.study.model.PAIRS`)
at the smallest distance; ties go to the first pair in ``PAIRS`` order. The families reach
this step from vectors (:func:`choose_from_features`: exact float64 pair distances,
:func:`simkit.search.distances.pair_distances`) or from pair distances they computed
themselves (:func:`choices_from_distances`: the perceptual metrics). It sits below every
family and below :mod:`simkit.methods.choices`, which runs the families on a study.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.search.distances import check_defined, check_metric, pair_distances
from simkit.study.model import PAIRS

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet
    from simkit.study.model import Study

__all__ = ["choices_from_distances", "choose_from_features"]


def choices_from_distances(qids: Sequence[str], d: np.ndarray, method: str
                           ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``method``'s choice (closest pair; ties to the first in PAIRS order) per question,
    and its pair distances, from ``d``: the 10 pair distances of each of ``qids``."""
    d = d.reshape(len(qids), len(PAIRS))
    pick = np.argmin(d, axis=1)  # first minimum: ties go to the first pair in PAIRS order
    choices = pd.DataFrame({"question_id": list(qids), "method": method,
                            "choice": [PAIRS[k] for k in pick]})
    dist = pd.DataFrame({"question_id": np.repeat(list(qids), len(PAIRS)), "method": method,
                         "pair": PAIRS * len(qids), "distance": d.ravel()})
    return choices, dist


def choose_from_features(study: "Study", featureset: "FeatureSet",
                         methods: Iterable[str] | None = None, metric: str = "euclidean"
                         ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each vector method's choice for every question, from vectors already computed.

    ``methods``: representation names in ``featureset.vectors`` (default: all of them).
    Returns ``(choices, pair_distances)``: ``question_id, method, choice`` and
    ``question_id, method, pair, distance`` (10 rows per question and method), in
    questions.csv order, then method order, then ``PAIRS`` order.
    """
    check_metric(metric)
    methods = list(featureset.vectors) if methods is None else list(methods)
    missing = [m for m in methods if m not in featureset.vectors]
    if missing:
        raise ValueError(f"no feature vectors for method(s) {', '.join(missing)}; have "
                         f"{', '.join(featureset.vectors)}")
    qids = [str(q) for q in study.questions["question_id"]]
    d = np.empty((len(methods), len(qids), len(PAIRS)))
    for k, qid in enumerate(qids):
        images = study.question_images(qid)
        try:
            rows = [featureset.index(i) for i in images]
        except KeyError as e:
            raise ValueError(f"question {qid!r}: {e.args[0]}; extract features for every "
                             f"image of the study") from None
        for j, m in enumerate(methods):
            # an undefined distance is named by question and image, not by letter
            check_defined(featureset.vectors[m][rows], metric, list(images),
                          f"question {qid!r}, method {m!r}: image")
            d[j, k] = pair_distances(featureset.vectors[m][rows], metric)
    if not methods or not qids:  # empty frames keep their columns (and object dtypes)
        return (pd.DataFrame(columns=["question_id", "method", "choice"]),
                pd.DataFrame(columns=["question_id", "method", "pair", "distance"]))
    parts = [choices_from_distances(qids, d[j], m) for j, m in enumerate(methods)]
    # question by question, then method by method (then PAIRS): the order of choices.csv
    order = np.arange(len(methods) * len(qids)).reshape(len(methods), len(qids)).T.ravel()
    n = len(PAIRS)
    dist_order = (order[:, None] * n + np.arange(n)).ravel()
    choices = pd.concat([c for c, _ in parts], ignore_index=True).iloc[order]
    dists = pd.concat([x for _, x in parts], ignore_index=True).iloc[dist_order]
    return choices.reset_index(drop=True), dists.reset_index(drop=True)
