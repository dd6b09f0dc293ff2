"""Distances, ties and choices; all-pairs distances exact where float32 tricks are not."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from torchvision.models.vgg import cfgs, make_layers

from simkit.features.extract import FeatureSet
from simkit.methods.choices import choose_from_features, study_choices
from simkit.search.distances import (UndefinedDistanceError, all_pairs_distances,
                                     pair_distances)
from simkit.study.model import PAIRS, load_study


def brute_d64(X):
    X = np.asarray(X, np.float64)
    return np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))


def test_pair_distances_order_and_values():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(5, 30)).astype(np.float32)
    d = pair_distances(v)
    full = brute_d64(v)
    np.testing.assert_allclose(d, [full[ord(p[0]) - 97, ord(p[2]) - 97] for p in PAIRS],
                               rtol=1e-12)
    cos = pair_distances(v, "cosine")
    a, b = v[0].astype(float), v[1].astype(float)
    assert cos[0] == pytest.approx(1 - a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    z = np.zeros((5, 3)); z[1] = 1.0
    with pytest.raises(UndefinedDistanceError, match="'a', 'c', 'd', 'e': all-zero"):
        pair_distances(z, "cosine")  # 0/0: undefined, never a silent 1 or 0
    assert pair_distances(z)[PAIRS.index("a-b")] == np.sqrt(3)  # Euclidean is defined
    with pytest.raises(ValueError, match="need 5 vectors"):
        pair_distances(v[:4])


def make_study(tmp_path, vectors_by_image=None):
    (tmp_path / "img").mkdir(parents=True)
    rng = np.random.default_rng(4)
    ids = [f"i{k}" for k in range(7)]
    for k, i in enumerate(ids):
        small = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
        Image.fromarray(small).resize((50, 44), Image.Resampling.BICUBIC).save(
            tmp_path / "img" / f"{i}.png")
    pd.DataFrame({"image_id": ids, "file": [f"img/{i}.png" for i in ids],
                  "genre": ["g"] * 7}).to_csv(tmp_path / "images.csv", index=False)
    qs = pd.DataFrame([["q1", "g", *ids[:5]], ["q2", "g", *ids[2:]], ["q3", "g", *ids[::-1][:5]]],
                      columns=["question_id", "genre", *[f"image_{n}" for n in range(1, 6)]])
    qs.to_csv(tmp_path / "questions.csv", index=False)
    pd.DataFrame({"participant_id": ["p1"] * 3, "question_id": ["q1", "q2", "q3"],
                  "choice": ["a-b"] * 3}).to_csv(tmp_path / "responses.csv", index=False)
    return load_study(tmp_path)


def test_choose_ties_go_to_first_pair(tmp_path):
    study = make_study(tmp_path)
    ids = list(study.images["image_id"])
    X = np.arange(7, dtype=np.float32)[:, None] * np.ones((7, 4), np.float32)
    X[3] = X[2]  # q1: c == d (distance 0) ...
    X[4] = X[2]  # ... and c == e, d == e: three exact ties -> c-d, the first in PAIRS
    fs = FeatureSet(ids, {"gram": X}, {})
    choices, dists = choose_from_features(study, fs)
    assert choices.columns.tolist() == ["question_id", "method", "choice"]
    assert dists.columns.tolist() == ["question_id", "method", "pair", "distance"]
    assert choices.set_index("question_id")["choice"].to_dict()["q1"] == "c-d"
    assert len(dists) == 3 * 10 and dists["pair"].tolist()[:10] == PAIRS


def test_study_choices_reproduce_choices_from_independent_vectors(tmp_path):
    g = torch.Generator().manual_seed(77)
    trunk = make_layers(cfgs["E"])
    for m in trunk:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            torch.nn.init.normal_(m.bias, 0.0, 0.01, generator=g)
    wfile = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in trunk.state_dict().items()}, wfile)
    study = make_study(tmp_path / "study")
    choices, dists, fs = study_choices(study, weights=str(wfile), size=48,
                                       cache_dir=tmp_path / "cache", progress=False)
    assert fs.weights_note == ""
    # independent: float64 forward pass + numpy eqs. 1-3 + float64 distances
    trunk = trunk[:30].double().eval()
    mean = np.array([0.485, 0.456, 0.406]); std = np.array([0.229, 0.224, 0.225])
    ref = {}
    for i in fs.image_ids:
        img = Image.open(study.image_path(i)).convert("RGB").resize(
            (48, 48), Image.Resampling.BILINEAR)
        x = torch.from_numpy((np.asarray(img, np.float64) / 255 - mean) / std)
        with torch.no_grad():
            F = trunk(x.permute(2, 0, 1)[None])[0].reshape(512, -1).numpy()
        G = F @ F.T
        n = np.sqrt(np.diag(G))
        C = np.divide(G, np.outer(n, n), out=np.zeros_like(G), where=np.outer(n, n) > 0)
        r, c = np.tril_indices(512)
        ref[i] = {"gram": G[r, c], "cosine": C[r, c], "gram_cosine": (G * C)[r, c]}
    expected = []
    for q in study.questions["question_id"]:
        imgs = study.question_images(q)
        for m in ("gram", "cosine", "gram_cosine"):
            d = brute_d64([ref[i][m] for i in imgs])
            pair_d = [d[ord(p[0]) - 97, ord(p[2]) - 97] for p in PAIRS]
            best = sorted(pair_d)
            assert (best[1] - best[0]) / best[0] > 1e-4  # a clear winner: test is meaningful
            expected.append((q, m, PAIRS[int(np.argmin(pair_d))]))
    assert list(choices.itertuples(index=False, name=None)) == expected
    # and the distances behind them agree with the float64 reference
    got = dists.set_index(["question_id", "method", "pair"])["distance"]
    q1 = study.question_images("q1")
    ref_ab = np.linalg.norm(ref[q1[0]]["cosine"] - ref[q1[1]]["cosine"])
    assert got["q1", "cosine", "a-b"] == pytest.approx(ref_ab, rel=1e-4)


def test_all_pairs_exact_nearest_where_plain_float32_trick_fails():
    rng = np.random.default_rng(0)
    n, dim = 60, 4000
    # a large common component (as feature vectors have) with small differences,
    # plus near-ties: every point has two almost equally near neighbours
    base = rng.normal(size=(n // 3, dim))
    X = np.concatenate([base, base + 1e-3 * rng.normal(size=base.shape),
                        base + 1.0001e-3 * rng.normal(size=base.shape)])
    X = (1e3 + X).astype(np.float32)
    exact = brute_d64(X)
    np.fill_diagonal(exact, np.inf)
    # the plain |a|²+|b|²-2ab trick in float32 gets nearest neighbours wrong here
    x32 = torch.from_numpy(X)
    sq = (x32 * x32).sum(1)
    plain = (sq[:, None] + sq[None, :] - 2 * x32 @ x32.T).numpy()
    np.fill_diagonal(plain, np.inf)
    assert (plain.argmin(1) != exact.argmin(1)).any()
    D = all_pairs_distances(X)
    assert D.shape == (n, n) and np.allclose(np.diag(D), 0)
    np.fill_diagonal(D, np.inf)
    assert (D.argmin(1) == exact.argmin(1)).all()
    finite = np.isfinite(exact)
    assert np.allclose(D[finite], exact[finite], rtol=1e-3)
    assert np.array_equal(D, D.T)


def test_all_pairs_cosine():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 50)).astype(np.float32)
    D = all_pairs_distances(X, "cosine")
    Xd = X.astype(np.float64)
    nrm = np.linalg.norm(Xd, axis=1)
    for i in (0, 7):
        for j in (3, 19):
            assert D[i, j] == pytest.approx(1 - Xd[i] @ Xd[j] / nrm[i] / nrm[j], abs=1e-6)
    X[5] = 0  # an all-zero vector: its cosine distances are undefined, refused by row
    with pytest.raises(UndefinedDistanceError, match=r"row\(s\) 5: all-zero"):
        all_pairs_distances(X, "cosine")
