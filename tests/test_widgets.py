"""The widgets' logic, headless: what each view shows must follow from the study's data.

Expected values are computed here independently (from responses.csv and participants.csv
with collections.Counter), not with simkit.analysis.tables.
"""
from __future__ import annotations

import html as htmlmod
import io
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ipywidgets")
pytest.importorskip("plotly")

from simkit.study.demo import make_demo_study  # noqa: E402
from simkit.study.model import PAIRS  # noqa: E402
from simkit.widgets import GroupExplorer, TableReplay, UmapExplorer  # noqa: E402
from simkit.widgets.group_explorer import thumbnail_png  # noqa: E402

METHODS = ["gram", "cosine", "gram_cosine"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_demo_study(tmp_path_factory.mktemp("demo"), groups_per_genre=2, image_size=64)


@pytest.fixture(scope="module")
def machine(study):
    """Choices and distances made here: seeded distances, choice = the closest pair."""
    rng = np.random.default_rng(7)
    dist_rows, choice_rows = [], []
    for q in study.questions["question_id"]:
        for m in METHODS:
            d = rng.uniform(1, 10, len(PAIRS))
            dist_rows += [(q, m, p, float(x)) for p, x in zip(PAIRS, d)]
            choice_rows.append((q, m, PAIRS[int(np.argmin(d))]))
    return (pd.DataFrame(choice_rows, columns=["question_id", "method", "choice"]),
            pd.DataFrame(dist_rows, columns=["question_id", "method", "pair", "distance"]))


def expected_votes(study, question_id: str) -> tuple[dict[str, int], list[str]]:
    """Votes of valid participants (answered all, no impairment) and the majority set."""
    parts = study.participants.set_index("participant_id")
    n_q = len(study.questions)
    answered = study.responses.groupby("participant_id")["question_id"].nunique()
    valid = {p for p in parts.index
             if parts.loc[p, "visual_impairment"] != "yes" and answered.get(p, 0) == n_q}
    resp = study.responses
    sel = resp[(resp["question_id"] == question_id) & resp["participant_id"].isin(valid)]
    votes = Counter(sel["choice"])
    top = max(votes.values())
    return {p: votes.get(p, 0) for p in PAIRS}, [p for p in PAIRS if votes.get(p, 0) == top]


def test_changing_the_question_changes_thumbnails_votes_and_pairs(study, machine):
    from PIL import Image

    choices, distances = machine
    ex = GroupExplorer(study, choices, distances)
    ex.widget  # build the view: the figures must follow the state
    seen = set()
    for q in ["q001", "q002", "q006"]:
        ex.select(q)
        s = ex.state
        row = study.questions.set_index("question_id").loc[q]
        ids = [row[f"image_{i}"] for i in range(1, 6)]
        assert s["question_id"] == q and s["image_ids"] == ids
        meta = study.images.set_index("image_id")
        want = [str(meta.at[i, "title"]).strip() if "title" in meta else "" for i in ids]
        assert s["titles"] == [t or i for t, i in zip(want, ids)]  # captions: title, else id
        for k, title in enumerate(s["titles"]):
            assert f"<b>({'abcde'[k]})</b>" in ex._w_captions[k].value
            assert htmlmod.escape(title) in ex._w_captions[k].value
        for k, image_id in enumerate(ids):
            png = ex._w_thumbs[k].value
            assert png == thumbnail_png(study.image_path(image_id), ex.thumb_size)
            with Image.open(study.image_path(image_id)) as orig, Image.open(io.BytesIO(png)) as th:
                assert max(th.size) <= ex.thumb_size
                assert abs(th.size[0] / th.size[1] - orig.size[0] / orig.size[1]) < 0.05
        votes, majority = expected_votes(study, q)
        assert s["votes"] == votes and s["majority"] == majority
        bar = ex._bars.data[0]
        assert list(bar.y) == [votes[p] for p in PAIRS]
        blue = [p for p, c in zip(PAIRS, bar.marker.color) if c == "#1f77b4"]
        assert blue == majority
        html = ex._w_choices.value
        assert f'data-method="majority" data-pairs="{"|".join(majority)}"' in html
        ch = choices[choices["question_id"] == q].set_index("method")["choice"]
        for i, m in enumerate(METHODS):
            assert s["methods"][m]["pair"] == ch[m]
            assert s["methods"][m]["agree"] == (ch[m] in majority)
            assert s["methods"][m]["ps"] == pytest.approx(100 * votes[ch[m]] / s["n"])
            assert f'data-method="{m}" data-pairs="{ch[m]}"' in html
            assert f'data-method="{m}" data-agree="{str(ch[m] in majority).lower()}"' in html
            z = np.array(ex._heat.data[i].z, dtype=float)
            d = distances[(distances["question_id"] == q) & (distances["method"] == m)]
            assert z[0, 1] == pytest.approx(float(d.loc[d["pair"] == "a-b", "distance"].iloc[0]))
            assert z[4, 3] == pytest.approx(float(d.loc[d["pair"] == "d-e", "distance"].iloc[0]))
            assert np.isnan(z[2, 2])
        seen.add(tuple(bar.y))
    assert len(seen) > 1  # the bars really changed


def test_slider_genre_order_and_filter(study, machine):
    choices, distances = machine
    ex = GroupExplorer(study, choices, distances)
    ex.widget
    genres = list(dict.fromkeys(study.questions["genre"]))
    in_genre = list(study.questions.loc[study.questions["genre"] == genres[1], "question_id"])
    ex._w_genre.value = genres[1]
    assert ex.questions == in_genre and ex.question_id == in_genre[0]
    ex._w_slider.value = 1  # what the keyboard / mouse does
    assert ex.question_id == in_genre[1]
    assert ex._w_choices.value.count(f'data-question="{in_genre[1]}"') == 1

    ex.set_view(genre="All genres", order="easiest first")
    top = {q: max(expected_votes(study, q)[0].values()) for q in study.questions["question_id"]}
    assert [top[q] for q in ex.questions] == sorted(top.values(), reverse=True)
    ex.set_view(order="hardest first")
    assert [top[q] for q in ex.questions] == sorted(top.values())
    # a view option that is not one of its choices is refused, naming them; nothing changes
    with pytest.raises(ValueError, match=f"unknown genre 'Nope'; choose one of {genres[0]}, "):
        ex.set_view(genre="Nope")
    with pytest.raises(ValueError, match="unknown order 'random'; choose one of "):
        ex.set_view(order="random")
    assert [top[q] for q in ex.questions] == sorted(top.values())

    ex.set_view(order="questions.csv", only_disagreements=True)
    ch = choices.pivot(index="question_id", columns="method", values="choice")
    expected = [q for q in study.questions["question_id"]
                if any(ch.loc[q, m] not in expected_votes(study, q)[1] for m in METHODS)]
    assert ex.questions == expected
    # selecting a question outside the filter shows it (and lifts the filter)
    agreeing = [q for q in study.questions["question_id"] if q not in expected]
    if agreeing:
        ex.select(agreeing[0])
        assert ex.question_id == agreeing[0] and agreeing[0] in ex.questions


@pytest.fixture(scope="module")
def features(study, tmp_path_factory):
    from simkit.features.extract import extract_features
    return extract_features(study, weights="random:0", size=32, progress=False,
                            cache_dir=tmp_path_factory.mktemp("features"))


def test_umap_points_match_the_study_and_link_to_the_group_explorer(study, features, machine,
                                                                    tmp_path):
    choices, distances = machine
    ex = GroupExplorer(study, choices, distances)
    ux = UmapExplorer(study, features, choices, group_explorer=ex, cache_dir=tmp_path)
    pts = ux.points
    assert list(pts["image_id"]) == list(study.images["image_id"])
    assert list(pts["genre"]) == list(study.images["genre"])
    assert np.isfinite(pts[["x", "y"]].to_numpy()).all()
    assert len(list(tmp_path.glob("umap-*.npy"))) == 1  # the projection was cached
    ux.widget
    point_ids = sorted(i for ids in ux._trace_ids for i in ids)
    assert point_ids == sorted(study.images["image_id"])
    n_points = sum(len(ux._fig.data[k].x) for k in range(ux._n_point_traces))
    assert n_points == len(study.images)

    # clicking a print opens its question, here and in the group explorer
    q = "q005"
    image = study.question_images(q)[3]
    assert ux.click(image) == q
    assert ex.question_id == q and ux.state["question_id"] == q
    s = ux.state
    assert [p[0] for p in s["question_points"]] == study.question_images(q)
    _, majority = expected_votes(study, q)
    ids = study.question_images(q)
    assert s["majority_lines"] == [(ids["abcde".index(p[0])], ids["abcde".index(p[2])])
                                   for p in majority]
    sel = ux._fig.data[ux._n_point_traces]
    xy = pts.set_index("image_id").loc[ids, ["x", "y"]].to_numpy()
    np.testing.assert_allclose(np.array([sel.x, sel.y], dtype=float).T, xy, rtol=1e-6)
    # stepping in the group explorer moves the map
    ex.select("q002")
    assert ux.state["question_id"] == "q002"
    # colouring by agreement uses the method named like the representation
    with pytest.raises(ValueError, match="unknown representation 'pixels'; choose one of "
                                         + ", ".join(features.vectors)):
        ux.set_view(representation="pixels")
    with pytest.raises(ValueError, match="unknown colour 'size'; choose one of genre"):
        ux.set_view(colour="size")
    ux.set_view(representation="cosine", colour="agreement")
    agree = ux.points.set_index("image_id")["agreement"]
    ch = choices[choices["method"] == "cosine"].set_index("question_id")["choice"]
    for q in study.questions["question_id"]:
        want = "agrees" if ch[q] in expected_votes(study, q)[1] else "disagrees"
        assert set(agree[study.question_images(q)]) == {want}


def test_table_replay_highlights_exactly_the_differences(study, machine):
    from simkit.analysis.all_tables import compute_tables
    from simkit.analysis.published import published, replay

    choices, _ = machine
    tables = compute_tables(study.with_choices(choices), n_boot=50)
    tr = TableReplay(tables)
    # the simulated demo study does not reproduce the paper
    for name in ("table2", "table3", "table4", "table5", "easy"):
        wide, differs = tr.frame(name)
        n = int(replay(tables[name], name)["differs"].sum())
        assert tr.n_differences(name) == n and int(differs.to_numpy().sum()) == 2 * n
    assert tr.n_differences("table2") > 0
    # the published table itself: nothing highlighted; change one value: one cell
    exact = dict(tables, table2=published("table2"))
    tr = TableReplay(exact)
    assert tr.n_differences("table2") == 0 and "#ffd6d6" not in tr.html("table2")
    changed = published("table2")
    changed.loc[(changed["genre"] == "Bijin-ga") & (changed["method"] == "cosine"), "avg_ps"] += 1
    tr = TableReplay(dict(tables, table2=changed))
    wide, differs = tr.frame("table2")
    assert int(differs.to_numpy().sum()) == 2
    assert differs.loc["Cosine", ("Bijin-ga", "ours")]
    assert "#ffd6d6" in tr.html("table2")
    # confidence intervals for Tables 2 and 3, and Fig. 1 as curves
    assert tr.ci_frame("table3") is not None and "[" in tr.html("table3")
    fig = TableReplay(tables).figure()
    assert [t.name for t in fig.data] == ["Majority", "Gram", "Cosine", "Gram·Cosine"]
    np.testing.assert_allclose(fig.data[0].y, tables["fig1"]["cma_majority"])


# -- what reaches the browser --------------------------------------------------------------
@pytest.fixture
def sent(monkeypatch):
    """Every message the widgets send to the browser, checked as the kernel checks it:
    strict JSON (NaN or infinity fail with "Out of range float values are not JSON
    compliant", which JupyterLab shows as "Message serialization failed")."""
    import ipywidgets

    messages: list[str] = []

    def send(widget, msg, buffers=None):
        messages.append(json.dumps(msg, allow_nan=False))

    monkeypatch.setattr(ipywidgets.Widget, "_send", send)
    return messages


def assert_strict_json_state(root) -> None:
    """The state of ``root`` and every widget inside it, as the browser first receives it."""
    import ipywidgets

    def binary(o):  # image bytes and numpy buffers travel as binary, not JSON
        if isinstance(o, (bytes, bytearray, memoryview)):
            return "<buffer>"
        raise TypeError(type(o).__name__)

    todo, seen = [root], set()
    while todo:
        w = todo.pop()
        if id(w) in seen:
            continue
        seen.add(id(w))
        json.dumps(w.get_state(), allow_nan=False, default=binary)
        todo += [c for c in getattr(w, "children", ()) if isinstance(c, ipywidgets.Widget)]


def test_no_view_sends_nan_to_the_browser(study, features, machine, sent, tmp_path):
    from simkit.analysis.all_tables import compute_tables
    from simkit.widgets import CollectionMap

    choices, distances = machine  # the heatmaps have NaN on their diagonals
    ex = GroupExplorer(study, choices, distances)
    ux = UmapExplorer(study, features, choices, group_explorer=ex, cache_dir=tmp_path)
    assert_strict_json_state(ex.widget)
    assert_strict_json_state(ux.widget)
    for q in ["q002", "q005", "q003"]:
        ex.select(q)
    ux.set_view(colour="agreement")
    ex._w_genre.value = "All genres"
    tables = compute_tables(study.with_choices(choices), n_boot=20)
    tr = TableReplay(tables)
    assert_strict_json_state(tr.widget)
    m = CollectionMap(ux.points[["x", "y"]].to_numpy(), study.images, colour="genre")
    m.click(study.images["image_id"].iloc[0])
    assert_strict_json_state(m.widget)
    assert len(sent) > 20  # the updates really went out, each one strict JSON


def test_every_view_follows_one_display_convention(study, machine):
    from simkit.widgets.view import THUMBNAIL_CACHE_SIZE, View, _thumbnail

    choices, distances = machine
    ex = GroupExplorer(study, choices, distances)
    assert isinstance(ex, View)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == ex.widget.model_id
    for name in ("GroupExplorer", "UmapExplorer", "TableReplay", "Questionnaire",
                 "GroupBuilder", "CollectionMap"):
        import simkit.widgets

        assert issubclass(getattr(simkit.widgets, name), View), name
    assert _thumbnail.cache_info().maxsize == THUMBNAIL_CACHE_SIZE  # bounded
