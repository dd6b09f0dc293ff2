"""The group builder, driven headless: filter, add 5, see the picks, save a valid study."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from simkit.methods.choices import study_choices
from simkit.study.model import IMAGE_COLUMNS, PAIRS, StudyError, load_study
from simkit.widgets.group_builder import GroupBuilder

FEATURES = dict(weights="random:0", size=32)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """One feature store for the module: the same images are extracted once."""
    return tmp_path_factory.mktemp("features")


@pytest.fixture
def collection(tmp_path) -> Path:
    """24 small textured prints in two genres, portrait and landscape."""
    root = tmp_path / "col"
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for k in range(24):
        iid = f"p{k:02d}"
        w, h = (40, 56) if k % 2 else (56, 40)
        base = rng.integers(0, 255, 3)
        px = np.clip(base + rng.normal(0, 60, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(px).save(root / "images" / f"{iid}.png")
        rows.append({"image_id": iid, "file": f"images/{iid}.png",
                     "genre": "Bijin-ga" if k < 12 else "Meisho-e",
                     "title": f"{'Beauty' if k < 12 else 'View'} no. {k}",
                     "artist": "Utamaro" if k % 3 else "Hokusai", "width": w, "height": h})
    pd.DataFrame(rows).to_csv(root / "images.csv", index=False)
    return root


def test_filter_add_five_save_matches_machine(collection, cache, tmp_path):
    b = GroupBuilder(collection, tmp_path / "study", cache_dir=cache, **FEATURES)
    assert len(b.visible) == 24
    bijin = b.filter(genre="Bijin-ga")
    assert bijin == [f"p{k:02d}" for k in range(12)]
    portrait = b.filter(aspect="portrait")
    assert portrait == [f"p{k:02d}" for k in range(1, 12, 2)]
    assert b.filter(aspect=None, artist="Hokusai") == ["p00", "p03", "p06", "p09"]
    assert b.filter(artist=None, text="no. 1") == ["p01", "p10", "p11"]
    assert b.filter(genre=None, text="VIEW no. 2") == ["p20", "p21", "p22", "p23"]
    assert b.options("genre") == ["Bijin-ga", "Meisho-e"]
    with pytest.raises(ValueError, match="aspect"):
        b.filter(aspect="tall")
    b.filter(genre="Bijin-ga", text="")

    for i in b.visible[:4]:
        b.add(i)
    assert b.picks is None and not b.full
    b.add(b.visible[4])
    assert b.full and b.group == ["p00", "p01", "p02", "p03", "p04"]
    with pytest.raises(ValueError, match="full"):
        b.add("p05")
    with pytest.raises(ValueError, match="not in the group"):
        b.remove("p09")
    b.remove("p00")
    with pytest.raises(ValueError, match="already in the group"):
        b.add("p01")
    b.undo()  # p00 is back, in its place
    assert b.group == ["p00", "p01", "p02", "p03", "p04"]
    picks, dist = b.machine()
    assert set(picks) == {"gram", "cosine", "gram_cosine"}
    assert list(dist.index) == PAIRS and dist.shape == (10, 3)
    for m, p in picks.items():
        assert dist[m].idxmin() == p
    assert b.disagree == (len(set(picks.values())) > 1)
    assert b.verdict[0] in ("disagree", "near-tie", "clear") and b.verdict[1]
    assert "RANDOM" in b.weights_note  # random weights are flagged

    # undo the last add, redo it, then add the group to the study
    b.undo()
    assert b.group == ["p00", "p01", "p02", "p03"]
    b.add("p04")
    q1 = b.add_to_study()
    assert q1 == "q001" and b.group == [] and b.groups[0]["genre"] == "Bijin-ga"
    with pytest.raises(ValueError, match="1 more|5 more"):
        b.add_to_study()

    # a second group from the suggestions (reasons shown), mixed genres allowed
    b.filter(genre=None)
    sug = b.suggest(n=2, candidates=40, seed=3)
    assert len(sug) == 2 and sug["reason"].str.len().min() > 10
    assert not set(sug[IMAGE_COLUMNS].to_numpy().ravel()) & set(b.groups[0][c]
                                                                  for c in IMAGE_COLUMNS)
    again = b.suggest(n=2, candidates=40, seed=3)
    pd.testing.assert_frame_equal(sug, again)
    b.use_suggestion(1)
    assert b.group == [sug.iloc[0][c] for c in IMAGE_COLUMNS]
    shown = {}
    shown["q002"] = b.picks
    b.add_to_study()
    shown["q001"] = b.machine([b.groups[0][c] for c in IMAGE_COLUMNS])[0]

    study = b.save()
    assert load_study(tmp_path / "study").questions.equals(study.questions)
    assert list(study.questions["question_id"]) == ["q001", "q002"]
    assert len(study.responses) == 0
    # the picks shown are those `simkit tables` computes for the saved study
    choices, _, _ = study_choices(study, cache_dir=cache, progress=False, **FEATURES)
    for q, picks in shown.items():
        got = choices[choices["question_id"] == q].set_index("method")["choice"].to_dict()
        assert got == picks


def test_existing_study_reorder_remove_undo_keeps_votes(collection, cache, tmp_path):
    b = GroupBuilder(collection, tmp_path / "study", cache_dir=cache, **FEATURES)
    for start in (0, 10, 15):
        for i in b.visible[start:start + 5]:
            b.add(i)
        b.add_to_study()
    assert [g["genre"] for g in b.groups] == ["Bijin-ga", "mixed", "Meisho-e"]
    b.save()
    (tmp_path / "study" / "responses.csv").write_text(
        "participant_id,question_id,choice\nP1,q001,a-b\n", encoding="utf-8")

    b2 = GroupBuilder(collection, tmp_path / "study", cache_dir=cache, **FEATURES)
    assert [g["question_id"] for g in b2.groups] == ["q001", "q002", "q003"]
    with pytest.raises(StudyError, match="already has votes"):
        b2.remove_group("q001")
    b2.move_group("q003", -2)
    b2.remove_group("q002")
    assert [g["question_id"] for g in b2.groups] == ["q003", "q001"]
    b2.undo()
    assert [g["question_id"] for g in b2.groups] == ["q003", "q001", "q002"]
    b2.remove_group("q002")
    for i in b2.visible[18:23]:
        b2.add(i)
    assert b2.add_to_study() == "q004"
    st = b2.save()
    assert list(st.questions["question_id"]) == ["q003", "q001", "q004"]
    assert st.responses.to_dict("records") == [
        {"participant_id": "P1", "question_id": "q001", "choice": "a-b"}]
    used = set(st.questions[IMAGE_COLUMNS].to_numpy().ravel())
    assert set(st.images["image_id"]) == used  # q002's images are gone with it
    with pytest.raises(ValueError, match="already question"):
        for i in [st.questions.iloc[0][c] for c in IMAGE_COLUMNS]:
            b2.add(i)
        b2.add_to_study()


def test_view_clicks(collection, cache, tmp_path):
    b = GroupBuilder(collection, tmp_path / "study", cache_dir=cache,
                     page_size=8, **FEATURES)
    view = b.show()
    assert view is b.widget
    tiles = b.controls.tiles
    assert sum(t[0].layout.display != "none" for t in tiles) == 8
    tiles[2][2].click()  # click a thumbnail: it joins the group
    assert b.group == ["p02"] and tiles[2][2].button_style == "success"
    tiles[2][2].click()  # and again: it leaves
    assert b.group == []
    b.controls.next.click()
    assert b.page == 1 and b.page_ids[0] == "p08"
    b.controls.genre.value = "Meisho-e"
    assert b.visible[0] == "p12" and b.page == 0
    for t in tiles[:5]:
        t[2].click()
    assert b.full and "pair" in b.controls.machine.value and "gram" in b.controls.machine.value.lower()
    b.controls.add.click()
    assert len(b.groups) == 1 and len(b.controls.groups.children) == 1
    tiles[0][2].click()
    tiles[0][2].click()
    b.controls.add.click()  # not full: refused with a message, no traceback
    assert len(b.groups) == 1
    b.controls.save.click()
    assert "saved 1 groups" in b.message
    assert load_study(tmp_path / "study").questions.shape[0] == 1


def test_a_model_method_picks_in_the_group_builder(collection, cache, tmp_path):
    # any method name works here: a torchvision model's embedding beside Wei et al.'s Gram
    b = GroupBuilder(collection, tmp_path / "study", cache_dir=cache,
                     methods=["gram", "embed:resnet18@layer3"], **FEATURES)
    for i in b.visible[:5]:
        b.add(i)
    picks, dist = b.machine()
    assert set(picks) == {"gram", "embed:resnet18@layer3"}
    assert dist["embed:resnet18@layer3"].idxmin() == picks["embed:resnet18@layer3"]
    assert "RANDOM" in b.weights_note
