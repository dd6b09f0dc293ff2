"""The six distortions of Pihlgren et al., Table 2, with their parameter ranges, seeded.

==================  =============================================  ==========================
name                parameter drawn uniformly from                  torchvision v2 op
==================  =============================================  ==========================
``rotate``          angle 30 … 330 degrees                          ``rotate`` (black fill)
``translate``       shift −0.5 … 0.5 of the width / the height      ``affine`` (black fill)
``brightness``      factor 0.1 … 0.5 of the original brightness     ``adjust_brightness``
``hue``             hue factor −0.5 … 0.5                           ``adjust_hue``
``blur``            odd kernel size 11 … 21, σ 4 … 10               ``gaussian_blur``
``zoom``            scale 1.1 … 2 (zoom in about the centre)        ``affine``
==================  =============================================  ==========================

Images are uint8 ``(3, H, W)`` (or ``(N, 3, H, W)``) tensors; the result is uint8 too, as a
saved image would be. Parameters come from a ``numpy.random.Generator``, so the same seed
gives the same distorted images.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from simkit.methods.perceptual.errors import PerceptualDataError

if TYPE_CHECKING:
    import torch

__all__ = ["DISTORTIONS", "RANGES", "draw_params", "apply", "distort", "check_ranking"]

DISTORTIONS = ("rotate", "translate", "brightness", "hue", "blur", "zoom")
RANGES = {
    "rotate": {"angle": (30.0, 330.0)},
    "translate": {"dx": (-0.5, 0.5), "dy": (-0.5, 0.5)},
    "brightness": {"factor": (0.1, 0.5)},
    "hue": {"factor": (-0.5, 0.5)},
    "blur": {"kernel": (11, 21), "sigma": (4.0, 10.0)},
    "zoom": {"scale": (1.1, 2.0)},
}


def check_ranking(ranking) -> list[str]:
    """A ranking is the six distortion names, each once, least disruptive first."""
    r = [str(x).strip() for x in (ranking.split(",") if isinstance(ranking, str) else ranking)]
    if sorted(r) != sorted(DISTORTIONS):
        unknown = [x for x in r if x not in DISTORTIONS]
        twice = sorted({x for x in r if r.count(x) > 1})
        lacking = [x for x in DISTORTIONS if x not in r]
        why = "; ".join(w for w in (f"unknown {', '.join(unknown)}" if unknown else "",
                                    f"twice {', '.join(twice)}" if twice else "",
                                    f"lacks {', '.join(lacking)}" if lacking else "") if w)
        raise PerceptualDataError(f"ranking {','.join(r)!r} ({why}) must name each of the six "
                                  f"distortions once ({','.join(DISTORTIONS)}), least "
                                  f"disruptive first")
    return r


def draw_params(kind: str, rng: np.random.Generator) -> dict:
    """Random parameters of distortion ``kind`` from the ranges of Table 2."""
    if kind not in RANGES:
        raise ValueError(f"unknown distortion {kind!r}; choose one of {', '.join(DISTORTIONS)}")
    if kind == "blur":
        lo, hi = RANGES["blur"]["kernel"]
        return {"kernel": int(rng.choice(np.arange(lo, hi + 1, 2))),
                "sigma": float(rng.uniform(*RANGES["blur"]["sigma"]))}
    return {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in RANGES[kind].items()}


def apply(image: "torch.Tensor", kind: str, params: dict) -> "torch.Tensor":
    """Apply distortion ``kind`` with ``params`` to uint8 image(s)."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    if image.dtype != torch.uint8:
        raise TypeError("distortions take uint8 images (3, H, W) or (N, 3, H, W)")
    h, w = image.shape[-2:]
    bil = InterpolationMode.BILINEAR
    if kind == "rotate":
        return F.rotate(image, params["angle"], interpolation=bil, fill=0)
    if kind == "translate":
        return F.affine(image, angle=0.0, translate=[round(params["dx"] * w),
                                                     round(params["dy"] * h)],
                        scale=1.0, shear=[0.0, 0.0], interpolation=bil, fill=0)
    if kind == "brightness":
        return F.adjust_brightness(image, params["factor"])
    if kind == "hue":
        return F.adjust_hue(image, params["factor"])
    if kind == "blur":
        k = min(params["kernel"], (min(h, w) - 1) | 1)  # reflect padding needs k//2 < side
        return F.gaussian_blur(image, [k, k], [params["sigma"]] * 2)
    if kind == "zoom":
        return F.affine(image, angle=0.0, translate=[0, 0], scale=params["scale"],
                        shear=[0.0, 0.0], interpolation=bil, fill=0)
    raise ValueError(f"unknown distortion {kind!r}; choose one of {', '.join(DISTORTIONS)}")


def distort(image: "torch.Tensor", kind: str, rng: np.random.Generator
            ) -> tuple["torch.Tensor", dict]:
    """Draw parameters with ``rng`` and apply ``kind``: ``(distorted, params)``."""
    params = draw_params(kind, rng)
    return apply(image, kind, params), params
