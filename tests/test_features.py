"""Extraction end to end: vectors equal an independent computation; cache, resume, errors."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models.vgg import cfgs, make_layers

import simkit.features.backbones
import simkit.features.representations
from simkit.features.extract import FeatureSet, extract_features, load_npz, save_npz
from simkit.features.images import ImageError

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def write_images(folder, n, size=(56, 48), seed=0):
    """Smooth random colour images (noise blurred by upsampling), as PNG files."""
    rng = np.random.default_rng(seed)
    paths = {}
    for i in range(n):
        small = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
        img = Image.fromarray(small).resize(size, Image.Resampling.BICUBIC)
        p = folder / f"img{i}.png"
        img.save(p)
        paths[f"img{i}"] = p
    return paths


def reference_vectors(path, state, size):
    """Eqs. 1-3 computed the plain way: PIL, float64 forward, numpy matrices."""
    img = Image.open(path).convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    a = (np.asarray(img, dtype=np.float64) / 255.0 - MEAN) / STD
    x = torch.from_numpy(a).permute(2, 0, 1)[None]
    trunk = make_layers(cfgs["E"])[:30].double()
    trunk.load_state_dict({k[len("features."):]: v for k, v in state.items()
                           if int(k.split(".")[1]) < 30})
    with torch.no_grad():
        F = trunk(x)[0].reshape(512, -1).numpy()
    G = F @ F.T
    norms = np.sqrt((F ** 2).sum(axis=1))
    denom = np.outer(norms, norms)
    C = np.divide(G, denom, out=np.zeros_like(G), where=denom > 0)
    r, c = np.tril_indices(512)
    return {"gram": G[r, c], "cosine": C[r, c], "gram_cosine": (G * C)[r, c]}


def test_vectors_equal_independent_computation(tmp_path, weights_file):
    paths = write_images(tmp_path, 3)
    fs = extract_features(paths, weights=str(weights_file), size=64,
                          cache_dir=tmp_path / "cache", progress=False)
    assert fs.image_ids == list(paths) and fs.weights_note == "" and not fs.is_random
    state = torch.load(weights_file, weights_only=True)
    for i, p in enumerate(paths.values()):
        ref = reference_vectors(p, state, 64)
        for name, v in fs.vectors.items():
            assert v.dtype == np.float32 and v.shape == (3, 131_328)
            rel = np.linalg.norm(v[i] - ref[name]) / np.linalg.norm(ref[name])
            assert rel < 1e-5, (name, rel)
            assert np.abs(v[i] - ref[name]).max() < 1e-4 * np.abs(ref[name]).max()


def test_full_size_224_input(tmp_path, weights_file):
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (224, 224, 3), np.uint8)
                    ).save(tmp_path / "exact.png")
    fs = extract_features([tmp_path / "exact.png"], weights=str(weights_file),
                          use_cache=False, progress=False)
    ref = reference_vectors(tmp_path / "exact.png", torch.load(weights_file, weights_only=True),
                            224)
    rel = np.linalg.norm(fs.vectors["cosine"][0] - ref["cosine"]) / np.linalg.norm(ref["cosine"])
    assert rel < 1e-5


@pytest.fixture
def forward_counter(monkeypatch):
    """Counts forward passes of the real network built during a test."""
    calls = {"built": 0, "forward": 0}
    real = simkit.features.backbones.load_backbone

    def counting(*args, **kwargs):
        net = real(*args, **kwargs)
        calls["built"] += 1
        net.module.register_forward_hook(lambda *a: calls.__setitem__(
            "forward", calls["forward"] + 1))
        return net
    monkeypatch.setattr(simkit.features.backbones, "load_backbone", counting)
    return calls


def test_second_run_hits_the_cache_and_changed_image_is_recomputed(
        tmp_path, weights_file, forward_counter):
    paths = write_images(tmp_path, 4)
    kw = dict(weights=str(weights_file), size=48, cache_dir=tmp_path / "cache",
              progress=False, batch_size=2)
    first = extract_features(paths, **kw)
    assert first.stats["computed"] == 4 and forward_counter["forward"] == 2
    second = extract_features(paths, **kw)
    assert forward_counter == {"built": 1, "forward": 2}  # no network, no forward pass
    assert second.stats == {"computed": 0, "from_cache": 4, "errors": 0}
    for name in first.vectors:
        assert np.array_equal(first.vectors[name], second.vectors[name])
    # another configuration is another cache entry
    other = extract_features(paths, **{**kw, "size": 64})
    assert other.stats["computed"] == 4
    # a changed image is recomputed, the others are reused
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(paths["img2"])
    third = extract_features(paths, **kw)
    assert third.stats == {"computed": 1, "from_cache": 3, "errors": 0}
    assert not np.array_equal(third.vectors["gram"][2], first.vectors["gram"][2])
    assert np.array_equal(third.vectors["gram"][[0, 1, 3]], first.vectors["gram"][[0, 1, 3]])


def test_interrupted_extraction_resumes(tmp_path, weights_file, monkeypatch):
    paths = write_images(tmp_path, 5)
    kw = dict(weights=str(weights_file), size=48, cache_dir=tmp_path / "cache",
              progress=False, batch_size=1)
    real = simkit.features.representations.compute
    seen = []

    def failing(*args, **kwargs):
        if len(seen) == 2:
            raise KeyboardInterrupt  # Ctrl-C after two images
        seen.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(simkit.features.representations, "compute", failing)
    with pytest.raises(KeyboardInterrupt):
        extract_features(paths, **kw)
    monkeypatch.setattr(simkit.features.representations, "compute", real)
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    resumed = extract_features(paths, **kw)
    assert resumed.stats == {"computed": 3, "from_cache": 2, "errors": 0}
    fresh = extract_features(paths, **{**kw, "use_cache": False})
    for name in fresh.vectors:
        assert np.array_equal(resumed.vectors[name], fresh.vectors[name])


def test_bad_image_never_loses_the_others(tmp_path, weights_file):
    paths = write_images(tmp_path, 4)
    paths["img1"].write_bytes(b"")                          # zero bytes
    paths["img3"].write_text("<html>not an image</html>")   # text named .png
    kw = dict(weights=str(weights_file), size=48, cache_dir=tmp_path / "cache",
              progress=False)
    with pytest.raises(ImageError) as info:
        extract_features(paths, **kw)
    msg = str(info.value)
    assert "2 image(s) could not be used" in msg and "other 2 image(s) are saved" in msg
    assert "img1.png: the file is empty" in msg and "img3.png: not an image" in msg
    skipped = extract_features(paths, on_error="skip", **kw)
    assert skipped.image_ids == ["img0", "img2"] and skipped.stats["computed"] == 0
    assert set(skipped.errors) == {"img1", "img3"}
    assert skipped.vectors["gram"].shape == (2, 131_328)
    write_images(tmp_path, 4, seed=0)  # repair the files
    fixed = extract_features(paths, **kw)
    assert fixed.stats == {"computed": 2, "from_cache": 2, "errors": 0}


def test_random_weights_say_so_and_bf16_is_close(tmp_path):
    paths = write_images(tmp_path, 2)
    kw = dict(weights="random:0", size=64, use_cache=False, progress=False)
    fp32 = extract_features(paths, **kw)
    assert fp32.is_random and "RANDOM" in fp32.weights_note
    bf16 = extract_features(paths, precision="bf16", **kw)
    assert bf16.config["precision"] == "bf16"
    for name in fp32.vectors:
        rel = (np.linalg.norm(bf16.vectors[name] - fp32.vectors[name])
               / np.linalg.norm(fp32.vectors[name]))
        assert 0 < rel < 0.05, (name, rel)


def test_keep_aspect_policy_and_representation_subset(tmp_path):
    paths = write_images(tmp_path, 2, size=(64, 40))
    (tmp_path / "tall").mkdir()
    paths["tall"] = write_images(tmp_path / "tall", 1, size=(40, 64), seed=9)["img0"]
    fs = extract_features(paths, weights="random:1", size=32, policy="keep-aspect",
                          representations=["cosine"], use_cache=False, progress=False)
    assert list(fs.vectors) == ["cosine"] and fs.vectors["cosine"].shape == (3, 131_328)
    assert fs.config["policy"] == "keep-aspect"


def test_npz_round_trip_without_pickle(tmp_path):
    fs = FeatureSet(["b", "a"], {"gram": np.arange(6, dtype=np.float32).reshape(2, 3),
                                 "cosine": np.ones((2, 3), np.float32)},
                    {"weights": "random:0", "layer": "conv5_1"}, "WARNING: random")
    path = save_npz(fs, tmp_path / "out" / "features.npz")
    with np.load(path, allow_pickle=False) as z:
        assert z["image_ids"].tolist() == ["b", "a"] and z["gram"].dtype == np.float32
    back = load_npz(path)
    assert back.image_ids == ["b", "a"] and back.weights_note == "WARNING: random"
    assert np.array_equal(back.vectors["gram"], fs.vectors["gram"])
    assert back.config["layer"] == "conv5_1"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["features.npz"]
