"""Distances between feature vectors, exact where a choice or a ranking depends on them.

The one distance engine of simkit. Distances within a question are computed in float64
from direct differences (:func:`pair_distances`), so a choice never depends on rounding.
Between many vectors (:func:`all_pairs_distances`, :func:`nearest`, and through them the
exact index of :mod:`simkit.search.index` and the streaming search of
:mod:`simkit.scale.neighbours`) the work is one float32 matrix product of *prepared*
vectors (:func:`prepare`: centred for Euclidean — centring removes the large common
component that makes ``|a|² + |b|² − 2 a·b`` lose digits —, unit length for cosine); then
every candidate that could be among the nearest within the float32 error bound
(:func:`error_bound`) is recomputed exactly in float64 from direct differences
(:func:`exact_squared`). So every nearest neighbour, and every top-k ranking, is exactly
that of a float64 computation; ties go to the lower index.

Cosine distance is ``1 − cos``. For an all-zero vector it is undefined (``0/0``), so no
choice or ranking may rest on it: every function here refuses such vectors with an
:class:`UndefinedDistanceError` (:func:`check_defined`; callers that know the images' ids
call it first, so the message names them). :func:`unit_rows` is the one row normalisation.
"""
from __future__ import annotations

import numpy as np

from dataclasses import dataclass
from typing import Sequence

from simkit.errors import SimkitError
from simkit.study.model import PAIRS, pair_letters

__all__ = ["METRICS", "check_metric", "UndefinedDistanceError", "undefined_rows",
           "check_defined", "pair_distances", "all_pairs_distances", "unit_rows",
           "Prepared", "prepare", "error_bound", "exact_squared", "nearest", "merge_topk"]

METRICS = ("euclidean", "cosine")
_PAIR_IDX = [pair_letters(p) for p in PAIRS]
_PAIR_I = np.array([i for i, _ in _PAIR_IDX])
_PAIR_J = np.array([j for _, j in _PAIR_IDX])


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")


class UndefinedDistanceError(SimkitError, ValueError):
    """A distance that is undefined (the cosine distance of an all-zero vector, ``0/0``):
    refused, so that no choice or ranking silently rests on it."""


def undefined_rows(X: np.ndarray, metric: str) -> np.ndarray:
    """The indices of the rows of ``X`` whose distances under ``metric`` are undefined: the
    all-zero rows for cosine, none for Euclidean."""
    check_metric(metric)
    X = np.asarray(X)
    if metric != "cosine":
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(~X.any(axis=1))


def check_defined(X: np.ndarray, metric: str, names: Sequence[object] | None = None,
                  what: str = "row") -> None:
    """Refuse vectors whose distances under ``metric`` are undefined (:func:`undefined_rows`).

    Raises :class:`UndefinedDistanceError` naming them as ``what`` ``names[row]`` (text
    quoted, numbers as they are; default the row numbers), up to ten, and saying how to go
    on.
    """
    rows = undefined_rows(X, metric)
    if len(rows):
        label = rows if names is None else [names[r] for r in rows[:10]]
        shown = ", ".join(repr(n) if isinstance(n, str) else str(int(n)) for n in label[:10])
        more = f" (and {len(rows) - 10} more)" if len(rows) > 10 else ""
        raise UndefinedDistanceError(
            f"{what}(s) {shown}{more}: all-zero vector(s), whose cosine distance to any "
            f"other vector is undefined (0/0); remove those images, or compare with the "
            f"euclidean metric")


def pair_distances(vectors_of_5: np.ndarray, metric: str = "euclidean") -> np.ndarray:
    """The 10 distances of a question's five vectors (rows a–e), in ``PAIRS`` order.

    Computed in float64 from direct differences (exact up to float64 rounding). Cosine
    distance is ``1 − cos``; an all-zero vector (undefined cosine distances) raises
    :class:`UndefinedDistanceError` naming its letter, so no choice rests on it.
    """
    check_metric(metric)
    v = np.asarray(vectors_of_5, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] != 5:
        raise ValueError(f"need 5 vectors (a 5 x D array), got shape {v.shape}")
    check_defined(v, metric, "abcde", "a question's image")
    i, j = _PAIR_I, _PAIR_J
    if metric == "euclidean":
        diff = v[i] - v[j]  # direct differences: no cancellation, no BLAS threading
        return np.sqrt(np.einsum("ij,ij->i", diff, diff))
    norms = np.sqrt(np.einsum("ij,ij->i", v, v))
    dots = np.einsum("ij,ij->i", v[i], v[j])
    return 1.0 - dots / (norms[i] * norms[j])


def unit_rows(X: np.ndarray) -> np.ndarray:
    """The rows of ``X`` scaled to unit length (norms in float64), float32; zero rows stay 0."""
    norms = np.linalg.norm(np.asarray(X).astype(np.float64), axis=1)
    return (X / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)


@dataclass
class Prepared:
    """Vectors ready for the matrix product, and what the exact recomputation needs.

    ``X``: the rows as given (kept for float64 recomputation); ``Y``: float32, centred
    (Euclidean) or unit length (cosine); ``sq``: ``|y|²`` in float64; ``norms``: ``|x|``
    in float64 (cosine only); ``labels``: each row's index in the whole collection;
    ``center``: what was subtracted (Euclidean only; queries need the same).
    """

    X: np.ndarray
    Y: np.ndarray
    sq: np.ndarray
    metric: str
    labels: np.ndarray
    norms: np.ndarray | None = None
    center: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.Y)

    def take(self, rows: slice) -> "Prepared":
        """The prepared rows ``rows`` (a slice: views, no copies)."""
        return Prepared(self.X[rows], self.Y[rows], self.sq[rows], self.metric,
                        self.labels[rows], None if self.norms is None else self.norms[rows],
                        self.center)


def prepare(X: np.ndarray, metric: str = "euclidean", center: np.ndarray | None = None,
            labels: np.ndarray | None = None) -> Prepared:
    """Prepare the rows of ``X`` (``N x D``) for :func:`nearest`.

    Euclidean: ``Y = X − center`` (default the float64 mean of ``X``; queries use their
    collection's centre: any centre gives the same distances, a nearby one keeps float32
    digits). Cosine: ``Y`` = :func:`unit_rows`; an all-zero row raises
    :class:`UndefinedDistanceError` naming its label. ``labels`` default to ``0 … N−1``.
    """
    check_metric(metric)
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"need an N x D array, got shape {X.shape}")
    labels = np.arange(len(X)) if labels is None else np.asarray(labels, dtype=np.int64)
    check_defined(X, metric, labels)
    norms = None
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        Y = unit_rows(X)
    else:
        if center is None:
            center = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        Y = np.asarray(X, dtype=np.float32) - center
    return Prepared(X, Y, np.einsum("ij,ij->i", Y, Y, dtype=np.float64), metric, labels,
                    norms, center)


def error_bound(dim: int) -> float:
    """``c`` such that ``c · (|a|² + |b|²)`` bounds the error of a float32 ``|a − b|²``.

    float32 dot products err by about ``sqrt(D) · eps · |a||b|`` (random-walk rounding); a
    generous multiple, so no true neighbour hides outside the recomputed candidates.
    """
    return 16.0 * np.sqrt(dim) * float(np.finfo(np.float32).eps)


def approx_squared(Q: Prepared, P: Prepared, device: "str | None" = None) -> np.ndarray:
    """``|q − x|²`` (float64 array, ``len(Q) x len(P)``) from one float32 matrix product,
    on ``device`` (default the CPU; ``auto`` and ``cuda`` as in
    :func:`simkit.features.device.resolve_device`, TF32 off so it stays float32)."""
    import torch

    q = torch.from_numpy(np.ascontiguousarray(Q.Y))
    p = torch.from_numpy(np.ascontiguousarray(P.Y))
    if device is None or str(device) == "cpu":
        with torch.inference_mode():
            g = torch.mm(q, p.T).numpy()
    else:
        from simkit.features.device import precision_context, resolve_device

        dev = resolve_device(device)
        with torch.inference_mode(), precision_context("fp32", dev):
            g = torch.mm(q.to(dev), p.to(dev).T).cpu().numpy()
    d2 = Q.sq[:, None] + P.sq[None, :] - 2.0 * g
    np.maximum(d2, 0.0, out=d2)
    return d2


def exact_squared(Q: Prepared, qi: np.ndarray, P: Prepared, xi: np.ndarray,
                  chunk: int = 256) -> np.ndarray:
    """``|q − x|²`` in float64 from direct differences, for the pairs ``(Q row qi[m], P row
    xi[m])`` (cosine: of the unit vectors; :func:`prepare` refused all-zero ones)."""
    out = np.empty(len(qi), dtype=np.float64)
    for s in range(0, len(qi), chunk):
        a, b = Q.X[qi[s:s + chunk]], P.X[xi[s:s + chunk]]
        if Q.metric == "cosine":
            na, nb = Q.norms[qi[s:s + chunk]], P.norms[xi[s:s + chunk]]
            a = a / na[:, None]  # float64 from here on
            b = b / nb[:, None]
        diff = np.subtract(a, b, dtype=np.float64)  # exact widening, then one rounding
        out[s:s + chunk] = np.einsum("ij,ij->i", diff, diff)
    return out


def to_distance(d2: np.ndarray, metric: str) -> np.ndarray:
    """Squared distances of prepared vectors -> distances (cosine: ``|â − b̂|²/2 = 1 − cos``)."""
    return d2 / 2.0 if metric == "cosine" else np.sqrt(d2)


def nearest(Q: Prepared, P: Prepared, k: int, exclude: np.ndarray | None = None,
            device: "str | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``P`` for each row of ``Q``, exactly.

    Returns ``(labels, distances)``, ``len(Q) x k``, nearest first, ties by lower label
    (``P.labels``); exact float64 distances. ``exclude[r]``: a label row r may not return
    (itself; -1 for none). Where fewer than ``k`` rows are allowed the rest is label -1 at
    distance inf. ``device``: where the matrix product runs (the refinement is float64 on
    the CPU).
    """
    d2 = approx_squared(Q, P, device)
    if exclude is not None:
        d2[np.asarray(exclude)[:, None] == P.labels[None, :]] = np.inf
    tol = error_bound(P.Y.shape[1]) * (Q.sq[:, None] + P.sq[None, :])
    kk = min(int(k), d2.shape[1])
    kth = np.partition(d2 + tol, kk - 1, axis=1)[:, kk - 1]
    cand = ((d2 - tol) <= kth[:, None]) & np.isfinite(d2)
    qi, xi = np.nonzero(cand)
    exact = exact_squared(Q, qi, P, xi)
    labels = np.full((len(Q), int(k)), -1, dtype=np.int64)
    dist = np.full((len(Q), int(k)), np.inf)
    bounds = np.searchsorted(qi, np.arange(len(Q) + 1))
    for r in range(len(Q)):
        e, lab = exact[bounds[r]:bounds[r + 1]], P.labels[xi[bounds[r]:bounds[r + 1]]]
        order = np.lexsort((lab, e))[:int(k)]  # by distance, then by label
        labels[r, :len(order)] = lab[order]
        dist[r, :len(order)] = to_distance(e[order], Q.metric)
    return labels, dist


def merge_topk(best_d: np.ndarray, best_i: np.ndarray, d: np.ndarray, idx: np.ndarray,
               k: int) -> tuple[np.ndarray, np.ndarray]:
    """Merge candidates ``(d, idx)`` into the running top ``k`` (ties: lower index first)."""
    D = np.concatenate([best_d, d], axis=1)
    I = np.concatenate([best_i, np.broadcast_to(idx, d.shape)], axis=1)
    order = np.lexsort((np.where(I < 0, np.iinfo(np.int64).max, I), D), axis=1)[:, :k]
    return np.take_along_axis(D, order, axis=1), np.take_along_axis(I, order, axis=1)


def all_pairs_distances(X: np.ndarray, metric: str = "euclidean", *,
                        block: int = 2048, device: "str | None" = None) -> np.ndarray:
    """The ``N x N`` distance matrix of N vectors (float64 array, zero diagonal).

    Speed: the float32 matrix product of the prepared vectors (:func:`prepare`), its upper
    triangle only: about half the cost of one matmul of that shape. Accuracy: entries are
    float32-accurate (~1e-6 relative); in every row where more than one entry might be the
    row's minimum within the float32 error bound, those entries are recomputed exactly in
    float64 (:func:`exact_squared`), so ``argmin`` of every row (diagonal excluded) and the
    closest pair overall are those of a float64 computation. ``device``: where the matrix
    products run (``cuda`` for large collections on a GPU; the answers are the same).
    """
    P = prepare(X, metric)
    n = len(P.X)
    d2 = np.empty((n, n), dtype=np.float64)
    # blocks bound the float32 temporary; the matrix is symmetric, so each block row
    # multiplies only the columns from its diagonal on (about half a full product)
    for s in range(0, n, block):
        e = min(n, s + block)
        d2[s:e, s:] = approx_squared(P.take(slice(s, e)), P.take(slice(s, None)), device)
        d2[e:, s:e] = d2[s:e, e:].T
    np.fill_diagonal(d2, 0.0)
    _refine_row_minima(P, d2, block)
    return to_distance(d2, metric)


def _refine_row_minima(P: Prepared, d2: np.ndarray, block: int) -> None:
    """Recompute exactly, in place (both triangles), every entry that might be its row's
    minimum within the float32 error bound, in the rows with more than one such entry."""
    n = len(d2)
    c = error_bound(P.Y.shape[1])
    for s in range(0, n, block):
        rows = np.arange(s, min(n, s + block))
        off = d2[rows].copy()
        off[np.arange(len(rows)), rows] = np.inf  # exclude self
        tol = c * (P.sq[rows, None] + P.sq[None, :])
        best_high = (off + tol).min(axis=1)
        cand_mask = (off - tol) <= best_high[:, None]
        for k, i in enumerate(rows):
            cand = np.flatnonzero(cand_mask[k])
            if len(cand) < 2:
                continue  # a single candidate is the float64 nearest already
            d2[i, cand] = d2[cand, i] = exact_squared(P, np.full(len(cand), i), P, cand)
