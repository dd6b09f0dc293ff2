"""Your own vectors (simkit.methods.own_vectors): every format round-trips into the same
choices as a plain numpy computation; every bad input is refused naming the file and ids;
the ``simkit tables --vectors NAME=FILE`` contract."""
from __future__ import annotations

import itertools
import os
import shutil
import sys

import numpy as np
import pandas as pd
import pytest

import simkit
import simkit.cli.app as cli
from simkit.errors import MissingExtraError, SimkitError
from simkit.features.extract import FeatureSet
from simkit.methods.own_vectors import (VectorsError, VectorTable, read_vectors,
                                        register_vectors, vectors_for)
from simkit.methods.registry import (UnknownMethodError, family_methods, get_method,
                                     method_names, unregister_method)
from simkit.search import retrieval as R
from simkit.study.collection import load_collection
from simkit.study.demo import make_demo_study
from simkit.study.model import IMAGE_COLUMNS, PAIRS

FAST = dict(weights="random:0", size=32, progress=False)
DIM = 6


@pytest.fixture(autouse=True)
def no_leaks():
    """No registration outlives its test."""
    yield
    for m in family_methods("vectors"):
        unregister_method(m.name)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_demo_study(tmp_path_factory.mktemp("own") / "demo", groups_per_genre=1,
                           image_size=64)


@pytest.fixture(scope="module")
def table(study):
    """Vectors for every image of the study plus two others, rows shuffled."""
    ids = study.images["image_id"].astype(str).tolist() + ["extra1", "extra2"]
    rng = np.random.default_rng(1)
    order = rng.permutation(len(ids))
    vectors = rng.normal(size=(len(ids), DIM)).astype(np.float32)
    return [ids[i] for i in order], vectors[order]


def frame(ids, vectors) -> pd.DataFrame:
    df = pd.DataFrame(vectors, columns=[f"d{j}" for j in range(vectors.shape[1])])
    df.insert(0, "image_id", ids)
    return df


def expected_choices(study, ids, vectors, metric="euclidean") -> list[str]:
    """The closest pair per question, in plain numpy (float64, PAIRS order)."""
    row = {i: r for r, i in enumerate(ids)}
    out = []
    for _, q in study.questions.iterrows():
        v = vectors[[row[str(q[c])] for c in IMAGE_COLUMNS]].astype(np.float64)
        if metric == "cosine":
            v = v / np.linalg.norm(v, axis=1, keepdims=True)
            d = [1 - v[i] @ v[j] for i, j in itertools.combinations(range(5), 2)]
        else:
            d = [np.linalg.norm(v[i] - v[j]) for i, j in itertools.combinations(range(5), 2)]
        out.append(PAIRS[int(np.argmin(d))])
    return out


# -- each format round-trips ---------------------------------------------------------------
def _npz(tmp, ids, v):
    np.savez(tmp / "v.npz", image_ids=np.array(ids), vectors=v)
    return tmp / "v.npz", None


def _csv_column(tmp, ids, v):
    frame(ids, v).to_csv(tmp / "v.csv", index=False)
    return tmp / "v.csv", None


def _csv_index(tmp, ids, v):
    frame(ids, v).set_index("image_id").to_csv(tmp / "v.csv")
    return str(tmp / "v.csv"), None


def _parquet(tmp, ids, v):
    frame(ids, v).set_index("image_id").to_parquet(tmp / "v.parquet")
    return tmp / "v.parquet", None


def _npy(tmp, ids, v):
    np.save(tmp / "v.npy", v)
    return tmp / "v.npy", ids


def _dataframe(tmp, ids, v):
    return frame(ids, v).set_index("image_id"), None


def _array(tmp, ids, v):
    return v, ids


def _mapping(tmp, ids, v):
    return dict(zip(ids, v)), None


FORMATS = [_npz, _csv_column, _csv_index, _parquet, _npy, _dataframe, _array, _mapping]


@pytest.mark.parametrize("write", FORMATS, ids=lambda f: f.__name__.strip("_"))
def test_each_format_chooses_like_numpy(write, study, table, tmp_path):
    ids, v = table
    source, image_ids = write(tmp_path, ids, v)
    method = register_vectors("mine", source, image_ids=image_ids)
    assert method.family == method.kind == "vectors" and method.metric == "euclidean"
    assert get_method("MINE") is method and "mine" in method_names()
    is_file = isinstance(source, (str, os.PathLike))
    assert method.source == (str(source) if is_file else "user vectors")
    result = simkit.choose(study, ["mine"], progress=False)
    assert result.choices["choice"].tolist() == expected_choices(study, ids, v)
    assert result.choices["method"].tolist() == ["mine"] * len(study.questions)
    fs = result.features["vectors"]
    assert isinstance(fs, FeatureSet) and fs.config == {"vectors": {"mine": method.source}}
    row = {i: r for r, i in enumerate(ids)}
    np.testing.assert_array_equal(fs.vectors["mine"], v[[row[i] for i in fs.image_ids]])
    assert not result.notes


def test_cosine_and_euclidean_mix_with_other_families(study, table, tmp_path):
    ids, v = table
    source, _ = _npz(tmp_path, ids, v)
    register_vectors("mine_cos", source, metric="cosine")
    register_vectors("mine_euc", source)
    result = simkit.choose(study, ["mine_cos", "colour", "mine_euc"], cache_dir=tmp_path,
                           **FAST)
    assert result.methods == ["mine_cos", "colour", "mine_euc"]
    c = result.choices.pivot(index="question_id", columns="method", values="choice")
    assert c["mine_cos"].tolist() == expected_choices(study, ids, v, "cosine")
    assert c["mine_euc"].tolist() == expected_choices(study, ids, v)
    assert set(result.features) == {"style", "vectors"}
    assert len(result.distances) == 10 * 3 * len(study.questions)


def test_ids_stay_text_and_tables_are_read_only(tmp_path):
    (tmp_path / "v.csv").write_text("image_id,x,y\n0001,1,2\n0002,3,4\n")
    t = read_vectors(tmp_path / "v.csv")
    assert t.image_ids == ("0001", "0002") and t.vectors.dtype == np.float32
    assert t.dimensions == 2 and len(t) == 2 and "2 images x 2 dimensions" in repr(t)
    with pytest.raises(ValueError):
        t.vectors[0, 0] = 5
    out = vectors_for(register_vectors("mine", t), ["0002", "0001", "0002"])
    np.testing.assert_array_equal(out, [[3, 4], [1, 2], [3, 4]])


def test_parts_of_a_collection_are_concatenated(study, table, tmp_path):
    ids, v = table
    frame(ids[:10], v[:10]).to_csv(tmp_path / "a.csv", index=False)
    np.savez(tmp_path / "b.npz", image_ids=np.array(ids[10:]), vectors=v[10:])
    parts = [tmp_path / "a.csv", str(tmp_path / "b.npz")]
    t = read_vectors(parts)
    assert t.image_ids == tuple(ids) and t.source == " + ".join(map(str, parts))
    register_vectors("mine", parts)
    result = simkit.choose(study, ["mine"], progress=False)
    assert result.choices["choice"].tolist() == expected_choices(study, ids, v)


def test_registering_again(table, tmp_path):
    ids, v = table
    first, _ = _npz(tmp_path, ids, v)
    m = register_vectors("mine", first)
    assert register_vectors("mine", first).params["table"].same_as(m.params["table"])
    np.savez(first, image_ids=np.array(ids), vectors=v + 1)  # the same file, new vectors
    with pytest.raises(VectorsError, match="already registered.*replace=True"):
        register_vectors("mine", first)
    with pytest.raises(VectorsError, match="replace=True"):
        register_vectors("mine", first, metric="cosine")
    again = register_vectors("mine", first, replace=True)
    np.testing.assert_array_equal(vectors_for("mine", ids[:1]), v[:1] + 1)
    assert get_method("mine") is again
    with pytest.raises(UnknownMethodError, match="built-in"):
        register_vectors("gram", first)
    with pytest.raises(VectorsError, match="'manhattan'"):
        register_vectors("other", first, metric="manhattan")


# -- bad input: the file and the ids or values, and how to fix it ----------------------------
def _raises(source, *words, image_ids=None):
    with pytest.raises(VectorsError) as e:
        read_vectors(source, image_ids)
    msg = str(e.value)
    for w in words:
        assert str(w) in msg, msg
    assert isinstance(e.value, SimkitError) and isinstance(e.value, ValueError)
    return msg


def test_missing_unreadable_and_unknown_files(tmp_path):
    _raises(tmp_path / "nope.npz", tmp_path / "nope.npz", "not found")
    (tmp_path / "dir.csv").mkdir()
    _raises(tmp_path / "dir.csv", tmp_path / "dir.csv", "not a regular file")
    (tmp_path / "v.txt").write_text("x")
    _raises(tmp_path / "v.txt", tmp_path / "v.txt", "'.txt'", ".npz", ".parquet")
    (tmp_path / "bad.npz").write_text("not a zip")
    _raises(tmp_path / "bad.npz", tmp_path / "bad.npz", "cannot be read")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "fifo.csv")
        _raises(tmp_path / "fifo.csv", tmp_path / "fifo.csv", "FIFO")


def test_table_problems_name_the_file_and_ids(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("id,x\na,1\n")
    _raises(f, f, "no image_id column", "'id'", "'x'", "df.index.name")
    f.write_text("image_id,x\na,1\nb,2\na,3\nb,4\nc,5\n")
    _raises(f, f, "2 duplicate", "'a'", "'b'")
    f.write_text("image_id,x,y\na,1,2\nb,,2\nc,1,inf\n")
    _raises(f, f, "NaN or infinite", "'b' column x", "'c' column y")
    f.write_text("image_id,x,genre\na,1,print\nb,oops,print\n")
    _raises(f, f, "non-numeric", "'x'", "'genre'", "'b'", "'oops'")
    f.write_text("image_id,x\n")
    _raises(f, f, "empty")
    f.write_text("image_id\na\nb\n")
    _raises(f, f, "empty")
    f.write_text("image_id,x\na,1\n,2\n")
    _raises(f, f, "row(s) 2", "no image_id")


def test_array_problems(tmp_path):
    npz = tmp_path / "v.npz"
    np.savez(npz, image_ids=np.array(["a", "b"]), vectors=np.array([1.0, 2.0]))
    _raises(npz, npz, "2-D", "(2,)")
    np.savez(npz, ids=np.array(["a"]), vectors=np.ones((1, 2)))
    _raises(npz, npz, "image_ids", "'ids'", "np.savez")
    np.savez(npz, image_ids=np.array(["a", "b"]), vectors=np.array([[1.0, np.inf], [0, 0]]))
    _raises(npz, npz, "'a' column 1")
    npy = tmp_path / "v.npy"
    np.save(npy, np.ones((3, 2)))
    _raises(npy, npy, "image_ids", "images.csv order")
    _raises(npy, npy, "3 rows", "2 image ids", image_ids=["a", "b"])
    np.save(npy, np.ones((3, 2, 2)))
    _raises(npy, npy, "2-D", "(3, 2, 2)", image_ids=["a", "b", "c"])
    _raises(np.ones((2, 2)), "image_ids")
    _raises(np.array([["x", "y"]]), "not numeric", image_ids=["a"])
    _raises({"a": [1, 2], "b": [1, 2, 3]}, "'b'", "same length")
    _raises({}, "empty")
    _raises(pd.DataFrame({"x": [1.0]}), "no image_id column")
    _raises(pd.DataFrame({"image_id": ["a"], "x": [np.nan]}), "'a' column x")


def test_parts_that_do_not_fit(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    frame(["x", "y"], np.ones((2, 3))).to_csv(a, index=False)
    frame(["z"], np.ones((1, 4))).to_csv(b, index=False)
    _raises([a, b], a, b, "3 dimensions", "4 dimensions")
    frame(["y", "z"], np.ones((2, 3))).to_csv(b, index=False)
    _raises([a, b], a, b, "duplicate", "'y'")
    np.save(tmp_path / "c.npy", np.ones((1, 3)))
    _raises([a, tmp_path / "c.npy"], "c.npy", ".npz")


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    with pytest.raises(MissingExtraError, match=r"simkit-similarity\[parquet\]"):
        read_vectors(tmp_path / "v.parquet")


def test_missing_images_are_named_with_the_file(study, table, tmp_path):
    ids, v = table
    keep = [i for i in range(len(ids)) if ids[i] not in ("img0003", "img0007")]
    source, _ = _npz(tmp_path, [ids[i] for i in keep], v[keep])
    register_vectors("mine", source)
    with pytest.raises(VectorsError) as e:
        simkit.choose(study, ["mine"], progress=False)
    msg = str(e.value)
    assert f"vectors file {source}" in msg and "2 image id(s)" in msg
    assert "'img0003'" in msg and "'img0007'" in msg and "add them or remove" in msg
    with pytest.raises(VectorsError, match=r"15 image id.*\(and 5 more\)"):  # ten named
        vectors_for("mine", [f"new{i}" for i in range(15)])
    with pytest.raises(VectorsError, match="not made from a table"):
        vectors_for("gram", ids[:2])


def test_retrieval_ranks_with_own_vectors(study, table, tmp_path):
    ids, v = table
    source, _ = _npz(tmp_path, ids, v)
    register_vectors("mine", source, metric="cosine")
    col = load_collection(study.root)
    df = R.evaluate(col, "genre", ["mine"], ks=(1, 3), progress=False)
    assert df["method"].tolist() == ["mine", "mine"]
    res = R.retrieve(col, "img0005", 3, "mine", progress=False)
    row = {i: r for r, i in enumerate(ids)}
    others = [i for i in col.images["image_id"] if i != "img0005"]
    x = v[[row[i] for i in others]].astype(np.float64)
    q = v[row["img0005"]].astype(np.float64)
    d = 1 - x @ q / np.linalg.norm(x, axis=1) / np.linalg.norm(q)
    assert res["image_id"].tolist() == [others[i] for i in np.argsort(d)[:3]]
    shutil.copy(study.image_path("img0005"), tmp_path / "q.png")
    with pytest.raises(R.RetrievalError, match="image_id of the collection"):
        R.retrieve(col, tmp_path / "q.png", 3, "mine", progress=False)


# -- the command line ------------------------------------------------------------------------
def _tables(study, tmp_path, *extra):
    return cli.main(["tables", str(study.root), "--no-ci", "--cache-dir", str(tmp_path / "c"),
                     "--out", str(tmp_path / "out"), "--weights", "random:0", "--size", "32",
                     *extra])


def test_cli_tables_with_own_vectors(study, table, tmp_path, capsys):
    ids, v = table
    source, _ = _csv_column(tmp_path, ids, v)
    assert _tables(study, tmp_path, "--vectors", f"mine={source}",
                   "--methods", "gram,mine") == 0
    choices = pd.read_csv(tmp_path / "out" / "choices.csv")
    assert list(dict.fromkeys(choices["method"])) == ["gram", "mine"]
    mine = choices[choices["method"] == "mine"]
    assert mine["choice"].tolist() == expected_choices(study, ids, v)
    dists = pd.read_csv(tmp_path / "out" / "pair_distances.csv")
    assert set(dists["method"]) == {"gram", "mine"}
    assert "mine" in capsys.readouterr().out
    assert "mine" not in method_names()  # registered for the command only


def test_cli_parts_npy_and_cosine(study, table, tmp_path):
    ids, v = table
    frame(ids[:9], v[:9]).to_csv(tmp_path / "a.csv", index=False)
    frame(ids[9:], v[9:]).to_parquet(tmp_path / "b.parquet")
    row = {i: r for r, i in enumerate(ids)}
    study_ids = study.images["image_id"].tolist()
    np.save(tmp_path / "s.npy", v[[row[i] for i in study_ids]])  # images.csv order
    assert _tables(study, tmp_path, "--vectors", f"parts={tmp_path / 'a.csv'}",
                   "--vectors", f"parts={tmp_path / 'b.parquet'}",
                   "--vectors", f"flat={tmp_path / 's.npy'}", "--vectors-metric", "cosine",
                   "--methods", "parts,flat") == 0
    c = pd.read_csv(tmp_path / "out" / "choices.csv").pivot(
        index="question_id", columns="method", values="choice")
    want = expected_choices(study, ids, v, "cosine")
    assert c["parts"].tolist() == want and c["flat"].tolist() == want


def test_cli_errors_exit_2_with_one_line(study, table, tmp_path, capsys):
    ids, v = table
    keep = [i for i in range(len(ids)) if ids[i] != "img0004"]
    source, _ = _npz(tmp_path, [ids[i] for i in keep], v[keep])
    assert _tables(study, tmp_path, "--vectors", f"mine={source}",
                   "--methods", "gram,mine") == 2
    err = capsys.readouterr().err
    assert "'img0004'" in err and str(source) in err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:")  # before any work
    assert not (tmp_path / "out" / "choices.csv").exists()
    assert _tables(study, tmp_path, "--methods", "gram,mine") == 2
    assert "unknown method 'mine'" in capsys.readouterr().err
    assert _tables(study, tmp_path, "--vectors", "mine", "--methods", "mine") == 2
    assert "NAME=FILE" in capsys.readouterr().err
    assert _tables(study, tmp_path, "--vectors", f"gram={source}", "--methods", "gram") == 2
    assert "built-in" in capsys.readouterr().err
    assert _tables(study, tmp_path, "--vectors", f"mine={tmp_path / 'no.csv'}",
                   "--methods", "mine") == 2
    assert f"{tmp_path / 'no.csv'} not found" in capsys.readouterr().err
    assert "mine" not in method_names()
