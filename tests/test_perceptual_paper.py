"""The paper's data sets in their real on-disk formats, and their scores (Pihlgren et al.).

Every file here is written by the test itself, independently of simkit's writers: SVHN's
MATLAB file (scipy.io.savemat, the keys torchvision reads), STL-10's column-major binary
files, BAPPS's folders of PNG + .npy. Scores are compared with an independent computation
(the hooked-layer features and literal eqs. of test_perceptual, a loop for eq. 5 and for
LPIPS's voc_ap)."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
scipy_io = pytest.importorskip("scipy.io")

from test_perceptual import _eq  # noqa: E402

from simkit.methods.perceptual import datasets, distortions, networks, paper_data  # noqa: E402
from simkit.methods.perceptual.datasets import PerceptualDataError  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def _images(rng, n, side):
    """(n, side, side, 3) uint8, smooth enough for a network to tell apart."""
    from PIL import Image
    base = rng.integers(0, 256, (n, 3, 3, 3), dtype=np.uint8)
    return np.stack([np.asarray(Image.fromarray(b).resize((side, side), Image.BILINEAR))
                     for b in base])


def _write_svhn(folder, split, imgs, labels=None):
    folder.mkdir(parents=True, exist_ok=True)
    n = len(imgs)
    x = np.zeros((32, 32, 3, n), dtype=np.uint8)
    for k in range(n):
        x[:, :, :, k] = imgs[k]
    y = (np.arange(n) % 10 + 1).reshape(n, 1).astype(np.uint8) if labels is None else labels
    scipy_io.savemat(folder / f"{split}_32x32.mat", {"X": x, "y": y})


def _write_stl10(root, imgs, split="test"):
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{split}_X.bin", "wb") as fh:
        for im in imgs:                      # per image, per channel, column-major
            for c in range(3):
                fh.write(np.asfortranarray(im[:, :, c]).tobytes(order="F"))
    (folder / f"{split}_y.bin").write_bytes(bytes([1 + k % 10 for k in range(len(imgs))]))


def _write_bapps(root, kind, subset, items, side=32):
    """items: list of (images per part, label value); parts ref,p0,p1 (2afc) / p0,p1 (jnd)."""
    from PIL import Image
    parts, label = (("ref", "p0", "p1"), "judge") if kind == "2afc" else (("p0", "p1"), "same")
    base = root / kind / "val" / subset
    for p in (*parts, label):
        (base / p).mkdir(parents=True, exist_ok=True)
    for k, (ims, value) in enumerate(items):
        for p, im in zip(parts, ims):
            Image.fromarray(im).save(base / p / f"{k:06d}.png")
        np.save(base / label / f"{k:06d}.npy", np.array([value]))
    return base


# -- SVHN, STL-10 ----------------------------------------------------------------------
def test_svhn_and_stl10_read_back_through_torchvision(tmp_path):
    rng = np.random.default_rng(0)
    sv = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    _write_svhn(tmp_path / "svhn", "test", sv)
    got = paper_data.load_svhn(tmp_path / "svhn", "test")
    assert got.dtype == torch.uint8 and got.shape == (5, 3, 32, 32)
    np.testing.assert_array_equal(got.numpy(), sv.transpose(0, 3, 1, 2))
    assert paper_data.load_svhn(tmp_path / "svhn", "test", limit=2).shape[0] == 2
    st = rng.integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    _write_stl10(tmp_path / "stl", st)
    got = paper_data.load_stl10(tmp_path / "stl", "test")
    np.testing.assert_array_equal(got.numpy(), st.transpose(0, 3, 1, 2))


def test_svhn_and_stl10_missing_and_partial_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")   # and never a download in tests
    with pytest.raises(PerceptualDataError, match="SIMKIT_OFFLINE is set, so it is not "
                                                  "downloaded"):
        paper_data.load_stl10(tmp_path / "stl", "test", download=True)
    with pytest.raises(PerceptualDataError, match=r"svhn: no SVHN train file; it needs "
                                                  r"train_32x32.mat"):
        paper_data.load_svhn(tmp_path / "svhn", "train")
    _write_svhn(tmp_path / "svhn", "train", np.zeros((4, 32, 32, 3), np.uint8))
    f = tmp_path / "svhn" / "train_32x32.mat"
    f.write_bytes(f.read_bytes()[:-300])
    with pytest.raises(PerceptualDataError, match="train_32x32.mat: not a complete SVHN file"):
        paper_data.load_svhn(tmp_path / "svhn", "train")
    scipy_io.savemat(f, {"X": np.zeros((32, 32, 3, 2), np.uint8)})  # no y
    with pytest.raises(PerceptualDataError, match="not a complete SVHN file"):
        paper_data.load_svhn(tmp_path / "svhn", "train")
    _write_stl10(tmp_path / "stl", np.zeros((2, 96, 96, 3), np.uint8))
    (tmp_path / "stl" / "stl10_binary" / "test_y.bin").unlink()
    with pytest.raises(PerceptualDataError, match=r"stl10_binary: missing test_y.bin; STL-10 "
                                                  r"test needs test_X.bin and test_y.bin"):
        paper_data.load_stl10(tmp_path / "stl", "test")
    _write_stl10(tmp_path / "stl", np.zeros((2, 96, 96, 3), np.uint8))
    x = tmp_path / "stl" / "stl10_binary" / "test_X.bin"
    x.write_bytes(x.read_bytes()[:-10])
    with pytest.raises(PerceptualDataError, match="test_X.bin: 55286 bytes is not a whole "
                                                  "number of 3x96x96 images"):
        paper_data.load_stl10(tmp_path / "stl", "test")


def test_ranking_must_be_a_permutation():
    with pytest.raises(PerceptualDataError, match="twice rotate; lacks blur"):
        distortions.check_ranking("rotate,rotate,translate,brightness,hue,zoom")
    with pytest.raises(PerceptualDataError, match="unknown sharpen"):
        distortions.check_ranking("sharpen,rotate,translate,brightness,hue,zoom")


# -- BAPPS -------------------------------------------------------------------------------
def test_bapps_layout_subsets_and_bad_input(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "bapps"
    _write_bapps(root, "2afc", "cnn", [(_images(rng, 3, 32), j) for j in (0.0, 0.25, 1.0)])
    _write_bapps(root, "2afc", "color", [(_images(rng, 3, 32), 0.5)])
    _write_bapps(root, "jnd", "cnn", [(_images(rng, 2, 32), s) for s in (0.0, 0.5)])
    t = paper_data.load_bapps_2afc(root, "val", ["cnn", "color"])
    assert len(t) == 4 and list(t.J) == [0.0, 0.25, 1.0, 0.5]
    assert list(t.table["subset"]) == ["cnn"] * 3 + ["color"]
    assert t.paths[t.x1[1]].parts[-2:] == ("p1", "000001.png")
    assert paper_data.parse_bapps(f"{root}:cnn", "2afc") == (root, ["cnn"])
    assert paper_data.parse_bapps(root, "jnd")[1] == ["traditional", "cnn"]
    with pytest.raises(PerceptualDataError, match="subset 'mix'"):
        paper_data.parse_bapps(f"{root}:mix", "2afc", "val")
    with pytest.raises(PerceptualDataError, match=r"2afc/val/traditional: not found"):
        paper_data.load_bapps_2afc(root, "val")            # every subset asked, one absent
    j = paper_data.load_bapps_jnd(root, "val", ["cnn"])
    assert len(j) == 2 and list(j.same) == [0.0, 0.5]
    # bad input, each named
    base = root / "2afc" / "val" / "cnn"
    (base / "judge" / "000001.npy").unlink()
    with pytest.raises(PerceptualDataError, match=r"judge: 2 files for 3 in ref/ \(lacks "
                                                  r"000001.npy\)"):
        paper_data.load_bapps_2afc(root, "val", ["cnn"])
    np.save(base / "judge" / "000001.npy", np.array([1.5]))
    with pytest.raises(PerceptualDataError, match=r"000001.npy: judge = \[1.5\]; it must be "
                                                  r"one fraction between 0 and 1"):
        paper_data.load_bapps_2afc(root, "val", ["cnn"])
    np.save(base / "judge" / "000001.npy", np.array([0.5]))
    (base / "p1" / "000002.png").unlink()
    with pytest.raises(PerceptualDataError, match=r"p1: 2 files for 3 in ref/"):
        paper_data.load_bapps_2afc(root, "val", ["cnn"])
    from PIL import Image
    Image.fromarray(_images(rng, 1, 40)[0]).save(base / "p1" / "000002.png")
    with pytest.raises(PerceptualDataError, match=r"images of 000002 differ in size \(ref "
                                                  r"32x32, p0 32x32, p1 40x40\)"):
        paper_data.load_bapps_2afc(root, "val", ["cnn"])


# -- scores, against an independent computation ------------------------------------------
def _parser():
    from simkit.cli.perceptual import add_parser
    p = argparse.ArgumentParser(prog="simkit")
    add_parser(p.add_subparsers(dest="command", required=True))
    return p


def _distances(net, pairs_a, pairs_b):
    """Spatial distances (eq. 1, w = 1) of uint8 HWC images, by hooked layers."""
    x = np.concatenate([pairs_a, pairs_b]).astype(np.float64) / 255.0
    x = torch.from_numpy(((x - MEAN) / STD).transpose(0, 3, 1, 2)).float()
    from torchvision.models import alexnet
    with torch.device("meta"):  # skip initialising what the state dict replaces
        trunk = alexnet(weights=None).features[:12]   # up to the 5th ReLU
    trunk = trunk.to_empty(device="cpu").eval()
    trunk.load_state_dict(net.module.state_dict())
    feats = []
    with torch.no_grad():
        for m in trunk:
            x = m(x)
            if isinstance(m, torch.nn.ReLU):  # the paper's 1st..5th ReLU
                z = x.double().numpy()
                feats.append(z / (np.sqrt((z ** 2).sum(axis=1, keepdims=True)) + 1e-10))
    assert len(feats) == 5
    n = len(pairs_a)
    ones = [np.ones(c) for c in net.channels]
    return np.array([_eq([z[k] for z in feats], [z[n + k] for z in feats], ones, "spatial")
                     for k in range(n)])


def _voc_map(d, same):
    """LPIPS's score_jnd_dataset, written out with loops."""
    order = np.argsort(d, kind="stable")
    s = np.asarray(same, float)[order]
    tp = fp = 0.0
    prec, rec = [], []
    for v in s:
        tp, fp = tp + v, fp + 1 - v
        prec.append(tp / (tp + fp))
        rec.append(tp / s.sum())
    mrec, mpre = [0.0, *rec, 1.0], [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1)
               if mrec[i + 1] != mrec[i])


def test_cli_scores_bapps_and_svhn_equal_independent_computation(tmp_path, capsys):
    rng = np.random.default_rng(2)
    root = tmp_path / "bapps"
    trip = [(_images(rng, 3, 32), j) for j in (0.0, 0.2, 0.7, 1.0, 0.5)]
    trip[4] = ((trip[4][0][0], trip[4][0][1], trip[4][0][1]), 0.5)  # p0 == p1: a tie
    _write_bapps(root, "2afc", "traditional", trip[:3])
    _write_bapps(root, "2afc", "cnn", trip[3:])
    pairs = [(_images(rng, 2, 32), s) for s in (0.0, 0.3, 0.6, 1.0, 0.8)]
    _write_bapps(root, "jnd", "traditional", pairs[:2])
    _write_bapps(root, "jnd", "cnn", pairs[2:])
    net = networks.load_network("alexnet", "random:0")
    p = _parser()
    common = ["--weights", "random:0", "--size", "32", "--no-progress"]

    out = tmp_path / "2afc.json"
    args = p.parse_args(["perceptual", "score", "--data", f"bapps-2afc={root}", "--split",
                         "val", "--out", str(out), *common])
    with pytest.raises(PerceptualDataError, match="superres: not found"):
        args.func(args)                     # all six val subsets by default
    for sub, items in (("cnn", trip[3:]), ("traditional", trip[:3])):
        args = p.parse_args(["perceptual", "score", "--data", f"bapps-2afc={root}:{sub}",
                             "--out", str(out), *common])
        assert args.func(args) == 0
        res = json.loads(out.read_text())
        ims = np.stack([i for i, _ in items])
        d0 = _distances(net, ims[:, 0], ims[:, 1])
        d1 = _distances(net, ims[:, 0], ims[:, 2])
        want = []
        for a, b, (_, j) in zip(d0, d1, items):      # eq. 5, LPIPS's tie rule
            want.append(0.5 if np.isclose(a, b, rtol=1e-6, atol=0) else (j if b < a else 1 - j))
        assert res["score_2afc"] == pytest.approx(np.mean(want), abs=1e-9), sub
        assert res["n_triplets"] == len(items) and res["split"] == "val"
        assert res["per_subset"][sub]["score_2afc"] == pytest.approx(np.mean(want))
        assert res["meaningful"] is False

    out = tmp_path / "jnd.json"
    args = p.parse_args(["perceptual", "score", "--data", f"bapps-jnd={root}", "--split",
                         "val", "--out", str(out), *common])
    assert args.func(args) == 0
    res = json.loads(out.read_text())
    ims = np.stack([i for i, _ in pairs])
    d = _distances(net, ims[:, 0], ims[:, 1])
    same = [s for _, s in pairs]
    assert res["jnd_map"] == pytest.approx(_voc_map(d, same), abs=1e-9)
    assert res["per_subset"]["cnn"]["jnd_map"] == pytest.approx(_voc_map(d[2:], same[2:]))
    assert res["n_pairs"] == 5 and res["score_2afc"] is None
    assert "JND mAP" in capsys.readouterr().out

    # SVHN test images: the paper's distortion-ranking triplets (J from the ranking)
    sv = _images(rng, 4, 32)
    _write_svhn(tmp_path / "svhn", "test", sv)
    ranking = "zoom,blur,hue,brightness,translate,rotate"
    out = tmp_path / "svhn.json"
    args = p.parse_args(["perceptual", "score", "--data", f"svhn={tmp_path / 'svhn'}",
                         "--ranking", ranking, "--seed", "3", "--out", str(out), *common])
    assert args.func(args) == 0
    res = json.loads(out.read_text())
    t = datasets.distortion_triplets(torch.from_numpy(sv.transpose(0, 3, 1, 2)).contiguous(),
                                     ranking, seed=3)
    pool = t.pixels.permute(0, 2, 3, 1).numpy()
    d0 = _distances(net, pool[t.ref], pool[t.x0])
    d1 = _distances(net, pool[t.ref], pool[t.x1])
    want = np.where(d1 < d0, t.J, np.where(d1 > d0, 1 - t.J, 0.5))
    assert res["score_2afc"] == pytest.approx(want.mean(), abs=1e-9)
    assert res["ranking"] == ranking.split(",") and res["n_triplets"] == 4
    rank = {k: i for i, k in enumerate(ranking.split(","))}
    assert [float(rank[a] > rank[b]) for a, b in
            zip(t.table.distortion_0, t.table.distortion_1)] == list(t.J)
    from simkit.cli import main
    assert main(["perceptual", "score", "--data", f"stl10={tmp_path}", "--out", str(out)]) == 2
    assert "stl10_binary: missing test_X.bin, test_y.bin" in capsys.readouterr().err


# -- the replication: protocol, resuming, Table 3 --------------------------------------------
def _paper_data(root, rng):
    """Tiny SVHN (train, test), STL-10 test and BAPPS val (every subset), written here."""
    _write_svhn(root / "svhn", "train", _images(rng, 12, 32))
    _write_svhn(root / "svhn", "test", _images(rng, 6, 32))
    _write_stl10(root / "stl10", _images(rng, 4, 96))
    for sub in paper_data.BAPPS_2AFC_SUBSETS["val"]:
        _write_bapps(root / "bapps", "2afc", sub, [(_images(rng, 3, 32), rng.random())])
    for sub in paper_data.BAPPS_JND_SUBSETS["val"]:
        _write_bapps(root / "bapps", "jnd", sub,
                     [(_images(rng, 2, 32), s) for s in (0.0, 1.0)])
    return paper_data.data_paths(root)


def test_replicate_resumes_and_summarises(tmp_path, capsys):
    from simkit.methods.perceptual import replication as rp
    rng = np.random.default_rng(4)
    paths = _paper_data(tmp_path / "data", rng)
    proto = rp.Protocol(nets=("alexnet",), comparisons=("spatial",), rankings=3, repeats=1,
                        weights="random:0", size=32, epochs=1, decay_epochs=0, lr=0.05,
                        net_lr=1e-3)
    out = tmp_path / "rep"
    logs = []
    res = rp.replicate(out, paths, proto, progress=False, log=logs.append)
    runs = proto.runs()
    assert len(runs) == 3 * 3 and len(res) == 9          # baseline, scalars, net per ranking
    assert {r[3] for r in runs} == {"baseline", "scalars", "net"}
    files = {r: rp.run_files(out, r) for r in runs}
    assert all(f.is_file() for f in files.values())
    rankings = rp.paper_rankings(3, 0)
    assert all(sorted(r) == sorted(distortions.DISTORTIONS) for r in rankings)
    assert len({tuple(r) for r in rankings}) == 3
    # a ranking only relabels the same drawn triplets: J follows the ranking's order
    t = rp.draw_triplets(torch.zeros(5, 3, 32, 32, dtype=torch.uint8) + 99, 1, 32)[0]
    for r in rankings:
        rank = {k: i for i, k in enumerate(r)}
        assert list(rp.labels(t.table, r)) == [float(rank[a] > rank[b]) for a, b in
                                               zip(t.table.distortion_0, t.table.distortion_1)]
    # the baseline's scores do not depend on training; BAPPS's not on the ranking
    base = res[res.variant == "baseline"]
    # ranking 0's baseline, recomputed: SVHN test images read with scipy, the same draws,
    # distances by hooked layers, eq. 5 with J from the ranking; BAPPS from its files
    net = networks.load_network("alexnet", "random:0")
    x = scipy_io.loadmat(paths["svhn"] / "test_32x32.mat")["X"]
    px = torch.from_numpy(np.ascontiguousarray(x.transpose(3, 2, 0, 1)))
    t0 = rp.draw_triplets(px, rp.DRAW_SEEDS["svhn"], 32)[0]
    pool = t0.pixels.permute(0, 2, 3, 1).numpy()
    d0 = _distances(net, pool[t0.ref], pool[t0.x0])
    d1 = _distances(net, pool[t0.ref], pool[t0.x1])
    J = rp.labels(t0.table, rankings[0])
    row0 = base[base.ranking == 0].iloc[0]
    assert row0["svhn_2afc"] == pytest.approx(
        np.mean(np.where(d1 < d0, J, np.where(d1 > d0, 1 - J, 0.5))), abs=1e-9)
    from PIL import Image
    subs = paper_data.BAPPS_2AFC_SUBSETS["val"]
    ims = {p: np.stack([np.asarray(Image.open(paths["bapps"] / "2afc" / "val" / s / p /
                                              "000000.png")) for s in subs])
           for p in ("ref", "p0", "p1")}
    judge = np.array([float(np.load(paths["bapps"] / "2afc" / "val" / s / "judge" /
                                    "000000.npy")[0]) for s in subs])
    b0 = _distances(net, ims["ref"], ims["p0"])
    b1 = _distances(net, ims["ref"], ims["p1"])
    assert row0["bapps_2afc"] == pytest.approx(
        np.mean(np.where(b1 < b0, judge, np.where(b1 > b0, 1 - judge, 0.5))), abs=1e-9)
    assert base["bapps_2afc"].nunique() == 1 and base["bapps_jnd"].nunique() == 1
    assert res["meaningful"].eq(False).all()
    # Table 3 = the mean over rankings (and repeats) of the AlexNet/spatial runs
    s = rp.summarise(res)
    for variant, method in rp.TABLE3_METHODS.items():
        sel = res[res.variant == variant]
        row = s.table3.set_index("method").loc[method]
        for c in rp.SCORE_COLUMNS:
            assert row[c] == pytest.approx(sel.groupby("ranking")[c].mean().mean()), (method, c)
    want = (base.set_index("ranking")["stl10_2afc"].rank()
            .corr(res[res.variant == "scalars"].set_index("ranking")["stl10_2afc"].rank()))
    got = s.correlations.set_index(["measure", "data"]).loc[
        ("spearman_baseline_vs_scalars_alexnet_spatial", "stl10")]
    assert (np.isnan(want) and np.isnan(got["computed"])) or got["computed"] == pytest.approx(want)
    assert got["published"] == 0.70
    side = rp.side_by_side(s.table3)
    assert side.set_index(["method", "column"]).loc[("adapted_net", "stl10_2afc"), "paper"] == 0.7961

    # a rerun does only what is missing: nothing, then the one file deleted
    stamps = {r: f.stat().st_mtime_ns for r, f in files.items()}
    logs.clear()
    again = rp.replicate(out, paths, proto, progress=False, log=logs.append)
    assert logs == ["9 of 9 runs already done; 0 to do"]
    assert {r: f.stat().st_mtime_ns for r, f in files.items()} == stamps
    pd_cols = ["svhn_2afc", "stl10_2afc", "bapps_2afc", "bapps_jnd"]
    np.testing.assert_allclose(again[pd_cols].to_numpy(float), res[pd_cols].to_numpy(float))
    gone = (1, "alexnet", "spatial", "scalars", 0)
    files[gone].unlink()
    logs.clear()
    rp.replicate(out, paths, proto, progress=False, log=logs.append)
    assert logs[0] == "8 of 9 runs already done; 1 to do" and len(logs) == 2
    assert files[gone].is_file()
    assert all(f.stat().st_mtime_ns == stamps[r] for r, f in files.items() if r != gone)
    # other settings into the same folder are refused
    import dataclasses
    with pytest.raises(rp.ReplicationError, match=r"other settings \(epochs 1 -> 2\)"):
        rp.replicate(out, paths, dataclasses.replace(proto, epochs=2), progress=False)


def test_cli_replicate_needs_data_and_runs_offline(tmp_path, capsys):
    from simkit.cli import main
    assert main(["perceptual", "replicate", "--out", str(tmp_path / "o"), "--data-root",
                 str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "none/svhn/train_32x32.mat" in err and "none/stl10/stl10_binary/test_X.bin" in err
    assert "none/bapps/2afc/val/{traditional,cnn," in err and "--fabricated" in err
    rng = np.random.default_rng(5)
    _paper_data(tmp_path / "data", rng)
    out = tmp_path / "o"
    assert main(["perceptual", "replicate", "--out", str(out), "--data-root",
                 str(tmp_path / "data"), "--nets", "alexnet", "--comparisons", "mean",
                 "--rankings", "1", "--repeats", "1", "--weights", "random:0", "--size", "32",
                 "--no-progress"]) == 0
    text = capsys.readouterr()
    assert "ours | paper" in text.out and "0.7961" in text.out
    assert "MEANINGLESS: RANDOM WEIGHTS" in text.out and "MEANS NOTHING" in text.err
    import pandas as pd
    t3 = pd.read_csv(out / "table3.csv")
    assert list(t3.columns) == ["method", "bapps_2afc", "bapps_jnd", "svhn_2afc", "stl10_2afc"]
    assert t3.iloc[:, 1:].isna().all().all()  # no AlexNet/spatial run: Table 3 is n/a
    assert "does not include" in text.out
    assert (out / "fig2.html").is_file() and (out / "fig3.html").is_file()
    assert len(pd.read_csv(out / "results.csv")) == 2   # baseline + 1 adapted (mean)


def test_adapt_network_tunes_a_copy():
    from simkit.methods.perceptual.adaptation import adapt_network
    from simkit.methods.perceptual.replication import draw_triplets
    rng = np.random.default_rng(6)
    px = torch.from_numpy(_images(rng, 10, 32).transpose(0, 3, 1, 2)).contiguous()
    t = draw_triplets(px, 1, 32)[0]
    net = networks.load_network("alexnet", "random:0")
    before = {k: v.clone() for k, v in net.module.state_dict().items()}
    r, tuned = adapt_network(t, net, "spatial", seed=0, size=32, epochs=2, decay_epochs=1,
                             lr=1e-2, batch_size=4, progress=False)
    assert all(torch.equal(v, net.module.state_dict()[k]) for k, v in before.items())
    assert tuned.info["finetuned"] and tuned.module is not net.module
    assert list(r.history["epoch"]) == [0, 1, 2] and (r.w >= 0).all()
    assert r.n_train + r.n_val == 10 and r.n_val == 2
    changed = any(not torch.equal(v, tuned.module.state_dict()[k]) for k, v in before.items())
    assert changed == (r.best_epoch > 0)
    # the kept network and scalars score the validation triplets as reported
    from simkit.methods.perceptual.twoafc import triplet_statistics
    st = triplet_statistics(t, tuned, ["spatial"], size=32, progress=False)
    va = r.info["val"]
    assert len(va) == r.n_val and st.subset(va).score("spatial", r.w) == pytest.approx(r.val_2afc, abs=1e-6)
