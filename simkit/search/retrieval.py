"""Image retrieval: the nearest images of a query, per method, and how good they are.

A *collection* (:mod:`simkit.study.collection`) is a folder with ``images.csv``
(``image_id, file`` + any label columns) — every study folder is one.

Methods (:data:`METHODS`): ``style``, ``colour``, ``cnn`` (:mod:`simkit.methods.style`), ``gram``,
``cosine``, ``gram_cosine`` (Wei et al., :mod:`simkit.features.extract`) compared by their own
metric (:data:`METRICS`), and ``sift``, ``orb`` (:mod:`simkit.methods.local`) ranked by
their number of good matches.

Search (:func:`search`):

* ``index="exact"`` — one float32 matrix product per block of queries against the whole
  collection (Euclidean on centred vectors, ``|q|² + |x|² − 2 q·x``; cosine on unit
  vectors), then a partial sort. For collections that fit in memory: 5,000 images of
  131,328 numbers are 2.6 GB.
* ``index="approximate"`` — a faiss index (``pip install 'simkit-similarity[retrieval]'``): HNSW
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

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.search.evaluate import rank_distances, retrieval_metrics
from simkit.search.index import RetrievalError, all_distances, exact_search, search
from simkit.study.collection import Collection

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet

__all__ = ["METHODS", "METRICS", "DEFAULT_METHODS", "method_vectors", "evaluate", "retrieve"]

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
            D = all_distances(X, METRICS[m])
        metrics = retrieval_metrics(rank_distances(D, rows), rows, labels, ks)
        queries[m] = int(metrics["queries"].iloc[0])
        metrics.insert(0, "method", m)
        metrics["seconds_per_query"] = seconds / n
        out.append(metrics.drop(columns="queries"))
    df = pd.concat(out, ignore_index=True)
    df.attrs.update(queries=queries, weights_note=note, feature_seconds=feature_seconds)
    return df




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


