"""Methods by name: any mix of families makes one choices table, as each family alone would."""
from __future__ import annotations

import pandas as pd
import pytest

import simkit.cli.app as cli
from simkit.study.demo import make_demo_study
from simkit.methods.choices import choose
from simkit.methods.registry import method_names


def choices_of(study, methods, **kw):
    """choose's result as the (choices, distances, notes) the assertions below read."""
    r = choose(study, methods, **kw)
    return r.choices, r.distances, r.notes


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_demo_study(tmp_path_factory.mktemp("m") / "demo", groups_per_genre=1, image_size=64)


def test_mixed_methods_equal_each_family_alone(study, tmp_path):
    kw = dict(weights="random:0", size=32, cache_dir=tmp_path, progress=False)
    choices, distances, notes = choices_of(study, ["colour", "gram"], **kw)
    assert choices["method"].tolist() == ["colour", "gram"] * len(study.questions)
    assert len(distances) == 10 * 2 * len(study.questions)
    assert any("RANDOM" in n for n in notes)
    gram, _, _ = choices_of(study, ["gram"], **kw)
    colour, _, notes_colour = choices_of(study, ["colour"], **kw)
    pd.testing.assert_frame_equal(choices[choices["method"] == "gram"].reset_index(drop=True), gram)
    pd.testing.assert_frame_equal(choices[choices["method"] == "colour"].reset_index(drop=True), colour)
    assert notes_colour == []  # the colour cube uses no network: nothing to warn about


def test_unknown_method(study):
    with pytest.raises(ValueError, match="unknown method 'lbp'"):
        choose(study, ["gram", "lbp"])
    assert {"gram", "style", "sift"} <= set(method_names())


def test_tables_with_methods(study, tmp_path, capsys):
    out = tmp_path / "res"
    assert cli.main(["tables", str(study.root), "--methods", "cosine,colour", "--weights",
                     "random:0", "--size", "32", "--cache-dir", str(tmp_path / "c"),
                     "--no-ci", "--out", str(out)]) == 0
    assert "Agree(colour)" in capsys.readouterr().out
    t3 = pd.read_csv(out / "table3.csv")
    assert t3["method"].unique().tolist() == ["cosine", "colour"]
    assert set(pd.read_csv(out / "choices.csv")["method"]) == {"cosine", "colour"}
    assert cli.main(["tables", str(study.root), "--methods", "lbp", "--no-ci"]) == 2


def test_perceptual_methods_by_name(study, tmp_path):
    choices, distances, notes = choices_of(study, ["lpips_alexnet", "lpips_squeezenet_sort"],
                                           weights="random:0", progress=False)
    assert choices["method"].tolist() == ["lpips_alexnet", "lpips_squeezenet_sort"] * len(study.questions)
    # each choice is the closest of its 10 pairs
    for (q, m), grp in distances.groupby(["question_id", "method"]):
        chosen = choices[(choices["question_id"] == q) & (choices["method"] == m)]["choice"].item()
        assert grp.set_index("pair")["distance"].idxmin() == chosen
    assert any("random" in n.lower() for n in notes)
