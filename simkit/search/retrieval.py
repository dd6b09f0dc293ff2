"""Image retrieval: the nearest images of a query, per method, and how good they are.

A *collection* is a folder with ``images.csv`` (``image_id, file`` + any label columns;
``file`` relative to the folder) — every study folder is one. A folder in the WikiArt
layout (``metadata.csv`` with a ``filename`` column, like ``shared/data/ukiyoe-wikiart``)
is read as a collection too, with the other metadata columns as labels.

Methods (:data:`METHODS`): ``style``, ``colour``, ``cnn`` (:mod:`simkit.methods.style`), ``gram``,
``cosine``, ``gram_cosine`` (Wei et al., :mod:`simkit.features.extract`) compared by their own
metric (:data:`METRICS`), and ``sift``, ``orb`` (:mod:`simkit.methods.local`) ranked by
their number of good matches.

Search (:func:`search`):

* ``index="exact"`` — one float32 matrix product per block of queries against the whole
  collection (Euclidean on centred vectors, ``|q|² + |x|² − 2 q·x``; cosine on unit
  vectors), then a partial sort. For collections that fit in memory: 5,000 images of
  131,328 numbers are 2.6 GB.
* ``index="approximate"`` — a faiss index (``pip install 'simkit[retrieval]'``): HNSW
  (graph search, exact distances on the candidates) for up to 4,096 dimensions, an
  inverted file (IVF-Flat, k-means cells, ``nprobe`` cells searched) above. Use
  :func:`approximate_recall` to report the fraction of the exact top-k it finds.

Evaluation (:func:`retrieval_metrics`, :func:`evaluate`): every image with a non-empty
label is a query; the other images sharing its label are relevant (the query itself is
excluded from its ranking). Per k: precision@k, recall@k and F1@k (per query, then
averaged over queries) and mean average precision over the whole ranking; queries with no
relevant image are left out (recall and AP are undefined for them). ``seconds_per_query``
is the time to rank the collection for one query given its features (extraction is cached
and timed apart).
"""
from __future__ import annotations

from simkit.errors import SimkitError

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.study.model import StudyError

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet

__all__ = [
    "METHODS", "METRICS", "DEFAULT_METHODS", "CollectionError", "RetrievalError",
    "Collection", "load_collection", "ExactIndex", "exact_search", "ApproximateIndex", "search",
    "approximate_recall", "rank_distances", "retrieval_metrics", "method_vectors",
    "evaluate", "retrieve", "retrieve_command", "evaluate_retrieval_command",
]

#: Methods in display order, and how each is compared.
METHODS = ("style", "colour", "cnn", "gram", "cosine", "gram_cosine", "sift", "orb")
METRICS = {"style": "euclidean", "colour": "euclidean", "cnn": "cosine",
           "gram": "euclidean", "cosine": "euclidean", "gram_cosine": "euclidean",
           "sift": "matches", "orb": "matches"}
#: What ``evaluate-retrieval`` runs without ``--methods`` (sift/orb match every pair:
#: slow on large collections, so they are asked for by name).
DEFAULT_METHODS = ("style", "colour", "cnn", "gram")
_STYLE = {"style", "colour", "cnn"}
_WEI = {"gram", "cosine", "gram_cosine"}
_LOCAL = {"sift", "orb"}
_QUERY_ID = "__query__"


class CollectionError(StudyError):
    """A collection folder or its images.csv is invalid; the message says how to fix it."""


class RetrievalError(SimkitError, ValueError):
    """A retrieval request cannot be served (unknown method, query, label, k …)."""


# -- collections ---------------------------------------------------------------------------
@dataclass
class Collection:
    """Images of a folder with their labels; ``images`` has ``image_id, file`` first."""

    root: Path
    images: pd.DataFrame
    source: str = "images.csv"

    @property
    def ids(self) -> list[str]:
        return [str(i) for i in self.images["image_id"]]

    @property
    def label_columns(self) -> list[str]:
        return [c for c in self.images.columns if c not in ("image_id", "file")]

    def path(self, image_id: str) -> Path:
        row = self.images.loc[self.images["image_id"] == image_id]
        if row.empty:
            raise RetrievalError(f"{image_id!r} is not an image_id of {self.root / self.source}")
        f = Path(row.iloc[0]["file"])
        return f if f.is_absolute() else self.root / f

    @property
    def paths(self) -> dict[str, Path]:
        """``{image_id: absolute path}`` in file order (the input of feature extraction)."""
        return {i: (Path(f) if Path(f).is_absolute() else self.root / f)
                for i, f in zip(self.ids, self.images["file"])}

    def labels(self, column: str) -> np.ndarray:
        if column not in self.images.columns:
            raise RetrievalError(
                f"{self.root / self.source} has no column {column!r}; label columns: "
                f"{', '.join(self.label_columns) or '(none)'}")
        return self.images[column].astype(str).str.strip().to_numpy()

    def subset(self, n: int | None, seed: int = 0) -> "Collection":
        """A seeded random sample of ``n`` images (all when ``n`` is None or larger)."""
        if n is None or n >= len(self.images):
            return self
        rows = np.sort(np.random.default_rng(seed).choice(len(self.images), n, replace=False))
        return Collection(self.root, self.images.iloc[rows].reset_index(drop=True),
                          self.source)


def load_collection(path: str | os.PathLike, *, check_files: bool = True) -> Collection:
    """Read and validate a collection folder (see the module docstring).

    Raises :class:`CollectionError` naming the file, line and value of the first problem:
    a missing images.csv or column, an empty or repeated image_id, an image file that is
    not there.
    """
    from simkit.study.model import _check_unique, _where

    root = Path(path)
    if not root.is_dir():
        raise CollectionError(f"{root}: not a folder; a collection is a folder with "
                              f"images.csv (image_id,file + label columns)")
    csv_path = root / "images.csv"
    if csv_path.exists():
        source = "images.csv"
        df = _read_table(csv_path, ("image_id", "file"))
    elif (root / "metadata.csv").exists():
        source = "metadata.csv"  # the WikiArt layout
        df = _read_table(root / "metadata.csv", ("filename",))
        stems = [Path(f).stem for f in df["filename"]]
        ids = stems if len(set(stems)) == len(stems) else list(df["filename"])
        df.insert(0, "image_id", ids)
        df.insert(1, "file", df.pop("filename"))
    else:
        raise CollectionError(f"{csv_path}: file not found; a collection folder needs "
                              f"images.csv with columns image_id,file (+ label columns)")
    try:
        _check_unique(df, "image_id", "image")
    except StudyError as e:
        raise CollectionError(str(e)) from None
    if check_files:
        for i, f in enumerate(df["file"]):
            if f == "":
                raise CollectionError(f"{_where(df, i)}: empty file; give the image's path "
                                      f"(relative to {root})")
            p = Path(f) if Path(f).is_absolute() else root / f
            if not p.is_file():
                raise CollectionError(f"{_where(df, i)}: image file {f!r} not found (looked "
                                      f"for {p}); fix the path (relative to the folder)")
    if df.empty:
        raise CollectionError(f"{root / source}: no images listed; add one row per image")
    return Collection(root, df, source)


def _read_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """A collection's CSV, read and checked like a study's (line numbers kept)."""
    from simkit.study.model import StudyError, read_table

    try:
        return read_table(path, list(required))
    except StudyError as e:
        raise CollectionError(str(e)) from None


# -- search --------------------------------------------------------------------------------
def _check_metric(metric: str) -> None:
    if metric not in ("euclidean", "cosine"):
        raise RetrievalError(f"unknown metric {metric!r}; use 'euclidean' or 'cosine'")


def _prepare(X: np.ndarray, metric: str, center: np.ndarray | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(X.astype(np.float64), axis=1)
        return (X / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)
    return X - center if center is not None else X


def _distance_block(Qp: np.ndarray, Xp: np.ndarray, sqX: np.ndarray, metric: str
                    ) -> np.ndarray:
    g = Qp @ Xp.T  # the matrix product that does all the work (BLAS, float32)
    sqQ = np.einsum("ij,ij->i", Qp, Qp, dtype=np.float64)
    d2 = sqQ[:, None] + sqX[None, :] - 2.0 * g
    np.maximum(d2, 0.0, out=d2)
    if metric == "cosine":
        d = d2 / 2.0  # |â − b̂|² / 2 = 1 − cos for unit vectors
        d[sqQ == 0, :] = 1.0  # a zero vector is at distance 1 from everything
        d[:, sqX == 0] = 1.0
        return d
    return np.sqrt(d2)


def _blocks(n_queries: int, n: int, dim: int, budget: int = 256 << 20) -> int:
    return int(max(1, min(n_queries, budget // max(1, 8 * n + 4 * dim))))


class ExactIndex:
    """Exact search by matrix product, prepared once for many queries.

    Keeps the prepared vectors (centred for Euclidean, unit length for cosine: one copy of
    ``X``) and their squared norms; :meth:`query` then costs one matrix product per block
    of queries. See :func:`exact_search` for the semantics.
    """

    kind = "exact"

    def __init__(self, X: np.ndarray, metric: str = "euclidean"):
        _check_metric(metric)
        X = np.asarray(X)
        if X.ndim != 2 or len(X) == 0:
            raise RetrievalError(f"need a non-empty N x D array of vectors, got shape "
                                 f"{X.shape}")
        self.metric = metric
        self._center = (X.mean(axis=0, dtype=np.float64).astype(np.float32)
                        if metric == "euclidean" else None)
        self._Xp = _prepare(X, metric, self._center)
        self._sq = np.einsum("ij,ij->i", self._Xp, self._Xp, dtype=np.float64)

    def query(self, queries: np.ndarray | None = None, k: int = 4
              ) -> tuple[np.ndarray, np.ndarray]:
        self_search = queries is None
        Xp = self._Xp
        n = len(Xp)
        k = int(k)
        if k < 1 or k > n - (1 if self_search else 0):
            raise RetrievalError(f"k={k} must be between 1 and the number of other images "
                                 f"({n - (1 if self_search else 0)})")
        Qp = Xp if self_search else _prepare(np.atleast_2d(queries), self.metric,
                                             self._center)
        nq = len(Qp)
        idx = np.empty((nq, k), dtype=np.int64)
        dist = np.empty((nq, k), dtype=np.float64)
        step = _blocks(nq, n, Xp.shape[1])
        for s in range(0, nq, step):
            d = _distance_block(Qp[s:s + step], Xp, self._sq, self.metric)
            if self_search:
                rows = np.arange(s, min(nq, s + step))
                d[rows - s, rows] = np.inf
            part = (np.argpartition(d, k - 1, axis=1)[:, :k] if k < n
                    else np.tile(np.arange(n), (len(d), 1)))
            pd_ = np.take_along_axis(d, part, axis=1)
            order = np.lexsort((part, pd_), axis=1)  # by distance, then by index
            idx[s:s + step] = np.take_along_axis(part, order, axis=1)
            dist[s:s + step] = np.take_along_axis(pd_, order, axis=1)
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
    except ImportError:
        from simkit.methods.local import MissingDependencyError
        raise MissingDependencyError(
            "the approximate index needs faiss: pip install 'simkit[retrieval]' (or pip "
            "install faiss-cpu); index='exact' needs nothing extra") from None
    return faiss


@dataclass
class ApproximateIndex:
    """A faiss index over ``X`` for fast approximate nearest neighbours.

    ``kind="auto"``: HNSW (``M`` = 32 links, ``ef_search`` = 128) up to 4,096 dimensions,
    else IVF-Flat with ``4·√N`` cells of which ``nprobe`` (default an eighth, at least 8)
    are searched. Cosine uses unit vectors and L2, which ranks identically.
    """

    X: np.ndarray
    metric: str = "euclidean"
    kind: str = "auto"
    ef_search: int = 128
    nprobe: int | None = None
    seed: int = 0
    build_seconds: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        faiss = _require_faiss()
        _check_metric(self.metric)
        X = np.asarray(self.X)
        n, d = X.shape
        self._center = (X.mean(axis=0, dtype=np.float64).astype(np.float32)
                        if self.metric == "euclidean" else None)
        Xp = np.ascontiguousarray(_prepare(X, self.metric, self._center))
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
            nlist = max(1, min(n // 39 or 1, int(4 * np.sqrt(n))))  # faiss wants 39/cell
            quantizer = faiss.IndexFlatL2(d)
            index = faiss.IndexIVFFlat(quantizer, d, nlist)
            index.cp.seed = self.seed
            index.train(Xp)
            index.add(Xp)
            index.nprobe = int(self.nprobe or max(8, nlist // 8))
        self.build_seconds = time.perf_counter() - t
        self.kind, self._index, self.X = kind, index, X

    def query(self, queries: np.ndarray | None = None, k: int = 4
              ) -> tuple[np.ndarray, np.ndarray]:
        """As :func:`exact_search` (``queries=None``: every row, itself excluded)."""
        self_search = queries is None
        Q = self.X if self_search else np.atleast_2d(queries)
        Qp = np.ascontiguousarray(_prepare(Q, self.metric, self._center))
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


# -- evaluation ----------------------------------------------------------------------------
def rank_distances(D: np.ndarray, query_rows: Sequence[int] | None = None) -> np.ndarray:
    """Rankings from a distance matrix ``D`` (Q x N, row q for query ``query_rows[q]``,
    default q): column indices nearest first, the query itself removed (``Q x (N − 1)``);
    ties keep index order."""
    D = np.asarray(D, dtype=np.float64)
    rows = np.arange(len(D)) if query_rows is None else np.asarray(query_rows)
    order = np.argsort(D, axis=1, kind="stable")
    keep = order != rows[:, None]
    return order[keep].reshape(len(D), D.shape[1] - 1)


def retrieval_metrics(rankings: np.ndarray, query_rows: Sequence[int], labels: Sequence,
                      ks: Iterable[int] = (5, 10)) -> pd.DataFrame:
    """Precision@k, recall@k, F1@k and mean average precision of rankings.

    ``rankings``: ``Q x M`` indices into ``labels``, nearest first, each query's own
    index already removed (as :func:`rank_distances` gives). Images sharing the query's
    label are relevant; queries with an empty label or no relevant image are skipped.
    AP uses the whole ranking: ``Σ_k P@k · rel_k / #relevant``, equal to scikit-learn's
    ``average_precision_score`` when there are no tied distances. Returns one row per k:
    ``k, precision, recall, f1, map, queries``.
    """
    labels = np.asarray(labels).astype(str)
    rankings = np.asarray(rankings)
    qrows = np.asarray(query_rows)
    ql = labels[qrows]
    rel = labels[rankings] == ql[:, None]
    n_rel = (labels[None, :] == ql[:, None]).sum(axis=1) - 1  # minus the query
    use = (n_rel > 0) & (ql != "")
    rel, n_rel = rel[use], n_rel[use]
    if not use.any():
        raise RetrievalError("no query has another image with the same label: nothing "
                             "is relevant, so precision and recall are undefined")
    hits = np.cumsum(rel, axis=1)
    ranks = np.arange(1, rel.shape[1] + 1)
    ap = (hits / ranks * rel).sum(axis=1) / n_rel
    out = []
    for k in ks:
        k = int(k)
        if not 1 <= k <= rel.shape[1]:
            raise RetrievalError(f"k={k} must be between 1 and {rel.shape[1]} (the number "
                                 f"of other images)")
        tp = hits[:, k - 1]
        p, r = tp / k, tp / n_rel
        f1 = np.divide(2 * p * r, p + r, out=np.zeros_like(p), where=(p + r) > 0)
        out.append({"k": k, "precision": p.mean(), "recall": r.mean(), "f1": f1.mean(),
                    "map": ap.mean(), "queries": int(use.sum())})
    return pd.DataFrame(out)


# -- features per method ---------------------------------------------------------------------
def _check_methods(methods: Iterable[str]) -> list[str]:
    methods = [m.strip().lower() for m in methods if m.strip()]
    if "surf" in methods:
        raise RetrievalError("SURF is patented and not in OpenCV's default (pip) build; "
                             "use sift or orb")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise RetrievalError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose "
                             f"from {', '.join(METHODS)}")
    return list(dict.fromkeys(methods))


def method_vectors(paths: "dict[str, str | os.PathLike]", methods: Iterable[str], *,
                   weights: str | os.PathLike = "imagenet", size: int = 224,
                   policy: str = "resize", precision: str = "fp32",
                   cache_dir: str | os.PathLike | None = None, progress: bool = True,
                   style_kwargs: dict | None = None) -> "FeatureSet":
    """One FeatureSet with the vectors of every vector method (not sift/orb) for
    ``{image_id: path}``, each row ``image_ids[i]``; the network runs once for
    style/colour/cnn, and ``gram`` etc. reuse the cached conv5_1 Gram matrices."""
    from simkit.features.extract import FeatureSet, extract_features
    from simkit.methods.style import style_features

    methods = [m for m in _check_methods(methods) if m not in _LOCAL]
    ids = list(paths)
    vectors, notes, config = {}, [], {}
    common = dict(weights=weights, size=size, policy=policy, precision=precision,
                  cache_dir=cache_dir, progress=progress)
    if _STYLE & set(methods):
        fs = style_features(paths, methods=[m for m in methods if m in _STYLE],
                            **common, **(style_kwargs or {}))
        vectors.update(fs.vectors)
        notes.append(fs.weights_note)
        config["style"] = fs.config
    if _WEI & set(methods):
        fs = extract_features(paths, representations=[m for m in methods if m in _WEI],
                              **common)
        assert fs.image_ids == ids
        vectors.update(fs.vectors)
        notes.append(fs.weights_note)
        config["wei"] = fs.config
    note = next((n for n in notes if n), "")
    return FeatureSet(ids, {m: vectors[m] for m in methods}, config, note)


def _local_descriptors(paths: Sequence, method: str, progress: bool) -> list[np.ndarray]:
    from tqdm.auto import tqdm

    from simkit.methods.local import descriptors
    return [descriptors(p, method) for p in tqdm(list(paths), desc=f"{method} keypoints",
                                                   unit="img", disable=not progress)]


def evaluate(collection: Collection, label: str, methods: Iterable[str] = DEFAULT_METHODS,
             ks: Iterable[int] = (5, 10), *, weights: str | os.PathLike = "imagenet",
             size: int = 224, policy: str = "resize", precision: str = "fp32",
             cache_dir: str | os.PathLike | None = None, progress: bool = True,
             style_kwargs: dict | None = None) -> pd.DataFrame:
    """Evaluate each method's exact ranking of ``collection`` with ``label`` as ground
    truth: ``method, k, precision, recall, f1, map, seconds_per_query`` (one row per
    method and k). ``df.attrs``: ``queries`` (per method), ``weights_note``,
    ``feature_seconds`` (extraction per method group, cache hits included)."""
    from simkit.methods.local import match_matrix, matches_to_distance

    methods = _check_methods(methods)
    labels = collection.labels(label)
    ks = sorted({int(k) for k in ks})
    n = len(collection.images)
    rows = np.arange(n)
    out, queries, feature_seconds = [], {}, {}
    vec_methods = [m for m in methods if m not in _LOCAL]
    note = ""
    if vec_methods:
        t = time.perf_counter()
        fs = method_vectors(collection.paths, vec_methods, weights=weights, size=size,
                            policy=policy, precision=precision, cache_dir=cache_dir,
                            progress=progress, style_kwargs=style_kwargs)
        feature_seconds["vectors"] = time.perf_counter() - t
        note = fs.weights_note
    for m in methods:
        if m in _LOCAL:
            t = time.perf_counter()
            desc = _local_descriptors(collection.paths.values(), m, progress)
            feature_seconds[m] = time.perf_counter() - t
            t = time.perf_counter()
            D = matches_to_distance(match_matrix(desc, m, progress=progress))
            seconds = time.perf_counter() - t
        else:
            X = fs.vectors[m]
            t = time.perf_counter()
            exact_search(X, None, max(ks), METRICS[m])  # what a top-k query costs
            seconds = time.perf_counter() - t
            D = _all_distances(X, METRICS[m])
        metrics = retrieval_metrics(rank_distances(D, rows), rows, labels, ks)
        queries[m] = int(metrics["queries"].iloc[0])
        metrics.insert(0, "method", m)
        metrics["seconds_per_query"] = seconds / n
        out.append(metrics.drop(columns="queries"))
    df = pd.concat(out, ignore_index=True)
    df.attrs.update(queries=queries, weights_note=note, feature_seconds=feature_seconds)
    return df


def _all_distances(X: np.ndarray, metric: str) -> np.ndarray:
    center = X.mean(axis=0, dtype=np.float64).astype(np.float32) if metric == "euclidean" \
        else None
    Xp = _prepare(X, metric, center)
    sq = np.einsum("ij,ij->i", Xp, Xp, dtype=np.float64)
    return _distance_block(Xp, Xp, sq, metric)


def retrieve(collection: Collection, query: str | os.PathLike, k: int = 4,
             method: str = "style", *, weights: str | os.PathLike = "imagenet",
             size: int = 224, policy: str = "resize", precision: str = "fp32",
             cache_dir: str | os.PathLike | None = None, index: str = "exact",
             progress: bool = True, style_kwargs: dict | None = None) -> pd.DataFrame:
    """The ``k`` nearest images of ``query`` (an image_id of the collection or an image
    file) by ``method``: ``rank, image_id, distance, file`` + the label columns.

    A query from the collection is not returned as its own neighbour. For sift/orb the
    distance is ``1 / (1 + good matches)`` and ``matches`` is added. ``df.attrs``:
    ``weights_note``, ``metric``, ``query_id``, ``query_file``.
    """
    from simkit.methods.local import descriptors, match_matrix, matches_to_distance

    (method,) = _check_methods([method])
    paths = collection.paths
    ids = list(paths)
    if str(query) in paths:
        qid, qpath = str(query), paths[str(query)]
    else:
        qpath = Path(query)
        if not qpath.is_file():
            raise RetrievalError(f"query {str(query)!r} is neither an image_id of "
                                 f"{collection.root / collection.source} nor an image file")
        same = [i for i, p in paths.items() if p.resolve() == qpath.resolve()]
        qid = same[0] if same else None
    n_others = len(ids) - (1 if qid is not None else 0)
    if not 1 <= int(k) <= n_others:
        raise RetrievalError(f"k={k} must be between 1 and {n_others}")
    note = ""
    if method in _LOCAL:
        desc = _local_descriptors(paths.values(), method, progress)
        qdesc = desc[ids.index(qid)] if qid is not None else descriptors(qpath, method)
        counts = match_matrix(desc, method, queries=[qdesc], progress=False)[0]
        d = matches_to_distance(counts)
        if qid is not None:
            d[ids.index(qid)] = np.inf
        order = np.argsort(d, kind="stable")[: int(k)]
        dist = d[order]
    else:
        inputs = dict(paths) if qid is not None else {**paths, _QUERY_ID: qpath}
        fs = method_vectors(inputs, [method], weights=weights, size=size, policy=policy,
                            precision=precision, cache_dir=cache_dir, progress=progress,
                            style_kwargs=style_kwargs)
        note = fs.weights_note
        X = fs.vectors[method][: len(ids)]
        qrow = fs.vectors[method][ids.index(qid) if qid is not None else len(ids)]
        if qid is not None:  # search k+1 and drop the query itself
            idx, dd = search(X, qrow[None], int(k) + 1, METRICS[method], index=index)
            keep = idx[0] != ids.index(qid)
            order, dist = idx[0][keep][: int(k)], dd[0][keep][: int(k)]
        else:
            idx, dd = search(X, qrow[None], int(k), METRICS[method], index=index)
            order, dist = idx[0], dd[0]
    res = collection.images.iloc[order].reset_index(drop=True).copy()
    res.insert(0, "rank", np.arange(1, len(order) + 1))
    res.insert(2, "distance", dist)
    if method in _LOCAL:
        res.insert(3, "matches", np.round(1.0 / dist - 1.0, 1))
    res["file"] = [str(paths[i]) for i in res["image_id"]]
    res.attrs.update(weights_note=note, metric=METRICS[method], query_id=qid,
                     query_file=str(qpath))
    return res


# -- CLI -------------------------------------------------------------------------------------
def _user_errors() -> tuple[type[BaseException], ...]:
    from simkit.features.backbones import WeightsError, WeightsUnavailableError
    from simkit.features.images import ImageError
    from simkit.methods.local import MissingDependencyError
    return (StudyError, RetrievalError, ImageError, WeightsError, WeightsUnavailableError,
            MissingDependencyError)


def _warning(note: str) -> str:
    return note if note.startswith("WARNING") else f"WARNING: {note}"


def _parse_list(value: str | Iterable, cast=str) -> list:
    if isinstance(value, str):
        value = value.split(",")
    return [cast(v.strip() if isinstance(v, str) else v) for v in value
            if str(v).strip()]


def retrieve_command(collection: str | os.PathLike, query: str, k: int = 4,
                     method: str = "style", weights: str = "imagenet", *, size: int = 224,
                     policy: str = "resize", precision: str = "fp32",
                     cache_dir: str | os.PathLike | None = None, index: str = "exact",
                     progress: bool = True) -> int:
    """``simkit retrieve``: print the k nearest images of a query. Exit status 0, or 2
    with ``error: …`` on stderr when the input is invalid."""
    import sys

    try:
        col = load_collection(collection)
        res = retrieve(col, query, int(k), method, weights=weights, size=size,
                       policy=policy, precision=precision, cache_dir=cache_dir,
                       index=index, progress=progress)
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if res.attrs.get("weights_note"):
        print(_warning(res.attrs["weights_note"]), file=sys.stderr)
    q = res.attrs["query_id"] or res.attrs["query_file"]
    print(f"query: {q}   method: {method} ({res.attrs['metric']})   index: {index}")
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        print(res.to_string(index=False))
    return 0


def evaluate_retrieval_command(collection: str | os.PathLike, label: str,
                               methods: str | Iterable[str] = DEFAULT_METHODS,
                               ks: str | Iterable[int] = (5, 10),
                               weights: str = "imagenet",
                               out: str | os.PathLike | None = None, *, size: int = 224,
                               policy: str = "resize", precision: str = "fp32",
                               cache_dir: str | os.PathLike | None = None,
                               sample: int | None = None, seed: int = 0,
                               progress: bool = True) -> int:
    """``simkit evaluate-retrieval``: evaluate methods with ``label`` as ground truth,
    print the table and write ``retrieval.csv`` atomically to ``out`` (a folder, default
    ``COLLECTION/results``, or a ``.csv`` path). Exit status 0, or 2 on invalid input."""
    import sys

    from simkit.fileio import write_csv

    try:
        col = load_collection(collection).subset(sample, seed)
        method_list = _check_methods(_parse_list(methods))
        try:
            k_list = _parse_list(ks, int)
        except ValueError:
            raise RetrievalError(f"-k {ks!r}: give whole numbers separated by commas, "
                                 f"like 5,10") from None
        df = evaluate(col, label, method_list, k_list, weights=weights, size=size,
                      policy=policy, precision=precision, cache_dir=cache_dir,
                      progress=progress)
    except _user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    target = Path(out) if out is not None else col.root / "results"
    if target.suffix.lower() != ".csv":
        target = target / "retrieval.csv"
    write_csv(df, target)
    if df.attrs.get("weights_note"):
        print(_warning(df.attrs["weights_note"]), file=sys.stderr)
    q = df.attrs["queries"]
    print(f"retrieval on {col.root} ({len(col.images)} images), relevant = same "
          f"{label!r}; queries with a relevant image: "
          + ", ".join(f"{m} {n}" for m, n in q.items()))
    with pd.option_context("display.width", 200, "display.float_format", "{:.4g}".format):
        print(df.to_string(index=False))
    print(f"wrote {target}")
    return 0
