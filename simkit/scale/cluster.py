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

Devices (``device=``, default ``auto``): on a machine with CUDA GPUs the embedded cluster has
one worker per GPU (or ``workers``, dealt round-robin over the GPUs) and worker i computes
on GPU i mod the number of GPUs (:func:`local_gpus`, :func:`worker_device`); without one,
or with ``device="cpu"``, the workers are CPU processes as above. A worker of a running
cluster resolves ``device`` itself, on its own hardware.

How: the images are hashed (on the workers), every new content hash gets a row of the
:class:`~simkit.features.zarr_store.ZarrFeatureStore`, and each store chunk with missing rows becomes
one task. A worker loads the network once (a per-process cache, :func:`worker_model`),
decodes and preprocesses its chunk's images (:mod:`simkit.features.images`), runs them in batches and
writes the vectors straight into the store, then marks them stored. The client only counts
finished chunks (progress bar, dashboard link printed), so a lost worker costs its
unfinished chunk — Dask gives the task to another worker — and a killed job costs the chunks
in flight: the next run finds their rows missing and computes only those.

The numbers are the same as :func:`simkit.features.extract.extract_features`, bit for bit:
both run the one extraction engine (:mod:`simkit.features.engine`), here with the zarr sink.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from simkit.errors import UsageError, missing_extra
from simkit.features.representations import REPRESENTATIONS, tril_size
from simkit.features.zarr_store import MISSING, CollectionFeatures, ZarrFeatureStore

if TYPE_CHECKING:  # dask is an optional extra, imported when a job starts
    from distributed import Client

__all__ = ["index_collection", "IndexResult", "connect", "worker_model", "SCHEDULER_ENV",
           "open_collection_features", "local_gpus", "worker_device"]

SCHEDULER_ENV = "SIMKIT_DASK_SCHEDULER"


@dataclass
class IndexResult:
    """What :func:`index_collection` did: the lazily readable features and the counts.

    ``stats``: ``images``, ``rows`` (distinct contents), ``computed`` and ``from_store``
    (images), ``chunks`` (with work this run) of ``chunks_total``, ``errors``, ``seconds``,
    ``images_per_second`` (computed images), ``workers``, ``model_loads`` (per worker
    process), ``devices`` (where the chunks ran), ``dashboard``.
    """

    features: CollectionFeatures
    stats: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    weights_note: str = ""


# -- the cluster -----------------------------------------------------------------------------
def _require_distributed():
    try:
        import distributed
    except ImportError as e:
        raise missing_extra("distributed extraction (Dask)", "scale", e) from None
    return distributed


def local_gpus(device: str = "auto") -> list[str]:
    """The CUDA GPUs that the workers of an embedded cluster get, one each.

    Every GPU for ``auto`` and ``cuda``, the one named for ``cuda:N``; none (CPU workers)
    for ``cpu`` and ``mps``, and for ``auto`` on a machine without CUDA.

    Raises
    ------
    DeviceError
        For a device this machine does not have.
    """
    import torch

    from simkit.features.device import resolve_device

    spec = str(device or "auto").strip().lower()
    if spec == "auto" and not torch.cuda.is_available():
        return []
    dev = resolve_device(spec)
    if dev.type != "cuda":
        return []
    if spec in ("auto", "cuda"):
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    return [str(dev)]


def worker_device(device: str = "auto", gpus: Sequence[str] = ()) -> str:
    """The device this process computes its chunks on.

    In a worker of an embedded cluster with ``gpus``, worker i (LocalCluster names its
    workers 0, 1, …) takes ``gpus[i % len(gpus)]``; anywhere else, ``device`` as asked, to
    be resolved here (a remote worker's own GPU).
    """
    if not gpus:
        return str(device)
    name = None
    with contextlib.suppress(ImportError, ValueError):  # ValueError: not in a worker
        from distributed import get_worker
        name = get_worker().name
    return gpus[(name if isinstance(name, int) else 0) % len(gpus)]


@contextlib.contextmanager
def connect(scheduler: str | None = None, *, workers: int | None = None,
            threads_per_worker: int = 1, dashboard: str | None = ":8787",
            memory_limit: str | float = "auto", gpus: Sequence[str] = ()
            ) -> Iterator["Client"]:
    """A Dask client: to ``scheduler`` (or ``$SIMKIT_DASK_SCHEDULER``) when given, else to
    a new ``LocalCluster`` of ``workers`` processes (default: one per core, at most 8; one
    per GPU when ``gpus``, from :func:`local_gpus`, are given) that is closed on exit.
    ``dashboard=None`` starts no dashboard (":0" picks a free port)."""
    if workers is not None and int(workers) < 0:  # a LocalCluster of -1 waits forever
        raise UsageError(f"workers={workers}: give 0 (no Dask) or more worker processes")
    distributed = _require_distributed()
    from simkit.config import dask_scheduler

    scheduler = scheduler or dask_scheduler()
    if scheduler:
        client = _client(distributed, scheduler)
        try:
            yield client
        finally:
            client.close()
        return
    n = int(workers) if workers else (len(gpus) or max(1, min(os.cpu_count() or 1, 8)))
    import logging
    with contextlib.ExitStack() as stack:
        if gpus:
            # a GPU worker must be able to start decoding processes to keep its GPU fed,
            # and Dask's daemonic workers may not have children
            import dask
            stack.enter_context(dask.config.set({"distributed.worker.daemon": False}))
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


def _client(distributed, scheduler: str) -> "Client":
    """A client of the running scheduler at ``scheduler``, or :class:`UsageError` naming it
    when it cannot be reached within Dask's connect timeout
    (``distributed.comm.timeouts.connect``, 30 s unless configured)."""
    try:
        return distributed.Client(scheduler)
    except (OSError, ValueError, TypeError) as e:  # refused, timed out, a malformed address
        raise UsageError(f"cannot reach the Dask scheduler at {scheduler!r} ({e}); start it, "
                         f"or fix --scheduler / ${SCHEDULER_ENV}") from None


# -- on the workers --------------------------------------------------------------------------
def worker_model(backbone: str, weights: str, layer: str, device: str = "cpu"):
    """The network for this worker process on ``device``, loaded on first use and kept (a
    worker runs many chunks; loading VGG-19 each time would cost more than a chunk)."""
    from simkit.features.models import shared_model
    return shared_model(backbone, weights, [layer], device)


def _hash_files(paths: Sequence[str]) -> list[tuple[str | None, str]]:
    """``(content hash, "")`` of each file, or ``(None, why it cannot be read)``."""
    from simkit.features.cache import content_hash
    out: list[tuple[str | None, str]] = []
    for p in paths:
        try:
            out.append((content_hash(p), ""))
        except OSError as e:  # a FIFO or a device is refused before it is read
            out.append((None, str(e.strerror or e)))
    return out


def _index_chunk(spec: dict) -> dict:
    """One task: compute the missing rows of one store chunk and write them there."""
    import torch

    from simkit.features.device import resolve_device
    from simkit.features.engine import ZarrSink, run
    from simkit.features.models import shared_model_builds

    t0 = time.perf_counter()
    if spec.get("torch_threads"):
        torch.set_num_threads(int(spec["torch_threads"]))
    device = str(resolve_device(worker_device(spec.get("device", "cpu"), spec.get("gpus", []))))
    store = ZarrFeatureStore.open(spec["store"])
    net = worker_model(spec["backbone"], spec["weights"], spec["layer"], device)
    reps = spec["representations"]
    sink = ZarrSink(store, reps)
    computed = run(zip((int(r) for r in spec["rows"]), spec["paths"]), net,
                   [(r, spec["layer"]) for r in reps], [sink], policy=spec["policy"],
                   size=spec["size"], batch_size=spec["batch_size"],
                   max_pixels=spec["max_pixels"], precision=spec["precision"],
                   errors=sink.errors, workers=None)
    return {"chunk": spec["chunk"], "computed": computed, "errors": sink.errors,
            "pid": os.getpid(), "model_loads": shared_model_builds(), "device": device,
            "seconds": time.perf_counter() - t0}


# -- the job ---------------------------------------------------------------------------------
def _inputs(collection) -> tuple[list[str], list[str]]:
    from simkit.study.collection import Collection, load_collection
    if isinstance(collection, (str, os.PathLike)):
        collection = load_collection(collection)
    if isinstance(collection, Collection):
        paths = collection.paths
    elif hasattr(collection, "image_paths"):  # a Study
        paths = collection.image_paths()
    elif isinstance(collection, Mapping):
        paths = collection
    else:
        raise TypeError("collection: a folder with images.csv, a Collection, a Study or a "
                        "mapping {image_id: path}")
    ids = [str(i) for i in paths]
    if len(set(ids)) != len(ids):
        raise ValueError("image ids must be unique")
    # absolute, not resolved: a link to a device must still be seen (and refused) as the
    # image's own path, and a NUL byte in a path is refused later with the image's id
    return ids, [os.path.abspath(p) for p in paths.values()]


def index_collection(collection, *, representations: Iterable[str] = REPRESENTATIONS,
                     backbone: str = "vgg19", weights: str | os.PathLike = "imagenet",
                     layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                     precision: str = "fp32", dtype: str = "float32",
                     store_root: str | os.PathLike | None = None, chunk_rows: int = 64,
                     batch_size: int = 8, scheduler: str | None = None,
                     workers: int | None = None, client=None, dashboard: str | None = ":8787",
                     torch_threads: int | None = None, max_pixels: int | None = None,
                     progress: bool = True, announce: Callable[[str], None] | None = None,
                     on_chunk=None, device: str = "auto") -> IndexResult:
    """Compute (or find in the store) the representations of every image of a collection.

    ``collection``: a folder with images.csv (or the WikiArt metadata.csv layout), a
    :class:`~simkit.study.collection.Collection`, a :class:`~simkit.study.model.Study` or a mapping
    ``{image_id: path}``. Where it runs: ``client`` (an existing ``distributed.Client``),
    else ``scheduler`` / ``$SIMKIT_DASK_SCHEDULER``, else a LocalCluster of ``workers``
    processes; ``workers=0`` runs here without Dask. ``chunk_rows`` images make one store
    chunk and one task (64 x 131,328 float32 = 34 MB). ``on_chunk(result_dict)`` is called
    in this process after each finished chunk; ``announce(line)``, when given, receives the cluster's
    address and dashboard link before the work starts (the CLI prints it on stderr). A bad image does not stop the job: it is
    marked unusable and listed in :attr:`IndexResult.errors`. ``device``: where the workers
    compute (see the module docstring; one GPU per worker of an embedded cluster).
    """
    from simkit.features.backbones import check_layers, layer_channels, weights_note
    from simkit.features.extract import feature_config
    from simkit.features.images import MAX_PIXELS

    reps = list(dict.fromkeys(representations))
    unknown = [r for r in reps if r not in REPRESENTATIONS]
    if unknown or not reps:
        raise ValueError(f"unknown representation(s) {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(REPRESENTATIONS)}")
    config = feature_config(backbone=backbone, weights=weights, layer=layer, size=size,
                            policy=policy, precision=precision)
    check_layers(backbone, [layer])
    dim = tril_size(layer_channels(backbone)[layer])
    ids, paths = _inputs(collection)
    t_start = time.perf_counter()
    task = {"representations": reps, "backbone": backbone, "weights": str(weights),
            "layer": layer, "size": size, "policy": policy, "precision": precision,
            "batch_size": int(batch_size), "torch_threads": torch_threads,
            "max_pixels": int(max_pixels or MAX_PIXELS), "device": str(device),
            "gpus": _local_devices(device, client, scheduler, workers)}
    with contextlib.ExitStack() as stack:
        if client is None and workers != 0:
            client = stack.enter_context(connect(scheduler, workers=workers,
                                                 dashboard=dashboard, gpus=task["gpus"]))
        n_workers, dashboard_link = _describe(client, announce)
        # 1. content hashes (on the workers: they read the files anyway)
        hashed = _hash_all(client, paths)
        keys = [k for k, _ in hashed]
        errors: dict[str, str] = {i: f"{p}: cannot read the file ({why}); check the 'file' "
                                  f"column of images.csv (relative to the collection folder)"
                                  for i, p, (k, why) in zip(ids, paths, hashed) if k is None}
        # 2. rows in the store, and the chunks that still have missing rows
        store = ZarrFeatureStore(config, store_root, dtype=dtype, chunk_rows=chunk_rows,
                                 dim=dim)
        ok, rows, specs = _plan(store, paths, keys, dim, task)
        # 3. the work: one task per chunk, results already in the store when it returns
        done_chunks = _run_chunks(client, store, specs, on_chunk,
                                  desc=f"index ({layer}, {dtype})", progress=progress)
    # 4. what the store now holds for this collection
    features, missing_ids = _collect(store, reps, ids, ok, rows, errors)
    computed = sum(r["computed"] for r in done_chunks)
    seconds = time.perf_counter() - t_start
    loads: dict[int, int] = {}
    for r in done_chunks:
        loads[r["pid"]] = max(loads.get(r["pid"], 0), r["model_loads"])
    stats = {"images": len(ids), "rows": int(len(set(rows[ok].tolist()))),
             "computed": computed, "from_store": len(features.image_ids) - computed,
             "chunks": len(done_chunks), "chunks_total": -(-len(store) // store.chunk_rows),
             "errors": len(errors), "missing": len(missing_ids), "seconds": seconds,
             "images_per_second": computed / seconds if computed else 0.0,
             "workers": n_workers, "model_loads": loads, "dashboard": dashboard_link,
             "devices": sorted({r["device"] for r in done_chunks}),
             "store": str(store.path)}
    return IndexResult(features, stats, errors, weights_note(weights))


def _local_devices(device: str, client, scheduler: str | None, workers: int | None
                   ) -> list[str]:
    """The GPUs of the embedded cluster :func:`index_collection` will start (``[]``: CPU
    workers, or a running cluster whose workers resolve ``device`` themselves). A device
    this machine lacks stops the job here, before any work, when the work runs here."""
    from simkit.config import dask_scheduler
    from simkit.features.device import resolve_device

    if client is not None or scheduler or dask_scheduler():
        return []
    if workers == 0:  # the chunks run in this process
        resolve_device(device)
        return []
    return local_gpus(device)


def _describe(client, announce: Callable[[str], None] | None) -> tuple[int, str]:
    """``(workers, dashboard link)`` of ``client`` (``(0, "")`` without one); the address
    and link are handed to ``announce`` when given."""
    if client is None:
        return 0, ""
    link = ""
    info = client.scheduler_info()
    if "dashboard" in info.get("services", {}):  # a link only when there is one
        with contextlib.suppress(Exception):
            link = client.dashboard_link or ""
    n_workers = len(info.get("workers", {}))
    if announce:
        announce(f"Dask: {n_workers} worker(s) at {client.scheduler.address}"
                 + (f"; dashboard: {link}" if link else ""))
    return n_workers, link


def _hash_all(client, paths: list[str], step: int = 256) -> list[tuple[str | None, str]]:
    """:func:`_hash_files` of ``paths``, on the workers when there are any."""
    groups = [paths[s:s + step] for s in range(0, len(paths), step)]
    if client is not None:
        hashed = client.gather(client.map(_hash_files, groups, pure=False))
    else:
        hashed = [_hash_files(g) for g in groups]
    return [k for g in hashed for k in g]


def _plan(store: ZarrFeatureStore, paths: list[str], keys: list[str | None], dim: int,
          task: dict) -> tuple[list[int], np.ndarray, list[dict]]:
    """Register the readable images' rows; ``(readable positions, row of each image,
    one task spec per chunk with missing rows)``."""
    reps = task["representations"]
    ok = [j for j, k in enumerate(keys) if k is not None]
    rows = np.full(len(paths), -1, dtype=np.int64)
    rows[ok] = store.register([keys[j] for j in ok], reps, dim)
    status = np.stack([store.status(r) for r in reps])  # reps x rows
    missing = (status == MISSING).any(axis=0)
    todo: dict[int, dict[int, str]] = {}  # chunk -> {row: path}
    for j in ok:
        r = int(rows[j])
        if missing[r]:
            todo.setdefault(r // store.chunk_rows, {}).setdefault(r, paths[j])
    specs = [{"store": str(store.path), "chunk": c, "rows": list(rp),
              "paths": list(rp.values()), **task} for c, rp in sorted(todo.items())]
    return ok, rows, specs


def _run_chunks(client, store: ZarrFeatureStore, specs: list[dict], on_chunk, *,
                desc: str, progress: bool) -> list[dict]:
    """Run one task per chunk (on the cluster, or here without a client); each task's
    result dict once it is done."""
    from tqdm.auto import tqdm

    bar = tqdm(total=sum(len(s["rows"]) for s in specs), desc=desc, unit="img",
               disable=not progress or not specs)
    done: list[dict] = []
    try:
        if client is not None and specs:
            from distributed import as_completed
            results = (f.result() for f in as_completed(client.map(
                _index_chunk, specs, pure=False,
                key=[f"simkit-chunk-{store.path.name}-{s['chunk']}-{time.time_ns()}"
                     for s in specs])))
        else:
            results = (_index_chunk(s) for s in specs)
        for res in results:
            done.append(res)
            bar.update(len(res["errors"]) + res["computed"])
            if on_chunk is not None:
                on_chunk(res)
    finally:
        bar.close()
    return done


def _collect(store: ZarrFeatureStore, reps: list[str], ids: list[str], ok: list[int],
             rows: np.ndarray, errors: dict[str, str]
             ) -> tuple[CollectionFeatures, list[str]]:
    """The stored rows of the collection (adding unusable images to ``errors``) and the
    ids still missing."""
    status = np.stack([store.status(r) for r in reps])
    row_errors = store.errors()
    for j in ok:
        r = int(rows[j])
        if (status[:, r] < 0).any():
            errors[ids[j]] = row_errors.get(r, "the image could not be used")
    stored = [j for j in ok if (status[:, int(rows[j])] == 1).all()]
    missing_ids = [ids[j] for j in ok if (status[:, int(rows[j])] == MISSING).any()]
    return (CollectionFeatures(store, [ids[j] for j in stored], rows[stored], missing_ids,
                               errors), missing_ids)


def open_collection_features(collection, store_path: str | os.PathLike) -> CollectionFeatures:
    """The stored rows of a collection in an existing store folder, without computing."""
    store = ZarrFeatureStore.open(store_path)
    ids, paths = _inputs(collection)
    keys = [k for k, _ in _hash_files(paths)]
    rows = store.rows_of([k or "" for k in keys])
    reps = store.representations()
    status = np.stack([store.status(r) for r in reps]) if reps else np.zeros((0, len(store)))
    good = [j for j, r in enumerate(rows) if r >= 0 and (status[:, r] == 1).all()]
    missing = [ids[j] for j, r in enumerate(rows) if r < 0 or (status[:, r] == 0).any()]
    errs = store.errors()
    errors = {ids[j]: errs.get(int(r), "unusable") for j, r in enumerate(rows)
              if r >= 0 and (status[:, r] < 0).any()}
    return CollectionFeatures(store, [ids[j] for j in good], rows[good], missing, errors)
