"""Explain a choice: saliency against an independent autograd computation and finite
differences, channel contributions against brute force and the method's own distance,
occlusion against a toy method, notes, bad input, the figures and the explorer's control."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import simkit  # noqa: E402
from simkit.errors import SimkitError  # noqa: E402
from simkit.methods.explain import ExplainError, channel_contributions, explain  # noqa: E402
from simkit.methods.occlusion import occlusion_map  # noqa: E402
from simkit.study.model import PAIRS  # noqa: E402

SIZE = 32
IDS = ["i0", "i1", "i2", "i3", "i4"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """One question of five random-noise prints, 40 x 48 (not square: the maps keep the
    input's aspect under keep-aspect)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("explain-study")
    (root / "images").mkdir()
    rng = np.random.default_rng(0)
    for i in IDS:
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            root / "images" / f"{i}.png")
    (root / "images.csv").write_text("image_id,file,genre\n" + "".join(
        f"{i},images/{i}.png,g\n" for i in IDS))
    (root / "questions.csv").write_text(
        "question_id,genre,image_1,image_2,image_3,image_4,image_5\nq1,g," + ",".join(IDS)
        + "\n")
    (root / "responses.csv").write_text("participant_id,question_id,choice\np1,q1,a-b\n")
    return simkit.load_study(root)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("explain-cache")


def _trunk(layer: str):
    """The seeded VGG-19 trunk up to ``layer`` (the weights; the computation below is the
    test's own)."""
    from simkit.features.backbones import layer_ends, load_trunk

    return load_trunk("vgg19", "random:0", layer_ends("vgg19")[layer])[0]


def _input(study, image_id: str, policy: str) -> "torch.Tensor":
    from simkit.features.images import load_tensor

    return load_tensor(study.image_path(image_id), policy, SIZE)[None]


def _gram_tril(trunk, x):
    f = trunk(x)[0].flatten(1)
    g = f @ f.T
    i, j = np.tril_indices(g.shape[0])
    return g, g[torch.from_numpy(i), torch.from_numpy(j)]


def test_gram_saliency_and_channels_match_an_independent_computation(study, cache):
    e = explain(study, "q1", "gram:vgg19@conv2_1", "(e)-(b)", weights="random:0", size=SIZE,
                policy="keep-aspect", cache_dir=cache, progress=False)
    assert e.pair == "b-e" and e.image_ids == ("i1", "i4") and e.technique == "gradient"
    # keep-aspect: the shorter side becomes 32, the map has the input's shape
    assert e.images[0].shape == (32, 38, 3) and e.maps[0].shape == (32, 38)

    trunk = _trunk("conv2_1")
    xs = [_input(study, i, "keep-aspect").requires_grad_(True) for i in e.image_ids]
    (ga, va), (gb, vb) = (_gram_tril(trunk, x) for x in xs)
    d = torch.linalg.vector_norm(va.double() - vb.double())
    d.backward()
    for k, x in enumerate(xs):
        expected = x.grad[0].abs().sum(0).numpy()
        np.testing.assert_allclose(e.maps[k], expected, rtol=2e-3, atol=1e-6 * expected.max())

    # finite differences in float64 along the gradient: the directional derivative is |∇d|
    t64 = trunk.double()
    x0 = _input(study, "i1", "keep-aspect").double()
    fixed = _gram_tril(t64, _input(study, "i4", "keep-aspect").double())[1]
    grad = xs[0].grad.double()
    u = grad / torch.linalg.vector_norm(grad)
    h = 1e-4

    def dist(x):
        return float(torch.linalg.vector_norm(_gram_tril(t64, x)[1] - fixed))
    with torch.no_grad():
        slope = (dist(x0 + h * u) - dist(x0 - h * u)) / (2 * h)
    assert slope == pytest.approx(float(torch.linalg.vector_norm(grad)), rel=1e-3)

    # channel pairs and channels, brute force over the full 128 x 128 matrices
    delta = (ga - gb).detach().double().numpy()
    c = delta.shape[0]
    brute_pairs = {(i, j): delta[i, j] ** 2 for i in range(c) for j in range(i + 1)}
    brute_channels = [delta[k, k] ** 2 + 0.5 * sum(delta[k, m] ** 2 for m in range(c) if m != k)
                      for k in range(c)]
    d2 = sum(brute_pairs.values())
    got = {(i, j): v for i, j, v in zip(e.channel_pairs["channel_i"], e.channel_pairs["channel_j"],
                                       e.channel_pairs["contribution"])}
    assert len(got) == c * (c + 1) // 2
    top = max(brute_pairs, key=brute_pairs.get)
    assert (e.channel_pairs["channel_i"][0], e.channel_pairs["channel_j"][0]) == top
    np.testing.assert_allclose([got[k] for k in brute_pairs], list(brute_pairs.values()),
                               rtol=1e-3, atol=1e-9 * d2)
    by_channel = dict(zip(e.channels["channel"], e.channels["contribution"]))
    np.testing.assert_allclose([by_channel[k] for k in range(c)], brute_channels, rtol=1e-3,
                               atol=1e-9 * d2)
    # both sum to the squared distance of the method itself (its choice's distance)
    assert e.channel_pairs["contribution"].sum() == pytest.approx(e.squared_distance, rel=1e-12)
    assert e.channels["contribution"].sum() == pytest.approx(e.squared_distance, rel=1e-12)
    assert e.squared_distance == pytest.approx(e.distance ** 2, rel=1e-5)
    assert e.channel_pairs["share"].sum() == pytest.approx(1.0, rel=1e-12)


def test_deep_methods_pick_explain_and_say_random(study, cache):
    result = simkit.choose(study, ["cosine"], weights="random:0", size=SIZE, cache_dir=cache,
                           progress=False)
    e = explain(study, "q1", "cosine", weights="random:0", size=SIZE, cache_dir=cache)
    own = result.choices["choice"].iloc[0]
    assert e.pair == e.pick == own
    ref = result.distances.set_index("pair")["distance"]
    assert e.distances == pytest.approx({p: ref[p] for p in PAIRS})
    # the 131,328 conv5_1 pairs sum to the method's own squared distance
    assert len(e.channel_pairs) == 512 * 513 // 2
    assert e.channel_pairs["contribution"].sum() == pytest.approx(ref[own] ** 2, rel=1e-5)
    # zero maps of a random conv5_1 do not make the cosine gradient NaN
    assert all(np.isfinite(m).all() and m.max() > 0 for m in e.maps)
    assert e.maps[0].shape == (SIZE, SIZE)
    assert e.notes[0] == ("random weights (random:0): this map explains a random network, "
                          "not VGG-19")
    assert "random network" in repr(e) and "random network" in e._repr_html_()


def test_occlusion_of_a_toy_method_that_sees_one_quadrant():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ref = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)

    def quadrant_distance(images):  # looks at the top-left 16 x 16 only
        return [np.abs(im[:16, :16].astype(float) - ref[:16, :16]).mean() for im in images]

    got = occlusion_map(img, quadrant_distance, patch=8, stride=8, progress=False)
    base = quadrant_distance([img])[0]
    expected = np.zeros((32, 32))
    for y in (0, 8):
        for x in (0, 8):
            hidden = img.copy()
            hidden[y:y + 8, x:x + 8] = 128
            expected[y:y + 8, x:x + 8] = quadrant_distance([hidden])[0] - base
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.all(got[16:, :] == 0) and np.all(got[:, 16:] == 0)
    assert np.all(got[:16, :16] != 0)
    # overlapping squares average; a square larger than the image is cut to it
    half = occlusion_map(img, quadrant_distance, patch=16, stride=8, progress=False)
    assert half.shape == (32, 32) and np.isfinite(half).all()
    whole = occlusion_map(img, quadrant_distance, patch=100, stride=5, progress=False)
    hidden = np.full_like(img, 128)
    assert np.allclose(whole, quadrant_distance([hidden])[0] - base)


def test_colour_is_explained_by_occlusion(study, cache):
    e = explain(study, "q1", "colour", "a-b", size=SIZE, patch=16, stride=16, cache_dir=cache,
                progress=False)
    assert e.technique == "occlusion" and e.channel_pairs is None and e.notes == []
    assert e.maps[0].shape == (SIZE, SIZE) and np.isfinite(e.maps[0]).all()
    # the map of a square is the colour distance recomputed with that square grey
    from simkit.methods.style import colour_vectors

    _, other = e.images
    hidden = e.images[0].copy()
    hidden[:16, :16] = 128
    from PIL import Image
    tmp = cache / "occluded"
    tmp.mkdir(exist_ok=True)
    paths = []
    for k, im in enumerate([e.images[0], hidden, other]):
        paths.append(tmp / f"{k}.png")
        Image.fromarray(im).save(paths[-1])
    v = colour_vectors(paths, cache_dir=tmp, progress=False)[1].astype(float)
    change = np.linalg.norm(v[1] - v[2]) - np.linalg.norm(v[0] - v[2])
    assert e.maps[0][0, 0] == pytest.approx(change)


def test_style_occlusion_writes_no_file(study, cache, monkeypatch, tmp_path):
    """Occluded prints stay in memory: with no usable temporary folder and a warm feature
    cache, explaining ``style`` by occlusion still works and the cache gains no file."""
    kw = dict(weights="random:0", size=SIZE, patch=16, stride=16, cache_dir=cache,
              progress=False, device="cpu")
    first = explain(study, "q1", "style", "a-b", **kw)  # warms the cache with the prints
    before = sorted(p for p in cache.rglob("*"))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-folder"))
    e = explain(study, "q1", "style", "a-b", **kw)
    assert sorted(p for p in cache.rglob("*")) == before
    assert not (tmp_path / "no-such-folder").exists()
    assert e.technique == "occlusion" and np.isfinite(e.maps[0]).all()
    assert np.array_equal(e.maps[0], first.maps[0]) and np.array_equal(e.maps[1], first.maps[1])


def test_bad_input_is_a_clear_error(study, cache):
    kw = dict(weights="random:0", size=SIZE, cache_dir=cache, progress=False)
    with pytest.raises(ExplainError, match="unknown question 'q9'.*q1"):
        explain(study, "q9", "gram", **kw)
    with pytest.raises(SimkitError, match="unknown method 'nope'"):
        explain(study, "q1", "nope", **kw)
    for bad in ("a-a", "a-f", "ab"):
        with pytest.raises(ExplainError, match=f"pair '{bad}' is not one of the 10 pairs"):
            explain(study, "q1", "gram", bad, **kw)
    simkit.register_vectors("mine_explain", {i: [k, 1.0] for k, i in enumerate(IDS)})
    try:
        with pytest.raises(ExplainError, match="'mine_explain' is not explainable: no images"):
            explain(study, "q1", "mine_explain", **kw)
    finally:
        from simkit.methods.registry import unregister_method
        unregister_method("mine_explain")


def test_contributions_sum_and_are_na_for_equal_vectors():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=10), rng.normal(size=10)  # C = 4
    pairs, channels, d2 = channel_contributions(a, b)
    assert d2 == pytest.approx(np.sum((a - b) ** 2))
    assert pairs["contribution"].sum() == pytest.approx(d2)
    assert channels["contribution"].sum() == pytest.approx(d2)
    _, same, zero = channel_contributions(a, a)
    assert zero == 0 and same["share"].isna().all()  # undefined shares are n/a, not 0
    with pytest.raises(ValueError, match="not a lower triangle"):
        channel_contributions(a[:9], b[:9])


def test_figures_and_the_explorer_control_show_the_note(study, cache):
    pytest.importorskip("ipywidgets")
    import pandas as pd

    from simkit.plots import channel_pair_bars, saliency_overlay
    from simkit.widgets import GroupExplorer

    method = "gram_cosine:vgg19@conv2_1"
    choices = pd.DataFrame([("q1", method, "a-b"), ("q1", "colour", "a-b")],
                           columns=["question_id", "method", "choice"])
    ex = GroupExplorer(study, choices, explain_options=dict(
        weights="random:0", size=SIZE, cache_dir=cache, patch=16, stride=16))
    widget = ex.widget
    assert ex.explanation is None and not ex._w_x_figures.children  # nothing until asked
    ex._w_x_pair.value = "c-e"
    ex._w_x_button.click()
    e = ex.explanation
    assert (e.method, e.pair, e.technique) == (method, "c-e", "gradient")
    assert "this map explains a random network" in ex._w_x_info.value
    overlay, bars = ex._w_x_figures.children
    heat = [t for t in overlay.data if t.type == "heatmap"]
    assert len(heat) == 2 and all(t.opacity == 0.5 for t in heat)
    ex._w_x_opacity.value = 0.8
    assert all(t.opacity == 0.8 for t in overlay.data if t.type == "heatmap")
    assert "random network" in overlay.layout.title.text
    assert len(bars.data[0].y) == 15 and "random network" in bars.layout.title.text

    ex._w_x_method.value, ex._w_x_pair.value = "colour", "its pick"
    ex._w_x_button.click()
    assert ex.explanation.pair == ex.explanation.pick and len(ex._w_x_figures.children) == 1
    ex.explain("gram", "a-a")
    assert ex.explanation is None and "not one of the 10 pairs" in ex._w_x_info.value
    assert widget is ex.widget

    fig = saliency_overlay(e, opacity=0.3)
    assert [t.type for t in fig.data] == ["image", "heatmap", "image", "heatmap"]
    assert fig.data[1].zmax == pytest.approx(np.percentile(np.concatenate(
        [m.ravel() for m in e.maps]), 99))
    assert channel_pair_bars(e, top=5).data[0].x[-1] == pytest.approx(
        100 * e.channel_pairs["share"][0])
