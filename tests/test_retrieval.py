"""Retrieval: collections, exact and approximate search, metrics against scikit-learn, CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simkit.cli import main
import simkit.search.evaluate as evaluate_mod
import simkit.search.index as index_mod
import simkit.search.retrieval as R
import simkit.study.collection as collection_mod
from simkit.study.demo import find_wikiart, make_demo_study

from conftest import SHARED_DATA


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "study"
    make_demo_study(root, groups_per_genre=1, image_size=64)   # 20 images, 4 genres
    return root


# -- search ----------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_search_matches_brute_force_and_finds_duplicates(metric):
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(60, 33)) + 50).astype(np.float32)   # a large common offset
    X[7] = X[40]                                               # a duplicate pair
    idx, dist = index_mod.exact_search(X, k=5, metric=metric)
    assert idx[7, 0] == 40 and idx[40, 0] == 7 and dist[7, 0] == pytest.approx(0, abs=1e-6)
    assert not (idx == np.arange(60)[:, None]).any()           # never itself
    X64 = X.astype(np.float64)
    if metric == "euclidean":
        D = np.linalg.norm(X64[:, None] - X64[None], axis=2)
    else:
        U = X64 / np.linalg.norm(X64, axis=1, keepdims=True)
        D = 1 - U @ U.T
    np.fill_diagonal(D, np.inf)
    for q in range(60):
        if q in (7, 40):
            continue
        # rows 7 and 40 are tied everywhere: compare the distances of the ids returned
        assert np.allclose(D[q, idx[q]], np.sort(D[q])[:5], atol=1e-5)
        assert np.allclose(dist[q], np.sort(D[q])[:5], atol=1e-4)
    qi, qd = index_mod.exact_search(X, X[:3] + 1e-3, k=1, metric=metric)   # outside queries
    assert list(qi[:, 0]) == [0, 1, 2]
    with pytest.raises(index_mod.RetrievalError, match="k=60"):
        index_mod.exact_search(X, k=60)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_index_recall_is_high_on_easy_data(kind):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(20, 64)) * 10
    X = (centers[rng.integers(0, 20, 2000)] + rng.normal(size=(2000, 64))).astype(np.float32)
    index = index_mod.ApproximateIndex(X, "euclidean", kind=kind)
    assert index.kind == kind
    recall = index_mod.approximate_recall(X, 10, index=index, n_queries=100)
    assert 0.9 <= recall <= 1.0
    idx, _ = index.query(k=3)                                  # self excluded
    assert not (idx == np.arange(2000)[:, None]).any()
    ai, _ = index_mod.search(X, X[:5], 1, index=index)
    assert list(ai[:, 0]) == [0, 1, 2, 3, 4]                   # a query finds itself


# -- metrics against scikit-learn --------------------------------------------------------------
def test_metrics_equal_scikit_learn_on_hand_made_rankings():
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

    labels = np.array(["x", "x", "y", "x", "y", "z", "y", "x"])
    D = np.array([   # distances from 3 queries (rows 0, 2, 5) to all 8, no ties
        [0, .5, .2, .9, .1, .7, .3, .8],
        [.6, .4, 0, .3, .2, .9, .1, .5],
        [.9, .2, .3, .4, .5, 0, .6, .7],
    ])
    rows = np.array([0, 2, 5])
    rankings = evaluate_mod.rank_distances(D, rows)
    assert rankings.shape == (3, 7) and list(rankings[0][:3]) == [4, 2, 6]
    got = evaluate_mod.retrieval_metrics(rankings, rows, labels, ks=[1, 3, 5])
    # row 5 ("z") has no other z: it is skipped
    assert (got["queries"] == 2).all()
    for _, r in got.iterrows():
        k = int(r["k"])
        P, Rc, F, AP = [], [], [], []
        for q, d in zip(rows[:2], D[:2]):
            others = [i for i in range(8) if i != q]
            y_true = (labels[others] == labels[q]).astype(int)
            score = -d[others]
            top = np.argsort(-score, kind="stable")[:k]
            y_pred = np.zeros(len(others), int)
            y_pred[top] = 1
            P.append(precision_score(y_true, y_pred, zero_division=0))
            Rc.append(recall_score(y_true, y_pred))
            F.append(f1_score(y_true, y_pred, zero_division=0))
            AP.append(average_precision_score(y_true, score))
        assert r["precision"] == pytest.approx(np.mean(P))
        assert r["recall"] == pytest.approx(np.mean(Rc))
        assert r["f1"] == pytest.approx(np.mean(F))
        assert r["map"] == pytest.approx(np.mean(AP))


def test_metrics_perfect_and_worst_rankings():
    labels = np.array(["a", "a", "a", "b", "b", "b"])
    same = labels[:, None] == labels[None, :]
    got = evaluate_mod.retrieval_metrics(evaluate_mod.rank_distances(np.where(same, 0.1, 1.0)), np.arange(6),
                              labels, ks=[2, 3])
    assert got.loc[0, ["precision", "recall", "f1", "map"]].tolist() == pytest.approx(
        [1, 1, 1, 1])
    assert got.loc[1, "precision"] == pytest.approx(2 / 3)   # only 2 relevant exist
    worst = evaluate_mod.retrieval_metrics(evaluate_mod.rank_distances(np.where(same, 1.0, 0.1)), np.arange(6),
                                labels, ks=[3])
    assert worst.loc[0, ["precision", "recall", "f1"]].tolist() == [0, 0, 0]
    assert worst.loc[0, "map"] == pytest.approx((1 / 4 + 2 / 5) / 2)
    with pytest.raises(index_mod.RetrievalError, match="nothing is relevant"):
        evaluate_mod.retrieval_metrics(evaluate_mod.rank_distances(same * 1.0), np.arange(6), list("abcdef"), ks=[1])


# -- collections ------------------------------------------------------------------------------
def test_load_collection_reads_a_study_and_explains_bad_input(demo, tmp_path):
    col = collection_mod.load_collection(demo)
    assert len(col.ids) == 20 and "genre" in col.label_columns
    assert col.paths[col.ids[0]].is_file()

    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(collection_mod.CollectionError, match="images.csv: file not found"):
        collection_mod.load_collection(bad)
    (bad / "images.csv").write_text("image_id,path\na,x.png\n")
    with pytest.raises(collection_mod.CollectionError, match="line 1: missing column.*file"):
        collection_mod.load_collection(bad)
    (bad / "images.csv").write_text("image_id,file\na,x.png\na,y.png\n")
    with pytest.raises(collection_mod.CollectionError, match="line 3: image_id 'a' already used"):
        collection_mod.load_collection(bad)
    (bad / "images.csv").write_text("image_id,file,artist\na,x.png,hokusai\n")
    with pytest.raises(collection_mod.CollectionError, match=r"line 2: image file 'x.png' not found"):
        collection_mod.load_collection(bad)
    with pytest.raises(collection_mod.CollectionError, match="no column 'genre'"):
        collection_mod.load_collection(bad, check_files=False).labels("genre")


# -- the CLI functions --------------------------------------------------------------------------
def test_retrieve_and_evaluate_commands_on_the_demo_study(demo, tmp_path, capsys):
    pytest.importorskip("cv2")
    kw = dict(size=32, cache_dir=tmp_path / "cache", progress=False)
    opts = ["--size", "32", "--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    rc = main(["retrieve", str(demo), "--query", "img0001", "-k", "3", "--method", "colour",
               "--weights", "random:0", *opts])
    out = capsys.readouterr().out
    assert rc == 0 and "query: img0001" in out
    table = out.splitlines()[2:]
    assert len(table) == 3 and all("img0001" not in line.split()[1] for line in table)

    # a query file outside the collection: a copy of img0005 finds img0005 first
    import shutil
    shutil.copy(demo / "images" / "img0005.png", tmp_path / "q.png")
    res = R.retrieve(collection_mod.load_collection(demo), tmp_path / "q.png", 2, "cnn",
                     weights="random:0", **kw)
    assert res["image_id"].iloc[0] == "img0005" and res["distance"].iloc[0] < 1e-6
    res = R.retrieve(collection_mod.load_collection(demo), "img0005", 2, "orb")
    assert "img0005" not in set(res["image_id"]) and (res["matches"] >= 0).all()

    out_dir = tmp_path / "results"
    rc = main(["evaluate-retrieval", str(demo), "--label", "genre", "--methods", "colour,cnn,orb",
               "-k", "1,5", "--weights", "random:0", "--out", str(out_dir), *opts])
    printed = capsys.readouterr()
    assert rc == 0 and "RANDOM" in printed.err
    df = pd.read_csv(out_dir / "retrieval.csv")
    assert list(df.columns) == ["method", "k", "precision", "recall", "f1", "map",
                                "seconds_per_query"]
    assert len(df) == 6 and df[["precision", "recall", "f1", "map"]].stack().between(0, 1).all()
    # 5 prints per genre: recall@5 <= 5/4 * precision@5 (4 relevant, 5 returned)
    five = df[df["k"] == 5]
    assert (five["recall"] <= five["precision"] * 5 / 4 + 1e-9).all()

    assert main(["evaluate-retrieval", str(demo), "--label", "nope", "--methods", "colour",
                 "-k", "5", "--out", str(out_dir), *opts]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    assert main(["evaluate-retrieval", str(demo), "--label", "genre", "--methods", "surf",
                 "-k", "5", "--out", str(out_dir), *opts]) == 2
    assert "patented" in capsys.readouterr().err
    assert main(["retrieve", str(demo), "--query", "missing-id", "-k", "3", "--method", "colour",
                 *opts]) == 2


# -- real prints (when present) ------------------------------------------------------------------
@pytest.mark.skipif(find_wikiart(SHARED_DATA.parent) is None,
                    reason="../shared/data/ukiyoe-wikiart is not on this machine")
def test_evaluate_retrieval_on_wikiart_by_artist(tmp_path, capsys):
    src = find_wikiart(SHARED_DATA.parent)
    col = collection_mod.load_collection(src)
    assert col.source == "metadata.csv" and "artist_slug" in col.label_columns
    rc = main(["evaluate-retrieval", str(src), "--label", "artist_slug", "--methods", "colour,cnn",
               "-k", "5,10", "--weights", "random:0", "--out", str(tmp_path), "--size", "64",
               "--cache-dir", str(tmp_path / "cache"), "--sample", "100", "--no-progress"])
    assert rc == 0, capsys.readouterr().err
    df = pd.read_csv(tmp_path / "retrieval.csv")
    assert set(df["method"]) == {"colour", "cnn"} and len(df) == 4
    assert df["map"].between(0, 1).all() and (df["seconds_per_query"] > 0).all()


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_exact_search_refines_in_float64_and_breaks_ties_by_index(metric):
    rng = np.random.default_rng(3)
    base = rng.normal(size=33)
    # near-ties far below float32 resolution of |q|² + |x|² − 2 q·x around a large offset
    X = np.stack([base + 1000 + rng.normal(size=33) * s
                  for s in (1e-3, 1e-3, 2e-3, 1, 1, 1)]).astype(np.float32)
    X[4] = X[3]                                                 # an exact tie: 3 before 4
    Q = (base + 1000).astype(np.float32)[None]
    X64, Q64 = X.astype(np.float64), Q.astype(np.float64)
    if metric == "euclidean":
        ref = np.linalg.norm(X64 - Q64, axis=1)
    else:
        ref = 1 - (X64 @ Q64[0]) / np.linalg.norm(X64, axis=1) / np.linalg.norm(Q64)
    idx, dist = index_mod.exact_search(X, Q, k=6, metric=metric)
    assert list(idx[0]) == list(np.lexsort((np.arange(6), ref)))
    np.testing.assert_allclose(dist[0], np.sort(ref), rtol=1e-12, atol=1e-15)
    assert list(idx[0]).index(3) < list(idx[0]).index(4)
