"""simkit.plots: each function returns a figure with the expected traces and data, as strict JSON."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("plotly")

from simkit import plots  # noqa: E402
from simkit.study.model import PAIRS  # noqa: E402


def strict_json(fig) -> str:
    """The figure as the Jupyter widget channel sends it: JSON without NaN or infinity."""
    return json.dumps(fig.to_plotly_json(), allow_nan=False,
                      default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))


def test_finite_replaces_nan_and_inf_with_none():
    assert plots.finite([1.0, np.nan, np.inf, 2]) == [1.0, None, None, 2]
    assert plots.finite(np.array([[np.nan, 1.5]])) == [[None, 1.5]]
    assert plots.finite(np.float32(-np.inf)) is None and plots.finite("a-b") == "a-b"


def test_fig1_curve_has_one_line_per_column():
    fig1 = pd.DataFrame({"k": [1, 2, 3], "cma_majority": [90.0, 80.0, 70.0],
                         "cma_gram": [50.0, np.nan, 40.0]})
    fig = plots.fig1_curve(fig1)
    assert [t.name for t in fig.data] == ["Majority", "Gram"]
    assert list(fig.data[0].y) == [90.0, 80.0, 70.0] and fig.data[1].y[1] is None
    strict_json(fig)


def test_vote_bars_colour_the_majority_and_name_the_methods():
    votes = dict(zip(PAIRS, range(10)))
    fig = plots.vote_bars(votes, ["d-e"], {"gram": "d-e", "cosine": "a-b"})
    bar = fig.data[0]
    assert list(bar.x) == list(PAIRS) and list(bar.y) == list(range(10))
    assert [p for p, c in zip(PAIRS, bar.marker.color) if c == plots.figures.MAJORITY_COLOUR] \
        == ["d-e"]
    assert bar.text[PAIRS.index("a-b")] == "Cosine" and "Gram" in bar.text[PAIRS.index("d-e")]
    strict_json(fig)


def test_distance_heatmaps_send_no_nan():
    mat = np.full((5, 5), np.nan)
    mat[0, 1] = mat[1, 0] = 0.5
    fig = plots.distance_heatmaps({"gram": mat, "cosine": None}, {"gram": "a-b"})
    assert len(fig.data) == 2 and fig.data[0].z[0][1] == 0.5 and fig.data[0].z[0][0] is None
    assert fig.layout.annotations[0].text == "Gram: (a)-(b)"
    assert all(v is None for row in fig.data[1].z for v in row)
    assert "NaN" not in strict_json(fig)


def test_distance_heatmaps_wrap_after_three_methods():
    mat = np.full((5, 5), np.nan)
    methods = ["gram", "cosine", "gram_cosine", "style"]
    fig = plots.distance_heatmaps({m: mat for m in methods}, {"style": "d-e"})
    assert fig.layout.width == 900  # three across, not 1,200 px
    assert [t.xaxis for t in fig.data] == ["x", "x2", "x3", "x4"]
    assert fig.layout.xaxis4.domain == fig.layout.xaxis.domain  # the fourth starts a row
    assert fig.layout.yaxis4.domain[1] < fig.layout.yaxis.domain[0]
    assert not any(t.showscale for t in fig.data)  # no colour bar beside the wrong heatmap
    # titles in method order: the group explorer updates annotations[i] with data[i]
    assert [a.text for a in fig.layout.annotations[:4]] == [
        "Gram", "Cosine", "Gram·Cosine", "style: (d)-(e)"]
    one_row = plots.distance_heatmaps({m: mat for m in methods[:3]})
    assert one_row.layout.width == 900 and one_row.layout.height == 300
    assert [t.showscale for t in one_row.data] == [False, False, True]


def test_retrieval_curves_one_line_per_method():
    res = pd.DataFrame({"method": ["gram"] * 2 + ["cosine"] * 2, "k": [1, 5, 1, 5],
                        "precision": [1.0, 0.6, 0.8, 0.4], "recall": [0.2, 0.6, 0.1, 0.4],
                        "map": [0.5, 0.5, np.nan, np.nan]})
    fig = plots.retrieval_curves(res)
    assert len(fig.data) == 2 and list(fig.data[0].x) == [1, 5]
    assert list(fig.data[0].y) == [1.0, 0.6]
    pr = plots.retrieval_curves(res, "pr")
    assert list(pr.data[1].x) == [0.1, 0.4] and list(pr.data[1].y) == [0.8, 0.4]
    with pytest.raises(ValueError):
        plots.retrieval_curves(res, "auc")
    strict_json(fig)


def test_umap_map_points_then_the_question_overlay():
    pts = pd.DataFrame({"image_id": list("abcd"), "x": [0.0, 1, 2, 3], "y": [0.0, 1, 0, 1],
                        "title": list("ABCD"), "artist": ["x"] * 4,
                        "genre": ["g1", "g1", "g2", "g2"]}).assign(colour=lambda d: d["genre"])
    fig = plots.umap_map(pts, ["gram"], title="t")
    assert [t.name for t in fig.data] == ["g1", "g2", "question", "Majority (people)", "Gram"]
    assert list(fig.data[0].customdata) == ["a", "b"]
    over = plots.umap_question_traces(["gram"], [("a", "a", 0.0, 0.0), ("c", "b", 2.0, 0.0)],
                                      [("a", "c")], {"gram": ("a", "d")})
    assert list(over[0].x) == [0.0, 2.0] and list(over[1].x) == [0.0, 2.0, None]
    assert over[2].x in (None, ())  # d is not in the question: no line
    strict_json(fig)


def test_collection_map_groups_rare_labels_and_saves_standalone_html(tmp_path):
    xy = np.arange(20, dtype=np.float32).reshape(10, 2)
    labels = ["a"] * 5 + ["b"] * 3 + ["c", "d"]
    fig = plots.collection_map(xy, labels, [f"<{i}>" for i in range(10)], max_groups=2)
    assert [t.name for t in fig.data] == ["a", "b", "other", "neighbours"]
    assert list(fig.data[2].customdata) == [8, 9] and fig.data[2].text[0] == "&lt;8&gt;"
    out = tmp_path / "map" / "fig.html"
    plots.save_html(fig, out)
    text = out.read_text(encoding="utf-8")
    assert "<html>" in text[:100] and "plotly" in text and len(text) > 1_000_000
    assert not list(out.parent.glob(".*.tmp"))  # written atomically, nothing left behind
