"""A torchvision CNN cut at a named layer, with explicit weights.

>>> net = load_backbone("vgg19", weights="random:0", layer="conv5_1")   # doctest: +SKIP
>>> net.channels, net.weights_id                                          # doctest: +SKIP
(512, 'random:0')

Layer names follow the VGG papers: ``convB_I`` is the I-th convolution of block B, and the
cut is always taken **after its ReLU** (so VGG-19 ``conv5_1`` is ``features[:30]``, 512
channels, as in Wei et al. and Gatys et al.).

``weights`` is one of

* ``"imagenet"`` – torchvision's ``IMAGENET1K_V1`` weights through its weights API and the
  torch hub cache (``$TORCH_HOME/hub/checkpoints``). When the file is not cached and cannot
  be downloaded, :class:`WeightsUnavailableError` says exactly how to get it. Setting
  ``SIMKIT_OFFLINE=1`` skips the download attempt. Never falls back silently.
* a path to a torchvision-format ``state_dict`` file (``torch.load(weights_only=True)``);
  the classifier keys may be absent (only ``features.*`` up to the layer are needed).
* ``"random:SEED"`` – a deterministic random network for tests and offline demos:
  torchvision's initialisation of the convolutions (Kaiming normal, fan-out, zero bias)
  drawn from a generator seeded with SEED. Everything made with it says so
  (:attr:`Backbone.is_random`, :attr:`Backbone.weights_note`).

Other torchvision CNNs are added with :func:`register_backbone`; :func:`layer_ends` and
:func:`layer_channels` say where each named layer ends and how many maps it has.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from simkit.features.images import IMAGENET_MEAN, IMAGENET_STD
from simkit.features.weights import (RANDOM_WEIGHTS_NOTE, WeightsError, WeightsUnavailableError,
                                     random_seed, weights_note)

if TYPE_CHECKING:
    import torch

__all__ = [
    "BACKBONES", "BackboneSpec", "Backbone", "WeightsError", "WeightsUnavailableError",
    "load_backbone", "load_trunk", "layer_names", "layer_ends", "layer_channels",
    "check_layers", "register_backbone", "weights_identity", "weights_note", "random_seed",
    "imagenet_cache_path", "RANDOM_WEIGHTS_NOTE", "fetch_checkpoint", "read_state_dict",
]

@dataclass(frozen=True)
class BackboneSpec:
    """How to build one torchvision CNN's convolutional trunk.

    ``make_features`` builds the ``nn.Sequential`` trunk (on any device, weights not
    initialised); ``weights_enum`` names the torchvision weights enum member used for
    ``"imagenet"``; ``prefix`` is the state_dict prefix of the trunk.
    """

    make_features: Callable[[], "torch.nn.Sequential"]
    weights_enum: str
    imagenet_id: str
    prefix: str = "features."


#: torchvision's VGG configurations (``torchvision.models.vgg.cfgs``): output channels of
#: each 3x3 convolution, ``"M"`` a 2x2 max-pooling. Kept here because importing torchvision
#: costs seconds (it imports ``torch._dynamo``) and a random or file-loaded VGG trunk needs
#: nothing else from it; a test checks that the trunks equal torchvision's.
_VGG_CFGS: dict[str, tuple[int | str, ...]] = {
    "D": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"),
    "E": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
          512, 512, 512, 512, "M"),
}


def _vgg(cfg: str) -> Callable[[], "torch.nn.Sequential"]:
    def make():
        # torchvision.models.vgg.make_layers(cfgs[cfg], batch_norm=False), module for module
        import torch.nn as nn

        layers: list[nn.Module] = []
        channels = 3
        for v in _VGG_CFGS[cfg]:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1),
                           nn.ReLU(inplace=True)]
                channels = int(v)
        return nn.Sequential(*layers)
    return make


def _torchvision_trunk(name: str) -> Callable[[], "torch.nn.Sequential"]:
    def make():
        import torchvision.models as tvm
        return getattr(tvm, name)(weights=None).features
    return make


#: The registry: name -> spec. Named layers (``convB_I``) exist for trunks that are an
#: nn.Sequential of Conv2d/ReLU/MaxPool2d; AlexNet and SqueezeNet 1.1 are here for the
#: loss networks (:mod:`simkit.methods.perceptual.networks`), which cut them by index.
#: Add another CNN with :func:`register_backbone`.
BACKBONES: dict[str, BackboneSpec] = {
    "vgg19": BackboneSpec(_vgg("E"), "VGG19_Weights.IMAGENET1K_V1", "imagenet-v1"),
    "vgg16": BackboneSpec(_vgg("D"), "VGG16_Weights.IMAGENET1K_V1", "imagenet-v1"),
    "alexnet": BackboneSpec(_torchvision_trunk("alexnet"), "AlexNet_Weights.IMAGENET1K_V1",
                            "imagenet-v1"),
    "squeezenet1_1": BackboneSpec(_torchvision_trunk("squeezenet1_1"),
                                  "SqueezeNet1_1_Weights.IMAGENET1K_V1", "imagenet-v1"),
}


def register_backbone(name: str, spec: BackboneSpec) -> None:
    """Add a CNN to :data:`BACKBONES` (the one way to extend the registry).

    Registering the same spec again is a no-op; another spec under a taken name is an
    error, so two modules cannot silently disagree about what a name means.
    """
    if BACKBONES.get(name, spec) != spec:
        raise WeightsError(f"backbone {name!r} is already registered with another spec")
    BACKBONES[name] = spec
    _ends.cache_clear()


def _spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise WeightsError(f"unknown backbone {name!r}; available: "
                           f"{', '.join(BACKBONES)}") from None


def _layer_ends(features) -> dict[str, tuple[int, int]]:
    """``{"conv1_1": (end, channels), ...}``: cut ``features[:end]`` is after that ReLU."""
    import torch.nn as nn

    out: dict[str, tuple[int, int]] = {}
    block, conv, last = 1, 0, None
    for i, m in enumerate(features):
        if isinstance(m, nn.Conv2d):
            conv += 1
            last = (f"conv{block}_{conv}", m.out_channels)
        elif isinstance(m, nn.ReLU) and last is not None:
            out[last[0]] = (i + 1, last[1])
            last = None
        elif isinstance(m, nn.MaxPool2d):
            block, conv = block + 1, 0
    return out


def _meta_features(name: str):
    import torch
    with torch.device("meta"):
        return _spec(name).make_features()


@functools.lru_cache(maxsize=None)
def _ends(backbone: str) -> tuple[tuple[str, int, int], ...]:
    return tuple((k, e, c) for k, (e, c) in _layer_ends(_meta_features(backbone)).items())


def layer_names(backbone: str = "vgg19") -> list[str]:
    """The selectable layers of a backbone, input to output (e.g. conv1_1 … conv5_4)."""
    return [k for k, _, _ in _ends(backbone)]


def layer_ends(backbone: str = "vgg19") -> dict[str, int]:
    """``{layer: end}``: the trunk cut after that layer's ReLU is ``features[:end]``."""
    return {k: e for k, e, _ in _ends(backbone)}


def layer_channels(backbone: str = "vgg19") -> dict[str, int]:
    """``{layer: channels}``: the number of feature maps each named layer outputs."""
    return {k: c for k, _, c in _ends(backbone)}


def check_layers(backbone: str, layers: "list[str] | tuple[str, ...]") -> None:
    """Raise :class:`WeightsError` naming the layers ``backbone`` does not have."""
    names = layer_names(backbone)
    bad = list(dict.fromkeys(layer for layer in layers if layer not in names))
    if bad:
        raise WeightsError(f"unknown layer {', '.join(map(repr, bad))} for {backbone}; "
                           f"choose one of {', '.join(names)}")


def imagenet_cache_path(backbone: str = "vgg19") -> Path:
    """Where torch hub keeps the ImageNet weights file (``$TORCH_HOME/hub/checkpoints``)."""
    import torch
    enum = _weights_enum(backbone)
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(enum.url)


def _weights_enum(backbone: str):
    import torchvision.models as tvm
    cls, member = _spec(backbone).weights_enum.split(".")
    return getattr(getattr(tvm, cls), member)


_HASH_MEMO: dict[tuple[str, int, int], str] = {}


def weights_identity(weights: str | os.PathLike, backbone: str = "vgg19") -> str:
    """A short string that identifies the weights, for the feature-store key.

    ``"imagenet-v1"``, ``"random:SEED@torchvision-X.Y"`` or ``"sha256:<hash of the file>"``.
    Cheap: it never builds the network.
    """

    spec = str(weights)
    if spec == "imagenet":
        return _spec(backbone).imagenet_id
    seed = random_seed(spec)  # a WeightsError for a seed torch cannot take
    if seed is not None:
        import torch
        # the init draws depend on torch's RNG, so the version is part of the identity
        return f"random:{seed}@torch-{torch.__version__.split('+')[0]}"
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"--weights {spec!r}: not 'imagenet', not 'random:SEED' and not an existing "
            f"file; give a torchvision VGG-19 state_dict file, 'imagenet' or 'random:0'")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_MEMO:
        from simkit.features.cache import content_hash
        _HASH_MEMO[key] = "sha256:" + content_hash(path)[:32]
    return _HASH_MEMO[key]


@dataclass
class Backbone:
    """A trunk cut after the ReLU of ``layer``; call it on a ``(N, 3, H, W)`` batch."""

    module: "torch.nn.Module"
    name: str
    layer: str
    channels: int
    weights: str
    weights_id: str
    is_random: bool
    weights_note: str = ""
    info: dict = field(default_factory=dict)
    device: "torch.device | None" = None
    #: What :class:`simkit.features.models.Network` has too: the input normalisation, no
    #: fixed input size, no prefix tokens.
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    size: int | None = None
    prefix_tokens: int = 0

    def __call__(self, x: "torch.Tensor") -> "torch.Tensor":
        return self.module(x)

    @property
    def layers(self) -> tuple[str, ...]:
        """The named layers this trunk reaches."""
        return tuple(k for k, e in layer_ends(self.name).items() if e <= len(self.module))

    def taps(self, x: "torch.Tensor", layers: "Sequence[str]",
             emit: "Callable[[str, torch.Tensor], None]") -> None:
        """Run ``x`` through the trunk; ``emit(layer, maps)`` as each layer's ReLU returns
        (a forward hook), so shallow maps are reduced before deeper ones exist."""
        ends = layer_ends(self.name)
        too_deep = [layer for layer in layers if ends[layer] > len(self.module)]
        if too_deep:
            raise ValueError(f"the network is cut before {', '.join(too_deep)}")
        handles = [self.module[ends[layer] - 1].register_forward_hook(
                       lambda _m, _i, o, layer=layer: emit(layer, o)) for layer in layers]
        try:
            self.module(x)
        finally:
            for h in handles:
                h.remove()


def load_backbone(name: str = "vgg19", weights: str | os.PathLike = "imagenet",
                  layer: str = "conv5_1", device: "torch.device | str | None" = None
                  ) -> Backbone:
    """Build ``name`` with ``weights``, cut after the ReLU of ``layer``, in eval mode, on
    ``device`` (default: the CPU).

    The module is in ``channels_last`` memory format (faster convolutions on CPU and GPU)
    and has ``requires_grad`` off.
    """
    import torch

    _spec(name)
    check_layers(name, [layer])
    end, channels = layer_ends(name)[layer], layer_channels(name)[layer]
    trunk, wid, is_random = load_trunk(name, weights, end)
    wspec = str(weights)
    note = weights_note(wspec)
    device = torch.device(device or "cpu")
    trunk = trunk.to(device)
    if device.type != "mps":  # MPS has no channels-last convolutions to gain from
        trunk = trunk.to(memory_format=torch.channels_last)
    return Backbone(trunk, name, layer, channels, wspec, wid, is_random, note,
                    {"end": end}, device)


def load_trunk(name: str, weights: str | os.PathLike = "imagenet", end: int | None = None
               ) -> "tuple[torch.nn.Sequential, str, bool]":
    """The convolutional trunk (``features``) of backbone ``name``, its first ``end``
    modules, with ``weights``; frozen, in eval mode.

    Returns ``(trunk, weights_identity, is_random)``. ``random:SEED`` uses torchvision's
    VGG initialisation (Kaiming normal, fan-out, zero bias), seeded; ``imagenet`` and a
    file path load a torchvision state_dict (only the trunk's keys are needed).
    """
    import torch


    spec = _spec(name)
    wid = weights_identity(weights, name)  # validates the spec first
    wspec = str(weights)
    seed = random_seed(wspec)
    with torch.device("meta"):  # no memory, no initialisation until the weights are known
        trunk = spec.make_features()[:end]
    trunk = trunk.to_empty(device="cpu")
    if seed is not None:
        gen = torch.Generator().manual_seed(seed)
        for mod in trunk.modules():
            if isinstance(mod, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(mod.weight, mode="fan_out",
                                              nonlinearity="relu", generator=gen)
                torch.nn.init.zeros_(mod.bias)
    else:
        if wspec == "imagenet":
            state, where = _imagenet_state_dict(name), "ImageNet weights"
        else:
            state, where = read_state_dict(Path(wspec).expanduser()), wspec
        _load_trunk(trunk, state, spec.prefix, name, where)
    trunk.eval().requires_grad_(False)
    return trunk, wid, seed is not None


def fetch_checkpoint(url: str, path: Path, what: str, python_hint: str) -> Path:
    """``path`` (a torch hub cache file), downloaded from ``url`` first when it is missing.

    Offline (``SIMKIT_OFFLINE``) or when the download fails, :class:`WeightsUnavailableError`
    names the exact file, the folder it must go to and how to get it; never a fallback.
    """
    how = (f"To get them: (1) on a machine with internet run\n"
           f"      {python_hint}\n"
           f"    and copy ~/.cache/torch/hub/checkpoints/{path.name} from there to\n"
           f"      {path}\n"
           f"    (the folder is $TORCH_HOME/hub/checkpoints; $TORCH_HOME defaults to "
           f"~/.cache/torch); or (2) download {url}\n"
           f"    yourself and pass --weights PATH/{path.name} (weights=PATH in Python).\n"
           f"    For an offline demo only, --weights random:0 runs a random network.")
    if not path.exists():
        from simkit.config import offline

        if offline():
            raise WeightsUnavailableError(
                f"{what} are not in the torch hub cache ({path}) and SIMKIT_OFFLINE is "
                f"set, so no download was tried.\n{how}", what)
        try:
            _download(url, path)
        except Exception as e:
            raise WeightsUnavailableError(
                f"{what} are not in the torch hub cache ({path}) and downloading them "
                f"failed ({type(e).__name__}: {e}).\n{how}", what) from None
    return path


def _imagenet_state_dict(backbone: str) -> dict:
    import torch

    enum = _weights_enum(backbone)
    hint = (f"python -c \"import torchvision; "
            f"torchvision.models.{backbone}(weights='IMAGENET1K_V1')\"")
    path = fetch_checkpoint(enum.url, imagenet_cache_path(backbone),
                            f"ImageNet weights for {backbone}", hint)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsUnavailableError(
            f"the cached ImageNet weights {path} cannot be read ({e}); delete the file "
            f"and get it again", f"ImageNet weights for {backbone}") from None


def _download(url: str, path: Path, timeout: float = 60.0) -> None:
    """Fetch ``url`` into ``path`` (via a temporary file in the same folder), checking the
    hash prefix torch hub puts in the file name.

    The timeout is this request's own: a process-wide socket timeout would also cut the
    connections of Dask and of every other thread.
    """
    import hashlib
    import tempfile
    import urllib.request

    from torch.hub import HASH_REGEX
    from tqdm.auto import tqdm

    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) address: {url}")
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        digest.update(chunk)
                        tmp.write(chunk)
                        bar.update(len(chunk))
            tmp.close()
            prefix = HASH_REGEX.search(path.name)
            if prefix and not digest.hexdigest().startswith(prefix.group(1)):
                raise ValueError(f"the download's SHA-256 does not start with "
                                 f"{prefix.group(1)} (a damaged or wrong file)")
            os.replace(tmp.name, path)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)


def read_state_dict(path: Path) -> dict:
    """The state_dict in ``path`` (a ``{"state_dict": …}`` checkpoint is unwrapped), or
    :class:`WeightsError` saying why it cannot be one."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise WeightsError(f"{path}: cannot load it as a PyTorch state_dict ({e}); give "
                           f"a file saved with torch.save(model.state_dict(), PATH)") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state_dict "
                           f"(a dict of parameter name -> tensor)")
    return obj


def _load_trunk(trunk, state: dict, prefix: str, name: str, where: str) -> None:
    """Load ``features.*`` tensors into ``trunk``, checking names and shapes."""
    import torch

    full = {k: v.shape for k, v in _meta_features(name).state_dict().items()}
    with torch.device("meta"):
        import torchvision.models as tvm
        classifier = {k for k in getattr(tvm, name)(weights=None).state_dict()
                      if not k.startswith(prefix)}
    unexpected = [k for k in state if not (k.startswith(prefix) and k[len(prefix):] in full)
                  and k not in classifier]
    if unexpected:
        raise WeightsError(f"{where}: not a torchvision {name} state_dict (unexpected keys "
                           f"such as {', '.join(unexpected[:3])}); save it with "
                           f"torch.save(torchvision.models.{name}().state_dict(), PATH)")
    needed = trunk.state_dict()
    missing = [prefix + k for k in needed if prefix + k not in state]
    if missing:
        raise WeightsError(f"{where}: missing {len(missing)} tensor(s) needed up to this "
                           f"layer, such as {', '.join(missing[:3])}")
    for k, v in needed.items():
        got = state[prefix + k]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(v.shape):
            shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
            raise WeightsError(f"{where}: {prefix}{k} has shape {shape}, {name} needs "
                               f"{tuple(v.shape)}; the file is for another network")
    trunk.load_state_dict({k: state[prefix + k].float() for k in needed})
