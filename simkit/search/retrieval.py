"""Image retrieval: the nearest images of a query, per method, and how good they are.

A *collection* (:mod:`simkit.study.collection`) is a folder with ``images.csv``
(``image_id, file`` + any label columns) — every study folder is one.

Methods: any method of the registry (:mod:`simkit.methods.registry`). Vector methods
(``style``, ``colour``, ``cnn``, ``gram``, ``cosine``, ``gram_cosine``) are compared by their
own metric; scoring methods rank by their pair distance: ``sift``, ``orb``
(:mod:`simkit.methods.local`) by ``1 / (1 + good matches)``, ``lpips_*``
(:mod:`simkit.methods.perceptual`) by the perceptual distance (every pair of the collection:
for small collections).

Search (:func:`search`):

* ``index="exact"`` — one float32 matrix product per block of queries against the whole
  collection (Euclidean on centred vectors, ``|q|² + |x|² − 2 q·x``; cosine on unit
  vectors), then a partial sort. For collections that fit in memory: 5,000 images of
  131,328 numbers are 2.6 GB.
* ``index="approximate"`` — a faiss index (``pip install 'simkit-similarity[retrieval]'``): HNSW
  (graph search, exact distances on the candidates) for up to 4,096 dimensions, an
  inverted file (IVF-Flat, k-means cells, ``nprobe`` cells searched) above. Use
  :func:`approximate_recall` to report the fraction of the exact top-k it finds.

A method compared by cosine refuses an image whose vector is all zero, naming it: its
distances are undefined (:class:`~simkit.search.distances.UndefinedDistanceError`).

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
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.methods.registry import (DEFAULT_RETRIEVAL_METHODS, Method, UnknownMethodError,
                                     get_method, resolve_methods)
from simkit.search.evaluate import rank_distances, retrieval_metrics
from simkit.search.distances import all_pairs_distances, check_defined
from simkit.search.index import RetrievalError, exact_search, search
from simkit.study.collection import Collection

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet

__all__ = ["DEFAULT_METHODS", "check_methods", "method_vectors", "score_distances",
           "evaluate", "retrieve"]

#: What ``evaluate-retrieval`` runs without ``--methods`` (from the registry).
DEFAULT_METHODS = DEFAULT_RETRIEVAL_METHODS
_QUERY_ID = "__query__"


def check_methods(methods: Iterable[str]) -> list[str]:
    """The registered method names asked for, lower-case, without duplicates.

    Raises :class:`RetrievalError` (one line listing the valid names) for an unknown name.
    """
    try:
        return [m.name for m in resolve_methods(list(methods))]
    except UnknownMethodError as e:
        raise RetrievalError(str(e)) from None




def method_vectors(paths: "dict[str, str | os.PathLike]", methods: Iterable[str], *,
                   weights: str | os.PathLike = "imagenet", size: int = 224,
                   policy: str = "resize", precision: str = "fp32",
                   cache_dir: str | os.PathLike | None = None, progress: bool = True,
                   style_kwargs: dict | None = None, device: str | None = "auto"
                   ) -> "FeatureSet":
    """One FeatureSet with the vectors of every vector method asked for (scoring methods
    are left out) for ``{image_id: path}``, each row ``image_ids[i]``; the network runs
    once for style/colour/cnn, and ``gram`` etc. reuse the cached conv5_1 Gram matrices."""
    from simkit.features.extract import FeatureSet, extract_features
    from simkit.methods.style import style_features

    chosen = [get_method(m) for m in check_methods(methods)]
    family = {f: [m.name for m in chosen if m.kind == "vectors" and m.family == f]
              for f in ("style", "deep")}
    ids = list(paths)
    vectors, notes, config = {}, [], {}
    common = dict(weights=weights, size=size, policy=policy, precision=precision,
                  cache_dir=cache_dir, progress=progress, device=device)
    if family["style"]:
        fs = style_features(paths, methods=family["style"], **common, **(style_kwargs or {}))
        vectors.update(fs.vectors)
        notes.append(fs.weights_note)
        config["style"] = fs.config
    if family["deep"]:
        fs = extract_features(paths, representations=family["deep"], **common)
        assert fs.image_ids == ids
        vectors.update(fs.vectors)
        notes.append(fs.weights_note)
        config["wei"] = fs.config
    models = [m for m in chosen if m.family == "model"]
    if models:  # any model by name: one forward pass per model
        from simkit.methods.model_methods import model_vectors

        fs = model_vectors(paths, models, **common)
        vectors.update(fs.vectors)
        notes.append(fs.weights_note)
        config["models"] = fs.config
    own = [m for m in chosen if m.family == "vectors"]
    if own:  # your own vectors: the rows of the images asked for, from each table
        from simkit.methods.own_vectors import vectors_for

        vectors.update({m.name: vectors_for(m, ids) for m in own})
        config["vectors"] = {m.name: m.source for m in own}
    note = next((n for n in notes if n), "")
    return FeatureSet(ids, {m.name: vectors[m.name] for m in chosen if m.kind == "vectors"},
                      config, note)


# -- scoring methods: a distance for every pair ----------------------------------------------
Scorer = Callable[["Sequence[Path] | None"], np.ndarray]


def _local_scorer(method: Method, paths: Sequence[Path], progress: bool
                  ) -> tuple[Scorer, str]:
    from tqdm.auto import tqdm

    from simkit.methods.local import descriptors, match_matrix, matches_to_distance

    desc = [descriptors(p, method.name) for p in tqdm(
        list(paths), desc=f"{method.name} keypoints", unit="img", disable=not progress)]

    def distances(queries: "Sequence[Path] | None") -> np.ndarray:
        qdesc = None if queries is None else [descriptors(q, method.name) for q in queries]
        return matches_to_distance(match_matrix(desc, method.name, queries=qdesc,
                                                progress=progress and queries is None))
    return distances, ""


def _perceptual_scorer(method: Method, paths: Sequence[Path], weights: str, progress: bool,
                       shared: dict, device: str | None = "auto") -> tuple[Scorer, str]:
    from simkit.methods.perceptual.metrics import BASES, PerceptualMetric, pair_statistics
    from simkit.methods.perceptual.networks import load_network
    from simkit.methods.perceptual.twoafc import Triplets

    metric = PerceptualMetric.baseline(method.params["net"], method.params["comparison"],
                                       weights=str(weights))
    key = (metric.net, metric.weights, metric.size)
    if key not in shared:  # one network, and its statistics, for all its comparisons
        shared[key] = load_network(metric.net, metric.weights, device=device)
    net, n, empty = shared[key], len(paths), np.zeros(0, np.int64)

    def statistics(queries: "Sequence[Path] | None") -> tuple[np.ndarray, dict]:
        pool = list(paths) + list(queries or [])
        pixels = Triplets([str(i) for i in range(len(pool))], empty, empty, empty, empty,
                          empty, paths=pool).load_pixels(metric.size)
        if queries is None:
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        else:
            pairs = [(n + q, j) for q in range(len(queries)) for j in range(n)]
        pairs = np.array(pairs, np.int64).reshape(-1, 2)
        return pairs, pair_statistics(net, pixels, pairs, BASES, progress=progress,
                                      desc=f"{metric.net} features")

    def distances(queries: "Sequence[Path] | None") -> np.ndarray:
        skey = (*key, tuple(map(str, queries or ())), queries is None)
        if skey not in shared:
            shared[skey] = statistics(queries)
        pairs, stats = shared[skey]
        d = metric.distances_from_stats(stats)
        if queries is not None:
            return d.reshape(len(queries), n)
        D = np.zeros((n, n))
        D[pairs[:, 0], pairs[:, 1]] = D[pairs[:, 1], pairs[:, 0]] = d
        return D
    return distances, net.weights_note


def score_distances(method: str, paths: Sequence[str | os.PathLike], *,
                    weights: str | os.PathLike = "imagenet", progress: bool = True,
                    shared: dict | None = None, device: str | None = "auto"
                    ) -> tuple[Scorer, str]:
    """Prepare a scoring method (``sift``, ``orb``, ``lpips_*``) on the images ``paths``.

    Returns ``(distances, note)``: ``distances(None)`` is the ``N x N`` matrix among the
    images, ``distances(query_paths)`` the ``Q x N`` matrix from each query; ``note`` warns
    of random weights (else ""). Keypoints are found once, here. ``shared``: one dict
    passed for several methods on the same images lets the perceptual methods of one
    network share its features. ``device``: where the perceptual networks run.
    """
    m = get_method(method)
    paths = [Path(p) for p in paths]
    if m.family == "local":
        return _local_scorer(m, paths, progress)
    if m.family == "perceptual":
        return _perceptual_scorer(m, paths, str(weights), progress,
                                  {} if shared is None else shared, device)
    raise RetrievalError(f"{method!r} makes vectors; use method_vectors")


def evaluate(collection: Collection, label: str, methods: Iterable[str] = DEFAULT_METHODS,
             ks: Iterable[int] = (5, 10), *, weights: str | os.PathLike = "imagenet",
             size: int = 224, policy: str = "resize", precision: str = "fp32",
             cache_dir: str | os.PathLike | None = None, progress: bool = True,
             style_kwargs: dict | None = None, device: str | None = "auto") -> pd.DataFrame:
    """Evaluate each method's exact ranking of ``collection`` with ``label`` as ground
    truth: ``method, k, precision, recall, f1, map, seconds_per_query`` (one row per
    method and k). ``df.attrs``: ``queries`` (per method), ``weights_note``,
    ``feature_seconds`` (extraction per method group, cache hits included)."""
    chosen = [get_method(m) for m in check_methods(methods)]
    labels = collection.labels(label)
    ks = sorted({int(k) for k in ks})
    n = len(collection.images)
    rows = np.arange(n)
    out, queries, feature_seconds, notes, shared = [], {}, {}, [], {}
    if any(m.kind == "vectors" for m in chosen):
        t = time.perf_counter()
        fs = method_vectors(collection.paths, [m.name for m in chosen], weights=weights,
                            size=size, policy=policy, precision=precision,
                            cache_dir=cache_dir, progress=progress, style_kwargs=style_kwargs,
                            device=device)
        feature_seconds["vectors"] = time.perf_counter() - t
        notes.append(fs.weights_note)
    for m in chosen:
        if m.kind == "scores":
            t = time.perf_counter()
            distances, note = score_distances(m.name, list(collection.paths.values()),
                                              weights=weights, progress=progress,
                                              shared=shared, device=device)
            feature_seconds[m.name] = time.perf_counter() - t
            notes.append(note)
            t = time.perf_counter()
            D = distances(None)
            seconds = time.perf_counter() - t
        else:
            X = fs.vectors[m.name]
            check_defined(X, m.metric, fs.image_ids, "image")  # refused by name, not by row
            t = time.perf_counter()
            exact_search(X, None, max(ks), m.metric)  # what a top-k query costs
            seconds = time.perf_counter() - t
            D = all_pairs_distances(X, m.metric, device=device)
        metrics = retrieval_metrics(rank_distances(D, rows), rows, labels, ks)
        queries[m.name] = int(metrics["queries"].iloc[0])
        metrics.insert(0, "method", m.name)
        metrics["seconds_per_query"] = seconds / n
        out.append(metrics.drop(columns="queries"))
    df = pd.concat(out, ignore_index=True)
    df.attrs.update(queries=queries, weights_note=next((x for x in notes if x), ""),
                    feature_seconds=feature_seconds)
    return df


def _exact_topk(X: np.ndarray, q: np.ndarray, k: int, metric: str, skip: int,
                exact: Callable[[list[int]], np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """The top ``k`` of reduced-precision vectors ``X`` for query ``q``, made fp32's: the
    error is measured on the query and the first eight candidates, and every row whose
    distance could cross the k-th within it is recomputed (``exact(rows)`` gives the fp32
    vectors of the query, then of ``rows``). Returns ``(rows, distances, recomputed)``."""
    from simkit.methods.reduced_precision import measured_error, pair_bound
    from simkit.search.distances import nearest, prepare

    P = prepare(X, metric)
    labels, d = nearest(prepare(q[None], metric, center=P.center), P, len(X),
                        np.array([skip]))
    labels, d = labels[0][labels[0] >= 0], d[0][labels[0] >= 0]
    first = list(labels[:8])
    ref = exact(first)
    err = measured_error(np.vstack([q[None], X[first]]), ref)
    norms = np.linalg.norm(X.astype(np.float64), axis=1)
    qn = float(np.linalg.norm(q.astype(np.float64)))
    bound = np.array([pair_bound(metric, err, qn, norms[r]) for r in labels])
    top = min(k, len(labels))
    threshold = (d[:top] + bound[:top]).max()
    cand = sorted(int(r) for r in labels[(d - bound) <= threshold])
    redo = [r for r in cand if r not in first]
    vec = dict(zip(first, ref[1:]))
    if redo:
        vec.update(zip(redo, exact(redo)[1:]))
    Pc = prepare(np.vstack([vec[r] for r in cand]), metric, labels=np.array(cand))
    lab, dist = nearest(prepare(ref[:1], metric, center=Pc.center), Pc, top)
    return lab[0], dist[0], len(set(first) | set(redo))


def _query(collection: Collection, query: str | os.PathLike) -> tuple[str | None, Path]:
    """``(image_id or None, file)`` of a query given as an image_id or an image file."""
    paths = collection.paths
    if str(query) in paths:
        return str(query), paths[str(query)]
    qpath = Path(query)
    if not qpath.is_file():
        raise RetrievalError(f"query {str(query)!r} is neither an image_id of "
                             f"{collection.root / collection.source} nor an image file")
    same = [i for i, p in paths.items() if p.resolve() == qpath.resolve()]
    return (same[0] if same else None), qpath


def retrieve(collection: Collection, query: str | os.PathLike, k: int = 4,
             method: str = "style", *, weights: str | os.PathLike = "imagenet",
             size: int = 224, policy: str = "resize", precision: str = "fp32",
             cache_dir: str | os.PathLike | None = None, index: str = "exact",
             progress: bool = True, style_kwargs: dict | None = None,
             device: str | None = "auto") -> pd.DataFrame:
    """The ``k`` nearest images of ``query`` (an image_id of the collection or an image
    file) by ``method``: ``rank, image_id, distance, file`` + the label columns.

    A query from the collection is not returned as its own neighbour. For sift/orb the
    distance is ``1 / (1 + good matches)`` and ``matches`` is added. ``df.attrs``:
    ``weights_note``, ``metric``, ``query_id``, ``query_file``.
    """
    (method,) = check_methods([method])
    m = get_method(method)
    paths = collection.paths
    ids = list(paths)
    qid, qpath = _query(collection, query)
    if m.family == "vectors" and qid is None:
        raise RetrievalError(f"method {method!r} has vectors only for the images of its "
                             f"table; give the query as an image_id of the collection")
    n_others = len(ids) - (1 if qid is not None else 0)
    if not 1 <= int(k) <= n_others:
        raise RetrievalError(f"k={k} must be between 1 and {n_others}")
    if m.kind == "scores":
        distances, note = score_distances(method, list(paths.values()), weights=weights,
                                          progress=progress, device=device)
        d = distances([qpath])[0]
        if qid is not None:
            d[ids.index(qid)] = np.inf
        order = np.argsort(d, kind="stable")[: int(k)]
        dist = d[order]
    else:
        inputs = dict(paths) if qid is not None else {**paths, _QUERY_ID: qpath}
        fs = method_vectors(inputs, [method], weights=weights, size=size, policy=policy,
                            precision=precision, cache_dir=cache_dir, progress=progress,
                            style_kwargs=style_kwargs, device=device)
        note = fs.weights_note
        check_defined(fs.vectors[method], m.metric,  # refused by name, not by row
                      [str(qpath) if i == _QUERY_ID else i for i in fs.image_ids], "image")
        X = fs.vectors[method][: len(ids)]
        qrow = fs.vectors[method][ids.index(qid) if qid is not None else len(ids)]
        extra = 1 if qid is not None else 0  # search k+1 and drop the query itself
        skip = ids.index(qid) if qid is not None else -1
        if precision != "fp32" and index == "exact" and m.family != "vectors":
            def fp32(names: list[str]) -> np.ndarray:
                return method_vectors({i: inputs[i] for i in names}, [method], weights=weights,
                                      size=size, policy=policy, cache_dir=cache_dir,
                                      progress=False, style_kwargs=style_kwargs,
                                      device=device).vectors[method]

            query_key = qid if qid is not None else _QUERY_ID
            order, dist, n = _exact_topk(X, qrow, int(k), m.metric, skip,
                                         lambda rows: fp32([query_key] + [ids[r] for r in rows]))
            note = "\n".join(x for x in (note, f"{precision}: {n} image(s) near the top-{k} "
                              f"boundary recomputed in fp32; the ranking is fp32's") if x)
        else:
            idx, dd = search(X, qrow[None], int(k) + extra, m.metric, index=index)
            keep = idx[0] != skip
            order, dist = idx[0][keep][: int(k)], dd[0][keep][: int(k)]
    res = collection.images.iloc[order].reset_index(drop=True).copy()
    res.insert(0, "rank", np.arange(1, len(order) + 1))
    res.insert(2, "distance", dist)
    if m.metric == "matches":
        res.insert(3, "matches", np.round(1.0 / dist - 1.0, 1))
    res["file"] = [str(paths[i]) for i in res["image_id"]]
    res.attrs.update(weights_note=note, metric=m.metric, query_id=qid,
                     query_file=str(qpath))
    return res
