"""Style embeddings (Holtes), the colour cube, pooled CNN features and SIFT/ORB baselines."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageFilter

import simkit.methods.style as style
from simkit.study.model import load_study


def texture(seed: int, size: int = 96) -> Image.Image:
    """A blurred random-block texture: many corners for SIFT/ORB, varied colours."""
    rng = np.random.default_rng(seed)
    a = (rng.random((size // 4, size // 4, 3)) * 255).astype(np.uint8)
    return Image.fromarray(a).resize((size, size), Image.Resampling.NEAREST).filter(
        ImageFilter.GaussianBlur(1.0))


@pytest.fixture(scope="module")
def twin_study(tmp_path_factory):
    """A one-question study whose image e is a byte copy of image a."""
    root = tmp_path_factory.mktemp("twin")
    (root / "images").mkdir()
    for k in range(4):
        texture(k).save(root / "images" / f"i{k}.png")
    shutil.copy(root / "images" / "i0.png", root / "images" / "copy.png")
    ids = ["i0", "i1", "i2", "i3", "copy"]
    (root / "images.csv").write_text(
        "image_id,file,genre\n" + "".join(f"{i},images/{i}.png,g\n" for i in ids))
    (root / "questions.csv").write_text(
        "question_id,genre,image_1,image_2,image_3,image_4,image_5\nq1,g," + ",".join(ids)
        + "\n")
    (root / "responses.csv").write_text("participant_id,question_id,choice\np1,q1,a-e\n")
    return load_study(root)


# -- colour cube -------------------------------------------------------------------------
def test_colour_histogram_counts_625_samples_into_n_cubed_cells():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    for n in (1, 2, 4, 8):
        h = style.colour_histogram(img, n=n)
        assert h.shape == (n ** 3,) and h.dtype == np.float32
        assert h.sum() == 625
    # seeded: same seed same vector, another seed another sample
    assert np.array_equal(style.colour_histogram(img, seed=3), style.colour_histogram(img, seed=3))
    assert not np.array_equal(style.colour_histogram(img, seed=3), style.colour_histogram(img, seed=4))


def test_colour_histogram_cells_have_side_255_over_n():
    img = np.zeros((224, 224, 3), np.uint8)
    img[:112] = (255, 0, 0)        # red: cell r=n-1 (255 is in the last cell), g=0, b=0
    img[112:] = (64, 128, 191)     # n=4: cells 64*4//255=1, 128*4//255=2, 191*4//255=2
    h = style.colour_histogram(img, n=4, samples=625)
    red, other = 3 * 16, 1 * 16 + 2 * 4 + 2
    assert h[red] + h[other] == 625 and h[red] > 200 and h[other] > 200
    assert np.count_nonzero(h) == 2
    # the sampled pixels of a 10x10 image (100 px < 625 samples) are drawn with replacement
    assert style.colour_histogram(img[:10, :10], n=2).sum() == 625


def test_colour_histogram_rejects_non_rgb_and_non_uint8():
    with pytest.raises(ValueError, match="H x W x 3"):
        style.colour_histogram(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        style.colour_histogram(np.zeros((10, 10, 3), np.float32))


# -- combining the parts ---------------------------------------------------------------------
def test_full_gram_equivalent_keeps_distances_of_full_flattening():
    rng = np.random.default_rng(0)
    f = rng.random((3, 6, 20)).astype(np.float32)
    full = np.einsum("nck,ndk->ncd", f, f)            # 3 Gram matrices, 6 x 6
    r, c = np.tril_indices(6)
    tril = full[:, r, c]
    eq = style.full_gram_equivalent(tril)
    flat = full.reshape(3, -1)
    for i in range(3):
        for j in range(3):
            assert np.isclose(np.linalg.norm(eq[i] - eq[j]), np.linalg.norm(flat[i] - flat[j]),
                              rtol=1e-5)


def test_combine_style_weights_unit_parts():
    rng = np.random.default_rng(0)
    g1, g2 = rng.random((4, 10)), rng.random((4, 21))   # C=4 and C=6 lower triangles
    col = rng.random((4, 8))
    w = 0.3
    E = style.combine_style([g1, g2], col, w)
    assert E.shape == (4, 10 + 21 + 8)

    def unit(x):
        return x / np.linalg.norm(x, axis=1, keepdims=True)
    e1, e2 = unit(style.full_gram_equivalent(g1)), unit(style.full_gram_equivalent(g2))
    h = unit(col)
    want = ((1 - w) * (np.sum((e1[0] - e1[1]) ** 2) + np.sum((e2[0] - e2[1]) ** 2)) / 2
            + w * np.sum((h[0] - h[1]) ** 2))
    assert np.isclose(np.sum((E[0] - E[1]) ** 2), want, rtol=1e-5)
    raw = style.combine_style([g1], col, None)            # Holtes' raw concatenation
    assert np.allclose(raw[:, -8:], col)
    with pytest.raises(ValueError, match="between 0 and 1"):
        style.combine_style([g1], col, 1.5)


# -- the methods on a study -------------------------------------------------------------------
def test_identical_images_are_nearest_and_chosen(twin_study, tmp_path):
    from simkit.methods.choices import choose_from_features
    from simkit.methods.registry import family_methods

    fs = style.style_features(twin_study, weights="random:0", size=32,
                              layers=("conv1_1", "conv3_1"), cache_dir=tmp_path,
                              progress=False)
    assert set(fs.vectors) == {"style", "colour", "cnn"}
    assert fs.vectors["colour"].shape == (5, 64) and (fs.vectors["colour"].sum(1) == 625).all()
    assert fs.vectors["cnn"].shape == (5, 512)
    assert fs.vectors["style"].shape == (5, 64 * 65 // 2 + 256 * 257 // 2 + 64)
    assert "RANDOM" in fs.weights_note
    names = [m.name for m in family_methods("style")]
    assert names == ["style", "colour", "cnn"]
    for m in family_methods("style"):
        choices, dists = choose_from_features(twin_study, fs, [m.name], metric=m.metric)
        assert choices["choice"].tolist() == ["a-e"], m.name
        assert dists.loc[dists["pair"] == "a-e", "distance"].item() == pytest.approx(0, abs=1e-6)
    choices, _, _ = style.style_choices(twin_study, weights="random:0", size=32,
                                        layers=("conv1_1",), cache_dir=tmp_path, progress=False)
    assert set(choices["method"]) == set(names)
    assert (choices["choice"] == "a-e").all()


def test_colour_needs_no_network_and_style_gram_shares_the_feature_store(twin_study, tmp_path):
    from simkit.features.extract import extract_features

    fs = style.style_features(twin_study, methods=["colour"], weights="no-such-weights-file",
                              cache_dir=tmp_path, progress=False)
    assert list(fs.vectors) == ["colour"] and "weights" not in fs.config
    ids, deep, _ = style.deep_vectors(twin_study, weights="random:0", size=32,
                                      gram_layers=["conv2_1"], pooled_layers=[],
                                      cache_dir=tmp_path, progress=False)
    ref = extract_features(twin_study, weights="random:0", size=32, layer="conv2_1",
                           representations=["gram"], cache_dir=tmp_path, progress=False)
    assert ref.stats["from_cache"] == 5          # written by deep_vectors, same key
    assert np.array_equal(ref.vectors["gram"], deep["gram:conv2_1"])


# -- SIFT / ORB ------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["sift", "orb"])
def test_local_features_match_a_transformed_copy_more_than_another_image(method):
    pytest.importorskip("cv2")
    from simkit.methods.local import match_counts

    a = texture(1, 192)
    b = a.rotate(7, resample=Image.Resampling.BILINEAR).resize((176, 176))  # turned, smaller
    c = texture(2, 192)
    m = match_counts([a, b, c], method, progress=False)
    assert np.allclose(m, m.T)
    assert m[0, 1] > 5 * max(m[0, 2], 1) and m[0, 1] > 20


def test_local_choices_pick_the_identical_pair_and_surf_is_explained(twin_study):
    pytest.importorskip("cv2")
    from simkit.methods.local import descriptors, local_choices

    choices, dists = local_choices(twin_study, progress=False)
    assert choices["choice"].tolist() == ["a-e", "a-e"]
    assert len(dists) == 20 and (dists["distance"] > 0).all()
    with pytest.raises(ValueError, match="patented"):
        descriptors(texture(0), "surf")


# -- images in memory (occlusion) ------------------------------------------------------------
def test_pixel_vectors_are_those_of_the_same_pixels_as_files(tmp_path):
    """style_pixel_vectors on arrays = style_features on PNG files of the same pixels, bit
    for bit: two shapes (keep-aspect) and more images than one batch of the engine."""
    rng = np.random.default_rng(5)
    arrays = [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(9)]
    arrays.insert(4, rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    paths = []
    for k, a in enumerate(arrays):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(a).save(paths[-1])
    opts = dict(weights="random:0", size=32, policy="keep-aspect", layers=("conv1_1", "conv2_1"),
                cnn_layer="conv2_2", device="cpu")
    files = style.style_features(paths, cache_dir=tmp_path / "cache", progress=False, **opts)
    # the network loaded once serves a series of calls (here two: ids 0-3, then the rest)
    net = style.style_network(**{k: opts[k] for k in ("weights", "size", "layers", "cnn_layer",
                                                      "device")})
    parts = [style.style_pixel_vectors(arrays[:4], network=net, **opts),
             style.style_pixel_vectors(arrays[4:], network=net, **opts)]
    got = {m: np.concatenate([p[m] for p in parts]) for m in parts[0]}
    assert sorted(got) == sorted(files.vectors) == ["cnn", "colour", "style"]
    for m, v in got.items():
        assert v.dtype == files.vectors[m].dtype and np.array_equal(v, files.vectors[m]), m
    assert style.style_network(["colour"], weights="random:0") is None  # no network needed
