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
importing umap. Up to :data:`EXACT_KNN_MAX` rows the neighbour graph is computed exactly
here (:func:`exact_knn`) and handed to UMAP, so pynndescent's numba code — compiled again in
every new process — is not needed. PCA is :mod:`simkit.search.pca`.
"""
from __future__ import annotations

import hashlib
import json
import warnings
import os
from pathlib import Path

import numpy as np

from simkit.errors import missing_extra
from simkit.fileio import atomic_write

__all__ = ["exact_knn", "project", "projection_cache_dir", "projection_key", "import_umap",
           "cached_projection", "PROJECTION_VERSION"]

#: Up to this many rows the UMAP neighbour graph is exact (an N x N float64 distance matrix,
#: 200 MB at 5,000); above it UMAP's own approximate search is used.
EXACT_KNN_MAX = 5000
#: Bump when the computation changes, so old cached projections are not reused.
PROJECTION_VERSION = 2


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


def exact_knn(z: np.ndarray, k: int, metric: str = "euclidean"
              ) -> tuple[np.ndarray, np.ndarray, None]:
    """The exact ``k``-nearest-neighbour graph of the rows of ``z`` (each row first in its
    own list), in the ``precomputed_knn`` form ``umap.UMAP`` takes.

    Handing UMAP this graph spares it pynndescent, whose numba code would otherwise be
    compiled again in every new Python process (most of a first map's time)."""
    from simkit.search.distances import all_pairs_distances

    d = all_pairs_distances(z, metric)
    np.fill_diagonal(d, -1.0)  # each row's own index first, whatever the ties
    idx = np.argsort(d, axis=1, kind="stable")[:, :k]
    dist = np.maximum(np.take_along_axis(d, idx, axis=1), 0.0)
    return idx, dist.astype(np.float32), None


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
        args = dict(kwargs)
        if n <= EXACT_KNN_MAX and args["metric"] in ("euclidean", "cosine"):
            args["precomputed_knn"] = exact_knn(z, args["n_neighbors"], args["metric"])
        reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **args)
        with warnings.catch_warnings():  # project() never transforms new data
            warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
            xy = reducer.fit_transform(z)
    steps.update(1)
    steps.close()
    xy = np.asarray(xy, dtype=np.float32)
    with atomic_write(path, "wb") as fh:
        np.save(fh, xy)
    return xy
