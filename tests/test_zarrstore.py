"""The chunked zarr feature store and the neighbour search that streams over it."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("zarr")

from simkit.scale.neighbours import CollectionIndex, stream_exact_search  # noqa: E402
from simkit.search.pca import fit_pca  # noqa: E402
from simkit.search.index import exact_search# noqa: E402
from simkit.features.zarr_store import (CollectionFeatures, ZarrStoreError, ZarrFeatureStore,  # noqa: E402
                              float16_ranking_error)

CONFIG = {"backbone": "synthetic", "weights": "random:0"}


def _vectors(n=300, d=600, rank=40, seed=0):
    """Low-rank + noise, with a decaying spectrum, like deep features."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, rank)) * (1.0 / np.arange(1, rank + 1)) * 30
    return (z @ rng.standard_normal((rank, d)) + rng.standard_normal((n, d))).astype(np.float32)


def _filled(tmp_path, X, dtype="float32", chunk=32):
    st = ZarrFeatureStore(CONFIG, tmp_path, dtype=dtype, chunk_rows=chunk, dim=X.shape[1])
    keys = [f"{i:064x}" for i in range(len(X))]
    rows = st.register(keys, ["gram"])
    for c in range(0, len(X), chunk):
        st.write_rows(rows[c:c + chunk], {"gram": X[c:c + chunk]})
    return st, rows


def test_rows_are_keyed_by_content_and_survive_reopening(tmp_path):
    X = _vectors(70, 50)
    st, rows = _filled(tmp_path, X)
    assert rows.tolist() == list(range(70))
    again = ZarrFeatureStore.open(st.path)
    assert again.config == CONFIG and again.chunk_rows == 32 and len(again) == 70
    # known keys keep their rows; a new key is appended; a repeated key is one row
    k = [f"{5:064x}", "f" * 64, "f" * 64]
    assert again.register(k, ["gram"]).tolist() == [5, 70, 70]
    assert again.status("gram")[70] == 0 and (again.status("gram")[:70] == 1).all()
    assert np.array_equal(again.read("gram", [69, 3, 3]), X[[69, 3, 3]])
    assert np.array_equal(again.read("gram", slice(10, 20)), X[10:20])
    # another configuration is another group
    other = ZarrFeatureStore({**CONFIG, "weights": "random:1"}, tmp_path, dim=50)
    assert other.path != st.path and len(other) == 0


def test_float16_storage_is_row_scaled_and_its_ranking_error_is_measured(tmp_path):
    X = _vectors(120, 80) * 1e4  # beyond float16's range without the row scale
    st, rows = _filled(tmp_path, X, dtype="float16")
    back = st.read("gram", rows)
    assert np.isfinite(back).all()
    rel = np.abs(back - X).max(axis=1) / np.abs(X).max(axis=1)
    assert rel.max() < 1e-3  # 11 significant bits
    assert st.to_dask("gram").dtype == np.float32
    err = float16_ranking_error(X, k=10, n_queries=50)
    assert 0.9 <= err["recall_at_k"] <= 1.0 and err["max_rel_vector_error"] < 1e-3
    assert err["queries"] == 50


def test_an_interrupted_writer_leaves_a_readable_store(tmp_path):
    X = _vectors(64, 40)
    st = ZarrFeatureStore(CONFIG, tmp_path, chunk_rows=16, dim=40)
    rows = st.register([f"{i:064x}" for i in range(64)], ["gram"])
    st.write_rows(rows[:16], {"gram": X[:16]})
    # a killed writer: a leftover temporary chunk file, vectors written but no status yet
    (st.path / "gram" / "c" / "1").mkdir(parents=True, exist_ok=True)
    (st.path / "gram" / "c" / "1" / "0.abc.partial").write_bytes(b"\0" * 100)
    import zarr
    zarr.open_array(str(st.path / "gram"), mode="r+")[16:32] = X[16:32]
    st.write_rows([40], {"gram": X[40:41]}, errors={41: "broken.png: not an image"})

    again = ZarrFeatureStore.open(st.path)
    status = again.status("gram")
    assert status[:16].tolist() == [1] * 16
    assert (status[16:32] == 0).all()  # no status: recomputed by the next run
    assert status[40] == 1 and status[41] == -1 and again.errors() == {41: "broken.png: not "
                                                                           "an image"}
    assert np.array_equal(again.read("gram", rows[:16]), X[:16])
    assert again.remove_partial_files() == 1
    with pytest.raises(ZarrStoreError, match="one chunk"):
        again.write_rows([0, 20], {"gram": X[[0, 20]]})


def test_streaming_exact_search_matches_in_memory_search(tmp_path):
    X = _vectors(200, 120)
    st, rows = _filled(tmp_path, X, chunk=16)
    perm = np.random.default_rng(1).permutation(200)
    cf = CollectionFeatures(st, [f"id{i}" for i in perm], rows[perm], [], {})
    Xp = X[perm]
    qp = np.arange(0, 200, 9)
    for metric in ("euclidean", "cosine"):
        idx, dist = stream_exact_search(cf, "gram", k=7, query_positions=qp, block_rows=48,
                                        metric=metric)
        ref_i, ref_d = exact_search(Xp, Xp[qp], 8, metric)
        keep = ref_i != qp[:, None]
        ref_i = np.array([r[m][:7] for r, m in zip(ref_i, keep)])
        ref_d = np.array([r[m][:7] for r, m in zip(ref_d, keep)])
        assert np.array_equal(idx, ref_i)
        np.testing.assert_allclose(dist, ref_d, rtol=1e-4, atol=1e-5)
    # vector queries: the image itself is its own nearest, at distance ~0
    idx, dist = stream_exact_search(cf, "gram", Xp[:3], k=2)
    assert idx[:, 0].tolist() == [0, 1, 2]
    assert (dist[:, 0] < 1e-3 * dist[:, 1]).all()  # ~0 up to float32 cancellation
    with pytest.raises(ValueError, match="k=500"):
        stream_exact_search(cf, "gram", Xp[:1], k=500)


def test_pca_and_approximate_index_report_recall_against_exact(tmp_path):
    X = _vectors(300, 400)
    pca = fit_pca(X, 30)
    np.testing.assert_allclose(pca.components @ pca.components.T, np.eye(30), atol=1e-4)
    st, rows = _filled(tmp_path, X)
    cf = CollectionFeatures(st, [f"id{i}" for i in range(300)], rows, [], {})
    index = CollectionIndex.build(cf, "gram", n_components=32, fit_sample=200)
    recall = index.recall(k=10, n_queries=60)
    assert 0.5 < recall <= 1.0
    ids, d = index.query("id7", 5)
    assert "id7" not in ids and len(ids) == 5 and np.all(np.diff(d) >= 0)
    loaded = CollectionIndex.load(index.save(), cf)
    assert loaded.query("id7", 5)[0] == ids
