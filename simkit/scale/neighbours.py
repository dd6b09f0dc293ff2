"""Nearest neighbours and maps of collections too large for memory.

100,000 vectors of 131,328 float32 numbers are 52 GB, so nothing here holds them all:

* :func:`stream_exact_search` — exact k nearest neighbours by blocked matrix products,
  streaming the store a block of rows at a time and merging each block's top k into the
  running top k. Memory: one block plus the queries. Time: one pass over the store per
  call, shared by all the queries of the call (batch them).
* :class:`CollectionIndex` — for interactive queries: PCA fitted on a seeded subsample
  (exact, via the subsample's Gram matrix: :func:`simkit.search.pca.fit_pca`), every vector projected while streaming, and a
  faiss HNSW index (:class:`simkit.search.index.ApproximateIndex`) on the reduced vectors —
  100,000 x 256 float32 is 100 MB, a query takes well under a millisecond.
  :meth:`CollectionIndex.recall` measures recall@k against :func:`stream_exact_search` on the
  full vectors.
* :func:`large_umap` — a 2-D map of the whole collection: UMAP fitted on a subsample of the
  PCA-reduced vectors, then ``transform`` of all of them in blocks; cached like
  :func:`simkit.search.projection.project`.

Distances are Euclidean (the metric of Wei et al.'s representations); ``"cosine"`` works
on unit vectors and refuses an all-zero vector, naming its image (its cosine distance is
undefined: :func:`simkit.search.distances.check_defined`).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from simkit.search.pca import PCAModel, fit_pca

if TYPE_CHECKING:
    from simkit.features.zarr_store import CollectionFeatures

__all__ = ["stream_exact_search", "CollectionIndex", "large_umap"]


def stream_exact_search(features: "CollectionFeatures", rep: str,
                        queries: np.ndarray | None = None, k: int = 10, *,
                        query_positions: Sequence[int] | None = None,
                        metric: str = "euclidean", block_rows: int = 1024,
                        progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest images of each query, streaming over the store.

    ``queries``: ``Q x dim`` vectors, or ``query_positions``: positions in
    ``features.image_ids`` (their vectors are read from the store and each is excluded from
    its own result). Returns ``(positions, distances)``, ``Q x k``, nearest first, ties by
    lower position — the same as :func:`simkit.search.index.exact_search` on the vectors in
    memory. Each block's top k is found exactly (:func:`simkit.search.distances.nearest`:
    float32 product, float64 recomputation of the candidates) and merged into the running
    top k. Euclidean distances are computed around a centre (the mean of the first block:
    any centre gives the same distances, a nearby one keeps float32 digits). Cosine: an
    all-zero vector (query or stored) raises
    :class:`~simkit.search.distances.UndefinedDistanceError` naming its image.
    """
    from tqdm.auto import tqdm

    from simkit.search.distances import (check_defined, check_metric, merge_topk, nearest,
                                         prepare)

    check_metric(metric)
    n = len(features)
    exclude = None
    if queries is None:
        if query_positions is None:
            raise ValueError("give queries (vectors) or query_positions")
        exclude = np.asarray(query_positions, dtype=np.int64)
        queries = features.store.read(rep, features.rows[exclude])
    Q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    ids = features.image_ids
    check_defined(Q, metric, None if exclude is None else [ids[p] for p in exclude],
                  "query row" if exclude is None else "image")
    k = int(k)
    limit = n - (1 if exclude is not None else 0)
    if not 1 <= k <= limit:
        raise ValueError(f"k={k} must be between 1 and {limit}")
    prepared_q = None
    best_d = np.full((len(Q), 0), np.inf)
    best_i = np.zeros((len(Q), 0), dtype=np.int64)
    bar = tqdm(total=n, desc=f"exact search ({rep})", unit="img", disable=not progress,
               leave=False)
    for pos, X in features.blocks(rep, block_rows):
        check_defined(X, metric, [ids[p] for p in pos] if metric == "cosine" else None,
                      "image")
        P = prepare(X, metric, None if prepared_q is None else prepared_q.center, pos)
        if prepared_q is None:
            prepared_q = prepare(Q, metric, P.center)
        i, d = nearest(prepared_q, P, k, exclude)
        best_d, best_i = merge_topk(best_d, best_i, d, i, k)
        bar.update(len(pos))
    bar.close()
    return best_i, best_d


def _sample_positions(n: int, size: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, min(size, n), replace=False))


@dataclass
class CollectionIndex:
    """PCA-reduced vectors of a collection and a faiss index over them.

    Build with :meth:`build`; query with a vector or an image id; :meth:`save` /
    :meth:`load` keep it (``.npz``: ids, PCA, reduced vectors; the faiss graph is rebuilt
    on load, seconds).
    """

    features: "CollectionFeatures | None"
    rep: str
    image_ids: list[str]
    pca: PCAModel
    reduced: np.ndarray
    kind: str = "hnsw"
    seed: int = 0
    timings: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from simkit.search.index import ApproximateIndex
        t = time.perf_counter()
        self._ann = ApproximateIndex(self.reduced, "euclidean", kind=self.kind, seed=self.seed)
        self.timings["faiss_build_seconds"] = time.perf_counter() - t
        self._pos = {i: p for p, i in enumerate(self.image_ids)}

    @property
    def n_components(self) -> int:
        return self.reduced.shape[1]

    @classmethod
    def build(cls, features: "CollectionFeatures", rep: str, *, n_components: int = 256,
              fit_sample: int = 4096, seed: int = 0, block_rows: int = 1024,
              kind: str = "hnsw", progress: bool = False) -> "CollectionIndex":
        """Fit PCA on ``fit_sample`` rows, project every row (streaming), index them."""
        from tqdm.auto import tqdm

        t = time.perf_counter()
        pos = _sample_positions(len(features), fit_sample, seed)
        pca = fit_pca(features.store.read(rep, features.rows[pos]), n_components)
        t_fit = time.perf_counter() - t
        t = time.perf_counter()
        reduced = np.empty((len(features), pca.components.shape[0]), dtype=np.float32)
        bar = tqdm(total=len(features), desc=f"PCA ({rep})", unit="img", leave=False,
                   disable=not progress)
        for p, X in features.blocks(rep, block_rows):
            reduced[p] = pca.transform(X)
            bar.update(len(p))
        bar.close()
        timings = {"pca_fit_seconds": t_fit, "project_seconds": time.perf_counter() - t}
        return cls(features, rep, list(features.image_ids), pca, reduced, kind, seed,
                   timings)

    def query(self, query: "str | np.ndarray", k: int = 10) -> tuple[list[str], np.ndarray]:
        """The ``k`` approximate nearest images of an image id (itself excluded) or of a
        full-length vector: ``(image ids, distances in PCA space)``."""
        if isinstance(query, str):
            if query not in self._pos:
                raise KeyError(f"{query!r} is not an image of this index")
            p = self._pos[query]
            idx, d = self._ann.query(self.reduced[p:p + 1], k + 1)
            keep = idx[0] != p
            idx, d = idx[0][keep][:k], d[0][keep][:k]
        else:
            idx, d = self._ann.query(self.pca.transform(np.atleast_2d(query)), k)
            idx, d = idx[0], d[0]
        return [self.image_ids[i] for i in idx], d

    def query_positions(self, positions: Sequence[int], k: int = 10) -> np.ndarray:
        """Approximate top-k positions of the rows at ``positions`` (themselves excluded)."""
        positions = np.asarray(positions, dtype=np.int64)
        idx, _ = self._ann.query(self.reduced[positions], k + 1)
        out = np.empty((len(positions), k), dtype=np.int64)
        for j, (p, row) in enumerate(zip(positions, idx)):
            out[j] = [i for i in row if i != p][:k] + [-1] * max(0, k - len(row) + 1)
        return out

    def recall(self, k: int = 10, n_queries: int = 100, seed: int = 1,
               block_rows: int = 1024) -> float:
        """Recall@k against exact search on the full vectors (a streaming pass over the
        store for ``n_queries`` seeded queries)."""
        if self.features is None:
            raise ValueError("recall needs the features (build, or load with features=)")
        pos = _sample_positions(len(self.image_ids), n_queries, seed)
        exact, _ = stream_exact_search(self.features, self.rep, k=k, query_positions=pos,
                                       block_rows=block_rows)
        approx = self.query_positions(pos, k)
        return float(np.mean([len(set(e) & set(a)) / k for e, a in zip(exact, approx)]))

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the index (default: beside the store, ``ann-<rep>-<ids hash>.npz``)."""
        import hashlib

        from simkit.fileio import atomic_write
        if path is None:
            h = hashlib.sha256("\n".join(self.image_ids).encode()).hexdigest()[:12]
            path = self.features.store.path / "ann" / f"ann-{self.rep}-{h}.npz"
        path = Path(path)
        with atomic_write(path, "wb") as fh:
            np.savez(fh, image_ids=np.array(self.image_ids, dtype=str),
                     mean=self.pca.mean, components=self.pca.components,
                     explained_variance=self.pca.explained_variance, reduced=self.reduced,
                     meta=np.array(json.dumps({"rep": self.rep, "kind": self.kind,
                                               "seed": self.seed})))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, features: "CollectionFeatures | None" = None
             ) -> "CollectionIndex":
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            pca = PCAModel(z["mean"], z["components"], z["explained_variance"])
            return cls(features, meta["rep"], [str(s) for s in z["image_ids"]], pca,
                       z["reduced"], meta["kind"], meta["seed"])


def large_umap(reduced: np.ndarray, *, n_dims: int = 50, fit_sample: int = 10_000,
               seed: int = 0, block_rows: int = 20_000,
               cache_dir: str | os.PathLike | None = None, progress: bool = True,
               **umap_kwargs) -> np.ndarray:
    """2-D UMAP coordinates of every row of ``reduced`` (PCA scores, e.g.
    :attr:`CollectionIndex.reduced`): fitted on ``fit_sample`` seeded rows (its first
    ``n_dims`` components), the rest placed by ``transform``. With ``fit_sample >= N`` it
    is a plain fit. Cached under ``$SIMKIT_CACHE/projections`` (same key scheme as
    :func:`simkit.search.projection.project`)."""
    from tqdm.auto import tqdm

    from simkit.fileio import atomic_write
    from simkit.search.projection import (PROJECTION_VERSION, cached_projection,
                                          import_umap, projection_cache_dir, projection_key)

    z = np.ascontiguousarray(np.asarray(reduced, dtype=np.float32)[:, :n_dims])
    n = len(z)
    if n < 4:
        raise ValueError("a UMAP map needs at least 4 images")
    kwargs = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", **umap_kwargs}
    kwargs["n_neighbors"] = max(2, min(int(kwargs["n_neighbors"]), min(n, fit_sample) - 1))
    params = {"large": True, "fit_sample": fit_sample, "seed": seed, "umap": kwargs,
              "version": PROJECTION_VERSION}
    folder = Path(cache_dir) if cache_dir is not None else projection_cache_dir()
    path = folder / f"umap-large-{projection_key(z, params)}.npy"
    xy = cached_projection(path, n)
    if xy is not None:
        return xy
    umap = import_umap()
    fit = _sample_positions(n, fit_sample, seed)
    reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **kwargs)
    xy = np.empty((n, 2), dtype=np.float32)
    xy[fit] = reducer.fit_transform(z[fit])
    rest = np.setdiff1d(np.arange(n), fit)
    bar = tqdm(total=len(rest), desc="UMAP transform", unit="img", leave=False,
               disable=not progress or not len(rest))
    for s in range(0, len(rest), block_rows):
        r = rest[s:s + block_rows]
        xy[r] = reducer.transform(z[r])
        bar.update(len(r))
    bar.close()
    with atomic_write(path, "wb") as fh:
        np.save(fh, xy)
    return xy
