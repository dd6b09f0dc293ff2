"""Nearest-neighbour indexes over feature vectors: exact (matrix products) and approximate (faiss).

* ``index="exact"`` — one float32 matrix product per block of queries against the whole
  collection (Euclidean on centred vectors, ``|q|² + |x|² − 2 q·x``; cosine on unit
  vectors), then the candidates of each top k within the float32 error bound recomputed
  in float64 (:func:`simkit.search.distances.nearest`): rankings and distances are those
  of a float64 computation. For collections that fit in memory: 5,000 images of 131,328
  numbers are 2.6 GB.
* ``index="approximate"`` — a faiss index (the ``retrieval`` extra): HNSW
  (graph search, exact distances on the candidates) for up to 4,096 dimensions, an
  inverted file (IVF-Flat, k-means cells, ``nprobe`` cells searched) above. Use
  :func:`approximate_recall` to report the fraction of the exact top-k it finds.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from simkit.errors import SimkitError, missing_extra

__all__ = ["RetrievalError", "ExactIndex", "exact_search", "ApproximateIndex", "search",
           "approximate_recall"]


class RetrievalError(SimkitError, ValueError):
    """A retrieval request cannot be served (unknown method, query, label, k …)."""


def _check_metric(metric: str) -> None:
    if metric not in ("euclidean", "cosine"):
        raise RetrievalError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")


def _blocks(n_queries: int, n: int, dim: int, budget: int = 256 << 20) -> int:
    return int(max(1, min(n_queries, budget // max(1, 8 * n + 4 * dim))))


class ExactIndex:
    """Exact search by matrix product, prepared once for many queries.

    Keeps the vectors as given and prepared (:func:`simkit.search.distances.prepare`:
    centred for Euclidean, unit length for cosine) with their squared norms; :meth:`query`
    then costs one float32 matrix product per block of queries, plus the float64
    recomputation of the few candidates within the float32 error bound of each top k.
    See :func:`exact_search` for the semantics.
    """

    kind = "exact"

    def __init__(self, X: np.ndarray, metric: str = "euclidean"):
        from simkit.search.distances import prepare

        _check_metric(metric)
        X = np.asarray(X)
        if X.ndim != 2 or len(X) == 0:
            raise RetrievalError(f"need a non-empty N x D array of vectors, got shape "
                                 f"{X.shape}")
        self.metric = metric
        self._prepared = prepare(X, metric)

    def query(self, queries: np.ndarray | None = None, k: int = 4
              ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest rows of each query (``None``: every row, itself excluded)."""
        from simkit.search.distances import nearest, prepare

        P = self._prepared
        self_search = queries is None
        n = len(P.X)
        k = int(k)
        if k < 1 or k > n - (1 if self_search else 0):
            raise RetrievalError(f"k={k} must be between 1 and the number of other images "
                                 f"({n - (1 if self_search else 0)})")
        Q = P if self_search else prepare(np.atleast_2d(queries), self.metric, P.center)
        nq = len(Q.X)
        idx = np.empty((nq, k), dtype=np.int64)
        dist = np.empty((nq, k), dtype=np.float64)
        step = _blocks(nq, n, P.Y.shape[1])
        for s in range(0, nq, step):
            rows = slice(s, min(nq, s + step))
            exclude = np.arange(nq)[rows] if self_search else None
            idx[rows], dist[rows] = nearest(Q.take(rows), P, k, exclude)
        return idx, dist


def exact_search(X: np.ndarray, queries: np.ndarray | None = None, k: int = 4,
                 metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of ``X`` for each query: ``(indices, distances)``, ``Q x k``,
    nearest first (ties: lower index first).

    ``queries=None`` searches every row of ``X`` among the others (the row itself is
    excluded, so an identical copy is its nearest). Euclidean distances are computed on
    centred vectors (which keeps float32 digits); cosine distance is ``1 − cos``. For many
    separate queries build an :class:`ExactIndex` once.
    """
    return ExactIndex(X, metric).query(queries, k)


def _require_faiss():
    try:
        import faiss
    except ImportError as e:  # index="exact" needs nothing extra
        raise missing_extra("the approximate index (faiss)", "retrieval", e) from None
    return faiss


@dataclass
class ApproximateIndex:
    """A faiss index over ``X`` for fast approximate nearest neighbours.

    ``kind="auto"``: HNSW (``M`` = 32 links, ``ef_search`` = 128) up to 4,096 dimensions,
    else IVF-Flat with ``4·√N`` cells (fewer for small collections: at least 39 vectors per
    cell, as faiss's k-means wants; below 78 vectors one cell, the mean, and no k-means) of
    which ``nprobe`` (default an eighth, at least 8) are searched. Cosine uses unit vectors
    and L2, which ranks identically.
    """

    X: np.ndarray
    metric: str = "euclidean"
    kind: str = "auto"
    ef_search: int = 128
    nprobe: int | None = None
    seed: int = 0
    build_seconds: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        from simkit.search.distances import prepare

        faiss = _require_faiss()
        _check_metric(self.metric)
        X = np.asarray(self.X)
        n, d = X.shape
        self._center = (X.mean(axis=0, dtype=np.float64).astype(np.float32)
                        if self.metric == "euclidean" else None)
        Xp = np.ascontiguousarray(prepare(X, self.metric, self._center).Y)
        kind = self.kind if self.kind != "auto" else ("hnsw" if d <= 4096 else "ivf")
        if kind not in ("hnsw", "ivf"):
            raise RetrievalError(f"unknown index kind {self.kind!r}; use auto, hnsw or ivf")
        t = time.perf_counter()
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(d, 32)
            index.hnsw.efConstruction = 80
            index.add(Xp)
            index.hnsw.efSearch = max(int(self.ef_search), 16)
        else:
            # k-means wants at least min_points_per_centroid (39) points per cell: as many
            # cells as that allows, at most 4·√N
            least = faiss.ClusteringParameters().min_points_per_centroid
            nlist = max(1, min(n // least, int(4 * np.sqrt(n))))
            quantizer = faiss.IndexFlatL2(d)
            if nlist == 1:  # one cell: its centroid is the mean, no k-means to train
                quantizer.add(Xp.mean(axis=0, dtype=np.float64).astype(np.float32)[None])
            index = faiss.IndexIVFFlat(quantizer, d, nlist)
            index.cp.seed = self.seed
            if not index.is_trained:
                index.train(Xp)
            index.add(Xp)
            index.nprobe = int(self.nprobe or max(8, nlist // 8))
        self.build_seconds = time.perf_counter() - t
        self.kind, self._index, self.X = kind, index, X

    def query(self, queries: np.ndarray | None = None, k: int = 4
              ) -> tuple[np.ndarray, np.ndarray]:
        """As :func:`exact_search` (``queries=None``: every row, itself excluded)."""
        from simkit.search.distances import prepare

        self_search = queries is None
        Q = self.X if self_search else np.atleast_2d(queries)
        Qp = np.ascontiguousarray(prepare(Q, self.metric, self._center).Y)
        kk = int(k) + (1 if self_search else 0)
        d2, idx = self._index.search(Qp, kk)
        if self_search:  # drop the query itself (or, if missed, the last candidate)
            rows = np.arange(len(Qp))[:, None]
            is_self = idx == rows
            drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), kk - 1)
            keep = np.ones_like(idx, dtype=bool)
            keep[np.arange(len(idx)), drop] = False
            idx = idx[keep].reshape(len(idx), int(k))
            d2 = d2[keep].reshape(len(idx), int(k))
        d2 = np.maximum(d2.astype(np.float64), 0.0)
        dist = d2 / 2.0 if self.metric == "cosine" else np.sqrt(d2)
        return idx.astype(np.int64), dist


def search(X: np.ndarray, queries: np.ndarray | None = None, k: int = 4,
           metric: str = "euclidean", *,
           index: "str | ExactIndex | ApproximateIndex" = "exact"
           ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest neighbours by ``index="exact"`` (:func:`exact_search`), ``"approximate"``
    (a new :class:`ApproximateIndex`) or a built index (reused; ``X`` is then ignored)."""
    if isinstance(index, (ExactIndex, ApproximateIndex)):
        return index.query(queries, k)
    if index == "exact":
        return exact_search(X, queries, k, metric)
    if index == "approximate":
        return ApproximateIndex(X, metric).query(queries, k)
    raise RetrievalError(f"unknown index {index!r}; use 'exact' or 'approximate'")


def approximate_recall(X: np.ndarray, k: int = 10, metric: str = "euclidean", *,
                       index: ApproximateIndex | None = None, n_queries: int = 200,
                       seed: int = 0) -> float:
    """Recall@k of the approximate index against exact search: the mean fraction of each
    query's exact k nearest (itself excluded) that the index returns, over a seeded
    sample of ``n_queries`` rows of ``X``."""
    index = index or ApproximateIndex(X, metric)
    rows = np.random.default_rng(seed).choice(len(X), min(n_queries, len(X)), replace=False)
    exact, _ = exact_search(X, X[rows], k + 1, index.metric)
    approx, _ = index.query(X[rows], k + 1)
    hits = []
    for r, e, a in zip(rows, exact, approx):
        e = [i for i in e if i != r][:k]
        a = [i for i in a if i != r][:k]
        hits.append(len(set(e) & set(a)) / k)
    return float(np.mean(hits))
