"""Loss networks: a torchvision CNN whose activations are read at several layers.

The layers are those of Pihlgren et al., Table 1 (the same as LPIPS, Zhang et al. 2018),
plus VGG-19 at the layers of the ukiyo-e work:

=============  ==========================================================  ==============
name           layers (the output of ``features[i]``)                       torchvision
=============  ==========================================================  ==============
``alexnet``    ReLU 1, 2, 3, 4, 5                                           ``alexnet``
``squeezenet`` 1st ReLU; Fire 2, 4, 5, 6, 7, 8                              ``squeezenet1_1``
``vgg16``      ReLU 2, 4, 7, 10, 13 (relu1_2, 2_2, 3_3, 4_3, 5_3)          ``vgg16``
``vgg19``      conv1_1, 2_1, 3_1, 4_1, 5_1 after ReLU (Gatys et al.; conv5_1 ``vgg19``
               is the layer of Wei et al.)
=============  ==========================================================  ==============

Weights are handled exactly as the deep features do (:mod:`simkit.features.backbones`):
``"imagenet"`` (torchvision weights through the torch hub cache, a clear
:class:`~simkit.features.backbones.WeightsUnavailableError` when they are neither cached nor
downloadable), a path to a torchvision ``state_dict`` file, or ``"random:SEED"`` (a seeded
random network, for tests and offline demos; every result made with it says so).

The input is an ImageNet-normalised batch (:func:`simkit.features.images.normalize`); the output is
one feature map per layer, **channel-normalised** as in LPIPS: at each position the
C-vector is divided by its Euclidean norm (+1e-10), so every position weighs the same.

``device`` (``"auto"``: a CUDA GPU, else Apple MPS, else the CPU;
:func:`simkit.features.device.resolve_device`) is where the network runs; a batch given on
another device is copied there, and the maps stay there for the statistics.
"""
from __future__ import annotations

import os

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = ["NETWORKS", "NetworkSpec", "LossNetwork", "load_network", "RANDOM_NOTE", "MIN_SIZE",
           "ensure_registered", "channel_normalize"]

#: The smallest image the loss networks take: AlexNet's layers leave nothing of an image
#: under 31 px (a torch RuntimeError deep in the network), SqueezeNet's under 17.
MIN_SIZE = 32

RANDOM_NOTE = ("WARNING: RANDOM loss network (weights {spec}), not ImageNet: every 2AFC, "
               "Agree and Ps number it gives MEANS NOTHING about perceptual similarity; it "
               "only proves the code path. Use --weights imagenet (or a weights file) for "
               "real results.")


@dataclass(frozen=True)
class NetworkSpec:
    """One loss network: torchvision model name, tapped ``features`` indices, names."""

    torchvision: str
    taps: tuple[int, ...]
    layers: tuple[str, ...]
    channels: tuple[int, ...]
    weights_enum: str


#: name -> spec. ``taps[i]`` is the index in ``model.features`` whose output is layer i.
NETWORKS: dict[str, NetworkSpec] = {
    "alexnet": NetworkSpec("alexnet", (1, 4, 7, 9, 11),
                           ("relu1", "relu2", "relu3", "relu4", "relu5"),
                           (64, 192, 384, 256, 256), "AlexNet_Weights.IMAGENET1K_V1"),
    "squeezenet": NetworkSpec("squeezenet1_1", (1, 4, 7, 9, 10, 11, 12),
                              ("relu1", "fire2", "fire4", "fire5", "fire6", "fire7", "fire8"),
                              (64, 128, 256, 384, 384, 512, 512),
                              "SqueezeNet1_1_Weights.IMAGENET1K_V1"),
    "vgg16": NetworkSpec("vgg16", (3, 8, 15, 22, 29),
                         ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"),
                         (64, 128, 256, 512, 512), "VGG16_Weights.IMAGENET1K_V1"),
    "vgg19": NetworkSpec("vgg19", (1, 6, 11, 20, 29),
                         ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"),
                         (64, 128, 256, 512, 512), "VGG19_Weights.IMAGENET1K_V1"),
}


def _spec(name: str) -> NetworkSpec:
    if name not in NETWORKS:
        raise ValueError(f"unknown loss network {name!r}; choose one of "
                         f"{', '.join(NETWORKS)}")
    return NETWORKS[name]


def ensure_registered() -> None:
    """Check that every loss network's trunk is in :data:`simkit.features.backbones.BACKBONES`
    (the registry includes AlexNet and SqueezeNet 1.1 from the start), so the deep features'
    weights loading (cache, file checks, errors) serves them too."""
    from simkit.features.backbones import BACKBONES

    missing = [s.torchvision for s in NETWORKS.values() if s.torchvision not in BACKBONES]
    if missing:  # a programming error, not a user's: the two registries disagree
        raise RuntimeError(f"backbones registry lacks {', '.join(missing)}")


def channel_normalize(x: "torch.Tensor", eps: float = 1e-10) -> "torch.Tensor":
    """LPIPS's ``normalize_tensor``: divide each position's channel vector by its norm."""
    import torch
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


@dataclass
class LossNetwork:
    """A frozen trunk; ``net(x)`` returns the channel-normalised maps of every layer."""

    name: str
    spec: NetworkSpec
    module: "torch.nn.Module"
    weights: str
    weights_id: str
    is_random: bool
    weights_note: str = ""
    normalize: bool = True
    info: dict = field(default_factory=dict)
    device: "torch.device | None" = None  # None: the CPU

    @property
    def layers(self) -> tuple[str, ...]:
        return self.spec.layers

    @property
    def channels(self) -> tuple[int, ...]:
        return self.spec.channels

    def __call__(self, x: "torch.Tensor") -> list["torch.Tensor"]:
        import torch

        out = []
        taps = set(self.spec.taps)
        if self.device is not None:
            x = x.to(self.device)
        with torch.inference_mode():
            for i, m in enumerate(self.module):
                x = m(x)
                if i in taps:
                    f = x.float()
                    # normalising makes a new tensor; otherwise copy, so that no later
                    # in-place op can change what we read
                    out.append(channel_normalize(f) if self.normalize else f.clone())
        return out


def load_network(name: str = "alexnet", weights: str | os.PathLike = "imagenet", *,
                 normalize: bool = True, device: "str | torch.device" = "auto"
                 ) -> LossNetwork:
    """Build loss network ``name`` (see :data:`NETWORKS`) with ``weights``, frozen, eval,
    on ``device``.

    Raises :class:`~simkit.features.backbones.WeightsUnavailableError` when ImageNet weights are not
    cached and cannot be downloaded, :class:`~simkit.features.backbones.WeightsError` for a bad file
    or specification, :class:`~simkit.features.device.DeviceError` for a device this machine
    does not have.
    """
    import simkit.features.backbones as bb
    from simkit.features.device import resolve_device

    spec = _spec(name)
    ensure_registered()
    dev = resolve_device(device)  # before the weights: a wrong device fails at once
    wspec = str(weights)
    trunk, wid, is_random = bb.load_trunk(spec.torchvision, weights, spec.taps[-1] + 1)
    note = RANDOM_NOTE.format(spec=wspec) if is_random else ""
    return LossNetwork(name, spec, trunk.to(dev), wspec, wid, is_random, note, normalize,
                       device=dev)
