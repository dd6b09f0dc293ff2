"""Models by name: every family builds offline with random weights, gives vectors of the
documented size, runs through ``choose`` as a method, and fails clearly on bad input."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

import simkit
from simkit.cli import main
from simkit.features.backbones import WeightsError, WeightsUnavailableError
from simkit.features.device import DeviceError
from simkit.features.engine import forward
from simkit.features.images import load_tensor
from simkit.features.models import (ModelError, check_model, list_models, load_model,
                                    model_layers, split_model)
from simkit.features.representations import tril_size
from simkit.methods.model_methods import parse_method_name, register_model_method
from simkit.methods.registry import UnknownMethodError, get_method, unregister_method
from simkit.search.distances import pair_distances
from simkit.study.demo import make_demo_study
from simkit.study.model import PAIRS

HAVE_TIMM = importlib.util.find_spec("timm") is not None
HAVE_OPEN_CLIP = importlib.util.find_spec("open_clip") is not None
needs_timm = pytest.mark.skipif(not HAVE_TIMM, reason="pip install 'simkit-similarity[models]'")
needs_open_clip = pytest.mark.skipif(not HAVE_OPEN_CLIP,
                                     reason="pip install 'simkit-similarity[models]'")
TIMM_VIT = "timm:vit_tiny_patch16_224"
CLIP = "open_clip:ViT-S-32"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return make_demo_study(tmp_path_factory.mktemp("models") / "demo", groups_per_genre=1,
                           image_size=64)


# -- every family builds and gives the documented sizes ------------------------------------
@pytest.mark.parametrize("model, layer, kinds, dims, prefix", [
    ("resnet18", "layer4", ("gram", "gap"), (tril_size(512), 512), 0),
    ("resnet18", "embedding", ("gap",), (512,), 0),
    ("vgg19", "conv5_1", ("gram", "cosine", "gap"), (131_328, 131_328, 512), 0),
    pytest.param(TIMM_VIT, "blocks.11", ("gram", "gap"), (tril_size(192), 192), 1,
                 marks=needs_timm),
    pytest.param(TIMM_VIT, "embedding", ("gap",), (192,), 1, marks=needs_timm),
    pytest.param("timm:convnext_atto", "stages.3", ("gram", "gap"), (tril_size(320), 320), 0,
                 marks=needs_timm),
    pytest.param(CLIP, "transformer.resblocks.11", ("gram_cosine", "gap"),
                 (tril_size(384), 384), 1, marks=needs_open_clip),
    pytest.param(CLIP, "embedding", ("gap",), (384,), 1, marks=needs_open_clip),
])
def test_every_family_builds_offline_with_documented_sizes(model, layer, kinds, dims, prefix):
    net = load_model(model, "random:0", [layer], "cpu", size=64)
    assert net.is_random and "RANDOM" in net.weights_note
    assert net.prefix_tokens == prefix
    x = torch.rand(2, 3, net.size or 64, net.size or 64)
    out = forward(net, x, [(k, layer) for k in kinds])
    assert {k: tuple(v.shape) for (k, _), v in out.items()} == {
        k: (2, d) for k, d in zip(kinds, dims)}
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in out.values())


@needs_timm
def test_transformer_tokens_are_the_positions_and_the_class_token_is_pooled():
    net = load_model(TIMM_VIT, "random:0", ["blocks.11"], "cpu", size=64)
    caught = {}
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        net.taps(x, ["blocks.11"], lambda layer, t: caught.setdefault(layer, t.clone()))
        out = forward(net, x, [("gram", "blocks.11"), ("gap", "blocks.11")])
    tokens = caught["blocks.11"][0]                     # (1 + 16 patches, 192)
    assert tokens.shape == (17, 192)
    patches = tokens[1:].double()
    g = (patches.T @ patches).numpy()
    r, c = np.tril_indices(192)
    np.testing.assert_allclose(out["gram", "blocks.11"][0].numpy(), g[r, c], rtol=1e-4,
                               atol=1e-3)
    np.testing.assert_array_equal(out["gap", "blocks.11"][0].numpy(), tokens[0].numpy())


def test_the_same_seed_gives_the_same_network_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = load_model("resnet18", "random:3", ["embedding"], "cpu")
    after = torch.rand(1)
    b = load_model("resnet18", "random:3", ["embedding"], "cpu")
    assert torch.equal(before, after)
    for (k, v), w in zip(a.module.state_dict().items(), b.module.state_dict().values()):
        assert torch.equal(v, w), k


def test_a_shared_network_is_built_once_and_again_when_its_weights_file_changes(tmp_path):
    from conftest import seeded_vgg19_state

    from simkit.features.models import shared_model, shared_model_builds

    path = tmp_path / "vgg.pth"
    torch.save(seeded_vgg19_state(1), path)
    built = shared_model_builds()
    a = shared_model("vgg19", path, ["conv1_1"], "cpu")
    assert shared_model("vgg19", str(path), ["conv1_1"], "cpu") is a
    assert shared_model_builds() == built + 1
    assert shared_model("vgg19", "random:1", ["conv1_1"], "cpu") is not a
    torch.save(seeded_vgg19_state(2), path)   # the same file name, other weights
    b = shared_model("vgg19", path, ["conv1_1"], "cpu")
    assert b is not a
    assert not torch.equal(next(a.module.parameters()), next(b.module.parameters()))


# -- through choose, against an independent computation ------------------------------------
def _independent_choices(study, vectors_of, metric):
    out = {}
    for qid in study.questions["question_id"]:
        rows = np.stack([vectors_of(i) for i in study.question_images(qid)]).astype(np.float64)
        out[qid] = PAIRS[int(np.argmin(pair_distances(rows, metric)))]
    return out


@needs_timm
def test_a_timm_method_chooses_as_the_model_itself_does(study, tmp_path):
    import timm

    name = f"embed:{TIMM_VIT}"
    result = simkit.choose(study, ["gram", name], weights="random:0", size=64,
                           cache_dir=tmp_path, progress=False, device="cpu")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64).eval()
    cfg = model.pretrained_cfg

    def vec(image_id):
        x = load_tensor(study.image_path(image_id), size=64, mean=cfg["mean"], std=cfg["std"])
        with torch.inference_mode():
            return model.forward_head(model.forward_features(x[None]), pre_logits=True)[0]

    expected = _independent_choices(study, lambda i: vec(i).numpy(), "cosine")
    got = result.choices[result.choices["method"] == name].set_index("question_id")["choice"]
    assert got.to_dict() == expected
    assert get_method(name).metric == "cosine"
    assert any("timm:vit_tiny_patch16_224" in n for n in result.notes)
    fs = result.vectors()
    assert set(fs.vectors) == {"gram", name} and fs.vectors[name].shape[1] == 192
    # cached: a second run builds no network
    again = simkit.choose(study, [name], weights="random:0", size=64, cache_dir=tmp_path,
                          progress=False)
    assert again.features["model"].stats["computed"] == 0
    assert again.choices.equals(result.choices[result.choices["method"] == name]
                                .reset_index(drop=True))


@needs_open_clip
def test_an_open_clip_method_runs_through_choose_and_retrieval(study, tmp_path):
    from simkit.search.retrieval import evaluate
    from simkit.study.collection import load_collection

    names = [f"embed-euclidean:{CLIP}", f"gram:{CLIP}@transformer.resblocks.5"]
    result = simkit.choose(study, names, weights="random:0", cache_dir=tmp_path,
                           progress=False)
    assert result.methods == names and len(result.choices) == 2 * len(study.questions)
    assert get_method(names[0]).metric == "euclidean"
    df = evaluate(load_collection(study.root), "genre", names[:1], ks=(1,),
                  weights="random:0", cache_dir=tmp_path, progress=False)
    assert df["method"].tolist() == names[:1]
    cfg = next(iter(result.features["model"].config["configs"]))
    assert cfg["size"] == 224  # the tower's own input size, in the cache key


def test_wei_gram_as_a_model_method_is_the_same_as_gram(study, tmp_path):
    result = simkit.choose(study, ["gram", "gram:vgg19@conv5_1"], weights="random:0",
                           size=32, cache_dir=tmp_path, progress=False)
    fs = result.vectors()
    np.testing.assert_array_equal(fs.vectors["gram"], fs.vectors["gram:vgg19@conv5_1"])


def test_a_short_name_for_a_model_method(study, tmp_path):
    try:
        m = register_model_method("r18", "resnet18", layer="layer3", representation="gram")
        assert m.params == {"model": "resnet18", "layer": "layer3", "kind": "gram"}
        result = simkit.choose(study, ["r18"], weights="random:0", size=32,
                               cache_dir=tmp_path, progress=False)
        assert result.methods == ["r18"]
    finally:
        unregister_method("r18")


# -- names ------------------------------------------------------------------------------------
def test_method_names_parse_with_their_defaults():
    assert parse_method_name("embed:timm:vit_small_patch16_224") == (
        "embed", "cosine", "timm:vit_small_patch16_224", "embedding")
    assert parse_method_name("gram:vgg19") == ("gram", "euclidean", "vgg19", "conv5_1")
    assert parse_method_name("gram_cosine-cosine:resnet50@layer4.2.relu_2") == (
        "gram_cosine", "cosine", "resnet50", "layer4.2.relu_2")
    assert split_model("open-clip:ViT-B-32.openai") == ("open_clip", "ViT-B-32.openai")
    assert check_model("ResNet18") == "torchvision:resnet18"


@pytest.mark.parametrize("name, words", [
    ("emb:resnet18", ["REPR", "embed"]),
    ("embed-manhattan:resnet18", ["metric", "embed-cosine"]),
    ("embed:resnet81", ["resnet18"]),
    ("embed:tim:vit_tiny", ["source", "timm"]),
    ("embed:", ["no model"]),
])
def test_bad_method_names_say_what_would_be_right(name, words):
    with pytest.raises(UnknownMethodError) as e:
        get_method(name)
    assert all(w in str(e.value) for w in words), str(e.value)


@needs_timm
def test_unknown_models_and_layers_list_close_names():
    with pytest.raises(ModelError, match="vit_tiny_patch16_224"):
        check_model("timm:vit_tiny_patch16_244")
    with pytest.raises(ModelError, match="blocks.11"):
        load_model(TIMM_VIT, "random:0", ["blocks.111"], "cpu", size=64)
    with pytest.raises(ModelError, match="layer4"):
        load_model("resnet18", "random:0", ["layer44"], "cpu")


def test_listing_models_and_layers():
    tv = list_models("torchvision", "resnet")
    assert "torchvision:resnet18" in tv and all("resnet" in n for n in tv)
    layers = model_layers("resnet18")
    assert layers[0] == "embedding" and "layer4.1.relu_1" in layers
    assert model_layers("vgg19")[:2] == ("conv1_1", "conv1_2")


# -- weights -----------------------------------------------------------------------------------
@needs_timm
def test_a_weights_file_loads_and_a_wrong_one_names_the_missing_keys(tmp_path):
    net = load_model(TIMM_VIT, "random:5", ["embedding"], "cpu", size=64)
    path = tmp_path / "vit.pth"
    torch.save(net.module.state_dict(), path)
    again = load_model(TIMM_VIT, path, ["embedding"], "cpu", size=64)
    x = torch.rand(2, 3, 64, 64)
    a, b = forward(net, x, [("gap", "embedding")]), forward(again, x, [("gap", "embedding")])
    torch.testing.assert_close(a["gap", "embedding"], b["gap", "embedding"])
    assert again.weights_id.startswith("sha256:") and not again.is_random
    wrong = tmp_path / "resnet.pth"
    torch.save(load_model("resnet18", "random:0", ["embedding"], "cpu").module.state_dict(),
               wrong)
    with pytest.raises(WeightsError, match="Missing key"):
        load_model(TIMM_VIT, wrong, ["embedding"], "cpu", size=64)
    with pytest.raises(WeightsError, match=r"fit torchvision resnet18.*missing"):
        load_model("resnet18", path, ["embedding"], "cpu")


@needs_timm
def test_offline_pretrained_weights_name_the_file_and_the_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(WeightsUnavailableError) as e:
        load_model(TIMM_VIT, "pretrained", ["embedding"], "cpu")
    msg = str(e.value)
    assert "model.safetensors" in msg and str(tmp_path / "hub") in msg
    assert "timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k" in msg and "--weights" in msg


@needs_timm
def test_the_fallback_note_names_the_weights_that_are_missing(study, monkeypatch, tmp_path):
    # not "ImageNet VGG-19 weights are NOT available" when VGG-19 is not what is missing
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    result = simkit.choose(study, [f"embed:{TIMM_VIT}"], weights="imagenet",
                           fallback_weights="random:0", size=64, cache_dir=tmp_path,
                           progress=False, device="cpu")
    loud = result.notes[0]
    assert loud.startswith("timm weights for vit_tiny_patch16_224 are NOT available")
    assert "VGG-19" not in loud and "RANDOM networks (random:0)" in loud
    assert "MEANINGLESS" in loud and str(tmp_path / "hub") in loud
    assert result.weights == "random:0"


@needs_timm
def test_only_the_model_whose_weights_are_missing_falls_back(study, monkeypatch, tmp_path,
                                                             weights_file):
    # VGG-19's "ImageNet" file is in the torch hub cache (a seeded one), the ViT's is not
    import shutil

    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))
    cached = tmp_path / "torch" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    cached.parent.mkdir(parents=True)
    shutil.copy(weights_file, cached)
    vit = f"embed:{TIMM_VIT}"
    kw = dict(size=64, cache_dir=tmp_path / "c", progress=False)
    result = simkit.choose(study, ["gram", vit], weights="imagenet",
                           fallback_weights="random:0", **kw)
    assert result.weights == f"random:0 for {vit}; imagenet for the others"
    assert result.notes[0].startswith("timm weights for vit_tiny_patch16_224 are NOT")
    assert f"(random:0) for {vit} instead" in result.notes[0]
    real = simkit.choose(study, ["gram"], weights=weights_file, **kw).choices
    rand = simkit.choose(study, [vit], weights="random:0", **kw).choices
    got = result.choices.set_index(["question_id", "method"])["choice"]
    assert got.xs("gram", level="method").tolist() == real["choice"].tolist()
    assert got.xs(vit, level="method").tolist() == rand["choice"].tolist()


def test_offline_torchvision_weights_name_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(WeightsUnavailableError) as e:
        load_model("resnet18", "imagenet", ["embedding"], "cpu")
    assert "resnet18-f37072fd.pth" in str(e.value)
    assert str(tmp_path / "hub" / "checkpoints") in str(e.value)


# -- devices ----------------------------------------------------------------------------------
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_a_gpu_without_one_is_an_error_not_a_fallback(study, tmp_path, capsys):
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        simkit.choose(study, ["gram"], weights="random:0", device="cuda", cache_dir=tmp_path)
    assert main(["tables", str(study.root), "--weights", "random:0", "--device", "cuda",
                 "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_choices_on_the_gpu_equal_the_cpu(study, tmp_path):
    kw = dict(weights="random:0", size=64, progress=False)
    cpu = simkit.choose(study, ["gram", "embed:resnet18"], device="cpu",
                        cache_dir=tmp_path / "c", **kw)
    gpu = simkit.choose(study, ["gram", "embed:resnet18"], device="cuda",
                        cache_dir=tmp_path / "g", **kw)
    assert gpu.choices.equals(cpu.choices)
    for m in ("gram", "embed:resnet18"):
        np.testing.assert_allclose(gpu.vectors().vectors[m], cpu.vectors().vectors[m],
                                   rtol=1e-3, atol=1e-3)


# -- the command line -----------------------------------------------------------------------
def test_simkit_models_lists_models_and_layers(capsys):
    assert main(["models", "--source", "torchvision", "--filter", "resnet1"]) == 0
    out = capsys.readouterr().out
    assert "torchvision:resnet18" in out and "REPR[-METRIC]:MODEL[@LAYER]" in out
    assert main(["models", "resnet18"]) == 0
    out = capsys.readouterr().out
    assert "torchvision:resnet18" in out and "layer4.1.relu_1" in out
    assert main(["models", "resnet81"]) == 2
    assert "resnet18" in capsys.readouterr().err


def test_simkit_tables_with_a_model_method(study, tmp_path, capsys):
    out = tmp_path / "results"
    code = main(["tables", str(study.root), "--weights", "random:0", "--size", "32",
                 "--methods", "gram,embed:resnet18@layer3", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    import pandas as pd

    choices = pd.read_csv(out / "choices.csv")
    assert choices["method"].unique().tolist() == ["gram", "embed:resnet18@layer3"]
    table3 = pd.read_csv(out / "table3.csv")
    assert "embed:resnet18@layer3" in table3.to_string()


def test_simkit_features_of_another_model(study, tmp_path, capsys):
    base = ["features", str(study.root), "--weights", "random:0", "--size", "32",
            "--cache-dir", str(tmp_path / "cache"), "--model", "resnet18"]
    assert main([*base, "--out", str(tmp_path / "a.npz")]) == 2
    assert "simkit models resnet18" in capsys.readouterr().err
    assert main([*base, "--layer", "embedding", "--out", str(tmp_path / "b.npz")]) == 2
    assert "one vector per image" in capsys.readouterr().err
    assert main([*base, "--layer", "layer3", "--out", str(tmp_path / "c.npz")]) == 0
    with np.load(tmp_path / "c.npz") as z:
        assert z["gram"].shape == (len(study.images), tril_size(256))
