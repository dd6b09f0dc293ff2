"""Answers that were silently wrong or unclear (probe2 findings 10, 12, 15), and how each is
answered now: an undefined cosine distance is refused by image id instead of becoming 0 or 1,
``simkit validate`` decodes the pixels it vouches for, and the approximate index of a small
collection trains no k-means that faiss warns about."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import simkit.cli.app as cli
from simkit.features.images import ImageError, load_rgb
from simkit.methods.own_vectors import VectorsError, VectorTable, register_vectors
from simkit.methods.registry import Method, register_method, unregister_method
from simkit.search import retrieval as R
from simkit.search.distances import UndefinedDistanceError, check_defined, prepare
from simkit.search.index import ExactIndex, exact_search
from simkit.study.collection import load_collection
from simkit.study.model import load_study
from simkit.study.validate import check_image_files

from .test_security import one_line_error

IDS = ["i1", "i2", "i3", "i4", "i5"]
Q = {"q1": ("G", IDS)}
V = {"P1": {"q1": "a-b"}, "P2": {"q1": "d-e"}}


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    monkeypatch.setattr("simkit.cli.app.version", lambda: "test")  # ~1.5 s a parse
    monkeypatch.setenv("SIMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")


@pytest.fixture
def study(write_study):
    return write_study(Q, V, images=True)


def _vectors(zero_row: int | None = 2) -> np.ndarray:
    v = np.random.default_rng(0).normal(size=(len(IDS), 4)).astype(np.float32)
    if zero_row is not None:
        v[zero_row] = 0.0
    return v


# -- 10: a cosine distance from an all-zero vector is undefined: refused, by image id ----------
def test_own_vectors_with_cosine_refuse_an_all_zero_vector_by_image_id(study, tmp_path,
                                                                       capsys):
    path = tmp_path / "zeros.npz"
    np.savez(path, image_ids=np.array(IDS), vectors=_vectors(zero_row=2))
    out = tmp_path / "out"
    assert cli.main(["tables", str(study), "--vectors", f"mine={path}", "--vectors-metric",
                     "cosine", "--methods", "mine", "--no-ci", "--out", str(out)]) == 2
    err = one_line_error(capsys.readouterr().err, str(path), "'i3'", "all-zero", "cosine",
                         "euclidean")
    assert "'i1'" not in err  # only the zero vector is named
    assert not out.exists()   # refused before anything was computed or written
    with pytest.raises(VectorsError, match="'i3' have all-zero vectors"):
        register_vectors("zeros", dict(zip(IDS, _vectors(zero_row=2))), metric="cosine")
    try:  # Euclidean distances of a zero vector are defined: the same table is accepted
        m = register_vectors("zeros", dict(zip(IDS, _vectors(zero_row=2))))
        assert m.metric == "euclidean"
    finally:
        unregister_method("zeros")


def test_retrieval_names_the_image_whose_cosine_vector_is_zero(study):
    # a model's cosine embedding can be all zero (ReLU features of a blank image): the
    # vectors reach retrieval without register_vectors' check
    table = VectorTable(tuple(IDS), _vectors(zero_row=3), "test vectors")
    register_method(Method("zeroed", "test", "vectors", "vectors", "cosine", (), "test",
                           {"table": table}))
    try:
        col = load_collection(study)
        with pytest.raises(UndefinedDistanceError, match=r"image\(s\) 'i4': all-zero"):
            R.retrieve(col, "i1", 2, "zeroed", progress=False)
        with pytest.raises(UndefinedDistanceError, match=r"image\(s\) 'i4': all-zero"):
            R.evaluate(col, "genre", ["zeroed"], ks=(1,), progress=False)
    finally:
        unregister_method("zeroed")


def test_the_distance_engine_refuses_undefined_cosine_distances():
    X = _vectors(zero_row=None)
    with pytest.raises(UndefinedDistanceError, match=r"row\(s\) 1: all-zero"):
        ExactIndex(np.vstack([X[:1], np.zeros((1, 4)), X[1:]]), "cosine")
    with pytest.raises(UndefinedDistanceError, match=r"row\(s\) 0: all-zero"):
        ExactIndex(X, "cosine").query(np.zeros((1, 4), np.float32), 2)
    with pytest.raises(UndefinedDistanceError, match=r"row\(s\) 7: all-zero"):
        prepare(np.array([[1, 0], [0, 0]], np.float32), "cosine", labels=np.array([6, 7]))
    # defined vectors: the cosine distances of a float64 computation
    idx, d = exact_search(X, X[:1], 2, "cosine")
    Xd = X.astype(np.float64)
    cos = 1 - Xd @ Xd[0] / np.linalg.norm(Xd, axis=1) / np.linalg.norm(Xd[0])
    assert idx[0].tolist() == np.argsort(cos)[:2].tolist()
    np.testing.assert_allclose(d[0], np.sort(cos)[:2], atol=1e-12)
    check_defined(np.zeros((3, 2)), "euclidean")  # Euclidean: every distance is defined


def test_streaming_search_names_the_image_whose_cosine_vector_is_zero(tmp_path):
    pytest.importorskip("zarr")
    from simkit.features.zarr_store import CollectionFeatures, ZarrFeatureStore
    from simkit.scale.neighbours import stream_exact_search

    X = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    X[33] = 0.0  # in the second block of 32 rows
    st = ZarrFeatureStore({"backbone": "synthetic"}, tmp_path, chunk_rows=32, dim=8)
    rows = st.register([f"{i:064x}" for i in range(40)], ["gram"])
    for c in (0, 32):  # one chunk per write
        st.write_rows(rows[c:c + 32], {"gram": X[c:c + 32]})
    cf = CollectionFeatures(st, [f"p{i}" for i in range(40)], rows, [], {})
    with pytest.raises(UndefinedDistanceError, match=r"image\(s\) 'p33': all-zero"):
        stream_exact_search(cf, "gram", query_positions=[0], metric="cosine", block_rows=32)
    with pytest.raises(UndefinedDistanceError, match=r"image\(s\) 'p33': all-zero"):
        stream_exact_search(cf, "gram", query_positions=[33], metric="cosine")
    idx, _ = stream_exact_search(cf, "gram", query_positions=[33], k=3)  # Euclidean: defined
    assert idx[0].tolist() == exact_search(X, X[33:34], 4)[0][0][1:].tolist()


# -- 12: validate decodes the pixels (within the pixel limit), as feature extraction does -----
def test_validate_refuses_a_truncated_png_like_feature_extraction(study, capsys):
    path = study / "images" / "i2.png"
    noise = np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:60])  # the header and a few bytes of pixel data
    with pytest.raises(ImageError, match="truncated"):
        load_rgb(path)  # what `simkit features` would say later
    problems = check_image_files(load_study(study))
    assert [(p.image_id, "truncated or corrupt" in p.reason) for p in problems] == \
        [("i2", True)]
    assert cli.main(["validate", str(study)]) == 2
    one_line_error(capsys.readouterr().err.splitlines()[0], "i2", "images/i2.png",
                   "truncated")


def test_validate_does_not_decode_an_image_over_the_pixel_limit(study):
    # a 40 x 40 image is checked from its header against a 1,500-pixel limit: refused
    # before its pixels are decoded, even though its data is truncated
    path = study / "images" / "i1.png"
    noise = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path)
    path.write_bytes(path.read_bytes()[:60])
    (problem,) = check_image_files(load_study(study), max_pixels=1500)
    assert problem.image_id == "i1" and "exceeds the limit of 1,500 pixels" in problem.reason


# -- 15: the approximate index fits its cells to small collections ---------------------------
@pytest.mark.parametrize("n", [20, 60, 100])
def test_ivf_index_of_a_small_collection_prints_no_faiss_warning(n, capfd):
    pytest.importorskip("faiss")
    from simkit.search.index import ApproximateIndex

    X = np.random.default_rng(n).normal(size=(n, 16)).astype(np.float32)
    index = ApproximateIndex(X, kind="ivf")
    idx, d = index.query(X[:4], 5)
    assert capfd.readouterr().err == ""  # faiss's k-means warns on stderr, from C++
    assert index._index.nlist == max(1, n // 39)
    exact_idx, exact_d = exact_search(X, X[:4], 5)  # every cell is searched: exact
    assert idx.tolist() == exact_idx.tolist()
    np.testing.assert_allclose(d, exact_d, rtol=1e-4, atol=1e-5)


def test_a_choice_on_an_all_zero_cosine_vector_names_the_question_and_image():
    import pandas as pd

    from simkit.features.extract import FeatureSet
    from simkit.methods.closest import choose_from_features
    from simkit.study.model import IMAGE_COLUMNS, Study

    ids = [f"i{k}" for k in range(5)]
    vectors = np.random.default_rng(0).random((5, 8)).astype(np.float32)
    vectors[3] = 0
    study = Study(pd.DataFrame({"image_id": ids, "file": ids, "genre": "g"}),
                  pd.DataFrame([["q7", "g", *ids]], columns=["question_id", "genre",
                                                             *IMAGE_COLUMNS]),
                  pd.DataFrame(columns=["participant_id", "question_id", "choice"]),
                  pd.DataFrame(columns=["participant_id"]))
    fs = FeatureSet(ids, {"mine": vectors}, {})
    assert len(choose_from_features(study, fs, metric="euclidean")[0]) == 1
    with pytest.raises(UndefinedDistanceError, match=r"question 'q7', method 'mine': image.*'i3'"):
        choose_from_features(study, fs, metric="cosine")
