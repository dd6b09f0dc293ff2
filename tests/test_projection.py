"""PCA → UMAP projection: shape, determinism, the on-disk cache, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("umap")

from simkit.search.pca import pca_scores as _pca  # noqa: E402
from simkit.search.projection import project  # noqa: E402


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    x = np.random.default_rng(0).standard_normal((30, 500)).astype(np.float32)
    ours = _pca(x, 5, 0)
    ref = PCA(n_components=5, svd_solver="full").fit_transform(x)
    for k in range(5):
        a, b = ours[:, k], ref[:, k]
        assert min(np.abs(a - b).max(), np.abs(a + b).max()) < 1e-3 * np.abs(b).max()


def test_project_is_cached_and_deterministic(tmp_path):
    rng = np.random.default_rng(0)
    # two well separated clusters must stay apart on the map
    x = np.concatenate([rng.normal(0, 1, (20, 300)), rng.normal(8, 1, (20, 300))]).astype(np.float32)
    xy = project(x, cache_dir=tmp_path, progress=False)
    assert xy.shape == (40, 2) and np.isfinite(xy).all()
    files = list(tmp_path.glob("umap-*.npy"))
    assert len(files) == 1
    # the cached file is what a second call returns
    np.save(files[0], xy + 1)
    np.testing.assert_array_equal(project(x, cache_dir=tmp_path, progress=False), xy + 1)
    # other parameters: another projection
    project(x, cache_dir=tmp_path, progress=False, n_neighbors=5)
    assert len(list(tmp_path.glob("umap-*.npy"))) == 2
    a, b = xy[:20].mean(0), xy[20:].mean(0)
    spread = max(xy[:20].std(0).max(), xy[20:].std(0).max())
    assert np.linalg.norm(a - b) > 3 * spread


def test_project_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="N x D"):
        project(np.zeros(5), cache_dir=tmp_path)
    x = np.ones((6, 4), dtype=np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        project(x, cache_dir=tmp_path)
    tiny = project(np.eye(3, 8, dtype=np.float32), cache_dir=tmp_path, progress=False)
    assert tiny.shape == (3, 2)
