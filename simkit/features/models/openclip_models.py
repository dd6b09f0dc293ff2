"""``open_clip`` image encoders (CLIP, SigLIP, EVA-CLIP …): only the image tower is kept.

Names are ``ARCH`` or ``ARCH.TAG`` as open_clip lists them (``ViT-B-32.openai``,
``ViT-B-16-SigLIP.webli``); without a tag, the first published one. Layers are module
names of the image tower (``transformer.resblocks.11`` gives tokens, class token first) and
``embedding``: the tower's projected image embedding, what CLIP compares with text.

Weights: ``imagenet`` / ``pretrained`` = the tag's published checkpoint from the Hugging
Face cache (downloaded when online); a checkpoint file; ``random:SEED``. The input size is
the tower's own (224 px for most). Needs the ``models`` extra.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
from typing import TYPE_CHECKING, Iterator, Sequence

from simkit.errors import import_extra
from simkit.features.backbones import WeightsError
from simkit.features.models.network import (EMBEDDING, ModelError, Network, check_taps,
                                            close_names, hook_taps, hub_file, is_pretrained,
                                            module_layers, random_seed, seeded,
                                            weights_must_fit)

if TYPE_CHECKING:
    import torch

__all__ = ["SOURCE", "model_names", "check_name", "layers", "weights_identity", "load",
           "input_size"]

SOURCE = "open_clip"


def _oc():
    return import_extra("open_clip", "open_clip models", "models")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    # open_clip reports a random initialisation through the root logger, which would
    # configure logging for the whole process and print a red line in every notebook
    root = logging.getLogger()
    handler, level = logging.NullHandler(), root.level
    root.addHandler(handler)
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def model_names() -> list[str]:
    """Every ``ARCH.TAG`` open_clip publishes weights for."""
    return [f"{arch}.{tag}" for arch, tag in _oc().list_pretrained()]


def check_name(name: str) -> tuple[str, str | None]:
    """``(arch, tag)`` in open_clip's spelling (matched case-insensitively), else
    :class:`ModelError` with close names."""
    oc = _oc()
    arch, _, tag = name.partition(".")
    archs = {a.lower(): a for a in oc.list_models()}
    if arch.lower() not in archs:
        raise ModelError(f"unknown open_clip model {name!r}; "
                         f"{close_names(arch, list(archs.values())) or 'see simkit models'}")
    arch = archs[arch.lower()]
    tags = oc.list_pretrained_tags_by_model(arch)
    if tag:
        found = {t.lower(): t for t in tags}.get(tag.lower())
        if found is None:
            raise ModelError(f"open_clip model {arch} has no weights {tag!r}; published: "
                             f"{', '.join(tags) or 'none'}")
        return arch, found
    return arch, (tags[0] if tags else None)


def input_size(name: str) -> int:
    """The image tower's input size in pixels (from the model's configuration)."""
    arch, _ = check_name(name)
    size = _oc().get_model_config(arch)["vision_cfg"].get("image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def _build(arch: str, **kwargs) -> "torch.nn.Module":
    with _quiet(), weights_must_fit(f"open_clip model {arch}"):
        return _oc().create_model(arch, **kwargs).visual.eval()


@functools.lru_cache(maxsize=16)
def layers(name: str) -> tuple[str, ...]:
    """``embedding`` and the image tower's blocks (any module name is accepted too)."""
    arch, _ = check_name(name)
    with seeded(0):
        return (EMBEDDING, *module_layers(_build(arch)))


def weights_identity(name: str, weights: str | os.PathLike) -> str:
    """``open_clip:ARCH.TAG``, ``random:SEED@open_clip-X`` or ``sha256:…`` of the file."""
    seed = random_seed(weights)
    if seed is not None:
        return f"random:{seed}@open_clip-{_oc().__version__}"
    if is_pretrained(weights):
        arch, tag = check_name(name)
        return f"open_clip:{arch}.{tag}"
    from simkit.features.backbones import weights_identity as file_identity

    return file_identity(weights)


def _pretrained(arch: str, tag: str | None) -> tuple[str, dict]:
    if tag is None:
        raise WeightsError(f"open_clip model {arch} has no published weights; give a "
                           f"checkpoint file or random:SEED")
    cfg = _oc().get_pretrained_cfg(arch, tag)
    repo = (cfg.get("hf_hub") or "").rstrip("/")
    if not repo:
        raise WeightsError(f"open_clip {arch}.{tag} is only published at {cfg.get('url')}; "
                           f"download it and pass --weights PATH")
    path = hub_file(repo, ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"),
                    f"open_clip weights for {arch}.{tag}")
    return path, {"force_quick_gelu": bool(cfg.get("quick_gelu", False))}


def load(name: str, weights: str | os.PathLike, taps: Sequence[str],
         device: "torch.device") -> Network:
    """Build ``name``'s image tower with ``weights``, ready to emit ``taps``."""
    import torch

    arch, tag = check_name(name)
    full = f"{arch}.{tag}" if tag else arch
    seed = random_seed(weights)
    if seed is not None:
        with seeded(seed):
            visual = _build(arch)
    else:
        path, extra = (_pretrained(arch, tag) if is_pretrained(weights)
                       else (os.path.expanduser(str(weights)), {}))
        if not os.path.isfile(path):
            raise WeightsError(f"--weights {str(weights)!r}: not 'pretrained', not "
                               f"'random:SEED' and not an existing file")
        visual = _build(arch, pretrained=path, **extra)
    check_taps(f"open_clip:{full}", taps, visual, layers(full))
    visual = visual.requires_grad_(False).to(device)
    batch_first = getattr(getattr(visual, "transformer", None), "batch_first", True)

    def fix(t: "torch.Tensor") -> "torch.Tensor":
        return t if batch_first or t.dim() != 3 else t.transpose(0, 1)

    def run(x: "torch.Tensor", wanted: Sequence[str], emit) -> None:
        handles = hook_taps(visual, wanted, emit, fix)
        try:
            out = visual(x)
        finally:
            for h in handles:
                h.remove()
        if EMBEDDING in wanted:
            emit(EMBEDDING, out[0] if isinstance(out, (tuple, list)) else out)

    pre = getattr(visual, "preprocess_cfg", {}) or {}
    from simkit.features.images import IMAGENET_MEAN, IMAGENET_STD

    return Network(visual, f"{SOURCE}:{full}", tuple(taps), run, str(weights),
                   weights_identity(full, weights), seed is not None,
                   tuple(pre.get("mean", IMAGENET_MEAN)), tuple(pre.get("std", IMAGENET_STD)),
                   input_size(full), 1 if hasattr(visual, "class_embedding") else 0, device)
