"""Deep perceptual similarity: metrics (eqs. 1–3), distortions, 2AFC, adaptation, data."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
tvm = pytest.importorskip("torchvision.models")

from conftest import SHARED_DATA  # noqa: E402

from simkit.methods.perceptual import adaptation as padapt  # noqa: E402
from simkit.methods.perceptual import study_adaptation  # noqa: E402
from simkit.methods.perceptual import datasets, distortions, metrics, networks, twoafc  # noqa: E402

MATERIAL = SHARED_DATA / "material-appearance"


def smooth_images(n: int, size: int = 64, seed: int = 0) -> "torch.Tensor":
    """Smooth random colour images (uint8), upsampled from 8×8 noise."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 8, 8, generator=g)
    up = torch.nn.functional.interpolate(base, size=size, mode="bilinear", align_corners=False)
    return (up * 255).round().to(torch.uint8)


# -- an independent implementation of eqs. 1–3 -------------------------------------------
def _hooked_features(net_name: str, module_state: dict, x: "torch.Tensor") -> list[np.ndarray]:
    """Activations at the layers of the paper's Table 1, found by counting ReLUs / Fire
    modules in a fresh torchvision model, channel-normalised with numpy (float64)."""
    tv = {"alexnet": "alexnet", "squeezenet": "squeezenet1_1", "vgg16": "vgg16"}[net_name]
    with torch.device("meta"):  # skip initialising the (unused) classifier
        model = getattr(tvm, tv)(weights=None)
    features = model.features.to_empty(device="cpu").eval()
    features.load_state_dict(module_state)  # every parameter of the trunk, strictly
    feats = list(features)
    if net_name == "squeezenet":
        relus = [i for i, m in enumerate(feats) if isinstance(m, torch.nn.ReLU)]
        fires = [i for i, m in enumerate(feats) if type(m).__name__ == "Fire"]
        wanted = [relus[0]] + [fires[k - 1] for k in (2, 4, 5, 6, 7, 8)]
    else:
        relus = [i for i, m in enumerate(feats) if isinstance(m, torch.nn.ReLU)]
        nth = {"alexnet": (1, 2, 3, 4, 5), "vgg16": (2, 4, 7, 10, 13)}[net_name]
        wanted = [relus[k - 1] for k in nth]
    got = {}
    for i in wanted:
        feats[i].register_forward_hook(lambda m, inp, out, i=i: got.__setitem__(i, out.clone()))
    with torch.no_grad():
        features(x)
    out = []
    for i in wanted:
        z = got[i].double().numpy()
        out.append(z / (np.sqrt((z ** 2).sum(axis=1, keepdims=True)) + 1e-10))
    return out


def _eq(za, zb, ws, kind):
    """Eqs. 1–3 literally, per pair, with per-layer scalar vectors ws."""
    total = 0.0
    for a, b, w in zip(za, zb, ws):
        c, h, wd = a.shape
        if kind == "spatial":
            total += np.sum((w[:, None, None] * (a - b)) ** 2) / (c * h * wd)
        elif kind == "mean":
            total += np.sum((w * (a.mean(axis=(1, 2)) - b.mean(axis=(1, 2)))) ** 2) / c
        else:  # sort: each channel's values in descending order
            sa = -np.sort(-a.reshape(c, -1), axis=1)
            sb = -np.sort(-b.reshape(c, -1), axis=1)
            total += np.sum((w[:, None] * (sa - sb)) ** 2) / c
    return total


@pytest.mark.parametrize("net_name,size", [("alexnet", 64), ("squeezenet", 64),
                                           ("vgg16", 32)])
def test_comparisons_match_equations_on_random_networks(net_name, size):
    net = networks.load_network(net_name, "random:3")
    px = smooth_images(4, size, seed=1)
    from simkit.features.images import normalize
    ref = _hooked_features(net_name, net.module.state_dict(), normalize(px))
    pairs = np.array([[0, 1], [2, 3], [1, 3]])
    stats = metrics.pair_statistics(net, px, pairs, metrics.BASES, progress=False)
    rng = np.random.default_rng(0)
    w_rand = rng.uniform(0, 2, sum(net.channels))
    split = np.cumsum(net.channels)[:-1]
    for kind in metrics.BASES:
        for w in (np.ones(sum(net.channels)), w_rand):
            m = metrics.PerceptualMetric(net_name, kind, "random:3", w)
            got = m.distances_from_stats(stats)
            want = [_eq([z[a] for z in ref], [z[b] for z in ref], np.split(w, split), kind)
                    for a, b in pairs]
            np.testing.assert_allclose(got, want, rtol=2e-4, err_msg=f"{net_name} {kind}")
    # the embedding's squared Euclidean distances are the metric (for UMAP, neighbours)
    for kind in ("spatial", "spatial+mean", "sort"):
        m = metrics.PerceptualMetric(net_name, kind, "random:3", w_rand)
        v = m.embed(px, net).astype(np.float64)
        np.testing.assert_allclose([np.sum((v[a] - v[b]) ** 2) for a, b in pairs],
                                   m.distances_from_stats(stats), rtol=1e-3)
    # the combinations are the sums, with shared scalars
    sm = metrics.PerceptualMetric(net_name, "spatial+sort", "random:3", w_rand)
    np.testing.assert_allclose(
        sm.distances_from_stats(stats),
        metrics.PerceptualMetric(net_name, "spatial", "random:3", w_rand).distances_from_stats(stats)
        + metrics.PerceptualMetric(net_name, "sort", "random:3", w_rand).distances_from_stats(stats))


def test_distance_properties_and_layers():
    net = networks.load_network("alexnet", "random:0")
    assert net.is_random and "MEANS NOTHING" in net.weights_note
    px = smooth_images(3, 64)
    m = metrics.PerceptualMetric.baseline("alexnet", "spatial", weights="random:0")
    d_same = m.distance(px[:2], px[:2], net)
    np.testing.assert_allclose(d_same, 0.0, atol=1e-12)
    d_ab = m.distance(px[0:1], px[1:2], net)
    d_ba = m.distance(px[1:2], px[0:1], net)
    assert d_ab[0] > 0 and np.isclose(d_ab[0], d_ba[0])
    assert m.name == "lpips_alexnet"
    assert metrics.method_name("vgg16", "spatial+mean", adapted=True) == "lpips_vgg16_spatial_mean_adapted"
    with pytest.raises(ValueError, match="unknown comparison"):
        metrics.comparison_parts("cosine")
    # VGG-19 layers are the Gatys / Wei et al. layers of the deep features
    from simkit.features.backbones import layer_ends
    ends = layer_ends("vgg19")
    spec = networks.NETWORKS["vgg19"]
    assert [ends[l] - 1 for l in spec.layers] == list(spec.taps)


def test_weights_file_and_errors(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = tvm.alexnet(weights=None)
    path = tmp_path / "alexnet.pth"
    torch.save(model.state_dict(), path)
    net = networks.load_network("alexnet", path)
    assert not net.is_random and net.weights_note == ""
    assert torch.equal(net.module[3].weight, model.features[3].weight)
    from simkit.features.backbones import WeightsError, WeightsUnavailableError
    torch.save(tvm.squeezenet1_1(weights=None).state_dict(), tmp_path / "sq.pth")
    with pytest.raises(WeightsError, match="alexnet"):
        networks.load_network("alexnet", tmp_path / "sq.pth")
    with pytest.raises(WeightsError, match="random:0"):
        networks.load_network("alexnet", tmp_path / "missing.pth")
    from simkit.features.backbones import imagenet_cache_path
    networks.ensure_registered()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    assert not imagenet_cache_path("squeezenet1_1").exists()
    with pytest.raises(WeightsUnavailableError, match="squeezenet"):
        networks.load_network("squeezenet", "imagenet")


def test_scalars_roundtrip(tmp_path):
    w = np.random.default_rng(0).uniform(0, 3, sum(networks.NETWORKS["squeezenet"].channels))
    m = metrics.PerceptualMetric("squeezenet", "sort", "random:1", w, 32, {"seed": 4})
    m.save(tmp_path / "s.npz")
    back = metrics.load_scalars(tmp_path / "s.npz")
    assert (back.net, back.comparison, back.weights, back.size) == ("squeezenet", "sort",
                                                                  "random:1", 32)
    np.testing.assert_allclose(back.w(), w, rtol=1e-6)
    assert back.name == "lpips_squeezenet_sort_adapted"
    assert list(back.layer_scalars()) == list(networks.NETWORKS["squeezenet"].layers)
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(ValueError, match="not a scalars file"):
        metrics.load_scalars(tmp_path / "bad.npz")


# -- distortions -----------------------------------------------------------------------
def test_distortions_seeded_and_in_range():
    img = smooth_images(1, 64)[0]
    for kind in distortions.DISTORTIONS:
        a, pa = distortions.distort(img, kind, np.random.default_rng(5))
        b, pb = distortions.distort(img, kind, np.random.default_rng(5))
        assert pa == pb and torch.equal(a, b) and a.dtype == torch.uint8
        assert a.shape == img.shape and not torch.equal(a, img), kind
        for name, value in pa.items():
            lo, hi = distortions.RANGES[kind][name]
            assert lo <= value <= hi
    rng = np.random.default_rng(0)
    kernels = {distortions.draw_params("blur", rng)["kernel"] for _ in range(200)}
    assert kernels == {11, 13, 15, 17, 19, 21}
    # lowering brightness to factor f scales the pixels by f
    dark = distortions.apply(img, "brightness", {"factor": 0.5})
    assert abs(dark.float().mean() - img.float().mean() * 0.5) < 1.0
    with pytest.raises(ValueError, match="six distortions"):
        distortions.check_ranking("rotate,blur")


def test_distortion_triplets_labels():
    px = smooth_images(6, 32)
    ranking = ["hue", "blur", "zoom", "rotate", "translate", "brightness"]
    t = datasets.distortion_triplets(px, ranking, seed=1, per_image=2)
    assert len(t) == 12 and t.pixels.shape[0] == 6 * 5
    rank = {k: i for i, k in enumerate(ranking)}
    for (_, row), j in zip(t.table.iterrows(), t.J):
        assert row.distortion_0 != row.distortion_1
        assert j == (0.0 if rank[row.distortion_0] < rank[row.distortion_1] else 1.0)
    assert torch.equal(t.pixels[t.ref[0]], px[0])
    t2 = datasets.distortion_triplets(px, ranking, seed=1, per_image=2)
    assert torch.equal(t.pixels, t2.pixels)
    w = datasets.distortion_triplets(px, ranking, seed=1, only_with="zoom")
    assert ((w.table.distortion_0 == "zoom") | (w.table.distortion_1 == "zoom")).all()


# -- 2AFC and JND ----------------------------------------------------------------------
def test_twoafc_and_jnd_by_hand():
    # x1 closer -> J; x0 closer -> 1 - J; tie -> 1/2
    assert twoafc.score_2afc([1, 2, 3], [2, 1, 3], [0.25, 0.25, 0.9]) == pytest.approx(
        (0.75 + 0.25 + 0.5) / 3)
    assert twoafc.human_ceiling([0.25, 1.0, 0.5]) == pytest.approx((0.75 + 1 + 0.5) / 3)
    assert twoafc.jnd_map([1, 2, 3], [1, 1, 0]) == pytest.approx(1.0)
    # sorted: same = 1, 0, 1 -> precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 1/2 + 1/3
    assert twoafc.jnd_map([1, 2, 3], [1, 0, 1]) == pytest.approx(5 / 6)


# -- adaptation: a context with a known answer -----------------------------------------
def test_adaptation_learns_a_known_context():
    """Rotation is made the worst distortion; each triplet pits it against another one.
    The baseline random network barely prefers the right image; adapted scalars must."""
    ranking = ["translate", "brightness", "hue", "blur", "zoom", "rotate"]
    px = smooth_images(260, 64, seed=3)
    net = networks.load_network("alexnet", "random:0")
    tr = datasets.distortion_triplets(px[:200], ranking, seed=1, only_with="rotate")
    te = datasets.distortion_triplets(px[200:], ranking, seed=2, only_with="rotate")
    st_tr = twoafc.triplet_statistics(tr, net, ["spatial"], progress=False)
    st_te = twoafc.triplet_statistics(te, net, ["spatial"], progress=False)
    base = st_te.score("spatial")
    rows, results = padapt.adapt_seeds(st_tr, st_te, ["spatial"], seeds=[0, 1], lr=0.05,
                                       progress=False)
    adapted = rows["adapted_2afc"].to_numpy()
    assert (adapted >= base + 0.1).all() and adapted.mean() >= base + 0.15, (base, adapted)
    r = results[("spatial", 0)]
    assert (r.w >= 0).all() and r.best_epoch > 0
    assert r.history["val_2afc"].iloc[r.best_epoch] == pytest.approx(r.val_2afc)
    assert r.n_val == pytest.approx(0.2 * len(tr), abs=1)
    summary = padapt.summarise_seeds(rows)
    assert summary.loc[0, "n_seeds"] == 2 and summary.loc[0, "adapted_2afc_sd"] >= 0
    # deterministic
    again = padapt.adapt(st_tr, "spatial", seed=0, lr=0.05, progress=False)
    np.testing.assert_array_equal(again.w, r.w)


# -- a study's votes -------------------------------------------------------------------
def _png(path, rgb):
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(path)


def test_vote_triplets_exact(write_study):
    root = write_study(
        {"q1": ("g", ["i1", "i2", "i3", "i4", "i5"])},
        {"p1": {"q1": "a-b"}, "p2": {"q1": "b-a"}, "p3": {"q1": "a-c"}, "p4": {"q1": "d-e"},
         "p5": {"q1": "a-c"}},
        participants={"p1": "no", "p2": "no", "p3": "no", "p4": "no", "p5": "yes"})
    from simkit.study.model import load_study
    table = datasets.vote_triplets(load_study(root))   # p5 (impaired) is not counted
    got = {(r.x, r.y, r.z): (r.votes_xy, r.votes_xz, r.J) for r in table.itertuples()}
    want = {("a", "b", "c"): (2, 1, 1 / 3), ("a", "b", "d"): (2, 0, 0.0),
            ("a", "b", "e"): (2, 0, 0.0), ("a", "c", "d"): (1, 0, 0.0),
            ("a", "c", "e"): (1, 0, 0.0),
            ("b", "a", "c"): (2, 0, 0.0), ("b", "a", "d"): (2, 0, 0.0),
            ("b", "a", "e"): (2, 0, 0.0),
            ("c", "a", "b"): (1, 0, 0.0), ("c", "a", "d"): (1, 0, 0.0),
            ("c", "a", "e"): (1, 0, 0.0),
            ("d", "a", "e"): (0, 1, 1.0), ("d", "b", "e"): (0, 1, 1.0),
            ("d", "c", "e"): (0, 1, 1.0),
            ("e", "a", "d"): (0, 1, 1.0), ("e", "b", "d"): (0, 1, 1.0),
            ("e", "c", "d"): (0, 1, 1.0)}
    assert set(got) == set(want)
    for k, (nxy, nxz, j) in want.items():
        assert got[k][:2] == (nxy, nxz) and got[k][2] == pytest.approx(j), k
    row = table[(table.x == "a") & (table.y == "b") & (table.z == "c")].iloc[0]
    assert (row.ref, row.x0, row.x1, row.n_votes) == ("i1", "i2", "i3", 3)


def test_study_choices_ties_and_twins(write_study):
    root = write_study({"q1": ("g", ["s", "s2", "s3", "s4", "s5"]),
                        "q2": ("g", ["u1", "u2", "u3", "t1", "t2"])},
                       {"p1": {"q1": "a-b", "q2": "d-e"}})
    rng = np.random.default_rng(0)
    same = rng.integers(0, 255, (32, 32, 3))
    for i in ["s", "s2", "s3", "s4", "s5"]:
        _png(root / "images" / f"{i}.png", same)          # all identical: every d = 0
    for i in ["u1", "u2", "u3"]:
        _png(root / "images" / f"{i}.png", rng.integers(0, 255, (32, 32, 3)))
    twin = rng.integers(0, 255, (32, 32, 3))
    _png(root / "images" / "t1.png", twin)
    _png(root / "images" / "t2.png", twin)
    from simkit.analysis.tables import per_question
    from simkit.study.model import load_study
    study = load_study(root)
    ms = [metrics.PerceptualMetric.baseline("alexnet", c, weights="random:0", size=32)
          for c in ("spatial", "sort")]
    choices, dist, note = study_adaptation.study_choices(study, ms, progress=False)
    assert "MEANS NOTHING" in note
    assert set(choices["method"]) == {"lpips_alexnet", "lpips_alexnet_sort"}
    for m in ("lpips_alexnet", "lpips_alexnet_sort"):
        c = choices[choices.method == m].set_index("question_id")["choice"]
        assert c["q1"] == "a-b"      # a tie goes to the first pair in PAIRS order
        assert c["q2"] == "d-e"      # the identical twins
    assert len(dist) == 2 * 2 * 10
    pq = per_question(study.with_choices(choices))
    assert pq["agree_lpips_alexnet"].all()


def test_cross_validation_on_demo_study(tmp_path):
    from simkit.analysis.tables import per_question
    from simkit.study.demo import make_demo_study
    study = make_demo_study(tmp_path / "demo", groups_per_genre=2, image_size=64)
    cv = study_adaptation.cross_validate_study(study, "alexnet", ["spatial", "mean"], weights="random:0",
                                     folds=2, seeds=(0, 1), size=32, epochs=2,
                                     decay_epochs=1, progress=False)
    assert "MEANS NOTHING" in cv.note
    assert len(cv.per_seed) == 2 * (1 + 2)    # per comparison: baseline + 2 seeds
    qids = set(study.questions["question_id"])
    assert set(cv.folds) == qids and set(cv.folds.values()) == {0, 1}
    for method, rows in cv.choices.groupby("method"):
        assert set(rows["question_id"]) == qids
    # Agree / Ps of the reported choices agree with the study tables' own analysis
    pq = per_question(study.with_choices(cv.choices))
    for r in cv.per_seed[cv.per_seed.seed.isin([-1, 0])].itertuples():
        assert r.agree == pytest.approx(100 * pq[f"agree_{r.method}"].mean())
        assert r.ps == pytest.approx(pq[f"ps_{r.method}"].mean())
        assert 0 <= r.twoafc <= 1
    assert set(cv.summary["variant"]) == {"baseline", "adapted"}
    assert list(cv.scalars["spatial"]) == list(networks.NETWORKS["alexnet"].layers)


# -- the material-appearance benchmark -------------------------------------------------
@pytest.mark.skipif(not MATERIAL.is_dir(), reason="../shared/data/material-appearance absent")
def test_material_appearance_reader_counts():
    train = datasets.load_material_appearance(MATERIAL, "train")
    test = datasets.load_material_appearance(MATERIAL, "test")
    assert (len(train), len(test)) == (22_801, 3_000)
    assert (int((train.J == 0.5).sum()), int((test.J == 0.5).sum())) == (1_395, 262)
    assert len(datasets.load_material_appearance(MATERIAL, "train", subset="diff")) == 21_406
    assert (test.J <= 0.5).all() and len(test.image_ids) == 100
    assert test.image_ids[:2] == ["alum-bronze", "alumina-oxide"]
    raw = json.loads((MATERIAL / "answers_processed_test.json").read_text())
    (ref, a, b), (va, vb) = raw["answers"][0], raw["agreement"][0]
    assert (test.ref[0], test.x0[0], test.x1[0]) == (ref, a, b)
    assert test.J[0] == pytest.approx(vb / (va + vb))


def test_material_appearance_bad_files(tmp_path):
    with pytest.raises(datasets.PerceptualDataError, match="answers_processed_test.json"):
        datasets.load_material_appearance(tmp_path, "test")
    (tmp_path / "answers_processed_test.json").write_text("{not json")
    with pytest.raises(datasets.PerceptualDataError, match="not valid JSON"):
        datasets.load_material_appearance(tmp_path, "test")
    folder = tmp_path / datasets.MATERIAL_IMAGES["stpeters"]
    for i in range(3):
        _png(folder / f"m{i}.png", np.full((40, 40, 3), 40 * i))
    (tmp_path / "answers_processed_test.json").write_text(json.dumps(
        {"answers": [[0, 1, 7]], "agreement": [[2, 1]]}))
    with pytest.raises(datasets.PerceptualDataError, match=r"answers\[0\].*outside 0..2"):
        datasets.load_material_appearance(tmp_path, "test")


# -- the terminal commands -------------------------------------------------------------
def _parser():
    from simkit.cli.perceptual import add_parser
    p = argparse.ArgumentParser(prog="simkit")
    add_parser(p.add_subparsers(dest="command", required=True))
    return p


def test_cli_score_and_adapt(tmp_path, capsys):
    folder = tmp_path / "imgs"
    px = smooth_images(10, 40, seed=7)
    for i in range(10):
        _png(folder / f"im{i:02d}.png", px[i].permute(1, 2, 0).numpy())
    p = _parser()
    out = tmp_path / "score.json"
    args = p.parse_args(["perceptual", "score", "--data", f"distortions={folder}",
                         "--net", "squeezenet", "--comparison", "spatial+mean",
                         "--weights", "random:0", "--size", "32", "--out", str(out),
                         "--no-progress"])
    assert args.func(args) == 0
    res = json.loads(out.read_text())
    assert res["n_triplets"] == 10 and 0 <= res["score_2afc"] <= 1
    assert res["meaningful"] is False and "MEANS NOTHING" in res["weights_note"]
    scal = tmp_path / "w.npz"
    args = p.parse_args(["perceptual", "adapt", "--data", f"distortions={folder}",
                         "--weights", "random:0", "--size", "32", "--seeds", "0,1",
                         "--epochs", "2", "--decay-epochs", "1", "--out", str(scal),
                         "--no-progress"])
    assert args.func(args) == 0
    rep = json.loads(scal.with_suffix(".json").read_text())
    assert len(rep["per_seed"]) == 2 and rep["meaningful"] is False
    assert "MEANINGLESS" in capsys.readouterr().out
    assert metrics.load_scalars(scal).net == "alexnet"
    args = p.parse_args(["perceptual", "score", "--data", f"distortions={folder}",
                         "--scalars", str(scal), "--size", "32", "--out", str(out),
                         "--no-progress"])
    assert args.func(args) == 0 and json.loads(out.read_text())["method"] == "lpips_alexnet_adapted"
    from simkit.cli import main
    assert main(["perceptual", "score", "--data", "nonsense", "--out", str(out)]) == 2
    assert "KIND=PATH" in capsys.readouterr().err
