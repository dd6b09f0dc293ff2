"""Distances between feature vectors, exact where a choice depends on them.

Distances within a question are computed in float64 from direct differences
(:func:`pair_distances`), so a choice never depends on rounding. :func:`all_pairs_distances`
(N images, used for retrieval and projections) computes ``|a|² + |b|² − 2 a·b`` with one
float32 matrix product on *centred* vectors (centring removes the large common component
that makes the plain trick lose digits), then recomputes in float64, by direct differences,
every candidate that could be the nearest of its row within the float32 error bound — so
every row's nearest neighbour is exactly that of a float64 computation.
"""
from __future__ import annotations

import numpy as np

from simkit.study.model import PAIRS, pair_letters

__all__ = ["METRICS", "check_metric", "pair_distances", "all_pairs_distances"]

METRICS = ("euclidean", "cosine")
_PAIR_IDX = [pair_letters(p) for p in PAIRS]
_PAIR_I = np.array([i for i, _ in _PAIR_IDX])
_PAIR_J = np.array([j for _, j in _PAIR_IDX])


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")


def pair_distances(vectors_of_5: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """The 10 distances of a question's five vectors (rows a–e), in ``PAIRS`` order.

    Computed in float64 from direct differences (exact up to float64 rounding). Cosine
    distance is ``1 − cos``; a zero vector is at distance 1 from any other vector (0 from
    another zero vector).
    """
    check_metric(metric)
    v = np.asarray(vectors_of_5, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != 5:
        raise ValueError(f"need 5 vectors (a 5 x D array), got shape {v.shape}")
    i, j = _PAIR_I, _PAIR_J
    if metric == "euclidean":
        diff = v[i] - v[j]  # direct differences: no cancellation, no BLAS threading
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))
    dots = np.einsum("ij,ij->i", v[i], v[j])
    out = np.empty(len(PAIRS))
    for k in range(len(PAIRS)):
        ni, nj = norms[i[k]], norms[j[k]]
        if ni == 0 or nj == 0:
            out[k] = 0.0 if ni == nj else 1.0
        else:
            out[k] = 1.0 - dots[k] / (ni * nj)
    return out


def all_pairs_distances(X: np.ndarray, metric: str = "euclidean", *,
                        block: int = 2048) -> np.ndarray:
    """The ``N x N`` distance matrix of N vectors (float64 array, zero diagonal).

    Speed: the float32 matrix product ``Xc Xcᵀ`` of the centred vectors (cosine: of the
    unit vectors), its upper triangle only: about half the cost of one matmul of that shape. Accuracy: entries are
    float32-accurate (~1e-6 relative); in every row where more than one entry might be the
    row's minimum within the float32 error bound, those entries are recomputed exactly in
    float64 (direct differences), so
    ``argmin`` of every row (diagonal excluded) and the closest pair overall are those of a
    float64 computation.
    """
    import torch

    check_metric(metric)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"need an N x D array, got shape {X.shape}")
    n, dim = X.shape
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        safe = np.where(norms > 0, norms, 1.0)
        Y = np.asarray(X, dtype=np.float32) * (1.0 / safe).astype(np.float32)[:, None]
    else:
        # centring keeps the digits the plain trick would lose (the mean is summed in
        # float64; the subtraction of nearby float32 numbers is nearly exact)
        mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        Y = np.asarray(X, dtype=np.float32) - mean
    Yt = torch.from_numpy(Y)
    sq = np.einsum("ij,ij->i", Y, Y, dtype=np.float64)  # |y_i|², float64
    d2 = np.empty((n, n), dtype=np.float64)
    with torch.inference_mode():
        # blocks bound the float32 temporary; the matrix is symmetric, so each block row
        # multiplies only the columns from its diagonal on (about half a full product)
        for s in range(0, n, block):
            e = min(n, s + block)
            g = torch.mm(Yt[s:e], Yt[s:].T).numpy()
            d2[s:e, s:] = sq[s:e, None] + sq[None, s:] - 2.0 * g
            d2[e:, s:e] = d2[s:e, e:].T
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    # float32 dot products err by about sqrt(D) * eps * |a||b| (random-walk rounding); a
    # generous multiple bounds each d²'s error, so no true minimum hides outside the
    # candidate set that is recomputed exactly.
    c = 16.0 * np.sqrt(dim) * np.finfo(np.float32).eps
    scale = safe if metric == "cosine" else None
    for s in range(0, n, block):
        rows = np.arange(s, min(n, s + block))
        off = d2[rows].copy()
        off[np.arange(len(rows)), rows] = np.inf  # exclude self
        tol = c * (sq[rows, None] + sq[None, :])
        best_high = (off + tol).min(axis=1)
        cand_mask = (off - tol) <= best_high[:, None]
        for k, i in enumerate(rows):
            cand = np.flatnonzero(cand_mask[k])
            if len(cand) < 2:
                continue  # a single candidate is the float64 nearest already
            xi = X[i].astype(np.float64)
            xc = X[cand].astype(np.float64)
            if scale is not None:
                xi /= scale[i]
                xc /= scale[cand, None]
            diff = xc - xi
            d2[i, cand] = d2[cand, i] = np.einsum("ij,ij->i", diff, diff)
    if metric == "cosine":
        d = d2 / 2.0  # |â − b̂|² / 2 = 1 − cos
        zero = norms == 0
        if zero.any():
            d[zero, :] = 1.0
            d[:, zero] = 1.0
            d[np.ix_(zero, zero)] = 0.0
            np.fill_diagonal(d, 0.0)
        return d
    return np.sqrt(d2)
