"""An on-disk feature store: computed vectors keyed by image content and configuration.

Layout (plain files, safe to delete at any time)::

    CACHE/                          $SIMKIT_CACHE/features (default ~/.cache/simkit/features)
      <config hash>/                one folder per configuration
        config.json                 the configuration, readable
        <representation>/<content hash>.npy    one float32 vector per image

The configuration is everything that changes a vector: backbone, weights identity (the
weights file's hash, ``imagenet-v1`` or the random seed), layer, preprocessing policy and
size, precision and a format version. The image is keyed by the SHA-256 of its bytes, so
renaming a file keeps its features and editing it computes new ones.

Every vector is written to a temporary file and renamed into place, so an interrupted
extraction leaves only complete entries: the next run reuses them and computes the rest.
An entry that cannot be read (a disk error) is treated as missing and computed again.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from simkit.fileio import atomic_write, write_text

__all__ = ["FeatureStore", "default_cache_dir", "content_hash", "config_hash",
           "STORE_FORMAT"]

#: Bump when the computation changes in a way the configuration does not capture.
STORE_FORMAT = 1


def default_cache_dir() -> Path:
    """The ``features`` folder under the cache root (:func:`simkit.config.cache_root`)."""
    from simkit.config import cache_dir

    return cache_dir("features")


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_hash(config: dict) -> str:
    """A short stable hash of a JSON-able configuration dict."""
    text = json.dumps({**config, "store_format": STORE_FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class FeatureStore:
    """Vectors of one configuration: ``get``/``put`` by (content hash, representation)."""

    def __init__(self, config: dict, cache_dir: str | os.PathLike | None = None):
        self.config = dict(config)
        self.root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.folder = self.root / config_hash(self.config)

    def _path(self, key: str, representation: str) -> Path:
        return self.folder / representation / f"{key}.npy"

    def has(self, key: str, representations) -> bool:
        return all(self._path(key, r).is_file() for r in representations)

    def get(self, key: str, representation: str, *, length: int | None = None
            ) -> np.ndarray | None:
        """The stored vector, or ``None`` when absent or unreadable."""
        path = self._path(key, representation)
        try:
            v = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if v.ndim != 1 or v.dtype != np.float32 or (length is not None and len(v) != length):
            return None
        return v

    def put(self, key: str, vectors: dict[str, np.ndarray]) -> None:
        """Store one image's vectors, each atomically (temporary file, then rename)."""
        if not (self.folder / "config.json").is_file():
            write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n",
                       self.folder / "config.json")
        for rep, v in vectors.items():
            v = np.ascontiguousarray(v, dtype=np.float32).reshape(-1)
            # no fsync: a cache entry lost to a power cut is recomputed (get() checks sizes)
            with atomic_write(self._path(key, rep), "wb", durable=False) as fh:
                np.save(fh, v, allow_pickle=False)
