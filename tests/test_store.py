"""The feature store: keyed by content and configuration, atomic, robust to damage."""
import numpy as np

from simkit.features.cache import FeatureStore, config_hash, content_hash, default_cache_dir

CONFIG = {"backbone": "vgg19", "weights_id": "random:0", "layer": "conv5_1",
          "policy": "resize", "size": 224, "precision": "fp32"}


def test_put_get_round_trip_and_layout(tmp_path):
    store = FeatureStore(CONFIG, tmp_path)
    v = np.arange(10, dtype=np.float32)
    assert store.get("abc", "gram") is None and not store.has("abc", ["gram"])
    store.put("abc", {"gram": v, "cosine": v * 2})
    assert store.has("abc", ["gram", "cosine"]) and not store.has("abc", ["gram_cosine"])
    assert np.array_equal(store.get("abc", "cosine"), v * 2)
    assert (store.folder / "config.json").is_file()
    assert sorted(p.name for p in store.folder.rglob("*.npy")) == ["abc.npy", "abc.npy"]
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_every_setting_changes_the_key():
    base = config_hash(CONFIG)
    for k, other in [("weights_id", "sha256:beef"), ("layer", "conv4_1"), ("size", 64),
                     ("policy", "native"), ("precision", "bf16"), ("backbone", "vgg16")]:
        assert config_hash({**CONFIG, k: other}) != base, k
    assert config_hash(dict(reversed(list(CONFIG.items())))) == base


def test_damaged_or_wrong_entries_read_as_missing(tmp_path):
    store = FeatureStore(CONFIG, tmp_path)
    store.put("k1", {"gram": np.ones(5, np.float32)})
    path = store.folder / "gram" / "k1.npy"
    path.write_bytes(path.read_bytes()[:40])  # truncated by a disk error
    assert store.get("k1", "gram") is None
    store.put("k2", {"gram": np.ones(5, np.float32)})
    assert store.get("k2", "gram", length=6) is None
    assert store.get("k2", "gram", length=5) is not None


def test_content_hash_follows_bytes_not_names(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"same")
    (tmp_path / "b.bin").write_bytes(b"same")
    (tmp_path / "c.bin").write_bytes(b"other")
    assert content_hash(tmp_path / "a.bin") == content_hash(tmp_path / "b.bin")
    assert content_hash(tmp_path / "a.bin") != content_hash(tmp_path / "c.bin")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SIMKIT_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c" / "features"  # one cache root, a folder per kind
    monkeypatch.delenv("SIMKIT_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "simkit", "features")
