"""Principal component analysis of many long vectors: the one PCA of simkit.

Deep-feature vectors are long (131,328 numbers) and a fitted sample is short (a few
thousand rows), so the PCA is exact through the sample's ``S x S`` Gram matrix of centred
rows (seconds, no randomized SVD). :func:`fit_pca` returns a model that projects new rows
(the large-collection index, :mod:`simkit.scale.neighbours`); :func:`pca_scores` returns the
scores of the rows themselves with a fixed sign per component (the maps of
:mod:`simkit.search.projection`). Pure computation.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PCAModel", "fit_pca", "pca_scores"]


@dataclass
class PCAModel:
    """``mean`` (dim) and ``components`` (k x dim, orthonormal rows), float32."""

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The scores of the rows of ``X`` (``N x k`` float32)."""
        return ((np.asarray(X, dtype=np.float32) - self.mean) @ self.components.T
                ).astype(np.float32)


def _gram_eigen(x: np.ndarray, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(mean, centred rows, top k eigenvalues, their eigenvectors)`` of the Gram matrix
    of the centred rows, largest first."""
    mean = x.mean(axis=0, dtype=np.float64).astype(x.dtype)
    xc = x - mean
    vals, vecs = np.linalg.eigh((xc @ xc.T).astype(np.float64))
    top = np.argsort(vals)[::-1][:k]
    return mean, xc, vals[top], vecs[:, top]


def fit_pca(sample: np.ndarray, n_components: int = 256) -> PCAModel:
    """Exact PCA of a sample of rows through its ``S x S`` Gram matrix (S rows ≪ dim:
    4,096 x 131,328 takes seconds, no randomized SVD)."""
    X = np.asarray(sample, dtype=np.float32)
    k = int(min(n_components, len(X) - 1, X.shape[1]))
    mean, Xc, vals, vecs = _gram_eigen(X, k)
    vals = np.clip(vals, 1e-30, None)
    comps = (Xc.T @ vecs.astype(np.float32)) / np.sqrt(vals).astype(np.float32)
    return PCAModel(mean, np.ascontiguousarray(comps.T, dtype=np.float32),
                    (vals / max(1, len(X) - 1)).astype(np.float32))


def pca_scores(x: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    """The first ``n_components`` principal-component scores of the rows of ``x``, each
    component's sign fixed (largest |score| positive) so maps are reproducible."""
    n, d = x.shape
    k = min(n_components, n, d)
    if n <= 4096 and n < d:
        # Few rows, many columns (400 x 131,328): eigen-decompose the N x N Gram matrix of
        # the centred rows — exact PCA, about a second instead of a randomized SVD's ten.
        _, _, vals, vecs = _gram_eigen(x, k)
        scores = vecs * np.sqrt(np.clip(vals, 0, None))
        signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])
        return scores * np.where(signs == 0, 1, signs)
    from sklearn.decomposition import PCA
    return PCA(n_components=k, svd_solver="randomized" if k < min(n, d) else "full",
               random_state=seed).fit_transform(x)
