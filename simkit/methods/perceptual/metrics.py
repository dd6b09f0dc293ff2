"""Deep perceptual distances (Pihlgren et al., eqs. 1–3) with per-channel scalars.

For loss-network layers l ∈ L with channel-normalised activations z^l (C_l × H_l × W_l)
and non-negative per-channel scalars w_l (all 1 = the baseline metric):

* spatial  d = Σ_l 1/(C_l H_l W_l) · ‖w_l ⊙ (z_x^l − z_y^l)‖²                       (eq. 1)
* mean     d = Σ_l 1/C_l · ‖w_l ⊙ (z̄_x^l − z̄_y^l)‖²   z̄ = spatial mean per channel  (eq. 2)
* sort     d = Σ_l 1/C_l · ‖w_l ⊙ (z_x^l↓ − z_y^l↓)‖²  z↓ = each channel's H·W values
  sorted in descending order (so where a feature fires does not matter)             (eq. 3)
* spatial+mean, spatial+sort: the sums, with the **same** scalars w in both terms.

``w_l`` multiplies the difference before squaring, as eq. 1 writes it (LPIPS's linear
layer multiplies the squared difference, so its weight is our w²). Because w is constant
over space, every distance is linear in w²::

    d(x, y) = Σ_{l,c} w_{l,c}² · s_{l,c}(x, y)

where the *pair statistic* s_{l,c} is the per-channel term of the equation with w = 1
(:func:`layer_statistics`). The loss network is frozen, so :func:`pair_statistics` computes
s once per image pair; scoring and adapting the scalars then only multiply by w².

The statistics are computed where the loss network runs (its ``device``: the images are
copied there as uint8, the maps never leave it) and returned as NumPy arrays.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:
    import torch

    from simkit.methods.perceptual.networks import LossNetwork

__all__ = ["BASES", "COMPARISONS", "comparison_parts", "layer_statistics",
           "pair_statistics", "combine", "PerceptualMetric", "method_name",
           "load_scalars", "image_features", "cache_budget"]

BASES = ("spatial", "mean", "sort")
COMPARISONS = ("spatial", "mean", "sort", "spatial+mean", "spatial+sort")


def comparison_parts(comparison: str) -> tuple[str, ...]:
    """``"spatial+sort"`` -> ``("spatial", "sort")``; checks the name."""
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r}; choose one of "
                         f"{', '.join(COMPARISONS)}")
    return tuple(comparison.split("+"))


def method_name(net: str, comparison: str = "spatial", adapted: bool = False) -> str:
    """The method name used in study tables: ``lpips_alexnet`` (spatial, the LPIPS form),
    ``lpips_alexnet_sort``, ``lpips_vgg16_spatial_mean``, … with ``_adapted`` when the
    scalars were learned."""
    comparison_parts(comparison)
    name = f"lpips_{net}" + ("" if comparison == "spatial"
                             else "_" + comparison.replace("+", "_"))
    return name + ("_adapted" if adapted else "")


def _sorted_desc(z: "torch.Tensor") -> "torch.Tensor":
    return z.flatten(2).sort(dim=2, descending=True).values


def layer_statistics(za: Sequence["torch.Tensor"], zb: Sequence["torch.Tensor"],
                     base: str) -> "torch.Tensor":
    """Per-channel terms of eq. 1, 2 or 3 with w = 1, for a batch of image pairs.

    ``za``, ``zb``: per layer, ``(N, C_l, H_l, W_l)`` activations of the two images of N
    pairs. Returns ``(N, Σ_l C_l)`` float64: summing a row gives the baseline distance,
    and ``stats @ w**2`` the distance with scalars w.
    """
    return layer_statistics_multi(za, zb, (base,))[base]


def layer_statistics_multi(za: Sequence["torch.Tensor"], zb: Sequence["torch.Tensor"],
                           bases: Sequence[str], sa: Sequence["torch.Tensor"] | None = None,
                           sb: Sequence["torch.Tensor"] | None = None
                           ) -> dict[str, "torch.Tensor"]:
    """:func:`layer_statistics` for several bases at once. ``sa``/``sb``: the maps already
    sorted per channel (``(N, C, H·W)``, descending), when the caller has them.

    Differences and per-channel sums are float32 (at most H·W terms of size ≤ 4, relative
    error ~1e-6); the result is float64."""
    import torch

    for b in bases:
        if b not in BASES:
            raise ValueError(f"unknown comparison {b!r}; use one of {', '.join(BASES)}")
    parts: dict[str, list] = {b: [] for b in bases}
    for k, (a, b) in enumerate(zip(za, zb)):
        n, c, h, w = a.shape
        if "spatial" in parts:
            parts["spatial"].append(_f64(((a - b) ** 2).sum(dim=(2, 3))) / (c * h * w))
        if "mean" in parts:
            parts["mean"].append(_f64(a.mean(dim=(2, 3)) - b.mean(dim=(2, 3))) ** 2 / c)
        if "sort" in parts:
            x = sa[k] if sa is not None else _sorted_desc(a)
            y = sb[k] if sb is not None else _sorted_desc(b)
            parts["sort"].append(_f64(((x - y) ** 2).sum(dim=2)) / c)
    return {k: torch.cat(v, dim=1) for k, v in parts.items()}


def _f64(t: "torch.Tensor") -> "torch.Tensor":
    """``t`` in float64; on the CPU for Apple MPS, which has no float64."""
    return (t.cpu() if t.device.type == "mps" else t).double()


def combine(stats: dict[str, np.ndarray], comparison: str) -> np.ndarray:
    """Pair statistics of a (combined) comparison: the sum of its parts'."""
    parts = comparison_parts(comparison)
    missing = [p for p in parts if p not in stats]
    if missing:
        raise ValueError(f"statistics for {', '.join(missing)} were not computed; pass "
                         f"comparisons including {comparison!r}")
    out = stats[parts[0]]
    for p in parts[1:]:
        out = out + stats[p]
    return out


def image_features(net: "LossNetwork", pixels: "torch.Tensor") -> list["torch.Tensor"]:
    """uint8 ``(N, 3, H, W)`` images -> the network's channel-normalised layer maps (on the
    network's device)."""
    from simkit.features.images import normalize
    if net.device is not None:  # uint8 travels, 4x smaller than the normalised floats
        pixels = pixels.to(net.device, non_blocking=True)
    return net(normalize(pixels))


def cache_budget(net: "LossNetwork", max_cache_bytes: float) -> float:
    """The bytes of image features :func:`pair_statistics` may keep: ``max_cache_bytes``,
    and on a CUDA GPU at most half of its free memory (the rest is the network's)."""
    import torch

    if net.device is None or net.device.type != "cuda":
        return max_cache_bytes
    free, _ = torch.cuda.mem_get_info(net.device)
    return min(max_cache_bytes, free / 2)


def pair_statistics(net: "LossNetwork", pixels: "torch.Tensor", pairs: np.ndarray,
                    bases: Iterable[str] = ("spatial",), *, batch_size: int = 32,
                    max_cache_bytes: float = 4e9, progress: bool = True,
                    desc: str = "pair statistics") -> dict[str, np.ndarray]:
    """The statistics s(x, y) of every pair, for each base comparison.

    ``pixels``: uint8 ``(N, 3, H, W)``, the image pool; ``pairs``: ``(P, 2)`` indices into
    it. Pairs are visited in index order and each image's features are kept until its
    last pair; when they do not all fit in ``max_cache_bytes`` the cached image needed
    latest is dropped first (Belady's rule). So each image goes through the network once
    whenever the pool fits (100 material images at 224 px: 2.4 GB for VGG-16) or is laid
    out group by group (questions; an image followed by its distortions), and as few
    times as possible otherwise. Returns ``{base: (P, Σ C_l) float32}``.
    """
    from tqdm.auto import tqdm

    bases = list(dict.fromkeys(bases))
    for b in bases:
        if b not in BASES:
            raise ValueError(f"unknown comparison {b!r}; use one of {', '.join(BASES)}")
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    n_img = int(pixels.shape[0])
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= n_img):
        raise ValueError(f"pair indices must lie in 0..{n_img - 1}")
    total_c = sum(net.channels)
    out = {b: np.empty((len(pairs), total_c), dtype=np.float32) for b in bases}
    if not len(pairs):
        return out
    max_cache_bytes = cache_budget(net, max_cache_bytes)
    order = np.lexsort((pairs.max(1), pairs.min(1)))
    chunks = [order[s:s + batch_size] for s in range(0, len(order), batch_size)]
    # when each image is needed next: evict the cached image needed last (Belady), and
    # drop images never needed again at once
    uses = _use_schedule(pairs, chunks)
    ptr = dict.fromkeys(uses, 0)

    def next_use(i: int) -> float:
        u = uses[i]
        return u[ptr[i]] if ptr[i] < len(u) else float("inf")

    cache: dict[int, tuple] = {}
    per_image = None  # bytes of one image's features, known after the first batch

    def features_of(idx: list[int]) -> None:
        nonlocal per_image
        todo = [i for i in idx if i not in cache]
        for s in range(0, len(todo), batch_size):
            chunk = todo[s:s + batch_size]
            maps = image_features(net, pixels[chunk])
            # sort each image once (an image is usually in several pairs)
            srt = [_sorted_desc(m) for m in maps] if "sort" in bases else None
            for j, i in enumerate(chunk):
                cache[i] = ([m[j:j + 1] for m in maps],
                            None if srt is None else [m[j:j + 1] for m in srt])
            if per_image is None:
                per_image = sum(m[0].numel() * 4 for m in maps) * (2 if "sort" in bases else 1)

    bar = tqdm(total=len(pairs), desc=desc, unit="pair", disable=not progress)
    try:
        for ci, rows in enumerate(chunks):
            need = [int(i) for i in np.unique(pairs[rows])]
            for i in need:
                ptr[i] += 1  # this use is now
            cap = max(len(need), int(max_cache_bytes // max(per_image or 1, 1)))
            _evict(cache, need, cap, next_use)
            features_of(need)
            sort = "sort" in bases
            res = layer_statistics_multi(
                _stacked(cache, pairs[rows, 0], 0), _stacked(cache, pairs[rows, 1], 0), bases,
                _stacked(cache, pairs[rows, 0], 1) if sort else None,
                _stacked(cache, pairs[rows, 1], 1) if sort else None)
            for b in bases:
                out[b][rows] = res[b].cpu().numpy().astype(np.float32)
            bar.update(len(rows))
    finally:
        bar.close()
    return out


def _use_schedule(pairs: np.ndarray, chunks: list[np.ndarray]) -> dict[int, list[int]]:
    """For each image, the chunks (in order) whose pairs need it."""
    uses: dict[int, list[int]] = {}
    for ci, rows in enumerate(chunks):
        for i in np.unique(pairs[rows]):
            uses.setdefault(int(i), []).append(ci)
    return uses


def _evict(cache: dict[int, tuple], need: list[int], cap: int,
           next_use: Callable[[int], float]) -> None:
    """Drop images never needed again, then the ones needed latest (Belady), down to
    ``cap`` images with ``need`` included."""
    for i in [i for i in cache if next_use(i) == float("inf") and i not in need]:
        del cache[i]
    while len(cache) + sum(i not in cache for i in need) > cap:
        victim = max((i for i in cache if i not in need), key=next_use, default=None)
        if victim is None:
            break
        del cache[victim]


def _stacked(cache: dict[int, tuple], images: np.ndarray, which: int) -> list["torch.Tensor"]:
    """Per layer, the cached maps (``which``: 0 raw, 1 sorted) of ``images``, batched."""
    import torch
    n_layers = len(cache[int(images[0])][which])
    return [torch.cat([cache[int(i)][which][k] for i in images]) for k in range(n_layers)]


@dataclass
class PerceptualMetric:
    """A loss network + comparison + per-layer per-channel scalars w (None = all 1).

    >>> m = PerceptualMetric.baseline("alexnet", "spatial", weights="random:0")  # doctest: +SKIP
    >>> m.distance(pixels_a, pixels_b)                                          # doctest: +SKIP
    """

    net: str
    comparison: str = "spatial"
    weights: str = "imagenet"
    scalars: np.ndarray | None = None   # flat, Σ C_l values, layer after layer
    size: int = 64
    info: dict = field(default_factory=dict)

    @classmethod
    def baseline(cls, net: str, comparison: str = "spatial", *, weights: str = "imagenet",
                 size: int = 64) -> "PerceptualMetric":
        comparison_parts(comparison)
        return cls(net, comparison, str(weights), None, size)

    @property
    def adapted(self) -> bool:
        return self.scalars is not None

    @property
    def name(self) -> str:
        return method_name(self.net, self.comparison, self.adapted)

    def w(self) -> np.ndarray:
        from simkit.methods.perceptual.networks import NETWORKS
        n = sum(NETWORKS[self.net].channels)
        return (np.ones(n, dtype=np.float64) if self.scalars is None
                else np.asarray(self.scalars, dtype=np.float64))

    def layer_scalars(self) -> dict[str, np.ndarray]:
        """``{layer name: w_l}`` (the learned per-channel weights, layer by layer)."""
        from simkit.methods.perceptual.networks import NETWORKS
        spec = NETWORKS[self.net]
        w, out, k = self.w(), {}, 0
        for name, c in zip(spec.layers, spec.channels):
            out[name] = w[k:k + c]
            k += c
        return out

    def distances_from_stats(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        """d for every pair whose statistics are given (float64)."""
        return combine(stats, self.comparison).astype(np.float64) @ (self.w() ** 2)

    def distance(self, pixels_a: "torch.Tensor", pixels_b: "torch.Tensor",
                 network: "LossNetwork | None" = None, *,
                 device: "str | torch.device" = "auto") -> np.ndarray:
        """d(a_i, b_i) for two uint8 batches of equal shape (a convenience; for many pairs
        sharing images use :func:`pair_statistics`). The network runs on ``device``
        unless ``network`` (already on its device) is given."""
        import torch

        from simkit.methods.perceptual.networks import load_network
        network = network or load_network(self.net, self.weights, device=device)
        n = pixels_a.shape[0]
        pool = torch.cat([pixels_a, pixels_b])
        pairs = np.stack([np.arange(n), np.arange(n, 2 * n)], 1)
        stats = pair_statistics(network, pool, pairs, comparison_parts(self.comparison),
                                progress=False)
        return self.distances_from_stats(stats)

    def embed(self, pixels: "torch.Tensor", network: "LossNetwork | None" = None,
              batch_size: int = 32, *, device: "str | torch.device" = "auto") -> np.ndarray:
        """One vector per image whose squared Euclidean distances are this metric's d.

        Every comparison is a weighted squared difference of per-image quantities, so
        ``v = concat_l w_l ⊙ q_l / sqrt(norm_l)`` with q = the channel-normalised map
        (spatial, norm C·H·W), its channel means (mean, norm C) or its channels sorted in
        descending order (sort, norm C); a combination concatenates its parts. Use it for
        projections (UMAP) and nearest neighbours: ``‖v_a − v_b‖² = d(a, b)`` exactly.
        The network runs on ``device`` unless ``network`` is given.
        """
        import torch

        from simkit.methods.perceptual.networks import load_network
        network = network or load_network(self.net, self.weights, device=device)
        ws = [torch.from_numpy(w).float().to(network.device or "cpu")
              for w in self.layer_scalars().values()]
        out = []
        for s in range(0, len(pixels), batch_size):
            maps = image_features(network, pixels[s:s + batch_size])
            parts = []
            for part in comparison_parts(self.comparison):
                for z, w in zip(maps, ws):
                    n, c, h, wd = z.shape
                    if part == "spatial":
                        q, norm = z * w.view(1, c, 1, 1), c * h * wd
                    elif part == "mean":
                        q, norm = z.mean(dim=(2, 3)) * w, c
                    else:
                        q, norm = _sorted_desc(z) * w.view(1, c, 1), c
                    parts.append(q.reshape(n, -1) / np.sqrt(norm))
            out.append(torch.cat(parts, dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        """Write the scalars and configuration as ``.npz`` (no pickle), atomically."""
        from simkit.fileio import atomic_write
        from simkit.methods.perceptual.networks import NETWORKS

        spec = NETWORKS[self.net]
        meta = {"net": self.net, "comparison": self.comparison, "weights": self.weights,
                "size": self.size, "layers": list(spec.layers),
                "channels": list(spec.channels), "method": self.name,
                **self.info, **(extra or {})}
        arrays = {f"w_{k}": v.astype(np.float32) for k, v in self.layer_scalars().items()}
        arrays["config"] = np.array(json.dumps(meta, sort_keys=True, default=str))
        path = Path(path)
        with atomic_write(path, "wb") as fh:
            np.savez(fh, **arrays)
        return path


def load_scalars(path: str | os.PathLike) -> PerceptualMetric:
    """Read a metric written by :meth:`PerceptualMetric.save`; checks every layer's size.

    A file that is not one raises
    :class:`~simkit.methods.perceptual.errors.PerceptualDataError` naming it."""
    from simkit.methods.perceptual.errors import PerceptualDataError
    from simkit.paths import open_regular
    from simkit.methods.perceptual.networks import NETWORKS

    path = Path(path)
    try:  # open_regular: a FIFO given as the file would block for ever
        with open_regular(path) as fh, np.load(fh, allow_pickle=False) as z:
            meta = json.loads(str(z["config"]))
            arrays = {k[2:]: z[k] for k in z.files if k.startswith("w_")}
        net, comparison, weights = meta.get("net"), meta["comparison"], str(meta["weights"])
        size = int(meta.get("size", 64))
    except (OSError, ValueError, KeyError, AttributeError, TypeError) as e:
        raise PerceptualDataError(f"{path}: not a scalars file written by 'simkit perceptual "
                                  f"adapt' ({e}); adapt again to create one") from None
    if net not in NETWORKS:
        raise PerceptualDataError(f"{path}: unknown loss network {net!r}")
    spec = NETWORKS[net]
    parts = []
    for layer, c in zip(spec.layers, spec.channels):
        v = arrays.get(layer)
        if v is None or v.shape != (c,):
            raise PerceptualDataError(f"{path}: layer {layer} needs {c} scalars, found "
                                      f"{None if v is None else v.shape}; the file is damaged")
        if not np.all(np.isfinite(v)) or (v < 0).any():
            raise PerceptualDataError(f"{path}: layer {layer} has negative or non-finite "
                                      f"scalars; adapt again")
        parts.append(v.astype(np.float64))
    info = {k: v for k, v in meta.items()
            if k not in ("net", "comparison", "weights", "size", "layers", "channels",
                         "method")}
    return PerceptualMetric(net, comparison, weights, np.concatenate(parts), size, info)
