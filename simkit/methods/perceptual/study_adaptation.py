"""Adapting a perceptual metric to a study's votes: each question's choice and pair
distances, and cross-validation over questions (the metric that judges a question was
adapted without it).

The training itself is :func:`simkit.methods.perceptual.adaptation.adapt`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.methods.closest import choices_from_distances
from simkit.methods.perceptual.adaptation import adapt, summarise_seeds
from simkit.methods.perceptual.metrics import (COMPARISONS, PerceptualMetric, combine,
                                              comparison_parts, method_name)
from simkit.methods.perceptual.twoafc import (TripletStats, human_ceiling, score_2afc,
                                             twoafc_per_triplet)

if TYPE_CHECKING:
    import torch

    from simkit.study.model import Study

__all__ = ["question_pairs", "pair_rows", "choices_from_distances", "study_choices",
           "cross_validate_study", "CrossValidation"]


def question_pairs(study: "Study") -> np.ndarray:
    """``(Q·10, 2)`` pool indices (study image order) of every question's 10 pairs, in
    questions.csv then PAIRS order."""
    from simkit.study.model import PAIRS, pair_letters
    index = {str(k): i for i, k in enumerate(study.images["image_id"])}
    out = []
    for qid in study.questions["question_id"]:
        imgs = [index[i] for i in study.question_images(qid)]
        for p in PAIRS:
            i, j = pair_letters(p)
            out.append((imgs[i], imgs[j]))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def pair_rows(stats: TripletStats, pairs: np.ndarray) -> np.ndarray:
    """The rows of ``stats.pairs`` holding each of ``pairs`` (in either order)."""
    key = {(int(a), int(b)): k for k, (a, b) in enumerate(stats.pairs)}
    lo, hi = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    return np.array([key[(int(a), int(b))] for a, b in zip(lo, hi)], dtype=np.int64)


def study_choices(study: "Study", metrics: Iterable[PerceptualMetric], *,
                  batch_size: int = 32, progress: bool = True,
                  device: "str | torch.device" = "auto"
                  ) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Each perceptual metric's choice for every question, like
    :func:`simkit.methods.closest.choose_from_features`, with the networks on ``device``.

    Returns ``(choices, pair_distances, note)``: ``question_id, method, choice`` (the closest
    of the 10 pairs; ties to the first pair in PAIRS order), ``question_id, method, pair,
    distance``, and a warning when a random network was used (else "")."""
    from simkit.methods.perceptual.datasets import study_pixels
    from simkit.methods.perceptual.metrics import BASES, pair_statistics
    from simkit.methods.perceptual.networks import load_network

    metrics = list(metrics)
    pairs = question_pairs(study)
    qids = list(study.questions["question_id"])
    out_c, out_d, notes, nets, pixels = [], [], [], {}, {}
    for m in metrics:
        key = (m.net, m.weights, m.size)
        if key not in nets:
            net = load_network(m.net, m.weights, device=device)
            notes.append(net.weights_note)
            if m.size not in pixels:  # decoded once per size, whatever the network
                pixels[m.size] = study_pixels(study, m.size)[1]
            nets[key] = pair_statistics(net, pixels[m.size], pairs, BASES,
                                        batch_size=batch_size, progress=progress,
                                        desc=f"{m.net} features")
        c, d = choices_from_distances(qids, m.distances_from_stats(nets[key]), m.name)
        out_c.append(c)
        out_d.append(d)
    note = next((n for n in notes if n), "")
    return pd.concat(out_c, ignore_index=True), pd.concat(out_d, ignore_index=True), note


@dataclass
class CrossValidation:
    """Result of :func:`cross_validate_study`.

    ``per_seed``: one row per (comparison, variant, seed) — ``twoafc`` on the held-out
    questions' vote triplets, ``agree`` and ``ps`` (percent, as in the study tables) over
    all questions, each judged by the metric adapted without it. ``summary``: mean ± sd
    over seeds. ``choices``: ``question_id, method, choice`` of the baseline and (first
    seed) adapted metrics, ready for :meth:`Study.with_choices`. ``scalars``: per
    comparison, the mean learned w over folds and seeds (per layer). ``note``: the random
    network warning, or "".
    """

    per_seed: pd.DataFrame
    summary: pd.DataFrame
    choices: pd.DataFrame
    scalars: dict[str, dict[str, np.ndarray]]
    folds: dict[str, int]
    human_ceiling: float
    note: str = ""


def cross_validate_study(study: "Study", net: str = "alexnet",
                         comparisons: Iterable[str] = COMPARISONS, *,
                         weights: str = "imagenet", folds: int = 5,
                         seeds: Sequence[int] = (0, 1, 2, 3), size: int = 64,
                         split_seed: int = 0, batch_size: int = 32, progress: bool = True,
                         device: "str | torch.device" = "auto",
                         **adapt_kwargs) -> CrossValidation:
    """Adapt ``net`` to a study's votes and measure it on held-out questions.

    Questions are dealt at random (``split_seed``) into ``folds`` folds; for each fold the
    scalars are adapted (:func:`adapt`, which holds out 20 % of the training questions for
    validation and early stopping) on the vote triplets (:func:`~.datasets.vote_triplets`)
    of the other folds, then the held-out questions are scored: 2AFC on their triplets,
    and the metric's choice (closest pair) for Agree / Ps. The baseline (w = 1) is scored
    on the same questions. The network and the training run on ``device``.
    """
    from simkit.analysis.tables import per_question
    from simkit.methods.perceptual.datasets import study_triplets
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import triplet_statistics

    comparisons = list(comparisons)
    for c in comparisons:
        comparison_parts(c)
    triplets = study_triplets(study)
    qids = list(study.questions["question_id"])
    if folds < 2 or folds > len(qids):
        raise ValueError(f"folds must be between 2 and the number of questions ({len(qids)})")
    network = load_network(net, weights, device=device)
    qp = question_pairs(study)
    stats = triplet_statistics(triplets, network, {b for c in comparisons
                                                   for b in comparison_parts(c)},
                               size=size, batch_size=batch_size, extra_pairs=qp,
                               progress=progress)
    qrows = pair_rows(stats, qp).reshape(len(qids), 10)
    rng = np.random.default_rng(split_seed)
    fold_of = {q: k % folds for k, q in enumerate(rng.permutation(qids))}
    t_fold = np.array([fold_of[q] for q in triplets.group])
    q_fold = np.array([fold_of[q] for q in qids])

    rows, choices, scal = [], [], {}
    for comp in comparisons:
        s = combine(stats.stats, comp).astype(np.float64)
        d_base = s.sum(1)
        held_d = {seed: np.empty(len(qids) * 10) for seed in seeds}
        held_t = {seed: np.empty(len(triplets)) for seed in seeds}
        ws = []
        for k in range(folds):
            train = stats.subset(t_fold != k)
            for seed in seeds:
                r = adapt(train, comp, seed=seed, progress=progress, device=device,
                          **adapt_kwargs)
                ws.append(r.w)
                d = s @ (r.w ** 2)
                qsel = np.flatnonzero(q_fold == k)
                held_d[seed].reshape(len(qids), 10)[qsel] = d[qrows[qsel]]
                tsel = t_fold == k
                held_t[seed][tsel] = twoafc_per_triplet(d[stats.p0[tsel]], d[stats.p1[tsel]],
                                                        stats.J[tsel])
        scal[comp] = PerceptualMetric(net, comp, weights, np.mean(ws, 0), size).layer_scalars()
        variants = [("baseline", None, d_base[qrows].ravel(),
                     score_2afc(d_base[stats.p0], d_base[stats.p1], stats.J))]
        variants += [("adapted", seed, held_d[seed], float(held_t[seed].mean()))
                     for seed in seeds]
        for variant, seed, dq, twoafc in variants:
            name = method_name(net, comp, variant == "adapted")
            c, _ = choices_from_distances(qids, dq, name)
            pq = per_question(study.with_choices(c))
            rows.append({"net": net, "comparison": comp, "variant": variant,
                         "seed": -1 if seed is None else seed, "method": name,
                         "twoafc": twoafc, "agree": 100.0 * pq[f"agree_{name}"].mean(),
                         "ps": float(pq[f"ps_{name}"].mean())})
            if seed is None or seed == seeds[0]:
                choices.append(c)
    per_seed = pd.DataFrame(rows)
    summary = summarise_seeds(per_seed, ["twoafc", "agree", "ps"],
                              by=("net", "comparison", "variant", "method"))
    return CrossValidation(per_seed, summary, pd.concat(choices, ignore_index=True), scal,
                           fold_of, human_ceiling(stats.J), network.weights_note)
