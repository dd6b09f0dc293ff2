"""Extract the features of a whole collection on a Dask cluster, into the chunked store.

>>> result = index_collection("my-collection", weights="imagenet")        # doctest: +SKIP
>>> result.features.vectors("gram").shape                                  # doctest: +SKIP
(19000, 131328)

Where the work runs (:func:`connect`):

* by default an embedded ``dask.distributed.LocalCluster`` of worker **processes** on this
  machine (nothing to start; one single-threaded worker per core, 127.0.0.1 only);
* ``scheduler="tcp://HOST:8786"`` (``--scheduler``, or ``$SIMKIT_DASK_SCHEDULER``) sends the
  same job to a running cluster: ``dask scheduler`` + ``dask worker`` by hand, dask-jobqueue
  on a SLURM/PBS machine, dask-kubernetes or Coiled. Every worker needs simkit installed and
  must see the images and the store at the same paths (a shared file system);
* ``workers=0`` runs the same chunks one after another in this process (no Dask).

How: the images are hashed (on the workers), every new content hash gets a row of the
:class:`~simkit.features.zarr_store.ZarrFeatureStore`, and each store chunk with missing rows becomes
one task. A worker loads the network once (a per-process cache, :func:`worker_model`),
decodes and preprocesses its chunk's images (:mod:`simkit.features.images`), runs them in batches and
writes the vectors straight into the store, then marks them stored. The client only counts
finished chunks (progress bar, dashboard link printed), so a lost worker costs its
unfinished chunk — Dask gives the task to another worker — and a killed job costs the chunks
in flight: the next run finds their rows missing and computes only those.

The numbers are the same as :func:`simkit.features.extract.extract_features` (same decoding,
preprocessing, network and float32 representations), bit for bit.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

import numpy as np

from simkit.features.representations import REPRESENTATIONS, tril_size
from simkit.features.zarr_store import MISSING, CollectionFeatures, ZarrFeatureStore

if TYPE_CHECKING:  # dask is an optional extra, imported when a job starts
    from distributed import Client

__all__ = ["index_collection", "IndexResult", "connect", "worker_model", "SCHEDULER_ENV",
           "open_collection_features", "add_index_arguments", "cmd_index", "index_command"]

SCHEDULER_ENV = "SIMKIT_DASK_SCHEDULER"


@dataclass
class IndexResult:
    """What :func:`index_collection` did: the lazily readable features and the counts.

    ``stats``: ``images``, ``rows`` (distinct contents), ``computed`` and ``from_store``
    (images), ``chunks`` (with work this run) of ``chunks_total``, ``errors``, ``seconds``,
    ``images_per_second`` (computed images), ``workers``, ``model_loads`` (per worker
    process), ``dashboard``.
    """

    features: CollectionFeatures
    stats: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    weights_note: str = ""


# -- the cluster -----------------------------------------------------------------------------
def _require_distributed():
    try:
        import distributed
    except ImportError:
        raise ImportError("distributed extraction needs Dask: pip install "
                          "'simkit-similarity[scale]'") from None
    return distributed


@contextlib.contextmanager
def connect(scheduler: str | None = None, *, workers: int | None = None,
            threads_per_worker: int = 1, dashboard: str | None = ":8787",
            memory_limit: str | float = "auto") -> Iterator["Client"]:
    """A Dask client: to ``scheduler`` (or ``$SIMKIT_DASK_SCHEDULER``) when given, else to
    a new ``LocalCluster`` of ``workers`` processes (default: one per core, at most 8) that
    is closed on exit. ``dashboard=None`` starts no dashboard (":0" picks a free port)."""
    distributed = _require_distributed()
    from simkit.config import dask_scheduler

    scheduler = scheduler or dask_scheduler()
    if scheduler:
        client = distributed.Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    n = int(workers) if workers else max(1, min(os.cpu_count() or 1, 8))
    import logging
    with contextlib.ExitStack() as stack:
        # the embedded cluster's start-up chatter is noise for a notebook or a terminal
        for name in ("distributed", "distributed.nanny", "distributed.scheduler"):
            lg = logging.getLogger(name)
            old = lg.level
            lg.setLevel(logging.WARNING)
            stack.callback(lg.setLevel, old)
        cluster = stack.enter_context(distributed.LocalCluster(
            n_workers=n, threads_per_worker=int(threads_per_worker), processes=True,
            host="127.0.0.1", dashboard_address=dashboard, memory_limit=memory_limit,
            silence_logs=logging.WARNING))
        client = stack.enter_context(distributed.Client(cluster))
        # closing kills workers that are slow to exit (torch threads): not worth a warning
        stack.callback(logging.getLogger("distributed.nanny").setLevel, logging.ERROR)
        yield client


# -- on the workers --------------------------------------------------------------------------
_MODELS: dict[tuple, object] = {}
_MODEL_LOCK = threading.Lock()
_LOADS = {"count": 0}


def worker_model(backbone: str, weights: str, layer: str):
    """The network for this worker process, loaded on first use and kept (a worker runs
    many chunks; loading VGG-19 each time would cost more than a chunk)."""
    key = (backbone, str(weights), layer)
    with _MODEL_LOCK:
        if key not in _MODELS:
            from simkit.features.backbones import load_backbone
            _MODELS[key] = load_backbone(backbone, weights, layer)
            _LOADS["count"] += 1
        return _MODELS[key]


def _hash_files(paths: Sequence[str]) -> list[str | None]:
    from simkit.features.cache import content_hash
    out: list[str | None] = []
    for p in paths:
        try:
            out.append(content_hash(p))
        except OSError:
            out.append(None)
    return out


def _index_chunk(spec: dict) -> dict:
    """One task: compute the missing rows of one store chunk and write them there."""
    import torch

    from simkit.features.images import iter_batches
    from simkit.features.representations import compute

    t0 = time.perf_counter()
    if spec.get("torch_threads"):
        torch.set_num_threads(int(spec["torch_threads"]))
    store = ZarrFeatureStore.open(spec["store"])
    net = worker_model(spec["backbone"], spec["weights"], spec["layer"])
    reps = spec["representations"]
    autocast = (torch.autocast("cpu", dtype=torch.bfloat16) if spec["precision"] == "bf16"
                else contextlib.nullcontext())
    rows_done: list[int] = []
    out: dict[str, list[np.ndarray]] = {r: [] for r in reps}
    errors: dict[int, str] = {}
    for rows, x in iter_batches(zip((int(r) for r in spec["rows"]), spec["paths"]),
                                policy=spec["policy"], size=spec["size"],
                                batch_size=spec["batch_size"], max_pixels=spec["max_pixels"],
                                errors=errors):
        with torch.inference_mode(), autocast:
            fmap = net(x)
        with torch.inference_mode():
            vec = compute(fmap.float(), reps)
        for r in reps:
            out[r].append(vec[r].numpy().copy())
        rows_done.extend(rows)
    vectors = {r: (np.concatenate(out[r]) if out[r] else
                   np.zeros((0, store.dim), np.float32)) for r in reps}
    store.write_rows(rows_done, vectors, errors)
    return {"chunk": spec["chunk"], "computed": len(rows_done), "errors": errors,
            "pid": os.getpid(), "model_loads": _LOADS["count"],
            "seconds": time.perf_counter() - t0}


# -- the job ---------------------------------------------------------------------------------
def _inputs(collection) -> tuple[list[str], list[str]]:
    from simkit.study.collection import Collection, load_collection
    if isinstance(collection, (str, os.PathLike)):
        collection = load_collection(collection)
    if isinstance(collection, Collection):
        paths = collection.paths
    elif hasattr(collection, "images") and hasattr(collection, "image_path"):  # a Study
        ids = [str(i) for i in collection.images["image_id"]]
        paths = {i: collection.image_path(i) for i in ids}
    elif isinstance(collection, Mapping):
        paths = collection
    else:
        raise TypeError("collection: a folder with images.csv, a Collection, a Study or a "
                        "mapping {image_id: path}")
    ids = [str(i) for i in paths]
    if len(set(ids)) != len(ids):
        raise ValueError("image ids must be unique")
    return ids, [str(Path(p).resolve()) for p in paths.values()]


def index_collection(collection, *, representations: Iterable[str] = REPRESENTATIONS,
                     backbone: str = "vgg19", weights: str | os.PathLike = "imagenet",
                     layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                     precision: str = "fp32", dtype: str = "float32",
                     store_root: str | os.PathLike | None = None, chunk_rows: int = 64,
                     batch_size: int = 8, scheduler: str | None = None,
                     workers: int | None = None, client=None, dashboard: str | None = ":8787",
                     torch_threads: int | None = None, max_pixels: int | None = None,
                     progress: bool = True, announce: bool = True,
                     on_chunk=None) -> IndexResult:
    """Compute (or find in the store) the representations of every image of a collection.

    ``collection``: a folder with images.csv (or the WikiArt metadata.csv layout), a
    :class:`~simkit.study.collection.Collection`, a :class:`~simkit.study.model.Study` or a mapping
    ``{image_id: path}``. Where it runs: ``client`` (an existing ``distributed.Client``),
    else ``scheduler`` / ``$SIMKIT_DASK_SCHEDULER``, else a LocalCluster of ``workers``
    processes; ``workers=0`` runs here without Dask. ``chunk_rows`` images make one store
    chunk and one task (64 x 131,328 float32 = 34 MB). ``on_chunk(result_dict)`` is called
    in this process after each finished chunk; ``announce`` prints the cluster's address and
    dashboard link (stderr) before the work starts. A bad image does not stop the job: it is
    marked unusable and listed in :attr:`IndexResult.errors`.
    """
    from tqdm.auto import tqdm

    from simkit.features.backbones import RANDOM_WEIGHTS_NOTE, _layer_ends, _meta_features
    from simkit.features.extract import feature_config
    from simkit.features.images import MAX_PIXELS

    reps = list(dict.fromkeys(representations))
    unknown = [r for r in reps if r not in REPRESENTATIONS]
    if unknown or not reps:
        raise ValueError(f"unknown representation(s) {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(REPRESENTATIONS)}")
    config = feature_config(backbone=backbone, weights=weights, layer=layer, size=size,
                            policy=policy, precision=precision)
    ends = _layer_ends(_meta_features(backbone))
    if layer not in ends:
        raise ValueError(f"unknown layer {layer!r} for {backbone}; choose one of "
                         f"{', '.join(ends)}")
    dim = tril_size(ends[layer][1])
    ids, paths = _inputs(collection)
    t_start = time.perf_counter()

    with contextlib.ExitStack() as stack:
        if client is None and workers != 0:
            client = stack.enter_context(connect(scheduler, workers=workers,
                                                 dashboard=dashboard))
        dashboard_link = ""
        if client is not None:
            info = client.scheduler_info()
            if "dashboard" in info.get("services", {}):  # a link only when there is one
                with contextlib.suppress(Exception):
                    dashboard_link = client.dashboard_link or ""
            n_workers = len(info.get("workers", {}))
            if announce:
                print(f"Dask: {n_workers} worker(s) at {client.scheduler.address}"
                      + (f"; dashboard: {dashboard_link}" if dashboard_link else ""),
                      file=sys.stderr)
        else:
            n_workers = 0

        # 1. content hashes (on the workers: they read the files anyway)
        step = 256
        groups = [paths[s:s + step] for s in range(0, len(paths), step)]
        if client is not None:
            hashed = client.gather(client.map(_hash_files, groups, pure=False))
        else:
            hashed = [_hash_files(g) for g in groups]
        keys = [k for g in hashed for k in g]
        errors: dict[str, str] = {i: f"{p}: cannot read the file; check the 'file' column "
                                  f"of images.csv (relative to the collection folder)"
                                  for i, p, k in zip(ids, paths, keys) if k is None}

        # 2. rows in the store, and the chunks that still have missing rows
        store = ZarrFeatureStore(config, store_root, dtype=dtype, chunk_rows=chunk_rows,
                                 dim=dim)
        ok = [j for j, k in enumerate(keys) if k is not None]
        rows = np.full(len(ids), -1, dtype=np.int64)
        rows[ok] = store.register([keys[j] for j in ok], reps, dim)
        status = np.stack([store.status(r) for r in reps])  # reps x rows
        missing = (status == MISSING).any(axis=0)
        todo: dict[int, dict[int, str]] = {}  # chunk -> {row: path}
        for j in ok:
            r = int(rows[j])
            if missing[r]:
                todo.setdefault(r // store.chunk_rows, {}).setdefault(r, paths[j])
        specs = [{"store": str(store.path), "chunk": c, "rows": list(rp),
                  "paths": list(rp.values()), "representations": reps,
                  "backbone": backbone, "weights": str(weights), "layer": layer,
                  "size": size, "policy": policy, "precision": precision,
                  "batch_size": int(batch_size), "torch_threads": torch_threads,
                  "max_pixels": int(max_pixels or MAX_PIXELS)}
                 for c, rp in sorted(todo.items())]
        n_todo = sum(len(s["rows"]) for s in specs)

        # 3. the work: one task per chunk, results already in the store when it returns
        bar = tqdm(total=n_todo, desc=f"index ({layer}, {dtype})", unit="img",
                   disable=not progress or not specs)
        done_chunks: list[dict] = []
        try:
            if client is not None and specs:
                from distributed import as_completed
                futures = client.map(_index_chunk, specs, pure=False,
                                     key=[f"simkit-chunk-{store.path.name}-{s['chunk']}-"
                                          f"{time.time_ns()}" for s in specs])
                for fut in as_completed(futures):
                    res = fut.result()
                    done_chunks.append(res)
                    bar.update(len(res["errors"]) + res["computed"])
                    if on_chunk is not None:
                        on_chunk(res)
            else:
                for s in specs:
                    res = _index_chunk(s)
                    done_chunks.append(res)
                    bar.update(len(res["errors"]) + res["computed"])
                    if on_chunk is not None:
                        on_chunk(res)
        finally:
            bar.close()

    # 4. what the store now holds for this collection
    status = np.stack([store.status(r) for r in reps])
    row_errors = store.errors()
    for j in ok:
        r = int(rows[j])
        if (status[:, r] < 0).any():
            errors[ids[j]] = row_errors.get(r, "the image could not be used")
    stored = [j for j in ok if (status[:, int(rows[j])] == 1).all()]
    missing_ids = [ids[j] for j in ok if (status[:, int(rows[j])] == MISSING).any()]
    features = CollectionFeatures(store, [ids[j] for j in stored], rows[stored],
                                  missing_ids, errors)
    computed = sum(r["computed"] for r in done_chunks)
    seconds = time.perf_counter() - t_start
    loads: dict[int, int] = {}
    for r in done_chunks:
        loads[r["pid"]] = max(loads.get(r["pid"], 0), r["model_loads"])
    note = (RANDOM_WEIGHTS_NOTE.format(spec=weights)
            if str(weights).startswith("random:") else "")
    stats = {"images": len(ids), "rows": int(len(set(rows[ok].tolist()))),
             "computed": computed, "from_store": len(stored) - computed,
             "chunks": len(done_chunks), "chunks_total": -(-len(store) // store.chunk_rows),
             "errors": len(errors), "missing": len(missing_ids), "seconds": seconds,
             "images_per_second": computed / seconds if computed else 0.0,
             "workers": n_workers, "model_loads": loads, "dashboard": dashboard_link,
             "store": str(store.path)}
    return IndexResult(features, stats, errors, note)


def open_collection_features(collection, store_path: str | os.PathLike) -> CollectionFeatures:
    """The stored rows of a collection in an existing store folder, without computing."""
    store = ZarrFeatureStore.open(store_path)
    ids, paths = _inputs(collection)
    keys = _hash_files(paths)
    rows = store.rows_of([k or "" for k in keys])
    reps = store.representations()
    status = np.stack([store.status(r) for r in reps]) if reps else np.zeros((0, len(store)))
    good = [j for j, r in enumerate(rows) if r >= 0 and (status[:, r] == 1).all()]
    missing = [ids[j] for j, r in enumerate(rows) if r < 0 or (status[:, r] == 0).any()]
    errs = store.errors()
    errors = {ids[j]: errs.get(int(r), "unusable") for j, r in enumerate(rows)
              if r >= 0 and (status[:, r] < 0).any()}
    return CollectionFeatures(store, [ids[j] for j in good], rows[good], missing, errors)


# -- command line ----------------------------------------------------------------------------
def add_index_arguments(p) -> None:
    """The arguments of ``simkit index COLLECTION`` (for simkit.cli.app)."""
    p.add_argument("collection", help="a folder with images.csv (a study folder is one)")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help=f"a running Dask scheduler (default ${SCHEDULER_ENV}, else an "
                        f"embedded LocalCluster on this machine)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the embedded cluster (default one per core; "
                        "0 = no Dask, in this process)")
    p.add_argument("--representations", default=",".join(REPRESENTATIONS),
                   help="comma-separated: gram,cosine,gram_cosine")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"],
                   help="storage precision (float16: half the disk, see the README)")
    p.add_argument("--chunk", type=int, default=64, help="images per store chunk and task")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--store", default=None,
                   help="store folder (default CACHE/zarr, CACHE from --cache-dir)")
    p.add_argument("--dashboard", default=":8787",
                   help="dashboard address of the embedded cluster ('' for none)")
    p.add_argument("--ann", action="store_true",
                   help="also build the approximate index (PCA + faiss) and report recall@10")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--weights", default="imagenet",
                   help="imagenet (torchvision cache), a state_dict PATH, or random:SEED "
                        "(for tests and offline demos; results mean nothing)")
    p.add_argument("--layer", default="conv5_1", help="VGG-19 layer, after its ReLU")
    p.add_argument("--size", type=int, default=224, help="input size in pixels")
    p.add_argument("--policy", default="resize", choices=["resize", "keep-aspect", "native"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--cache-dir", default=None, help="feature cache (default ~/.cache/simkit)")


def index_command(collection: str | os.PathLike, **kwargs) -> int:
    """``simkit index``: 0 when every image is stored, 1 when some could not be used, 2 on
    invalid input (``error: …`` on stderr)."""
    from simkit.cli.retrieval import _user_errors
    from simkit.features.zarr_store import ZarrStoreError

    ann = kwargs.pop("ann", False)
    try:
        res = index_collection(collection, **kwargs)
    except (*_user_errors(), ZarrStoreError, ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if res.weights_note:
        from simkit.cli.retrieval import _warning
        print(_warning(res.weights_note), file=sys.stderr)
    s = res.stats
    print(f"indexed {s['images']} images ({s['rows']} distinct) in {s['seconds']:.1f} s: "
          f"{s['computed']} computed ({s['images_per_second']:.2f} img/s on "
          f"{s['workers'] or 'no'} worker(s)), {s['from_store']} from the store, "
          f"{s['errors']} unusable")
    print(f"store: {s['store']}")
    for i, msg in list(res.errors.items())[:5]:
        print(f"  unusable: {i}: {msg}", file=sys.stderr)
    if ann and len(res.features) > 11:
        from simkit.scale.neighbours import CollectionIndex
        for rep in kwargs.get("representations") or REPRESENTATIONS:
            idx = CollectionIndex.build(res.features, rep)
            path = idx.save()
            print(f"{rep}: approximate index ({idx.n_components} PCA dims, faiss "
                  f"{idx.kind}) recall@10 = {idx.recall(k=10):.3f}; saved {path}")
    return 1 if res.errors else 0


def cmd_index(args) -> int:
    """``simkit index COLLECTION [--scheduler tcp://HOST:PORT] ...`` (for simkit.cli.app)."""
    from simkit.features.zarr_store import default_zarr_root

    store = args.store or (Path(args.cache_dir) / "zarr" if args.cache_dir
                           else default_zarr_root())
    reps = [r.strip() for r in str(args.representations).split(",") if r.strip()]
    return index_command(
        args.collection, representations=reps, weights=args.weights, layer=args.layer,
        size=args.size, policy=args.policy, precision=args.precision, dtype=args.dtype,
        store_root=store, chunk_rows=args.chunk, batch_size=args.batch_size,
        scheduler=args.scheduler, workers=args.workers, dashboard=args.dashboard or None,
        progress=not args.no_progress, ann=args.ann)
