"""VGG-19 cut at named layers; weights from a file, the ImageNet cache or a random seed."""
import os

import pytest
import torch
import torchvision

from simkit.features.backbones import (BACKBONES, WeightsError, WeightsUnavailableError,
                              imagenet_cache_path, layer_names, load_backbone,
                              weights_identity)


def test_layer_names_and_conv5_1_cut():
    names = layer_names("vgg19")
    assert names == [f"conv{b}_{i}" for b, n in zip(range(1, 6), (2, 2, 4, 4, 4))
                     for i in range(1, n + 1)]
    net = load_backbone("vgg19", "random:0", "conv5_1")
    ref = torchvision.models.vgg19  # the torchvision layout the names refer to
    with torch.device("meta"):
        full = ref(weights=None).features
    assert len(net.module) == 30  # features[:30]
    assert isinstance(full[28], torch.nn.Conv2d) and full[28].out_channels == 512
    assert isinstance(net.module[-1], torch.nn.ReLU) and net.channels == 512
    out = net(torch.zeros(1, 3, 64, 64).contiguous(memory_format=torch.channels_last))
    assert out.shape == (1, 512, 4, 4)
    assert (out >= 0).all()  # after the ReLU
    assert load_backbone("vgg19", "random:0", "conv1_1").module[-1].__class__ is torch.nn.ReLU
    assert len(load_backbone("vgg19", "random:0", "conv3_4").module) == 18


@pytest.mark.parametrize("name,cfg", [("vgg19", "E"), ("vgg16", "D")])
def test_vgg_trunks_equal_torchvisions_module_for_module(name, cfg):
    # simkit builds the VGG trunks itself (importing torchvision costs seconds); they
    # must be torchvision's: same modules, same settings, same state_dict names and shapes
    from torchvision.models.vgg import cfgs, make_layers

    from simkit.features.backbones import _VGG_CFGS

    assert list(_VGG_CFGS[cfg]) == list(cfgs[cfg])
    with torch.device("meta"):
        ours, ref = BACKBONES[name].make_features(), make_layers(cfgs[cfg], batch_norm=False)
    assert repr(ours) == repr(ref)
    assert ({k: v.shape for k, v in ours.state_dict().items()}
            == {k: v.shape for k, v in ref.state_dict().items()})


def test_a_random_vgg_and_its_vectors_need_no_torchvision(tmp_path, monkeypatch):
    import sys

    from PIL import Image

    from simkit.features.extract import extract_features

    # every torchvision module made unimportable: an import of it fails at once
    for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
        monkeypatch.setitem(sys.modules, name, None)
    Image.new("RGB", (40, 40), (200, 30, 30)).save(tmp_path / "a.png")
    fs = extract_features([tmp_path / "a.png"], weights="random:0", size=32,
                          use_cache=False, progress=False, device="cpu")
    assert fs.vectors["gram"].shape == (1, 131328) and fs.is_random


def test_registry_offers_vgg16_through_the_same_interface():
    assert {"vgg19", "vgg16"} <= set(BACKBONES)
    assert layer_names("vgg16")[-1] == "conv5_3"
    with pytest.raises(WeightsError, match="unknown backbone"):
        layer_names("resnet1000")
    with pytest.raises(WeightsError, match="unknown layer 'conv6_1'"):
        load_backbone("vgg19", "random:0", "conv6_1")


def test_random_weights_are_deterministic_and_say_so():
    a = load_backbone(weights="random:7")
    b = load_backbone(weights="random:7")
    c = load_backbone(weights="random:8")
    wa, wb, wc = (n.module[0].weight for n in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.is_random and "RANDOM" in a.weights_note
    assert a.weights_id.startswith("random:7@torch-")


def test_weights_file_is_loaded_exactly(weights_file):
    net = load_backbone(weights=str(weights_file))
    state = torch.load(weights_file, weights_only=True)
    assert torch.equal(net.module[28].weight, state["features.28.weight"])
    assert not net.is_random and net.weights_note == ""
    assert net.weights_id == weights_identity(str(weights_file))
    assert net.weights_id.startswith("sha256:")


def test_bad_weights_files_get_clear_errors(tmp_path, weights_file):
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="garbage.pth: cannot load it as a PyTorch"):
        load_backbone(weights=str(garbage))
    not_dict = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_dict)
    with pytest.raises(WeightsError, match="holds a list, not a state_dict"):
        load_backbone(weights=str(not_dict))
    other = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, other)
    with pytest.raises(WeightsError, match="not a torchvision vgg19 state_dict"):
        load_backbone(weights=str(other))
    state = torch.load(weights_file, weights_only=True)
    state["features.0.weight"] = torch.zeros(32, 3, 3, 3)
    wrong = tmp_path / "wrong_shape.pth"
    torch.save(state, wrong)
    with pytest.raises(WeightsError, match=r"features.0.weight has shape \(32, 3, 3, 3\)"):
        load_backbone(weights=str(wrong))
    del state["features.0.weight"]
    del state["features.28.bias"]
    partial = tmp_path / "partial.pth"
    torch.save(state, partial)
    with pytest.raises(WeightsError, match="missing 2 tensor"):
        load_backbone(weights=str(partial))
    with pytest.raises(WeightsError, match="not 'imagenet', not 'random:SEED'"):
        load_backbone(weights=str(tmp_path / "does-not-exist.pth"))


def test_imagenet_weights_missing_gives_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")  # never start a 548 MB download in a test
    expected = tmp_path / "torch-home" / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth"
    assert imagenet_cache_path() == expected
    with pytest.raises(WeightsUnavailableError) as info:
        load_backbone(weights="imagenet")
    msg = str(info.value)
    assert str(expected) in msg and "--weights PATH" in msg and "internet" in msg
    assert "download.pytorch.org" in msg


def test_imagenet_weights_come_from_the_torch_hub_cache(tmp_path, monkeypatch, weights_file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    cached = imagenet_cache_path()
    cached.parent.mkdir(parents=True)
    os.link(weights_file, cached) if hasattr(os, "link") else cached.write_bytes(
        weights_file.read_bytes())
    net = load_backbone(weights="imagenet")
    assert net.weights_id == "imagenet-v1" and not net.is_random
    state = torch.load(weights_file, weights_only=True)
    assert torch.equal(net.module[0].weight, state["features.0.weight"])


def test_public_layer_api_and_registry():
    from simkit.features.backbones import (BackboneSpec, check_layers, layer_channels,
                                           layer_ends, register_backbone, weights_note)
    assert layer_ends("vgg19")["conv5_1"] == 30 and layer_channels("vgg19")["conv5_1"] == 512
    assert layer_channels("vgg19")["conv1_1"] == 64
    with pytest.raises(WeightsError, match="unknown layer 'conv9_9' for vgg19"):
        check_layers("vgg19", ["conv5_1", "conv9_9"])
    # the loss networks' trunks are in the registry from the start: no module adds them
    assert {"alexnet", "squeezenet1_1"} <= set(BACKBONES)
    register_backbone("vgg19", BACKBONES["vgg19"])          # the same spec again: fine
    with pytest.raises(WeightsError, match="already registered"):
        register_backbone("vgg19", BackboneSpec(BACKBONES["vgg16"].make_features,
                                                "VGG16_Weights.IMAGENET1K_V1", "x"))
    assert weights_note("imagenet") == "" and "RANDOM" in weights_note("random:3")


def test_failed_download_leaves_no_partial_file_and_no_global_timeout(tmp_path, monkeypatch):
    import io
    import socket
    import urllib.request

    class Response(io.BytesIO):
        headers = {"Content-Length": "5"}

    seen = {}

    def fake_urlopen(url, timeout=None):
        seen["timeout"] = timeout
        return Response(b"wrong")                             # fails the hash check
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    monkeypatch.delenv("SIMKIT_OFFLINE", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    before = socket.getdefaulttimeout()
    with pytest.raises(WeightsUnavailableError, match="downloading them failed.*SHA-256"):
        load_backbone("vgg19", "imagenet", "conv1_1")
    assert seen["timeout"] == 60 and socket.getdefaulttimeout() == before
    folder = imagenet_cache_path("vgg19").parent
    assert not folder.exists() or not any(folder.iterdir())
