"""bf16 keeps the answers: near ties (within the measured error) are recomputed in fp32."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import simkit
from simkit.methods import reduced_precision as rp
from simkit.study.demo import make_demo_study
from simkit.study.model import PAIRS


def test_measured_error_is_the_worst_relative_row_error_with_a_margin():
    exact = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]])
    fast = np.array([[3.0, 4.1], [0.5, 0.0], [1.0, 0.0]])
    assert rp.measured_error(fast, exact) == pytest.approx(0.1 / 5 * rp.SAFETY)


def test_pair_bounds_follow_the_triangle_inequality():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=50), rng.normal(size=50)
    e = 0.01
    for _ in range(200):
        da, db = rng.normal(size=50), rng.normal(size=50)
        a2 = a + da / np.linalg.norm(da) * e * np.linalg.norm(a)
        b2 = b + db / np.linalg.norm(db) * e * np.linalg.norm(b)
        moved = abs(np.linalg.norm(a2 - b2) - np.linalg.norm(a - b))
        assert moved <= rp.pair_bound("euclidean", e, np.linalg.norm(a), np.linalg.norm(b))
        cos = lambda u, v: 1 - u @ v / np.linalg.norm(u) / np.linalg.norm(v)  # noqa: E731
        assert abs(cos(a2, b2) - cos(a, b)) <= rp.pair_bound("cosine", e, 1, 1)


def _distances(qid, method, values):
    return pd.DataFrame({"question_id": qid, "method": method, "pair": PAIRS,
                         "distance": values})


def test_near_ties_are_the_questions_whose_closest_pairs_overlap():
    ids = {"q1": list("ABCDE"), "q2": list("ABCDE")}
    clear = [1.0] + [2.0] * 9
    close = [1.0, 1.001] + [2.0] * 8
    d = pd.concat([_distances("q1", "m", clear), _distances("q2", "m", close)])
    norms = {"m": dict.fromkeys("ABCDE", 1.0)}
    assert rp.near_ties(d, norms, {"m": 0.001}, {"m": "euclidean"}, ids) == ["q2"]
    assert rp.near_ties(d, norms, {"m": 0.0}, {"m": "euclidean"}, ids) == []
    assert rp.near_ties(d, norms, {"m": 0.3}, {"m": "euclidean"}, ids) == ["q1", "q2"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_demo_study(tmp_path_factory.mktemp("bf16") / "demo", groups_per_genre=1,
                           image_size=64)


@pytest.mark.parametrize("safety", [rp.SAFETY, 1e6])
def test_bf16_choices_are_the_fp32_choices(study, tmp_path, monkeypatch, safety):
    # with a huge margin every question is a near tie: the fp32 recomputation itself is
    # what makes the choices equal
    monkeypatch.setattr(rp, "SAFETY", safety)
    kw = dict(weights="random:0", size=32, cache_dir=tmp_path, progress=False)
    methods = ["gram", "cosine", "embed:resnet18@layer3"]
    fp32 = simkit.choose(study, methods, precision="fp32", **kw)
    bf16 = simkit.choose(study, methods, precision="bf16", **kw)
    assert bf16.choices.equals(fp32.choices)
    note = next(n for n in bf16.notes if n.startswith("bf16:"))
    assert "recomputed in fp32" in note
    stats = bf16.features["deep"].stats
    n_questions = len(study.questions)
    if safety > 1e3:
        assert stats["near_ties"] == n_questions
        assert f"{n_questions} of {n_questions} question(s)" in note
        np.testing.assert_array_equal(bf16.vectors().vectors["gram"],
                                      fp32.vectors().vectors["gram"])
    assert stats["recomputed_fp32"] >= 8


@pytest.mark.parametrize("safety", [rp.SAFETY, 1e6])
def test_bf16_retrieval_ranks_as_fp32(study, tmp_path, monkeypatch, safety):
    from simkit.search.retrieval import retrieve
    from simkit.study.collection import load_collection

    monkeypatch.setattr(rp, "SAFETY", safety)
    col = load_collection(study.root)
    kw = dict(weights="random:0", size=32, cache_dir=tmp_path, progress=False)
    for method in ("gram", "embed:resnet18@layer3"):
        a = retrieve(col, "img0003", 4, method, precision="fp32", **kw)
        b = retrieve(col, "img0003", 4, method, precision="bf16", **kw)
        assert b["image_id"].tolist() == a["image_id"].tolist()
        np.testing.assert_allclose(b["distance"], a["distance"], rtol=1e-6)
        assert "recomputed in fp32" in b.attrs["weights_note"]
