"""Occlusion (Zeiler & Fergus 2014): how a pair's distance changes when a grey square hides
part of one print — the explanation of methods without gradients.

>>> m = occlusion_map(image, lambda ims: [distance(im, other) for im in ims])  # doctest: +SKIP

:func:`occlusion_map` is the pure computation for any distance; :func:`occluder` makes the
distance of a registered method that looks at the prints (``style``, ``colour``, ``cnn``,
``sift``, ``orb``, ``lpips_*``) from images in memory, computed by the method itself.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from simkit.errors import SimkitError

if TYPE_CHECKING:
    from simkit.methods.registry import Method

__all__ = ["OcclusionError", "occlusion_map", "occluder", "prepared_rgb", "GREY",
           "DEFAULT_PATCH", "DEFAULT_STRIDE"]

#: The occluding square's colour (mid grey, uint8 RGB).
GREY = (128, 128, 128)
#: Side of the occluding square and its step, in pixels of the preprocessed print
#: (at 224 px: 13 x 13 positions per print).
DEFAULT_PATCH = 32
DEFAULT_STRIDE = 16

class OcclusionError(SimkitError, ValueError):
    """An image or a square that occlusion cannot use; the message says why."""


def _starts(n: int, patch: int, stride: int) -> list[int]:
    # the last square ends at the border, so every pixel is covered at least once
    starts = list(range(0, n - patch + 1, stride))
    if starts[-1] != n - patch:
        starts.append(n - patch)
    return starts


def occlusion_map(image: np.ndarray, distance: Callable[[list[np.ndarray]], Sequence[float]],
                  *, patch: int = DEFAULT_PATCH, stride: int = DEFAULT_STRIDE,
                  fill: Sequence[int] = GREY, batch_size: int = 16, progress: bool = True,
                  desc: str = "occlusion") -> np.ndarray:
    """The occlusion map of one image (Zeiler & Fergus 2014).

    Parameters
    ----------
    image : ndarray
        uint8 ``H x W x 3``.
    distance : callable
        ``distance(images) -> distances``: the pair's distance with each of ``images`` in
        place of ``image`` (the other image of the pair is bound in the callable).
    patch, stride : int
        The grey square's side and step in pixels (a square larger than the image is cut
        to it).
    fill : RGB
        The square's colour.

    Returns
    -------
    ndarray
        float64 ``H x W``: at each pixel the mean, over the squares covering it, of
        (distance with the square − distance without).
    """
    from tqdm.auto import tqdm

    img = np.asarray(image, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise OcclusionError(f"occlusion needs an H x W x 3 image, got shape {img.shape}")
    if int(patch) < 1 or int(stride) < 1:
        raise OcclusionError(f"patch ({patch}) and stride ({stride}) must be at least 1 pixel")
    h, w = img.shape[:2]
    ph, pw = min(int(patch), h), min(int(patch), w)
    where = [(y, x) for y in _starts(h, ph, int(stride)) for x in _starts(w, pw, int(stride))]
    base = float(np.asarray(distance([img]), dtype=np.float64)[0])
    total, count = np.zeros((h, w)), np.zeros((h, w))
    with tqdm(total=len(where), desc=desc, unit="patch", disable=not progress) as bar:
        for k in range(0, len(where), batch_size):
            chunk = where[k:k + batch_size]
            variants = []
            for y, x in chunk:
                v = img.copy()
                v[y:y + ph, x:x + pw] = np.asarray(fill, dtype=np.uint8)
                variants.append(v)
            d = np.asarray(distance(variants), dtype=np.float64)
            for (y, x), dv in zip(chunk, d):
                total[y:y + ph, x:x + pw] += dv - base
                count[y:y + ph, x:x + pw] += 1
            bar.update(len(chunk))
    return total / count


def prepared_rgb(path: str | os.PathLike, policy: str, size: int) -> np.ndarray:
    """A print as a method sees it: decoded safely, resized by ``policy`` to ``size``,
    uint8 ``H x W x 3``."""
    from simkit.features.images import load_rgb, resize_policy

    return np.array(resize_policy(load_rgb(path), policy, size), dtype=np.uint8)  # writable


def occluder(method: "Method", weights: str, size: int, policy: str, device
             ) -> tuple[Callable[[object], np.ndarray],
                        Callable[[list[np.ndarray], np.ndarray], np.ndarray]] | None:
    """``(prepare, distance)``: a print as ``method`` sees it, and the method's distance
    from each of some images to a reference image; ``None`` for a method that does not
    look at the prints (your own vectors)."""
    if method.family == "style":
        from simkit.methods.style import style_network

        net = style_network([method.name], weights=weights, size=size, device=device)
        return (lambda p: prepared_rgb(p, policy, size),
                lambda ims, ref: _style_distance(method, ims, ref, net, size, policy))
    if method.family == "local":
        from simkit.methods.local import match_counts, matches_to_distance

        return (lambda p: prepared_rgb(p, policy, size),
                lambda ims, ref: matches_to_distance(match_counts(
                    ims, method.name, queries=[ref], progress=False))[0])
    if method.family == "perceptual":
        from simkit.methods.perceptual.metrics import PerceptualMetric
        from simkit.methods.perceptual.networks import load_network

        metric = PerceptualMetric.baseline(method.params["net"], method.params["comparison"],
                                           weights=weights)
        net = load_network(metric.net, metric.weights, device=device)  # once, not per batch
        return (lambda p: prepared_rgb(p, "resize", metric.size),
                lambda ims, ref: _perceptual_distance(metric, ims, ref, net))
    return None


def _style_distance(method: "Method", images: list[np.ndarray], ref: np.ndarray, network,
                    size: int, policy: str) -> np.ndarray:
    # in memory, on the one network of this occlusion: no image file and no cache entry
    # for an occluded print, and the vectors are those of the prints as files
    from simkit.methods.style import style_pixel_vectors
    from simkit.search.distances import unit_rows

    x = style_pixel_vectors([*images, ref], [method.name], network=network, size=size,
                            policy=policy)[method.name].astype(np.float64)
    if method.metric == "cosine":
        u = unit_rows(x).astype(np.float64)
        return 1.0 - u[:-1] @ u[-1]
    return np.linalg.norm(x[:-1] - x[-1], axis=1)


def _perceptual_distance(metric, images: list[np.ndarray], ref: np.ndarray, network
                         ) -> np.ndarray:
    import torch

    a = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    b = torch.from_numpy(ref).permute(2, 0, 1)[None].expand_as(a).contiguous()
    return metric.distance(a, b, network)
