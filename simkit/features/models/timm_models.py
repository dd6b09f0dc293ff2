"""Any ``timm`` model (DINOv2, CLIP/SigLIP image towers, ConvNeXt, ViT …), tapped at any
module: ``blocks.11`` of a ViT gives its tokens, ``stages.3`` of a ConvNeXt its maps, and
``embedding`` the pooled pre-logits features (``forward_head(pre_logits=True)``).

Names are timm's, with or without the pretrained tag: ``vit_small_patch14_dinov2.lvd142m``,
``vit_base_patch16_clip_224.openai``, ``convnext_tiny``. Transformers are built for the
input size asked for (timm resamples the position embedding of pretrained weights).

Weights: ``imagenet`` / ``pretrained`` = the tag's published weights from the Hugging Face
cache (downloaded when online); a weights file (``.safetensors`` or a torch state_dict,
timm's own key names); ``random:SEED`` (timm's initialisation, seeded). Needs the
``models`` extra.
"""
from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Sequence

from simkit.errors import import_extra
from simkit.features.backbones import WeightsError, fetch_checkpoint
from simkit.features.models.network import (EMBEDDING, ModelError, Network, check_taps,
                                            close_names, hook_taps, hub_file, is_pretrained,
                                            module_layers, random_seed, seeded,
                                            weights_must_fit)

if TYPE_CHECKING:
    import torch

__all__ = ["SOURCE", "model_names", "check_name", "layers", "weights_identity", "load"]

SOURCE = "timm"


def _timm():
    return import_extra("timm", "timm models", "models")


def model_names(pretrained: bool = True) -> list[str]:
    """timm's models: with their pretrained tags (``pretrained=True``) or all architectures."""
    return list(_timm().list_models(pretrained=pretrained))


def check_name(name: str) -> str:
    """``name`` if timm knows it (architecture, or architecture.tag), else
    :class:`ModelError` with close names."""
    timm = _timm()
    arch = name.split(".", 1)[0]
    if not timm.is_model(arch) or ("." in name and name not in model_names(True)):
        known = model_names(True) if "." in name else model_names(False)
        raise ModelError(f"unknown timm model {name!r}; "
                         f"{close_names(name, known) or 'see simkit models --source timm'}")
    return name


def _cfg(name: str):
    return _timm().models.get_pretrained_cfg(name)


def _create(name: str, size: int | None, **kwargs) -> "torch.nn.Module":
    timm = _timm()
    cfg = _cfg(name)
    if size and cfg is not None and cfg.fixed_input_size:
        kwargs["img_size"] = size  # a ViT is built for one input size
    with weights_must_fit(f"timm model {name}"):
        return timm.create_model(name, **kwargs).eval()


@functools.lru_cache(maxsize=32)
def layers(name: str) -> tuple[str, ...]:
    """``embedding`` and the model's blocks / stages (any module name is accepted too)."""
    import torch

    try:
        with torch.device("meta"):
            model = _create(check_name(name), None, pretrained=False)
    except Exception:  # a model that cannot be built without memory
        with seeded(0):
            model = _create(check_name(name), None, pretrained=False)
    return (EMBEDDING, *module_layers(model))


def weights_identity(name: str, weights: str | os.PathLike) -> str:
    """``timm:<hub id or url>``, ``random:SEED@timm-X`` or ``sha256:…`` of the file."""
    seed = random_seed(weights)
    if seed is not None:
        return f"random:{seed}@timm-{_timm().__version__}"
    if is_pretrained(weights):
        cfg = _cfg(check_name(name))
        return f"timm:{cfg.hf_hub_id or cfg.url}" if cfg else f"timm:{name}"
    from simkit.features.backbones import weights_identity as file_identity

    return file_identity(weights)


def _pretrained_file(name: str) -> str:
    import torch

    cfg = _cfg(name)
    if cfg is None or not (cfg.hf_hub_id or cfg.url):
        raise WeightsError(f"timm model {name} has no published weights; give a weights "
                           f"file or random:SEED")
    if cfg.hf_hub_id:
        return hub_file(cfg.hf_hub_id.rstrip("/"), ("model.safetensors", "pytorch_model.bin"),
                        f"timm weights for {name}")
    from pathlib import Path

    path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(cfg.url)
    hint = f"python -c \"import timm; timm.create_model('{name}', pretrained=True)\""
    return str(fetch_checkpoint(cfg.url, path, f"timm weights for {name}", hint))


def load(name: str, weights: str | os.PathLike, taps: Sequence[str],
         device: "torch.device", size: int | None = None) -> Network:
    """Build ``name`` with ``weights`` for ``size`` px inputs, ready to emit ``taps``."""
    import torch

    name = check_name(name)
    seed = random_seed(weights)
    if seed is not None:
        with seeded(seed):
            model = _create(name, size, pretrained=False)
    else:
        path = _pretrained_file(name) if is_pretrained(weights) else str(weights)
        if not os.path.isfile(os.path.expanduser(path)):
            raise WeightsError(f"--weights {path!r}: not 'pretrained', not 'random:SEED' "
                               f"and not an existing file")
        model = _create(name, size, pretrained=True,
                        pretrained_cfg_overlay={"file": os.path.expanduser(path)})
    check_taps(f"timm:{name}", taps, model, layers(name))
    model = model.requires_grad_(False).to(device)
    nhwc = getattr(model, "output_fmt", "NCHW") == "NHWC"  # Swin & co. work channels-last

    def fix(t: "torch.Tensor") -> "torch.Tensor":
        return t.permute(0, 3, 1, 2) if nhwc and t.dim() == 4 else t

    def run(x: "torch.Tensor", wanted: Sequence[str], emit) -> None:
        handles = hook_taps(model, wanted, emit, fix)
        try:
            feats = model.forward_features(x)
        finally:
            for h in handles:
                h.remove()
        if EMBEDDING in wanted:
            emit(EMBEDDING, model.forward_head(feats, pre_logits=True))

    cfg = model.pretrained_cfg
    fixed = size if (size and _cfg(name) is not None and _cfg(name).fixed_input_size) else None
    return Network(model, f"{SOURCE}:{name}", tuple(taps), run, str(weights),
                   weights_identity(name, weights), seed is not None,
                   tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
                   tuple(cfg.get("std", (0.229, 0.224, 0.225))), fixed,
                   int(getattr(model, "num_prefix_tokens", 0)), device)
