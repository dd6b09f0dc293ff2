"""Queries per second of exact search (matrix product) and the approximate faiss index.

    .venv/bin/python benchmarks/bench_retrieval.py [--n 5000] [--queries 200]

Collections of N random vectors with cluster structure (50 clusters: like real features,
unlike uniform noise, they have meaningful nearest neighbours) at the dimensions of the
kit's methods: 131,328 (gram/cosine/gram_cosine, conv5_1 lower triangle) and 512 (cnn).
Reports, per dimension: build time, queries/s for one query at a time and for a batch,
and the approximate index's recall@10 against exact search. Prints and writes JSON to
benchmarks/results/retrieval.json (atomically). 5,000 x 131,328 float32 is 2.6 GB; the
run needs about 9 GB of memory.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from simkit.fileio import write_text  # noqa: E402
from simkit.search.index import ApproximateIndex, ExactIndex, approximate_recall# noqa: E402


def clustered(n: int, dim: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim), dtype=np.float32) * 2
    X = np.empty((n, dim), np.float32)
    for s in range(0, n, 250):  # in chunks: no float64 copy of the whole array
        e = min(n, s + 250)
        X[s:e] = centers[rng.integers(0, clusters, e - s)] + rng.standard_normal(
            (e - s, dim), dtype=np.float32)
    return X


def qps(fn, queries: np.ndarray, batch: int) -> float:
    t = time.perf_counter()
    for s in range(0, len(queries), batch):
        fn(queries[s:s + batch])
    return len(queries) / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--dims", default="131328,512")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "retrieval.json"))
    args = ap.parse_args()
    results = {"n": args.n, "queries": args.queries, "k": 10, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "processor": platform.processor() or platform.machine()}, "runs": []}
    for dim in [int(d) for d in args.dims.split(",")]:
        X = clustered(args.n, dim)
        Q = X[np.random.default_rng(1).choice(args.n, args.queries, replace=False)] + 0.01
        run = {"dim": dim, "gigabytes": X.nbytes / 2**30}
        for metric in ("euclidean", "cosine"):
            t = time.perf_counter()
            exact = ExactIndex(X, metric)
            run[f"exact_{metric}_prepare_seconds"] = time.perf_counter() - t
            run[f"exact_{metric}_qps_single"] = qps(lambda q: exact.query(q, 10), Q[:50], 1)
            run[f"exact_{metric}_qps_batch64"] = qps(lambda q: exact.query(q, 10), Q, 64)
        try:
            index = ApproximateIndex(X, "euclidean")
        except ImportError as e:
            run["approximate"] = f"skipped: {e}"
        else:
            run["approximate_kind"] = index.kind
            run["approximate_build_seconds"] = index.build_seconds
            run["approximate_qps_single"] = qps(lambda q: index.query(q, 10), Q[:50], 1)
            run["approximate_qps_batch64"] = qps(lambda q: index.query(q, 10), Q, 64)
            run["approximate_recall_at_10"] = approximate_recall(
                X, 10, index=index, n_queries=args.queries)
        results["runs"].append(run)
        print(json.dumps(run, indent=1), flush=True)
        del X
    write_text(json.dumps(results, indent=2) + "\n", args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
