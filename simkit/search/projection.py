"""Project feature vectors to 2-D: PCA first, then UMAP — cached on disk.

>>> xy = project(featureset.vectors["gram"])           # doctest: +SKIP
>>> xy.shape                                            # doctest: +SKIP
(400, 2)

Why PCA first: the vectors have 131,328 dimensions; UMAP's nearest-neighbour search is
much faster (and no less faithful) on the top ``n_pca`` principal components (50 by
default, as is usual for UMAP on high-dimensional data).

The result is cached in ``cache_dir`` (default ``$SIMKIT_CACHE/projections`` or
``~/.cache/simkit/projections``) under a hash of the input vectors and every parameter, so
the same projection appears at once the second time, in any notebook. UMAP compiles its
code with numba on first use (most of a first run's time): numba keeps the code of the
functions umap marks ``cache=True`` in ``$NUMBA_CACHE_DIR`` (``run.sh`` sets it to
``.cache/numba``); when it is unset, simkit points it at ``$SIMKIT_CACHE/numba`` before
importing umap. PCA is :mod:`simkit.search.pca`.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from simkit.errors import missing_extra
from simkit.fileio import atomic_write

__all__ = ["project", "projection_cache_dir", "projection_key", "import_umap",
           "cached_projection", "PROJECTION_VERSION"]

#: Bump when the computation changes, so old cached projections are not reused.
PROJECTION_VERSION = 1


def projection_cache_dir() -> Path:
    """The default folder of cached projections (``$SIMKIT_CACHE/projections``)."""
    from simkit.config import cache_dir

    return cache_dir("projections")


def projection_key(vectors: np.ndarray, params: dict) -> str:
    """The cache key of a projection: a hash of the vectors and every parameter."""
    h = hashlib.sha256()
    h.update(json.dumps({"shape": vectors.shape, "dtype": str(vectors.dtype), **params},
                        sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(vectors).data)
    return h.hexdigest()[:24]


def import_umap():
    """Import umap, with numba's compiled code kept in ``$NUMBA_CACHE_DIR`` (default
    :func:`simkit.config.numba_cache_dir`) for the functions umap marks ``cache=True``."""
    from simkit.config import use_numba_cache

    use_numba_cache()
    try:
        import umap
    except ImportError as e:
        raise missing_extra("UMAP projections (simkit.search.projection)", "lab", e) from e
    return umap


def cached_projection(path: Path, n: int) -> np.ndarray | None:
    """A cached N x 2 projection, or None (absent, or damaged: then it is recomputed)."""
    try:
        xy = np.load(path)
    except (OSError, ValueError):
        return None
    return xy if xy.shape == (n, 2) else None


def project(vectors: np.ndarray, *, n_pca: int = 50, seed: int = 0,
            cache_dir: str | os.PathLike | None = None, progress: bool = True,
            **umap_kwargs) -> np.ndarray:
    """2-D UMAP coordinates (``N x 2`` float32) of the rows of ``vectors``.

    ``n_pca`` principal components are kept before UMAP (``0`` skips PCA); ``seed`` makes
    PCA and UMAP deterministic; ``umap_kwargs`` go to ``umap.UMAP`` (``n_neighbors`` is
    lowered to ``N - 1`` for small sets; default metric euclidean). With fewer than 4
    rows UMAP cannot run and the first two principal components are returned.
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"project() needs a non-empty N x D array of vectors, got shape "
                         f"{x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise ValueError(f"row {bad} of the vectors holds NaN or infinity; recompute the "
                         f"features of that image")
    n = x.shape[0]
    kwargs = {"n_neighbors": 15, "min_dist": 0.1, "metric": "euclidean", **umap_kwargs}
    kwargs["n_neighbors"] = max(2, min(int(kwargs["n_neighbors"]), n - 1))
    params = {"n_pca": n_pca, "seed": seed, "umap": kwargs, "version": PROJECTION_VERSION}

    folder = Path(cache_dir) if cache_dir is not None else projection_cache_dir()
    path = folder / f"umap-{projection_key(x, params)}.npy"
    xy = cached_projection(path, n)
    if xy is not None:
        return xy

    from tqdm.auto import tqdm

    from simkit.search.pca import pca_scores

    steps = tqdm(total=2, desc="projection (PCA, UMAP)", disable=not progress, leave=False)
    z = pca_scores(x, n_pca, seed) if n_pca and n_pca < x.shape[1] else x
    steps.update(1)
    if n < 4:
        xy = pca_scores(x, 2, seed) if n > 1 else np.zeros((n, 2))
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    else:
        umap = import_umap()
        reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **kwargs)
        xy = reducer.fit_transform(z)
    steps.update(1)
    steps.close()
    xy = np.asarray(xy, dtype=np.float32)
    with atomic_write(path, "wb") as fh:
        np.save(fh, xy)
    return xy
