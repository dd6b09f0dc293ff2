"""Machine choices: the closest pair of each question's five images, per method.

For each question and each representation (method), the 10 pairs a-b, a-c, …, d-e are
ranked by the distance between the two images' feature vectors (Euclidean by default, as
in Wei et al.; cosine distance as an option) and the closest pair is the method's choice.
Ties go to the first pair in :data:`~simkit.study.model.PAIRS` order.

Distances within a question are exact float64 (:func:`simkit.search.distances.pair_distances`),
so a choice never depends on rounding.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterable

import numpy as np
import pandas as pd

from simkit.search.distances import check_metric, pair_distances
from simkit.study.model import PAIRS

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet
    from simkit.study.model import Study

__all__ = ["choose", "study_choices"]


def choose(study: "Study", featureset: "FeatureSet", methods: Iterable[str] | None = None,
           metric: str = "euclidean") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each method's choice for every question, and all pair distances behind it.

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
    choice_rows, dist_rows = [], []
    for qid in study.questions["question_id"]:
        qid = str(qid)
        try:
            rows = [featureset.index(i) for i in study.question_images(qid)]
        except KeyError as e:
            raise ValueError(f"question {qid!r}: {e.args[0]}; extract features for every "
                             f"image of the study") from None
        for m in methods:
            d = pair_distances(featureset.vectors[m][rows], metric)
            choice_rows.append((qid, m, PAIRS[int(np.argmin(d))]))  # first minimum wins
            dist_rows.extend((qid, m, p, float(x)) for p, x in zip(PAIRS, d))
    choices = pd.DataFrame(choice_rows, columns=["question_id", "method", "choice"])
    dists = pd.DataFrame(dist_rows, columns=["question_id", "method", "pair", "distance"])
    return choices, dists


def study_choices(study: "Study", *, weights: str | os.PathLike = "imagenet",
                  layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                  precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                  metric: str = "euclidean", progress: bool = True
                  ) -> tuple[pd.DataFrame, pd.DataFrame, "FeatureSet"]:
    """Extract (or reuse) the study's features and make the three methods' choices.

    Returns ``(choices, pair_distances, featureset)``; ``featureset.weights_note`` is a
    warning to show with the results when the weights are random.
    """
    from simkit.features.extract import extract_features

    fs = extract_features(study, weights=weights, layer=layer, size=size, policy=policy,
                          precision=precision, cache_dir=cache_dir, progress=progress)
    choices, dists = choose(study, fs, metric=metric)
    return choices, dists, fs
