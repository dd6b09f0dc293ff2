"""Models by name: any torchvision, timm or open_clip image model, any layer.

>>> list_models("timm", "dinov2")[:2]                                  # doctest: +SKIP
['timm:vit_base_patch14_dinov2.lvd142m', 'timm:vit_giant_patch14_dinov2.lvd142m']
>>> model_layers("timm:vit_small_patch16_224")[:3]                   # doctest: +SKIP
('embedding', 'patch_embed', 'pos_drop')
>>> net = load_model("open_clip:ViT-B-32.openai", "random:0", ["embedding"])  # doctest: +SKIP

A model name is ``SOURCE:NAME``; without a source it is a torchvision model (``resnet50``,
``vgg19``). ``vgg19`` and ``vgg16`` with the paper's layer names (``conv5_1``) are the
trunks of :mod:`simkit.features.backbones`, exactly as Wei et al. used them.

=============  ============================================  =============================
source         names                                         layers
=============  ============================================  =============================
torchvision    ``torchvision.models.list_models()``          graph nodes (``layer4``),
                                                             ``convB_I`` for VGG
timm           ``timm.list_models()``, tag optional          module names (``blocks.11``)
open_clip      ``ARCH.TAG`` of ``open_clip.list_pretrained``  image-tower module names
=============  ============================================  =============================

Every model also has the layer ``embedding`` (its pooled image embedding). timm and
open_clip come with the ``models`` extra: ``pip install 'simkit-similarity[models]'``.
"""
from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Sequence

from simkit.features.models.network import EMBEDDING, ModelError, Network

if TYPE_CHECKING:
    import torch

    from simkit.features.backbones import Backbone

__all__ = ["SOURCES", "EMBEDDING", "ModelError", "Network", "split_model", "model_name",
           "check_model",
           "list_models", "model_layers", "default_layer", "load_model", "shared_model",
           "shared_model_builds",
           "weights_identity",
           "input_size"]

SOURCES = ("torchvision", "timm", "open_clip")
_CLASSIC = re.compile(r"^conv\d+_\d+$")


def split_model(model: str) -> tuple[str, str]:
    """``(source, name)`` of ``SOURCE:NAME`` (no source: torchvision)."""
    text = str(model).strip()
    source, sep, name = text.partition(":")
    if not sep:
        return "torchvision", text
    key = source.lower().replace("-", "_")
    if key == "openclip":
        key = "open_clip"
    if key not in SOURCES:
        raise ModelError(f"unknown model source {source!r} in {model!r}; use one of "
                         f"{', '.join(SOURCES)} (e.g. timm:vit_small_patch16_224)")
    return key, name.strip()


def _family(source: str):
    from simkit.features.models import openclip_models, timm_models, torchvision_models

    return {"torchvision": torchvision_models, "timm": timm_models,
            "open_clip": openclip_models}[source]


def check_model(model: str) -> str:
    """``SOURCE:NAME`` as the library spells it, or :class:`ModelError` with close names
    (cheap: nothing is built)."""
    source, name = split_model(model)
    found = _family(source).check_name(name)
    if isinstance(found, tuple):  # open_clip: (arch, tag)
        found = ".".join(p for p in found if p)
    return f"{source}:{found}"


def model_name(model: str) -> str:
    """The full ``SOURCE:NAME`` of ``model`` (``resnet50`` -> ``torchvision:resnet50``)."""
    source, name = split_model(model)
    return f"{source}:{name}"


def _is_classic(source: str, name: str, layers: Sequence[str] = ()) -> bool:
    from simkit.features.backbones import BACKBONES, layer_names

    return (source == "torchvision" and name in BACKBONES and bool(layer_names(name))
            and all(_CLASSIC.match(layer) for layer in layers))


def default_layer(model: str) -> str:
    """``conv5_1`` for the classic VGG trunks (as in Wei et al.), else ``embedding``."""
    source, name = split_model(model)
    return "conv5_1" if _is_classic(source, name) else EMBEDDING


def list_models(source: str | None = None, pattern: str = "") -> list[str]:
    """The models available here, as ``SOURCE:NAME``.

    Parameters
    ----------
    source : {"torchvision", "timm", "open_clip"}, optional
        One library only (default: every library that is installed).
    pattern : str
        Keep names containing it (case-insensitive), e.g. ``"dinov2"`` or ``"clip"``.
    """
    from simkit.errors import MissingExtraError

    sources = [split_model(f"{source}:x")[0]] if source else list(SOURCES)
    out: list[str] = []
    for s in sources:
        try:
            names = _family(s).model_names()
        except MissingExtraError:
            if source:
                raise
            continue
        out += [f"{s}:{n}" for n in names if pattern.lower() in n.lower()]
    return out


def model_layers(model: str) -> tuple[str, ...]:
    """The layers of ``model``: ``embedding`` first, then input to output."""
    from simkit.features.backbones import layer_names

    source, name = split_model(model)
    if _is_classic(source, name):
        return (*layer_names(name), *_family(source).layers(name))
    return _family(source).layers(name)


def input_size(model: str, size: int) -> int:
    """The input size ``model`` runs at when ``size`` is asked for (open_clip towers have
    their own)."""
    source, name = split_model(model)
    return _family(source).input_size(name) if source == "open_clip" else int(size)


def weights_identity(model: str, weights: str | os.PathLike) -> str:
    """What identifies ``weights`` for ``model`` in the feature store's key."""
    from simkit.features.backbones import weights_identity as classic_identity

    source, name = split_model(model)
    if _is_classic(source, name):
        return classic_identity(weights, name)
    return _family(source).weights_identity(name, weights)


def load_model(model: str, weights: str | os.PathLike, layers: Sequence[str],
               device: "torch.device | str | None" = None, size: int = 224
               ) -> "Network | Backbone":
    """Build ``model`` with ``weights`` on ``device``, able to emit ``layers``.

    Raises
    ------
    ModelError
        An unknown model or layer (the message lists close names).
    WeightsError, WeightsUnavailableError
        Weights that do not fit the model (the missing keys named), or that are not
        here and cannot be downloaded (the message names the file and the cache folder).
    """
    import torch

    from simkit.features.device import resolve_device

    device = resolve_device(device) if not isinstance(device, torch.device) else device
    source, name = split_model(model)
    layers = list(dict.fromkeys(layers)) or [default_layer(model)]
    if _is_classic(source, name, layers):
        from simkit.features.backbones import check_layers, layer_ends, load_backbone

        check_layers(name, layers)
        deepest = max(layers, key=layer_ends(name).__getitem__)
        return load_backbone(name, weights, deepest, device)
    family = _family(source)
    if source == "timm":
        return family.load(name, weights, layers, device, size)
    return family.load(name, weights, layers, device)


# Networks kept for the process by shared_model: an explorer's Explain button or a Dask worker
# asks for the same network again and again, and building it costs seconds each time.
_SHARED: "OrderedDict[tuple, object]" = OrderedDict()
_SHARED_LOCK = threading.Lock()
_SHARED_KEEP = 2  # a few networks at most: each may hold gigabytes on the device
_SHARED_BUILT = {"count": 0}


def shared_model(model: str, weights: str | os.PathLike, layers: Sequence[str],
                 device: "torch.device | str | None" = None, size: int = 224
                 ) -> "Network | Backbone":
    """:func:`load_model`'s network, built once and kept for this process.

    The two most recently used networks are kept, keyed by model, the weights' identity
    (:func:`weights_identity`: a weights file that changed is loaded again), layers, device
    and size. Their parameters do not require gradients, so sharing them is safe.
    """
    import torch

    from simkit.features.device import resolve_device

    device = resolve_device(device) if not isinstance(device, torch.device) else device
    layers = list(dict.fromkeys(layers)) or [default_layer(model)]
    key = (model, weights_identity(model, weights), tuple(layers), str(device), int(size))
    with _SHARED_LOCK:
        net = _SHARED.pop(key, None)
        if net is None:
            net = load_model(model, weights, layers, device, size)
            _SHARED_BUILT["count"] += 1
        _SHARED[key] = net
        while len(_SHARED) > _SHARED_KEEP:
            _SHARED.popitem(last=False)
        return net


def shared_model_builds() -> int:
    """How many networks :func:`shared_model` has built in this process (a Dask worker
    reports it, so a job can show that each worker loaded its network once)."""
    return _SHARED_BUILT["count"]
