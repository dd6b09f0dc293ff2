"""What every model family hands the extraction engine: a :class:`Network`.

A network is a frozen module on a device plus one function, ``taps(x, layers, emit)``,
that runs a batch and calls ``emit(layer, output)`` for every layer asked for, as soon as
that layer's output exists (so a deep model never holds all its activations). Outputs are
in one of three layouts, told apart by their number of dimensions:

* ``(N, C, H, W)`` feature maps (CNNs; a model that works channels-last is permuted);
* ``(N, T, D)`` tokens, batch first (transformers); the first :attr:`Network.prefix_tokens`
  are class / register tokens, the rest are the patches (the "spatial positions");
* ``(N, D)`` one vector per image (an embedding).

The families (:mod:`.torchvision_models`, :mod:`.timm_models`, :mod:`.openclip_models`)
share the helpers here: seeded random initialisation and the weights vocabulary.
"""
from __future__ import annotations

import contextlib
import difflib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from simkit.features.weights import (WeightsError, WeightsUnavailableError, random_seed,
                                     weights_note)

if TYPE_CHECKING:
    import torch

__all__ = ["Network", "ModelError", "Emit", "weights_must_fit", "random_seed", "is_pretrained",
           "close_names", "seeded", "check_state_dict", "EMBEDDING", "module_layers", "check_taps",
           "hook_taps", "hub_file"]


@contextlib.contextmanager
def weights_must_fit(what: str) -> Iterator[None]:
    """Turn the library's "size mismatch in state_dict" ``RuntimeError`` while building
    ``what`` (e.g. "timm model vit_small_patch16_224") into a :class:`WeightsError`."""
    try:
        yield
    except RuntimeError as e:
        if "state_dict" in str(e):
            raise WeightsError(f"the weights do not fit {what}: {str(e).strip()[:600]}") from None
        raise


#: The layer name every model has: its image embedding (the input of the classifier for
#: torchvision and timm models, the image tower's projected output for open_clip).
EMBEDDING = "embedding"
Emit = Callable[[str, "torch.Tensor"], None]


class ModelError(WeightsError):
    """An unknown model or layer; the message lists close names."""


def is_pretrained(weights: str | os.PathLike) -> bool:
    """``imagenet`` or ``pretrained``: the weights the model's library publishes."""
    return str(weights) in ("imagenet", "pretrained")


def close_names(name: str, choices: Sequence[str], n: int = 6) -> str:
    """``"close names: a, b"`` for an error message (``""`` when nothing is close)."""
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    hits += [c for c in lowered if name.lower() in c and c not in hits][: n - len(hits)]
    return f"close names: {', '.join(lowered[h] for h in hits)}" if hits else ""


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the model's own initialisation from a fixed seed, leaving the global RNG as
    it was: the same ``random:SEED`` gives the same network with the same library."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def check_state_dict(module: "torch.nn.Module", state: dict, where: str,
                     model: str) -> None:
    """Raise :class:`WeightsError` naming the missing (and unexpected) keys, or the first
    tensor of the wrong shape, when ``state`` does not fit ``module``."""
    import torch

    needed = module.state_dict()
    missing = [k for k in needed if k not in state]
    unexpected = [k for k in state if k not in needed]
    if missing:
        extra = (f"; it has keys the model does not, such as {', '.join(unexpected[:3])}"
                 if unexpected else "")
        raise WeightsError(f"{where}: the weights do not fit {model}: {len(missing)} "
                           f"key(s) missing, such as {', '.join(missing[:5])}{extra}")
    for k, v in needed.items():
        got = state[k]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(v.shape):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise WeightsError(f"{where}: {k} has shape {shape}, {model} needs "
                               f"{tuple(v.shape)}; the file is for another model")


@dataclass
class Network:
    """A frozen model on a device, ready for :func:`simkit.features.engine.forward`.

    Attributes
    ----------
    module : torch.nn.Module
        In eval mode, gradients off, on :attr:`device`.
    name : str
        The model's full name (``timm:vit_small_patch16_224``).
    layers : tuple of str
        The layers :meth:`taps` can emit.
    taps : callable
        ``taps(x, layers, emit)``: run a batch, ``emit(layer, output)`` per layer.
    weights, weights_id, is_random, weights_note
        As for :class:`simkit.features.backbones.Backbone`.
    mean, std : tuple of float
        The input normalisation the model was trained with.
    size : int or None
        The input size the model needs (``None``: any size).
    prefix_tokens : int
        Class/register tokens before the patch tokens in token outputs.
    device : torch.device
    """

    module: "torch.nn.Module"
    name: str
    layers: tuple[str, ...]
    taps: Callable[["torch.Tensor", Sequence[str], Emit], None]
    weights: str
    weights_id: str
    is_random: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    size: int | None = None
    prefix_tokens: int = 0
    device: "torch.device | None" = None
    info: dict = field(default_factory=dict)

    @property
    def weights_note(self) -> str:
        return weights_note(self.weights, self.name)


def module_layers(module: "torch.nn.Module") -> tuple[str, ...]:
    """The layers worth listing: the top-level children and the items of every block list
    (``blocks.0`` … , ``stages.3``, ``transformer.resblocks.11``), in model order."""
    import torch.nn as nn

    out = []
    for name, m in module.named_modules():
        if not name:
            continue
        parent = name.rsplit(".", 1)[0] if "." in name else ""
        is_item = parent and isinstance(module.get_submodule(parent),
                                        (nn.ModuleList, nn.Sequential))
        if "." not in name or (is_item and name.count(".") <= 2):
            out.append(name)
    return tuple(out)


def check_taps(model: str, taps: Sequence[str], module: "torch.nn.Module",
               listed: Sequence[str]) -> None:
    """:class:`ModelError` for a tap that is neither ``embedding`` nor a module name."""
    names = {n for n, _ in module.named_modules() if n}
    for t in taps:
        if t != EMBEDDING and t not in names:
            raise ModelError(f"unknown layer {t!r} for {model}; "
                             f"{close_names(t, [EMBEDDING, *listed]) or 'see simkit models'}"
                             f" (any module name of the model is a layer)")


def hook_taps(module: "torch.nn.Module", taps: Sequence[str], emit: Emit,
              fix: "Callable[[torch.Tensor], torch.Tensor]") -> list:
    """Forward hooks that ``emit(layer, fix(output))`` for each module named in ``taps``;
    returns the handles to remove."""
    def hook(layer: str):
        def on_output(_m, _i, out):
            emit(layer, fix(out[0] if isinstance(out, (tuple, list)) else out))
        return on_output
    return [module.get_submodule(t).register_forward_hook(hook(t))
            for t in taps if t != EMBEDDING]


def hub_file(repo: str, filenames: Sequence[str], what: str) -> str:
    """The path of ``repo``'s weights file in the Hugging Face cache, downloaded first when
    it is missing and downloads are allowed.

    Offline or when the download fails, :class:`WeightsUnavailableError` names the file,
    the cache folder and a local-file alternative; never a fallback.
    """
    try:
        import huggingface_hub as hf
    except ImportError as e:
        from simkit.errors import missing_extra
        raise missing_extra(f"pretrained {what}", "models", e) from e
    from simkit.config import offline

    for filename in filenames:
        cached = hf.try_to_load_from_cache(repo, filename)
        if isinstance(cached, str):
            return cached
    folder = os.path.join(hf.constants.HF_HUB_CACHE, f"models--{repo.replace('/', '--')}")
    url = f"https://huggingface.co/{repo}/resolve/main/{filenames[0]}"
    how = (f"To get them: (1) on a machine with internet run\n"
           f"      huggingface-cli download {repo} {filenames[0]}\n"
           f"    and copy the Hugging Face cache folder {folder} to the same place here\n"
           f"    (the cache is $HF_HOME/hub, default ~/.cache/huggingface/hub); or (2) "
           f"download {url}\n    yourself and pass --weights PATH/{filenames[0]} "
           f"(weights=PATH in Python).\n"
           f"    For an offline demo only, --weights random:0 runs a random network.")
    if offline():
        raise WeightsUnavailableError(
            f"{what}: {filenames[0]} of {repo} is not in the Hugging Face cache ({folder}) "
            f"and SIMKIT_OFFLINE is set, so no download was tried.\n{how}", what)
    try:
        return hf.hf_hub_download(repo, filenames[0])
    except Exception as e:
        raise WeightsUnavailableError(
            f"{what}: {filenames[0]} of {repo} is not in the Hugging Face cache ({folder}) "
            f"and downloading it failed ({type(e).__name__}: {e}).\n{how}", what) from None
