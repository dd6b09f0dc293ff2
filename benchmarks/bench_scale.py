"""Whole collections: distributed extraction, the zarr store, neighbours at 5,000 and 100,000.

    .venv/bin/python benchmarks/bench_scale.py [--images 32] [--n 5000] [--quick]

Measures on this machine, prints, and writes benchmarks/results/scale.json (atomically):

1. **Extraction**: images/s of :func:`simkit.scale.cluster.index_collection` on an embedded
   LocalCluster with 1 and with 2 single-threaded worker processes (VGG-19 conv5_1, random
   weights, 224x224 inputs, all three representations written to the store), each after a
   warm-up job so model loading is not counted; the single-process extractor
   (:func:`simkit.features.extract.extract_features`, torch using every core) beside them; memory
   per worker process (resident and peak).
2. **Store**: write and read throughput of the zarr store, float32 and float16, on
   131,328-dim rows.
3. **Neighbours** on ``--n`` (5,000) synthetic 131,328-dim vectors *in the store*: the
   streaming exact search (one pass for a batch of queries, and for one query), the
   approximate index (PCA fitted on a subsample, 256 dims, faiss HNSW): build time, query
   time, recall@10 against exact search; float16's effect on the exact top-10.
4. **100,000 images**: 100,000 x 131,328 float32 is 52.5 GB — more than this machine's
   memory and than a 10-minute benchmark can write — so the streaming exact search and the
   PCA projection are *projected* linearly from the measured 5,000 (both are one pass over
   the rows: time ∝ N), while the faiss part is *measured* at 100,000 on 256-dim vectors
   drawn like the PCA scores (HNSW build, query time, recall@10 against exact search in the
   PCA space). The JSON marks each figure "measured" or "projected".

Synthetic vectors: low rank (a decaying spectrum of 512 components) plus noise, like deep
features, so that nearest neighbours mean something; uniform noise would make every
approximate method look bad and PCA useless.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DIM = 131_328


def _rss_mb() -> dict:
    import psutil
    return {"rss_mb": psutil.Process().memory_info().rss / 2**20,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_extraction(tmp: Path, n_images: int) -> dict:
    from simkit.study.demo import make_demo_study
    from simkit.scale.cluster import connect, index_collection
    from simkit.features.extract import extract_features
    from simkit.study.collection import load_collection

    make_demo_study(tmp / "col", groups_per_genre=max(1, n_images // 20), image_size=256)
    col = load_collection(tmp / "col")
    warm = load_collection(tmp / "col").subset(4)
    out = {"images": len(col.images), "size": 224, "weights": "random:0",
           "representations": 3, "chunk_rows": 8, "batch_size": 8}
    for workers in (1, 2):
        with connect(workers=workers, dashboard=":0") as client:
            index_collection(warm, client=client, weights="random:0", size=224, chunk_rows=4,
                             store_root=tmp / f"warm{workers}", progress=False,
                             announce=False)
            res = index_collection(col, client=client, weights="random:0", size=224,
                                   chunk_rows=8, batch_size=8,
                                   store_root=tmp / f"store{workers}", progress=False,
                                   announce=False)
            mem = client.run(_rss_mb)
        out[f"workers_{workers}"] = {
            "images_per_second": res.stats["computed"] / res.stats["seconds"],
            "seconds": res.stats["seconds"],
            "memory_per_worker_mb": list(mem.values())}
        print(f"extraction, {workers} worker process(es): "
              f"{out[f'workers_{workers}']['images_per_second']:.2f} img/s; memory per "
              f"worker: " + ", ".join(f"{m['rss_mb']:.0f} MB (peak {m['peak_rss_mb']:.0f})"
                                      for m in mem.values()), flush=True)
    import torch
    torch.set_num_threads(os.cpu_count() or 1)  # Dask's workers set 1 thread; use all here
    t = time.perf_counter()
    extract_features(col.paths, weights="random:0", size=224, batch_size=8,
                     use_cache=False, progress=False)
    s = time.perf_counter() - t
    out["single_process"] = {"images_per_second": len(col.images) / s, "seconds": s,
                             "torch_threads": torch.get_num_threads(),
                             "note": "extract_features in this process, model load included"}
    print(f"extraction, single process ({torch.get_num_threads()} torch threads, model load "
          f"included): {len(col.images) / s:.2f} img/s", flush=True)
    return out


def synthetic_rows(n: int, dim: int, seed: int, *, rank: int = 512, block: int = 512):
    """Yield blocks of low-rank + noise rows (decaying spectrum, 60 loose clusters)."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, dim), dtype=np.float32) / np.sqrt(dim)
    spectrum = (30.0 / np.arange(1, rank + 1) ** 0.7).astype(np.float32)
    centres = rng.standard_normal((60, rank), dtype=np.float32) * spectrum
    for s in range(0, n, block):
        m = min(block, n - s)
        z = (centres[rng.integers(0, 60, m)] * 0.8
             + rng.standard_normal((m, rank), dtype=np.float32) * spectrum * 0.6)
        x = z @ basis + rng.standard_normal((m, dim), dtype=np.float32) * 0.05
        yield s, x.astype(np.float32)


def _fill(tmp: Path, n: int, dtype: str, seed: int = 0):
    from simkit.features.zarr_store import CollectionFeatures, ZarrFeatureStore
    st = ZarrFeatureStore({"synthetic": n, "seed": seed}, tmp / "stores", dtype=dtype,
                          chunk_rows=64, dim=DIM)
    rows = st.register([f"{i:064x}" for i in range(n)], ["gram"])
    write_s = 0.0
    for s, x in synthetic_rows(n, DIM, seed):
        for c in range(s, s + len(x), 64):  # one chunk per write, as the workers do
            t = time.perf_counter()
            st.write_rows(rows[c:c + 64], {"gram": x[c - s:c - s + 64]})
            write_s += time.perf_counter() - t
    return CollectionFeatures(st, [str(i) for i in range(n)], rows, [], {}), write_s


def bench_store_and_neighbours(tmp: Path, n: int, n_queries: int) -> dict:
    from simkit.scale.neighbours import CollectionIndex, stream_exact_search
    from simkit.features.zarr_store import float16_ranking_error

    out: dict = {"n": n, "dim": DIM}
    cf, write_s = _fill(tmp, n, "float32")
    gb = n * DIM * 4 / 1e9
    t = time.perf_counter()
    for _ in cf.blocks("gram", 1024):
        pass
    read_s = time.perf_counter() - t
    out["store_float32"] = {"gigabytes": gb, "write_mb_per_s": gb * 1e3 / write_s,
                            "read_mb_per_s": gb * 1e3 / read_s, "measured": True}
    print(f"store float32, {n} x {DIM}: write {gb * 1e3 / write_s:.0f} MB/s, read "
          f"{gb * 1e3 / read_s:.0f} MB/s ({gb:.2f} GB)", flush=True)

    small = min(n, 1000)
    cf16, w16 = _fill(tmp, small, "float16")
    gb16 = small * DIM * 2 / 1e9
    out["store_float16"] = {"gigabytes": gb16, "write_mb_per_s": gb16 * 1e3 / w16,
                            "rows": small, "measured": True}
    print(f"store float16, {small} rows: write {gb16 * 1e3 / w16:.0f} MB/s (of float16 data)",
          flush=True)
    sample = cf.store.read("gram", cf.rows[:small])
    out["float16_ranking"] = float16_ranking_error(sample, k=10, n_queries=200)
    print(f"float16 storage, top-10 on {small} rows: {out['float16_ranking']}", flush=True)
    del sample

    qpos = np.random.default_rng(1).choice(n, n_queries, replace=False)
    t = time.perf_counter()
    exact, _ = stream_exact_search(cf, "gram", k=10, query_positions=qpos, block_rows=1024)
    batch_s = time.perf_counter() - t
    t = time.perf_counter()
    stream_exact_search(cf, "gram", k=10, query_positions=qpos[:1], block_rows=1024)
    single_s = time.perf_counter() - t
    out["exact"] = {"batch_queries": n_queries, "batch_seconds": batch_s,
                    "seconds_per_query_in_batch": batch_s / n_queries,
                    "single_query_seconds": single_s, "measured": True}
    print(f"exact streaming search, {n}: {n_queries} queries in {batch_s:.1f} s "
          f"({batch_s / n_queries * 1e3:.0f} ms/query); one query {single_s:.1f} s "
          f"(one pass over {gb:.1f} GB)", flush=True)

    t = time.perf_counter()
    index = CollectionIndex.build(cf, "gram", n_components=256, fit_sample=2048,
                                  block_rows=1024)
    build_s = time.perf_counter() - t
    approx = index.query_positions(qpos, 10)
    recall = float(np.mean([len(set(e) & set(a)) / 10 for e, a in zip(exact, approx)]))
    t = time.perf_counter()
    for p in qpos:
        index.query(str(p), 10)
    q_s = (time.perf_counter() - t) / len(qpos)
    out["approximate"] = {"n_components": 256, "fit_sample": 2048, "kind": index.kind,
                          "build_seconds": build_s, **index.timings,
                          "query_ms": q_s * 1e3, "recall_at_10": recall, "measured": True}
    print(f"approximate (PCA 256 on 2,048 + faiss HNSW), {n}: build {build_s:.1f} s "
          f"({index.timings}), query {q_s * 1e3:.2f} ms, recall@10 {recall:.3f}", flush=True)
    shutil.rmtree(tmp / "stores", ignore_errors=True)
    return out


def bench_faiss_100k(n: int = 100_000, d: int = 256, n_queries: int = 200) -> dict:
    """HNSW on n PCA-like vectors (decaying spectrum, clusters), measured."""
    import faiss

    from simkit.search.index import ApproximateIndex
    rng = np.random.default_rng(2)
    spectrum = (30.0 / np.arange(1, d + 1) ** 0.7).astype(np.float32)
    centres = rng.standard_normal((60, d), dtype=np.float32) * spectrum
    z = (centres[rng.integers(0, 60, n)] * 0.8
         + rng.standard_normal((n, d), dtype=np.float32) * spectrum * 0.6)
    t = time.perf_counter()
    ann = ApproximateIndex(z, "euclidean", kind="hnsw")
    build = time.perf_counter() - t
    q = rng.choice(n, n_queries, replace=False)
    t = time.perf_counter()
    for i in q:
        ann.query(z[i:i + 1], 11)
    q_ms = (time.perf_counter() - t) / n_queries * 1e3
    flat = faiss.IndexFlatL2(d)
    flat.add(z)
    t = time.perf_counter()
    _, exact = flat.search(z[q], 11)
    exact_ms = (time.perf_counter() - t) / n_queries * 1e3
    approx, _ = ann.query(z[q], 11)
    rec = np.mean([len(set(e[e != i][:10]) & set(a[a != i][:10])) / 10
                   for i, e, a in zip(q, exact, approx)])
    out = {"n": n, "dim": d, "hnsw_build_seconds": build, "hnsw_query_ms": q_ms,
           "flat_exact_query_ms_in_pca_space": exact_ms,
           "hnsw_recall_at_10_vs_exact_in_pca_space": float(rec), "measured": True}
    print(f"faiss HNSW at {n} x {d} (PCA space): build {build:.1f} s, query {q_ms:.2f} ms, "
          f"recall@10 vs exact in PCA space {rec:.3f}", flush=True)
    return out


def project_100k(nb: dict, faiss100k: dict, n_big: int = 100_000) -> dict:
    n = nb["n"]
    f = n_big / n
    ex = nb["exact"]
    ap = nb["approximate"]
    out = {
        "n": n_big, "gigabytes_float32": n_big * DIM * 4 / 1e9,
        "gigabytes_float16": n_big * DIM * 2 / 1e9,
        "exact_single_query_seconds": ex["single_query_seconds"] * f,
        "exact_seconds_per_query_in_batch": ex["seconds_per_query_in_batch"] * f,
        "pca_project_seconds": ap["project_seconds"] * f,
        "pca_fit_seconds": ap["pca_fit_seconds"],
        "approximate_build_seconds": ap["pca_fit_seconds"] + ap["project_seconds"] * f
        + faiss100k["hnsw_build_seconds"],
        "approximate_query_ms": faiss100k["hnsw_query_ms"],
        "approximate_recall_at_10_estimate": ap["recall_at_10"]
        * faiss100k["hnsw_recall_at_10_vs_exact_in_pca_space"],
        "store_write_minutes_float32": n_big * DIM * 4 / 1e6
        / nb["store_float32"]["write_mb_per_s"] / 60,
        "projected": True,
        "how": (f"exact search and PCA projection are one pass over the rows: measured at "
                f"{n} and scaled x{f:g}; PCA fit is on a fixed 2,048-row sample; faiss "
                f"build/query measured at {n_big} x 256; recall estimate = recall at {n} x "
                f"HNSW recall in PCA space at {n_big}"),
    }
    print(f"projected to {n_big}: exact one query {out['exact_single_query_seconds']:.0f} s, "
          f"{out['exact_seconds_per_query_in_batch']:.2f} s/query in a batch; approximate "
          f"build {out['approximate_build_seconds'] / 60:.1f} min, query "
          f"{out['approximate_query_ms']:.2f} ms, recall@10 ≈ "
          f"{out['approximate_recall_at_10_estimate']:.3f}", flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", type=int, default=40, help="images for the extraction runs")
    p.add_argument("--n", type=int, default=5000, help="synthetic vectors in the store")
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test)")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "scale.json"))
    args = p.parse_args()
    if args.quick:
        args.images, args.n, args.queries = 20, 600, 20
    from simkit.fileio import write_text

    tmp = Path(tempfile.mkdtemp(prefix="simkit-bench-scale-"))
    t0 = time.perf_counter()
    try:
        results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "processor": platform.machine()}}
        results["extraction"] = bench_extraction(tmp, args.images)
        results["neighbours_5000"] = bench_store_and_neighbours(tmp, args.n, args.queries)
        results["faiss_100000"] = bench_faiss_100k(10_000 if args.quick else 100_000)
        results["projection_100000"] = project_100k(results["neighbours_5000"],
                                                    results["faiss_100000"])
        results["seconds"] = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_text(json.dumps(results, indent=2) + "\n", args.out)
    print(f"wrote {args.out} ({results['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
