"""A chunked feature store for whole collections, on zarr v3.

>>> store = ZarrFeatureStore(feature_config(weights="random:0"), dim=131_328)  # doctest: +SKIP
>>> rows = store.register(keys)                      # content hashes -> row numbers
>>> store.read("gram", rows[:10]).shape               # doctest: +SKIP
(10, 131328)

The per-image store (:mod:`simkit.features.cache`) keeps one ``.npy`` file per image: right for a
400-image study, wasteful for 100,000 images (a file per image and representation, no lazy
slicing). This store keeps **one zarr array per representation**, rows = images, split into
chunks of ``chunk_rows`` images (one chunk = one file = one task of the distributed job)::

    ROOT/                                   $SIMKIT_CACHE/zarr (default ~/.cache/simkit/zarr)
      <config hash>-<dtype>.zarr/           one zarr v3 group per configuration and dtype
        zarr.json                           attributes: configuration, dtype, chunk_rows, dim
        keys.txt                            the image content hashes (SHA-256), row = line number
        <rep>/                              N x dim array (float32, or float16 + a row scale)
        <rep>_status/                       N int8: 0 missing, 1 stored, -1 image unusable
        <rep>_scale/                        N float32 (float16 stores only)
        errors/chunk-<i>.json               why the unusable images of chunk i failed

The key is the same as the per-image store's: the configuration hash
(:func:`simkit.features.cache.config_hash` of :func:`simkit.features.extract.feature_config`) names the group,
the SHA-256 of an image's bytes names its row, so the same print in two collections is
computed once and a renamed file keeps its features.

Why it survives interruptions: zarr's local store writes every chunk to a temporary file and
renames it into place, the vectors of a row are written *before* its status, and every chunk
has a single writer (one task per chunk). A killed job therefore leaves complete chunks and
rows still marked missing — never a half-written vector marked stored; a rerun computes the
missing rows only. One indexing job per store at a time (registration of new rows takes a
lock file; the rest of the job does not).

``dtype="float16"`` halves the disk and read time: each row is divided by its largest
absolute value (kept in ``<rep>_scale``: Gram values exceed float16's 65,504) and rounded to
float16 (11 significant bits). :func:`float16_ranking_error` measures what that does to the
nearest-neighbour rankings.
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from simkit.errors import SimkitError, missing_extra
from simkit.fileio import write_text

__all__ = ["ZarrFeatureStore", "CollectionFeatures", "default_zarr_root", "DTYPES",
           "ZARR_STORE_FORMAT", "float16_ranking_error", "ZarrStoreError"]

DTYPES = ("float32", "float16")
#: Bump when the layout changes.
ZARR_STORE_FORMAT = 1
MISSING, STORED, UNUSABLE = 0, 1, -1


class ZarrStoreError(SimkitError, ValueError):
    """A store folder cannot be used as asked; the message says why and what to do."""


def default_zarr_root() -> Path:
    """The ``zarr`` folder under the cache root (:func:`simkit.config.cache_root`)."""
    from simkit.config import cache_dir

    return cache_dir("zarr")


def _zarr():
    try:
        import zarr
    except ImportError as e:
        raise missing_extra("the chunked feature store (zarr 3)", "scale", e) from None
    if int(zarr.__version__.split(".")[0]) < 3:
        raise missing_extra("the chunked feature store", "scale",
                            f"zarr >= 3 needed, found {zarr.__version__}")
    return zarr


@contextlib.contextmanager
def _lock(path: Path, timeout: float = 600.0):
    """An exclusive lock file (O_EXCL: works on shared file systems, unlike flock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:  # a lock left by a killed process is stale after the timeout
                if time.time() - path.stat().st_mtime > timeout:
                    path.unlink(missing_ok=True)
                    continue
            except FileNotFoundError:
                continue
            if time.monotonic() - start > timeout:
                raise ZarrStoreError(f"{path}: another job holds this lock; wait for it or "
                                 f"delete the file if no job is running") from None
            time.sleep(0.05)
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        path.unlink(missing_ok=True)


class ZarrFeatureStore:
    """The vectors of one configuration (and storage dtype) for any number of images."""

    def __init__(self, config: dict, root: str | os.PathLike | None = None, *,
                 dtype: str = "float32", chunk_rows: int = 64, dim: int | None = None):
        from simkit.features.cache import config_hash
        from simkit.paths import check_folder

        if dtype not in DTYPES:
            raise ZarrStoreError(f"unknown storage dtype {dtype!r}; use float32 or float16")
        if int(chunk_rows) < 1:
            raise ZarrStoreError(f"chunk_rows={chunk_rows}: give at least 1 image per chunk")
        self.config = dict(config)
        self.root = check_folder(root if root is not None else default_zarr_root(),
                                 "the zarr store folder", "pass --store (or --cache-dir) a "
                                 "folder, or set $SIMKIT_CACHE to one")
        self.dtype = dtype
        self.path = self.root / f"{config_hash(self.config)}-{dtype}.zarr"
        self._keys: list[str] | None = None
        zarr = _zarr()
        if (self.path / "zarr.json").is_file():
            attrs = dict(zarr.open_group(str(self.path), mode="r").attrs)
            self.chunk_rows, self.dim = int(attrs["chunk_rows"]), attrs.get("dim")
            if dim is not None and self.dim is not None and int(dim) != int(self.dim):
                raise ZarrStoreError(f"{self.path} holds {self.dim}-dim vectors, not {dim}")
        else:
            self.chunk_rows, self.dim = int(chunk_rows), dim
            group = zarr.open_group(str(self.path), mode="a")
            group.attrs.update({"simkit_zarr_store": ZARR_STORE_FORMAT, "config": self.config,
                                "dtype": dtype, "chunk_rows": self.chunk_rows, "dim": dim})

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ZarrFeatureStore":
        """Open an existing store folder (``…/<hash>-<dtype>.zarr``) read-write."""
        zarr = _zarr()
        path = Path(path)
        if not (path / "zarr.json").is_file():
            raise ZarrStoreError(f"{path}: not a simkit zarr feature store (no zarr.json); "
                             f"run `simkit index COLLECTION` to make one")
        attrs = dict(zarr.open_group(str(path), mode="r").attrs)
        if "simkit_zarr_store" not in attrs:
            raise ZarrStoreError(f"{path}: a zarr group, but not a simkit feature store")
        return cls(attrs["config"], path.parent, dtype=attrs["dtype"],
                   chunk_rows=attrs["chunk_rows"], dim=attrs.get("dim"))

    # -- rows -------------------------------------------------------------------------------
    @property
    def keys(self) -> list[str]:
        """Content hash of each row (row i = ``keys[i]``)."""
        if self._keys is None:
            f = self.path / "keys.txt"
            self._keys = f.read_text().split() if f.is_file() else []
        return self._keys

    def __len__(self) -> int:
        return len(self.keys)

    def rows_of(self, keys: Sequence[str]) -> np.ndarray:
        """Row number of each content hash, ``-1`` where the store has none."""
        where = {k: i for i, k in enumerate(self.keys)}
        return np.array([where.get(k, -1) for k in keys], dtype=np.int64)

    def register(self, keys: Sequence[str], representations: Sequence[str],
                 dim: int | None = None) -> np.ndarray:
        """Give every new content hash a row (appended), make sure each representation has
        its arrays, and return the rows of ``keys``. Only the process running the job
        calls this; workers only write rows."""
        zarr = _zarr()
        if dim is not None:
            if self.dim is not None and int(self.dim) != int(dim):
                raise ZarrStoreError(f"{self.path} holds {self.dim}-dim vectors, not {dim}")
            self.dim = int(dim)
        if self.dim is None:
            raise ZarrStoreError("the vector length (dim) is needed to create the arrays")
        with _lock(self.path / ".register.lock"):
            self._keys = None  # re-read under the lock
            known = set(self.keys)
            new = [k for k in dict.fromkeys(keys) if k not in known]
            if new:
                write_text("\n".join(self.keys + new) + "\n", self.path / "keys.txt")
                self._keys = self.keys + new
            n = len(self.keys)
            group = zarr.open_group(str(self.path), mode="a")
            group.attrs["dim"] = self.dim
            c = self.chunk_rows
            for rep in representations:
                specs = [(rep, (n, self.dim), (c, self.dim), self.dtype),
                         (f"{rep}_status", (n,), (c,), "int8")]
                if self.dtype == "float16":
                    specs.append((f"{rep}_scale", (n,), (c,), "float32"))
                for name, shape, chunks, dt in specs:
                    if (self.path / name / "zarr.json").is_file():  # no group listing:
                        arr = zarr.open_array(str(self.path / name), mode="r+")  # keys.txt
                        if arr.shape != shape:
                            arr.resize(shape)
                    else:
                        # no compression: these floats do not compress, and it costs CPU
                        group.create_array(name, shape=shape, chunks=chunks, dtype=dt,
                                           fill_value=0, compressors=None)
        return self.rows_of(keys)

    def representations(self) -> list[str]:
        """The representations this store has arrays for."""
        names = {p.parent.name for p in self.path.glob("*/zarr.json")}
        return sorted(n for n in names if f"{n}_status" in names)

    def array(self, rep: str):
        """The zarr array of ``rep`` (lazy: nothing is read until sliced)."""
        zarr = _zarr()
        try:
            return zarr.open_array(str(self.path / rep), mode="r")
        except FileNotFoundError:
            raise ZarrStoreError(f"{self.path} has no representation {rep!r}; it has "
                             f"{', '.join(self.representations()) or 'none yet'}") from None

    def status(self, rep: str) -> np.ndarray:
        """Per row: 1 stored, 0 missing (never computed, or the job stopped first), -1 the
        image could not be used (see :meth:`errors`)."""
        zarr = _zarr()
        try:
            st = zarr.open_array(str(self.path / f"{rep}_status"), mode="r")[:]
        except FileNotFoundError:
            st = np.zeros(0, dtype=np.int8)
        out = np.zeros(len(self), dtype=np.int8)
        out[: min(len(st), len(out))] = st[: len(out)]
        return out

    def errors(self) -> dict[int, str]:
        """``{row: reason}`` of the images that could not be used."""
        out: dict[int, str] = {}
        for f in sorted((self.path / "errors").glob("chunk-*.json")):
            try:
                out.update({int(k): v for k, v in json.loads(f.read_text()).items()})
            except (OSError, ValueError):
                pass
        return out

    def chunk_of(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(rows) // self.chunk_rows

    # -- write (one writer per chunk) -------------------------------------------------------
    def write_rows(self, rows: Sequence[int], vectors: dict[str, np.ndarray],
                   errors: dict[int, str] | None = None) -> None:
        """Store the vectors of ``rows`` (all in one chunk), then mark them stored; mark the
        rows of ``errors`` unusable and record why."""
        zarr = _zarr()
        rows = np.asarray(rows, dtype=np.int64)
        errors = errors or {}
        chunks = set(self.chunk_of(rows).tolist()) | set(self.chunk_of(
            np.fromiter(errors, dtype=np.int64, count=len(errors))).tolist())
        if len(chunks) > 1:
            raise ZarrStoreError("write_rows writes one chunk at a time (one writer per chunk)")
        if errors:
            (chunk,) = chunks
            old = self._chunk_errors(chunk)
            write_text(json.dumps({**old, **{str(k): v for k, v in errors.items()}},
                                  indent=1, sort_keys=True),
                       self.path / "errors" / f"chunk-{chunk:07d}.json")
        for rep, v in vectors.items():
            if len(v) != len(rows):
                raise ZarrStoreError(f"{len(v)} {rep} vectors for {len(rows)} rows")
        order = np.argsort(rows)
        rows = rows[order]
        for rep, v in vectors.items():
            v = np.asarray(v, dtype=np.float32)[order]
            if len(rows):
                arr = zarr.open_array(str(self.path / rep), mode="r+")
                if self.dtype == "float16":
                    scale = np.abs(v).max(axis=1)
                    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
                    zarr.open_array(str(self.path / f"{rep}_scale"),
                                    mode="r+").oindex[rows] = scale
                    v = (v / scale[:, None]).astype(np.float16)
                _set_rows(arr, rows, v)
        for rep in vectors:
            st = zarr.open_array(str(self.path / f"{rep}_status"), mode="r+")
            if len(rows):
                st.oindex[rows] = np.full(len(rows), STORED, dtype=np.int8)
            if errors:
                bad = np.array(sorted(errors), dtype=np.int64)
                st.oindex[bad] = np.full(len(bad), UNUSABLE, dtype=np.int8)

    def _chunk_errors(self, chunk: int) -> dict:
        f = self.path / "errors" / f"chunk-{chunk:07d}.json"
        try:
            return json.loads(f.read_text())
        except (OSError, ValueError):
            return {}

    # -- read -------------------------------------------------------------------------------
    def read(self, rep: str, rows: Sequence[int] | slice) -> np.ndarray:
        """float32 vectors of ``rows`` (a slice or row numbers, any order)."""
        zarr = _zarr()
        arr = self.array(rep)
        if isinstance(rows, slice):
            v = np.asarray(arr[rows])
            idx = np.arange(len(self))[rows]
        else:
            idx = np.asarray(rows, dtype=np.int64)
            if len(idx) == 0:
                return np.zeros((0, arr.shape[1]), dtype=np.float32)
            uniq, inverse = np.unique(idx, return_inverse=True)
            v = np.asarray(arr.oindex[uniq])[inverse]
        if self.dtype == "float16":
            scale = zarr.open_array(str(self.path / f"{rep}_scale"), mode="r")
            s = np.asarray(scale[:])[idx]
            return v.astype(np.float32) * s[:, None]
        return np.asarray(v, dtype=np.float32)

    def to_dask(self, rep: str):
        """A lazy dask array (float32) over every row, chunked like the store."""
        import dask.array as da
        x = da.from_zarr(self.array(rep))
        if self.dtype == "float16":
            zarr = _zarr()
            s = da.from_zarr(zarr.open_array(str(self.path / f"{rep}_scale"), mode="r"))
            return x.astype(np.float32) * s[:, None]
        return x.astype(np.float32)

    def remove_partial_files(self) -> int:
        """Delete temporary chunk files left by a killed writer (harmless, but they take
        disk); returns how many."""
        n = 0
        for f in self.path.rglob("*.partial"):
            f.unlink(missing_ok=True)
            n += 1
        return n


def _set_rows(arr, rows: np.ndarray, v: np.ndarray) -> None:
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):  # contiguous: a plain slice
        arr[int(rows[0]): int(rows[-1]) + 1] = v
    else:
        arr.oindex[rows] = v


@dataclass
class CollectionFeatures:
    """The rows of one collection in a :class:`ZarrFeatureStore`, read lazily.

    ``image_ids[i]`` is stored at ``rows[i]`` (images with the same bytes share a row);
    only images with a stored vector are listed (``missing`` and ``errors`` say which are
    not).
    """

    store: ZarrFeatureStore
    image_ids: list[str]
    rows: np.ndarray
    missing: list[str]
    errors: dict[str, str]

    @property
    def config(self) -> dict:
        return self.store.config

    def __len__(self) -> int:
        return len(self.image_ids)

    def vectors(self, rep: str) -> np.ndarray:
        """All vectors of ``rep`` in memory, ``len(self) x dim`` float32 (for collections
        that fit: 5,000 x 131,328 is 2.6 GB; use :meth:`blocks` beyond)."""
        return self.store.read(rep, self.rows)

    def to_dask(self, rep: str):
        """A lazy dask array of this collection's rows (in ``image_ids`` order)."""
        return self.store.to_dask(rep)[self.rows]

    def blocks(self, rep: str, block_rows: int | None = None
               ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Stream ``(positions, vectors)``: positions into ``image_ids`` and their float32
        vectors, a few store chunks at a time (contiguous reads, in row order)."""
        step = int(block_rows or self.store.chunk_rows)
        order = np.argsort(self.rows, kind="stable")
        for s in range(0, len(order), step):
            pos = order[s:s + step]
            r = self.rows[pos]
            lo, hi = int(r[0]), int(r[-1]) + 1
            if hi - lo <= 2 * len(r):  # dense: one contiguous read, then pick
                v = self.store.read(rep, slice(lo, hi))[r - lo]
            else:
                v = self.store.read(rep, r)
            yield pos, v


def float16_ranking_error(X: np.ndarray, k: int = 10, *, n_queries: int = 200,
                          seed: int = 0, metric: str = "euclidean") -> dict:
    """What float16 storage (row-scaled, as this store does it) changes in the rankings.

    Compares exact top-``k`` neighbours (itself excluded) computed from ``X`` (float32) and
    from its float16 round trip, over a seeded sample of queries: ``recall_at_k`` (mean
    overlap of the two top-k sets), ``same_order`` (fraction of queries whose top-k list is
    identical, order included), ``max_rel_vector_error`` and ``median_rel_distance_error``.
    """
    from simkit.search.index import exact_search

    X = np.asarray(X, dtype=np.float32)
    scale = np.abs(X).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    X16 = (X / scale[:, None]).astype(np.float16).astype(np.float32) * scale[:, None]
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(X), min(n_queries, len(X)), replace=False)
    k = min(int(k), len(X) - 1)
    i32, d32 = exact_search(X, X[rows], k + 1, metric)
    i16, d16 = exact_search(X16, X16[rows], k + 1, metric)
    overlap, same, rel = [], [], []
    for r, a, b, da_, db in zip(rows, i32, i16, d32, d16):
        ka, kb = a != r, b != r
        a, b = a[ka][:k], b[kb][:k]
        overlap.append(len(set(a) & set(b)) / k)
        same.append(bool(np.array_equal(a, b)))
        da_, db = da_[ka][:k], db[kb][:k]
        rel.append(np.median(np.abs(db - da_) / np.maximum(np.abs(da_), 1e-30)))
    vec_err = np.abs(X16 - X).max(axis=1) / scale
    return {"k": k, "queries": len(rows), "recall_at_k": float(np.mean(overlap)),
            "same_order": float(np.mean(same)),
            "max_rel_vector_error": float(vec_err.max()),
            "median_rel_distance_error": float(np.median(rel))}
