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

When the cache cannot be used:

* a file where the cache folder (or one of its parents) should be is refused at once with
  :class:`~simkit.paths.NotAFolderError` (one line naming it: pass another ``--cache-dir``);
* a cache that cannot be written (a read-only shared cache, no permission) is only read:
  missing vectors are computed and returned, one :class:`CacheWarning` says they were not
  saved, and no further write is tried;
* a full disk (or quota) stops the extraction with :class:`CacheError`, naming the folder:
  continuing would compute for hours and keep nothing.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from simkit.errors import SimkitError
from simkit.fileio import atomic_write, write_text
from simkit.paths import check_folder, open_regular

__all__ = ["FeatureStore", "default_cache_dir", "content_hash", "config_hash",
           "STORE_FORMAT", "CacheError", "CacheWarning"]

#: Bump when the computation changes in a way the configuration does not capture.
STORE_FORMAT = 1
#: Write errors that mean the disk is full: computing on would keep nothing.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class CacheError(SimkitError, OSError):
    """A cache folder cannot be used; the message names it and says what to pass instead."""


class CacheWarning(UserWarning):
    """The feature cache could not be written: results are computed but not kept."""


def default_cache_dir() -> Path:
    """The ``features`` folder under the cache root (:func:`simkit.config.cache_root`)."""
    from simkit.config import cache_dir

    return cache_dir("features")


def content_hash(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes.

    Only a regular file of at most :data:`~simkit.features.images.MAX_FILE_BYTES` is read
    (:func:`simkit.paths.open_regular`): a FIFO or a link to a device would never finish.
    Raises ``OSError`` (:class:`~simkit.paths.NotRegularFileError` for those) when the
    file cannot be read."""
    from simkit.features.images import MAX_FILE_BYTES

    h = hashlib.sha256()
    with open_regular(path, max_bytes=MAX_FILE_BYTES) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_hash(config: dict) -> str:
    """A short stable hash of a JSON-able configuration dict."""
    text = json.dumps({**config, "store_format": STORE_FORMAT}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


#: How to point simkit at another cache folder.
CACHE_FIX = "pass --cache-dir a writable folder (or set $SIMKIT_CACHE)"


class FeatureStore:
    """Vectors of one configuration: ``get``/``put`` by (content hash, representation)."""

    def __init__(self, config: dict, cache_dir: str | os.PathLike | None = None):
        self.config = dict(config)
        self.root = check_folder(cache_dir if cache_dir is not None else default_cache_dir(),
                                 "the feature cache", CACHE_FIX)
        self.folder = self.root / config_hash(self.config)
        #: Why the cache could not be written ("" while it can); no write is tried after.
        self.write_error = ""

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
        """Store one image's vectors, each atomically (temporary file, then rename).

        A cache that cannot be written is warned about once and then only read (see the
        module docstring); a full disk raises :class:`CacheError`."""
        if self.write_error:
            return
        try:
            if not (self.folder / "config.json").is_file():
                write_text(json.dumps(self.config, indent=2, sort_keys=True) + "\n",
                           self.folder / "config.json")
            for rep, v in vectors.items():
                v = np.ascontiguousarray(v, dtype=np.float32).reshape(-1)
                # no fsync: an entry lost to a power cut is recomputed (get() checks sizes)
                with atomic_write(self._path(key, rep), "wb", durable=False) as fh:
                    np.save(fh, v, allow_pickle=False)
        except OSError as e:
            why = e.strerror or str(e)
            if e.errno in DISK_FULL:
                raise CacheError(f"the feature cache {self.root} cannot be written: {why} "
                                 f"(the disk is full); free some space, or "
                                 f"{CACHE_FIX}") from None
            self.write_error = why
            warnings.warn(f"the feature cache {self.root} cannot be written ({why}): "
                          f"features are computed but not saved; {CACHE_FIX}",
                          CacheWarning, stacklevel=2)
