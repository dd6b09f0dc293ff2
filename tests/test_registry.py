"""The registry (its catalogue) is the only list of methods, and every method in it runs
end to end: through ``simkit.choose`` on a small study and through retrieval on a small
collection."""
from __future__ import annotations

import ast
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simkit
from simkit.analysis.all_tables import compute_tables
from simkit.methods.choices import MachineChoices, choose, choose_for_group
from simkit.methods.registry import (DEFAULT_METHODS, UnknownMethodError, family_methods,
                                     get_method, list_methods, method_names)
from simkit.search import retrieval as R
from simkit.study.collection import load_collection
from simkit.study.demo import make_demo_study
from simkit.study.model import PAIRS

PACKAGE = Path(simkit.__file__).parent
HAVE_CV2 = importlib.util.find_spec("cv2") is not None
FAMILIES = ["deep", "style", "local", "perceptual"]
FAST = dict(weights="random:0", size=32, progress=False)

# Collections of method names allowed outside the registry, and why. Each entry names a
# module and the one reason it may spell several method names together.
ALLOWED = {
    # the extractor's own vocabulary: what it computes, which the deep methods are named after
    "features/representations.py": "representations computed by the feature extractor",
}


def _name_collections(path: Path, names: set[str]) -> list[tuple[int, list[str]]]:
    """Literal tuples, lists, sets and dict keys that hold two or more method names
    (``__all__`` lists functions, not methods, and is skipped)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in n.targets)}
    hits = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        found = [e.value for e in items if isinstance(e, ast.Constant) and e.value in names]
        if len(found) >= 2:
            hits.append((node.lineno, found))
    return hits


# -- (a) the only list ---------------------------------------------------------------------
def test_no_module_but_the_registry_lists_method_names():
    names = set(method_names()) | {"surf"}
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "methods/catalogue.py" or rel in ALLOWED:
            continue
        hits = _name_collections(path, names)
        if hits:
            offenders[rel] = hits
    assert offenders == {}, ("method names listed outside simkit/methods/catalogue.py; "
                             f"derive them from the registry: {offenders}")


def test_the_scan_finds_a_list_of_method_names(tmp_path):
    # the scan is not vacuous: it sees what the old modules had
    bad = tmp_path / "old.py"
    bad.write_text('METHODS = ("sift", "orb")\n__all__ = ["style", "colour"]\n'
                   'METRICS = {"cnn": "cosine", "style": "euclidean"}\n')
    assert [line for line, _ in _name_collections(bad, set(method_names()))] == [1, 3]


def test_allowed_modules_still_need_their_exception():
    # a stale allowance hides nothing: each allowed module still holds such a collection
    names = set(method_names())
    for rel in ALLOWED:
        assert _name_collections(PACKAGE / rel, names), f"remove {rel} from ALLOWED"


# -- (c) listing and names -------------------------------------------------------------------
def test_methods_lists_every_method_with_a_description():
    listed = simkit.methods()
    assert listed == list_methods() and [m.name for m in listed] == method_names()
    assert [m.name for m in listed[:8]] == ["gram", "cosine", "gram_cosine", "style",
                                            "colour", "cnn", "sift", "orb"]
    assert {m.family for m in listed} == set(FAMILIES)
    lpips = family_methods("perceptual")
    assert len(lpips) == 20 and "lpips_alexnet" in {m.name for m in lpips}
    for m in listed:
        assert m.description and m.source and m.name == m.name.lower()
        assert (m.kind, m.metric in ("euclidean", "cosine")) in {("vectors", True),
                                                                 ("scores", False)}
    assert get_method("colour").needs == () and get_method("cnn").metric == "cosine"
    assert get_method("gram_cosine").display_name == "Gram·Cosine"
    assert tuple(DEFAULT_METHODS) == ("gram", "cosine", "gram_cosine")
    assert get_method(" GRAM ") is get_method("gram")
    shown = repr(listed)
    # one line per method, then how to name a model method
    assert len(shown.splitlines()) == len(listed) + 1 and "colour cube" in shown
    assert "REPR[-METRIC]:MODEL[@LAYER]" in shown.splitlines()[-1]
    assert "<table>" in listed._repr_html_() and "lpips_vgg19_sort" in listed._repr_html_()


def test_unknown_names_give_one_clear_line():
    with pytest.raises(UnknownMethodError) as e:
        get_method("lbp")
    msg = str(e.value)
    assert "\n" not in msg and "'lbp'" in msg and "gram_cosine" in msg and "lpips_vgg16" in msg
    assert isinstance(e.value, simkit.SimkitError) and isinstance(e.value, ValueError)
    with pytest.raises(UnknownMethodError, match="patented"):
        get_method("surf")
    with pytest.raises(R.RetrievalError, match="unknown method 'lbp'"):
        R.check_methods(["style", "lbp"])


# -- (b) every method runs -------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_demo_study(tmp_path_factory.mktemp("reg") / "demo", groups_per_genre=1,
                           image_size=64)


def _skip_without_needs(family: str) -> None:
    if family == "local" and not HAVE_CV2:
        pytest.skip("sift and orb need OpenCV (pip install opencv-python-headless)")


@pytest.mark.parametrize("family", FAMILIES)
def test_every_method_chooses_for_a_study(family, study, tmp_path):
    _skip_without_needs(family)
    names = [m.name for m in family_methods(family)]
    result = choose(study, names, cache_dir=tmp_path, **FAST)
    q = len(study.questions)
    assert isinstance(result, MachineChoices) and result.methods == names
    assert result.choices["method"].tolist() == names * q
    assert result.choices["question_id"].tolist() == list(
        np.repeat(study.questions["question_id"].tolist(), len(names)))
    assert len(result.distances) == 10 * q * len(names)
    for (qid, m), grp in result.distances.groupby(["question_id", "method"]):
        chosen = result.choices[(result.choices["question_id"] == qid)
                                & (result.choices["method"] == m)]["choice"].item()
        assert grp["pair"].tolist() == PAIRS
        assert PAIRS[int(np.argmin(grp["distance"].to_numpy()))] == chosen
    assert (family in result.features) == (family in ("deep", "style"))
    uses_network = any(m.needs_network for m in family_methods(family))
    assert any("random" in n.lower() for n in result.notes) == uses_network


@pytest.mark.parametrize("family", [*FAMILIES[:-1], pytest.param(
    "perceptual", marks=pytest.mark.slow)])  # 20 lpips methods x 190 pairs: about a minute
def test_every_method_ranks_a_collection(family, study, tmp_path):
    _skip_without_needs(family)
    names = [m.name for m in family_methods(family)]
    col = load_collection(study.root)
    df = R.evaluate(col, "genre", names, ks=(1, 3), cache_dir=tmp_path, **FAST)
    assert df["method"].tolist() == [n for n in names for _ in (1, 3)]
    assert df[["precision", "recall", "f1", "map"]].stack().between(0, 1).all()
    # a copy of a print outside the collection finds the print first
    shutil.copy(study.image_path("img0005"), tmp_path / "q.png")
    res = R.retrieve(col, tmp_path / "q.png", 2, names[-1], cache_dir=tmp_path, **FAST)
    assert res["image_id"].iloc[0] == "img0005"
    if res.attrs["metric"] != "matches":  # a match count is a distance > 0 even to itself
        first, second = res["distance"]
        assert first <= 1e-3 * second + 1e-9
    assert res.attrs["metric"] == get_method(names[-1]).metric


# -- the result object -----------------------------------------------------------------------
def test_result_feeds_tables_and_shows_its_notes(study, tmp_path):
    result = simkit.choose(study, ["cosine", "colour"], cache_dir=tmp_path, **FAST)
    assert "RANDOM" in repr(result) and "RANDOM" in result._repr_html_()
    with_choices = result.study_with_choices(study)
    assert with_choices.methods == ["cosine", "colour"]
    ours = simkit.tables(study, result, ci=False)
    ref = compute_tables(with_choices, ci=False)
    for name in ref:
        pd.testing.assert_frame_equal(ours[name], ref[name])


def test_fallback_weights_are_used_loudly_when_the_real_ones_are_missing(study, tmp_path,
                                                                           monkeypatch):
    import simkit.features.extract as extract
    from simkit.features.backbones import WeightsUnavailableError

    real = extract.extract_features

    def offline(*args, weights="imagenet", **kw):
        if weights == "imagenet":
            raise WeightsUnavailableError("ImageNet weights not cached: run once online")
        return real(*args, weights=weights, **kw)

    monkeypatch.setattr(extract, "extract_features", offline)
    opts = dict(size=32, cache_dir=tmp_path, progress=False)
    with pytest.raises(WeightsUnavailableError):
        choose(study, ["gram"], **opts)
    result = choose(study, ["gram"], fallback_weights="random:0", **opts)
    assert result.weights == "random:0"
    loud = result.notes[0]
    assert loud.startswith("ImageNet VGG-19 weights are NOT available")
    assert "run once online" in loud and "MEANINGLESS" in loud and "random:0" in loud
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in repr(result)
    plain = choose(study, ["gram"], weights="random:0", **opts)
    pd.testing.assert_frame_equal(result.choices, plain.choices)


def test_a_group_gets_the_picks_its_question_gets(study, tmp_path):
    qid = study.questions["question_id"].iloc[1]
    images = {i: study.image_path(i) for i in study.question_images(qid)}
    group = choose_for_group(images, ["colour", "gram"], cache_dir=tmp_path, **FAST)
    full = choose(study, ["colour", "gram"], cache_dir=tmp_path, **FAST)
    mine = full.choices[full.choices["question_id"] == qid]
    assert group.choices["choice"].tolist() == mine["choice"].tolist()
