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
code with numba on first use (most of a first run's time): numba keeps the compiled code in
``$NUMBA_CACHE_DIR`` (``run.sh`` sets it to ``.cache/numba``); when it is unset, simkit
points it at ``$SIMKIT_CACHE/numba`` before importing umap.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from simkit.fileio import atomic_write

__all__ = ["project", "projection_cache_dir"]

#: Bump when the computation changes, so old cached projections are not reused.
PROJECTION_VERSION = 1


def projection_cache_dir() -> Path:
    """The default folder of cached projections (``$SIMKIT_CACHE/projections``)."""
    from simkit.config import cache_dir

    return cache_dir("projections")


def _key(vectors: np.ndarray, params: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"shape": vectors.shape, "dtype": str(vectors.dtype), **params},
                        sort_keys=True, default=str).encode())
    h.update(np.ascontiguousarray(vectors).data)
    return h.hexdigest()[:24]


def _pca(x: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """The first principal-component scores of the rows of ``x``."""
    n, d = x.shape
    k = min(n_components, n, d)
    if n <= 4096 and n < d:
        # Few rows, many columns (400 x 131,328): eigen-decompose the N x N Gram matrix of
        # the centred rows — exact PCA, about a second instead of a randomized SVD's ten.
        xc = x - x.mean(axis=0, dtype=np.float64).astype(x.dtype)
        gram = (xc @ xc.T).astype(np.float64)
        vals, vecs = np.linalg.eigh(gram)
        top = np.argsort(vals)[::-1][:k]
        scores = vecs[:, top] * np.sqrt(np.clip(vals[top], 0, None))
        # a fixed sign per component (largest |loading| positive) keeps maps reproducible
        signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])
        return scores * np.where(signs == 0, 1, signs)
    from sklearn.decomposition import PCA
    return PCA(n_components=k, svd_solver="randomized" if k < min(n, d) else "full",
               random_state=seed).fit_transform(x)


_NUMBA_CACHING = False


def _import_umap():
    """Import umap with numba's on-disk cache switched on for all of its functions.

    umap and pynndescent mark only a few numba functions ``cache=True``; the others
    (the parallel k-NN and fuzzy-set kernels) would be compiled again in every new
    Python process — 30 s or more. Enabling the cache on each compiled function before
    its first call keeps that work in ``$NUMBA_CACHE_DIR``: a later session starts in
    about a second.
    """
    global _NUMBA_CACHING
    if "numba" not in sys.modules:  # keep numba's compiled code between sessions
        from simkit.config import numba_cache_dir

        os.environ.setdefault("NUMBA_CACHE_DIR", str(numba_cache_dir()))
    try:
        import umap
    except ImportError as e:
        raise ImportError("simkit.search.projection needs umap-learn: pip install "
                          "'simkit-similarity[lab]'") from e
    if not _NUMBA_CACHING:
        try:
            from numba.core.caching import NullCache
            from numba.core.dispatcher import Dispatcher
            for name, module in list(sys.modules.items()):
                if module is None or name.split(".")[0] not in ("umap", "pynndescent"):
                    continue
                for obj in list(vars(module).values()):
                    if isinstance(obj, Dispatcher) and isinstance(obj._cache, NullCache):
                        obj.enable_caching()
        except Exception:  # a numba without this internal API: slower, still correct
            pass
        _NUMBA_CACHING = True
    return umap


def _cached(path: Path, n: int) -> np.ndarray | None:
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
    path = folder / f"umap-{_key(x, params)}.npy"
    xy = _cached(path, n)
    if xy is not None:
        return xy

    from tqdm.auto import tqdm

    steps = tqdm(total=2, desc="projection (PCA, UMAP)", disable=not progress, leave=False)
    z = _pca(x, n_pca, seed) if n_pca and n_pca < x.shape[1] else x
    steps.update(1)
    if n < 4:
        xy = _pca(x, 2, seed) if n > 1 else np.zeros((n, 2))
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    else:
        umap = _import_umap()
        reducer = umap.UMAP(n_components=2, random_state=seed, n_jobs=1, **kwargs)
        xy = reducer.fit_transform(z)
    steps.update(1)
    steps.close()
    xy = np.asarray(xy, dtype=np.float32)
    with atomic_write(path, "wb") as fh:
        np.save(fh, xy)
    return xy
