"""How good a ranking is: precision@k, recall@k, F1@k and mean average precision.

Every image with a non-empty label is a query; the other images sharing its label are
relevant (the query itself is excluded from its ranking). Per k: precision@k, recall@k and
F1@k (per query, then averaged over queries) and mean average precision over the whole
ranking; queries with no relevant image are left out (recall and AP are undefined for them).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from simkit.search.index import RetrievalError

__all__ = ["rank_distances", "retrieval_metrics"]


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


