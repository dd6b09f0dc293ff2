"""Any torchvision classification model, tapped at any node of its graph.

Layers are the node names of :func:`torchvision.models.feature_extraction.get_graph_node_names`
(e.g. ``layer4`` or ``layer4.2.relu_2`` for ResNet-50, ``encoder.ln`` for ViT-B/16), read
through :func:`~torchvision.models.feature_extraction.create_feature_extractor`, plus
``embedding``: the input of the classifier (the pooled features). VGG-19 and VGG-16 also
keep the paper's layer names (``conv5_1``: after the ReLU), served by
:mod:`simkit.features.backbones` exactly as before.

Weights: ``imagenet`` / ``pretrained`` = the model's ``DEFAULT`` weights through
torchvision's weights API and the torch hub cache; a state_dict file; ``random:SEED``
(torchvision's own initialisation, seeded).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from simkit.features.models.network import (EMBEDDING, ModelError, Network, check_state_dict, close_names, is_pretrained,
                                            random_seed, seeded)

if TYPE_CHECKING:
    import torch

__all__ = ["SOURCE", "model_names", "layers", "weights_identity", "load", "checkpoint_path"]

SOURCE = "torchvision"


def model_names() -> list[str]:
    """torchvision's classification models (``torchvision.models.list_models``)."""
    import torchvision.models as tvm

    return sorted(tvm.list_models(module=tvm))


def check_name(name: str) -> str:
    """``name`` as torchvision spells it, or :class:`ModelError` listing close names."""
    names = model_names()
    found = {n.lower(): n for n in names}.get(name.lower())
    if found is None:
        raise ModelError(f"unknown torchvision model {name!r}; "
                         f"{close_names(name, names) or 'see simkit models --source torchvision'}")
    return found


def _build(name: str) -> "torch.nn.Module":
    import torchvision.models as tvm

    return tvm.get_model(name, weights=None).eval()


@functools.lru_cache(maxsize=32)
def layers(name: str) -> tuple[str, ...]:
    """``embedding`` and every node of the model's graph in eval mode, input to output
    (a module name such as ``layer4`` is accepted too: its last node)."""
    import torch
    from torchvision.models.feature_extraction import get_graph_node_names

    with torch.device("meta"):
        model = _build(check_name(name))
    _, nodes = get_graph_node_names(model)
    return (EMBEDDING, *[n for n in nodes if n != "x"])


def _embedding_node(name: str) -> str:
    nodes = layers(name)
    return nodes[-2]  # the classifier's input: the node just before the output


def checkpoint_path(name: str) -> tuple[str, Path]:
    """``(url, path in the torch hub cache)`` of the model's ``DEFAULT`` weights."""
    import torch
    import torchvision.models as tvm

    enum = tvm.get_model_weights(check_name(name)).DEFAULT
    return enum.url, Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)


def weights_identity(name: str, weights: str | os.PathLike) -> str:
    """``torchvision:<weights enum>``, ``random:SEED@torchvision-X`` or ``sha256:…``."""
    import torchvision
    import torchvision.models as tvm

    seed = random_seed(weights)
    if seed is not None:
        return f"random:{seed}@torchvision-{torchvision.__version__.split('+')[0]}"
    if is_pretrained(weights):
        return f"torchvision:{tvm.get_model_weights(check_name(name)).DEFAULT}"
    from simkit.features.backbones import weights_identity as file_identity

    return file_identity(weights)


def _state_dict(name: str, weights: str | os.PathLike) -> tuple[dict, str]:
    from simkit.features.backbones import fetch_checkpoint, read_state_dict

    if is_pretrained(weights):
        url, path = checkpoint_path(name)
        hint = (f"python -c \"import torchvision; torchvision.models.get_model("
                f"'{name}', weights='DEFAULT')\"")
        path = fetch_checkpoint(url, path, f"torchvision {name} weights", hint)
        where = str(path)
    else:
        path, where = Path(weights).expanduser(), str(weights)
    return read_state_dict(path), where


def load(name: str, weights: str | os.PathLike, taps: Sequence[str],
         device: "torch.device") -> Network:
    """Build ``name`` with ``weights``, ready to emit the layers ``taps``."""
    import torch
    from torchvision.models.feature_extraction import create_feature_extractor

    name = check_name(name)
    known = layers(name)
    # a module name (``layer4``) stands for the last node inside it, as in torchvision
    bad = [t for t in taps if t not in known and not any(n.startswith(t + ".") for n in known)]
    if bad:
        raise ModelError(f"unknown layer {bad[0]!r} for torchvision:{name}; "
                         f"{close_names(bad[0], known) or 'see simkit models ' + name}")
    seed = random_seed(weights)
    with seeded(seed or 0):
        model = _build(name)
    if seed is None:
        state, where = _state_dict(name, weights)
        check_state_dict(model, state, where, f"torchvision {name}")
        model.load_state_dict(state)
    nodes = {(_embedding_node(name) if t == EMBEDDING else t): t for t in taps}
    extractor = create_feature_extractor(model, return_nodes=list(nodes))
    extractor = extractor.eval().requires_grad_(False).to(device)
    if device.type != "mps":
        extractor = extractor.to(memory_format=torch.channels_last)

    def run(x: "torch.Tensor", wanted: Sequence[str], emit) -> None:
        out = extractor(x)
        for node, layer in nodes.items():
            if layer in wanted:
                emit(layer, out[node])

    from simkit.features.images import IMAGENET_MEAN, IMAGENET_STD

    return Network(extractor, f"{SOURCE}:{name}", tuple(taps), run, str(weights),
                   weights_identity(name, weights), seed is not None, IMAGENET_MEAN,
                   IMAGENET_STD, _fixed_size(name), 1 if name.startswith("vit_") else 0,
                   device)


def _fixed_size(name: str) -> int | None:
    # torchvision's ViTs are built for 224 px; the CNNs take any size
    return 224 if name.startswith("vit_") else None
