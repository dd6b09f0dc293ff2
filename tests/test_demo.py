"""Demo studies: the synthetic one always, the real-print one when ../shared/data has it."""
from __future__ import annotations

import pandas as pd
import pytest
from PIL import Image

from conftest import SHARED_DATA
from simkit.analysis.all_tables import compute_tables
from simkit.study.demo import make_demo_study, make_print_study
from simkit.study.model import IMAGE_COLUMNS, load_study

WIKIART = SHARED_DATA / "ukiyoe-wikiart"


def test_demo_study_is_a_valid_simulated_study(tmp_path):
    study = make_demo_study(tmp_path / "demo", groups_per_genre=3, image_size=64)
    assert study.genres == ["Yakusha-e", "Bijin-ga", "Meisho-e", "Monogatari-e"]
    assert len(study.questions) == 12 and len(study.images) == 60
    assert len(study.participants) == 54 and len(study.valid_participants) == 41
    assert "SIMULATED" in (tmp_path / "demo" / "README.md").read_text()
    with Image.open(study.image_path("img0001")) as im:
        assert max(im.size) == 64 and im.mode == "RGB"
    # the same seed gives the same study
    again = make_demo_study(tmp_path / "again", groups_per_genre=3, image_size=64)
    pd.testing.assert_frame_equal(study.responses, again.responses)
    tables = compute_tables(load_study(tmp_path / "demo"), ci=False)
    assert 20 < tables["table2"].set_index("genre").loc["All", "avg_ps"] < 100


@pytest.mark.skipif(not WIKIART.exists(), reason="real prints not on this machine (../shared/data)")
def test_study_from_real_prints(tmp_path):
    study = make_print_study(WIKIART, tmp_path / "prints", groups_per_genre=20, seed=0)
    counts = study.questions["genre"].value_counts()
    assert (counts == 20).all() and len(counts) >= 3  # 20 groups of 5 per genre, like the paper
    for genre, qs in study.questions.groupby("genre"):
        ids = qs[IMAGE_COLUMNS].to_numpy().ravel()
        assert len(set(ids)) == len(ids) == 100  # no print reused within a genre
        assert set(study.images.set_index("image_id").loc[ids, "genre"]) == {genre}
    assert all(study.image_path(i).exists() for i in study.images["image_id"][:5])
    again = make_print_study(WIKIART, tmp_path / "again", groups_per_genre=20, seed=0)
    pd.testing.assert_frame_equal(study.questions, again.questions)
    other = make_print_study(WIKIART, tmp_path / "other", groups_per_genre=20, seed=1)
    assert not study.questions.equals(other.questions)
    assert len(study.valid_participants) == 41
