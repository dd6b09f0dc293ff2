"""simkit study new (the paper's grouping) and "suggest a group"."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from simkit.study.collection import read_images
from simkit.features.extract import FeatureSet
from simkit.methods.group_picks import describe_picks, group_picks, suggest_groups
from simkit.study.groups import new_study, random_groups, sample_groups
from simkit.methods.choices import choose_from_features
from simkit.study.model import IMAGE_COLUMNS, PAIRS, Study, StudyError, load_study


def make_collection(root: Path, counts: dict[str, int], size=(24, 32)) -> Path:
    """A collection folder: tiny JPEGs and an images.csv like `simkit fetch` writes."""
    (root / "images").mkdir(parents=True)
    rows, k = [], 0
    rng = np.random.default_rng(1)
    for genre, n in counts.items():
        for _ in range(n):
            k += 1
            iid = f"p{k:03d}"
            colour = tuple(int(x) for x in rng.integers(0, 255, 3))
            w, h = size if k % 3 else size[::-1]
            Image.new("RGB", (w, h), colour).save(root / "images" / f"{iid}.jpg")
            rows.append({"image_id": iid, "file": f"images/{iid}.jpg", "genre": genre,
                         "title": f"Print {k}", "artist": f"Artist {k % 4}",
                         "width": w, "height": h, "licence": "public-domain"})
    pd.DataFrame(rows).to_csv(root / "images.csv", index=False)
    return root


def test_random_groups_no_reuse_and_seeded():
    ids = [f"i{k}" for k in range(23)]
    g = random_groups(ids, 20, np.random.default_rng(3))
    assert len(g) == 4 and all(len(x) == 5 for x in g)  # 23 images → 4 groups
    flat = [i for x in g for i in x]
    assert len(set(flat)) == len(flat) and set(flat) <= set(ids)
    assert g == random_groups(ids, 20, np.random.default_rng(3))
    assert g != random_groups(ids, 20, np.random.default_rng(4))


def test_study_new_paper_way(tmp_path):
    # the paper: 100 prints per genre → 20 groups of 5; a small genre gives fewer groups
    col = make_collection(tmp_path / "col", {"Yakusha-e": 100, "Bijin-ga": 100,
                                            "Meisho-e": 37, "Kacho-e": 3})
    study = new_study(col, tmp_path / "study", per_label=20, seed=0)
    q = study.questions
    assert q["genre"].value_counts().to_dict() == {"Yakusha-e": 20, "Bijin-ga": 20,
                                                  "Meisho-e": 7}
    assert list(q["question_id"]) == [f"q{k:03d}" for k in range(1, 48)]
    images = read_images(col).set_index("image_id")
    for genre, sub in q.groupby("genre"):
        ids = sub[IMAGE_COLUMNS].to_numpy().ravel()
        assert len(set(ids)) == len(ids), "no image is used twice within a genre"
        assert set(images.loc[ids, "genre"]) == {genre}
    # a valid, empty study: `simkit validate` accepts it
    again = load_study(tmp_path / "study")
    assert len(again.responses) == 0 and len(again.images) == 47 * 5
    assert (tmp_path / "study" / "responses.csv").read_text().strip() == \
        "participant_id,question_id,choice"
    first = str(q["image_1"].iloc[0])
    assert again.image_path(first).resolve() == (col / "images" / f"{first}.jpg").resolve()
    for f in again.images["file"]:
        assert (tmp_path / "study" / f).exists()
    assert {"title", "artist", "licence"} <= set(again.images.columns)

    # same seed, same groups; another seed, other groups
    same = new_study(col, tmp_path / "same", per_label=20, seed=0)
    assert same.questions.equals(study.questions)
    other = new_study(col, tmp_path / "other", per_label=20, seed=1)
    assert not other.questions[IMAGE_COLUMNS].equals(study.questions[IMAGE_COLUMNS])


def test_study_new_by_any_column_and_options(tmp_path):
    col = make_collection(tmp_path / "col", {"A": 30, "B": 30})
    st = new_study(col, tmp_path / "by-artist", by="artist", per_label=2, seed=5,
                   copy_images=True)
    assert st.questions["genre"].value_counts().to_dict() == {f"Artist {k}": 2
                                                             for k in range(4)}
    for i in st.images["image_id"]:
        assert st.image_path(i).parent == tmp_path / "by-artist" / "images"
    q = sample_groups(read_images(col), labels=["B"], per_label=3, seed=0)
    assert list(q["genre"]) == ["B"] * 3
    with pytest.raises(StudyError, match="already there"):
        new_study(col, tmp_path / "by-artist")
    with pytest.raises(ValueError, match="exactly 5"):
        new_study(col, tmp_path / "x", group_size=4)
    with pytest.raises(StudyError, match="no column 'school'"):
        new_study(col, tmp_path / "y", by="school")
    with pytest.raises(StudyError, match="has 0 images"):
        sample_groups(read_images(col), labels=["Z"])


def test_cli_functions(tmp_path, capsys):
    from simkit.cli import main

    col = make_collection(tmp_path / "col", {"A": 12, "B": 10})
    assert main(["study", "new", str(col), "--out", str(tmp_path / "s"), "--per-genre", "2"]) == 0
    out = capsys.readouterr().out
    assert "4 groups" in out and "A: 2" in out
    assert len(load_study(tmp_path / "s").questions) == 4


# -- suggestions ---------------------------------------------------------------------------
def _featureset(n=30, dim=12, seed=0, same=False) -> FeatureSet:
    rng = np.random.default_rng(seed)
    ids = [f"i{k:02d}" for k in range(n)]
    a = rng.normal(size=(n, dim)).astype(np.float32)
    b = a.copy() if same else rng.normal(size=(n, dim)).astype(np.float32)
    c = a if same else (a + b).astype(np.float32)
    return FeatureSet(ids, {"gram": a, "cosine": b, "gram_cosine": c}, {"weights": "test"})


def test_suggestions_reproducible_with_reasons():
    fs = _featureset()
    s1 = suggest_groups(fs, n=5, seed=7, candidates=300)
    s2 = suggest_groups(fs, n=5, seed=7, candidates=300)
    pd.testing.assert_frame_equal(s1, s2)
    assert not suggest_groups(fs, n=5, seed=8, candidates=300)[IMAGE_COLUMNS].equals(
        s1[IMAGE_COLUMNS])
    assert len(s1) == 5 and list(s1["rank"]) == [1, 2, 3, 4, 5]
    assert all(isinstance(r, str) and len(r) > 10 for r in s1["reason"])
    flat = s1[IMAGE_COLUMNS].to_numpy().ravel()
    assert len(set(flat)) == len(flat), "no image in two suggestions"
    # independent representations disagree somewhere: those come first, and say so
    assert s1["kind"].iloc[0] == "disagree"
    assert list(s1["score"]) == sorted(s1["score"], reverse=True)
    for row in s1.itertuples():
        picks = {m: getattr(row, f"choice_{m}") for m in ("gram", "cosine", "gram_cosine")}
        assert (row.kind == "disagree") == (len(set(picks.values())) > 1)
        if row.kind == "disagree":
            for m, p in picks.items():
                assert f"{m} picks {p}" in row.reason

    # the picks shown are those `simkit.methods.choices.choose_from_features` makes for a study of these groups
    qs = s1[IMAGE_COLUMNS].copy()
    qs.insert(0, "genre", "g")
    qs.insert(0, "question_id", [f"q{k}" for k in range(len(qs))])
    ids = list(dict.fromkeys(qs[IMAGE_COLUMNS].to_numpy().ravel()))
    study = Study(pd.DataFrame({"image_id": ids, "file": ids, "genre": "g"}), qs,
                  pd.DataFrame(columns=["participant_id", "question_id", "choice"]),
                  pd.DataFrame(columns=["participant_id"]))
    choices, _ = choose_from_features(study, fs)
    got = choices.pivot(index="question_id", columns="method", values="choice")
    for k, row in enumerate(s1.itertuples()):
        for m in ("gram", "cosine", "gram_cosine"):
            assert got.loc[f"q{k}", m] == getattr(row, f"choice_{m}")


def test_near_ties_when_methods_agree():
    fs = _featureset(same=True)
    s = suggest_groups(fs, n=4, seed=0, candidates=400, prefer="near-tie")
    assert set(s["kind"]) <= {"near-tie", "clear"}
    assert list(s["margin"]) == sorted(s["margin"])  # tightest first
    tie = s[s["kind"] == "near-tie"]
    assert len(tie) and all("near tie for" in r and "% apart" in r for r in tie["reason"])
    # within labels: each suggestion stays inside one label, and `exclude` is honoured
    labels = {i: ("x" if k % 2 else "y") for k, i in enumerate(fs.image_ids)}
    s = suggest_groups(fs, n=3, labels=labels, exclude=["i01", "i02"], seed=1, candidates=200)
    for row in s.itertuples():
        ids = [getattr(row, c) for c in IMAGE_COLUMNS]
        assert {labels[i] for i in ids} == {row.genre}
        assert not {"i01", "i02"} & set(ids)


def test_describe_picks_words():
    dist = pd.DataFrame({"gram": np.arange(1.0, 11.0), "cosine": np.arange(1.0, 11.0)[::-1]},
                        index=PAIRS)
    kind, reason, dis, margin = describe_picks({"gram": "a-b", "cosine": "d-e"}, dist)
    assert kind == "disagree" and "gram picks a-b, cosine picks d-e" in reason and dis > 1
    dist = pd.DataFrame({"gram": [1.0, 1.01, 3, 4, 5, 6, 7, 8, 9, 10]}, index=PAIRS)
    kind, reason, dis, margin = describe_picks({"gram": "a-b"}, dist)
    assert kind == "near-tie" and dis == 0 and margin == pytest.approx(0.01)
    assert "best a-b (1) vs second a-c (1.01), 1.00 % apart" in reason
    with pytest.raises(ValueError, match="5 images"):
        group_picks(_featureset(), ["i00", "i01"])
