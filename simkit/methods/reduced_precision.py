"""Reduced precision that keeps the answers: which choices bf16/fp16 could have changed.

A network run under bf16 autocast is 2–3x faster on a CPU, but its vectors differ from the
fp32 ones by a small relative error ``e`` (about 0.6 % for VGG-19 conv5_1 Gram matrices).
A distance between two vectors then moves by at most

* Euclidean: ``e (|a| + |b|)`` (``| |a'-b'| - |a-b| | <= |a'-a| + |b'-b|``);
* cosine distance: ``4 e (1 + e)`` (each unit vector moves by at most ``2 e``).

So a question's choice can only differ from fp32's where another pair's reduced-precision
distance lies within the two pairs' bounds of the closest one. :func:`measured_error`
measures ``e`` on images computed both ways (with a safety factor), :func:`near_ties` names
the questions whose choice is not certain; the caller recomputes their five images in fp32.
Pure computation, no I/O.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["SAFETY", "measured_error", "pair_bound", "near_ties"]

#: The measured error is multiplied by this: a few sampled images bound the others loosely.
SAFETY = 4.0


def measured_error(fast: np.ndarray, exact: np.ndarray) -> float:
    """The largest relative error ``|v_fast - v| / |v|`` over rows, times :data:`SAFETY`
    (rows that are all zero are skipped)."""
    fast, exact = np.asarray(fast, np.float64), np.asarray(exact, np.float64)
    norms = np.linalg.norm(exact, axis=1)
    ok = norms > 0
    if not ok.any():
        return 0.0
    err = np.linalg.norm(fast[ok] - exact[ok], axis=1) / norms[ok]
    return float(err.max()) * SAFETY


def pair_bound(metric: str, error: float, norm_a: float, norm_b: float) -> float:
    """How far a reduced-precision distance can be from the fp32 one (module docstring)."""
    if metric == "cosine":
        return 4.0 * error * (1.0 + error)
    return error * (norm_a + norm_b)


def near_ties(distances: pd.DataFrame, norms: Mapping[str, Mapping[str, float]],
              errors: Mapping[str, float], metrics: Mapping[str, str],
              question_images: Mapping[str, Iterable[str]]) -> list[str]:
    """The questions where some method's choice is not certain at reduced precision.

    ``distances``: ``question_id, method, pair, distance`` (10 rows per question and
    method, pairs like ``a-b``); ``norms[method][image_id]``: the vectors' norms;
    ``errors[method]``: :func:`measured_error`; ``metrics[method]``; ``question_images``:
    the five image ids of each question, in a-e order.
    """
    out: list[str] = []
    for (qid, method), grp in distances.groupby(["question_id", "method"], sort=False):
        ids = dict(zip("abcde", question_images[qid]))
        n = norms[method]
        d = grp["distance"].to_numpy(np.float64)
        bound = np.array([pair_bound(metrics[method], errors[method], n[ids[p[0]]],
                                     n[ids[p[-1]]]) for p in grp["pair"]])
        best = int(np.argmin(d))
        others = np.arange(len(d)) != best
        if np.any(d[others] - d[best] <= bound[others] + bound[best]):
            out.append(str(qid))
    return list(dict.fromkeys(out))
