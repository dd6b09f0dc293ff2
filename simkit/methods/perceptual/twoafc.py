"""2AFC triplets, the 2AFC score (Pihlgren et al., eq. 5) and the JND mean average precision.

A *triplet* is a reference x and two candidates x0, x1 with J, the **fraction of judgments
that consider x1 more similar to x than x0** (J = 0: everyone prefers x0; J = 1: everyone
prefers x1; 0.5: a tie). For a metric d, one triplet scores (eq. 5)::

    2AFC = J      if d(x, x1) < d(x, x0)
           1 − J  if d(x, x1) > d(x, x0)
           1/2    if they are equal (as LPIPS scores ties)

so a metric that always sides with the majority scores the *human* ceiling
mean(max(J, 1 − J)), not 1, when people disagree. The 2AFC score is the mean over triplets.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import torch

    from simkit.methods.perceptual.networks import LossNetwork

__all__ = ["Triplets", "TripletStats", "score_2afc", "twoafc_per_triplet", "human_ceiling",
           "jnd_map", "triplet_statistics", "load_pool", "positions", "JndPairs",
           "jnd_statistics"]


def twoafc_per_triplet(d0: np.ndarray, d1: np.ndarray, J: np.ndarray) -> np.ndarray:
    """Eq. 5 for every triplet (ties score 1/2)."""
    d0, d1, J = (np.asarray(a, dtype=np.float64) for a in (d0, d1, J))
    return np.where(d1 < d0, J, np.where(d1 > d0, 1.0 - J, 0.5))


def score_2afc(d0: np.ndarray, d1: np.ndarray, J: np.ndarray) -> float:
    """Mean 2AFC score (eq. 5) of distances ``d0 = d(x, x0)``, ``d1 = d(x, x1)``."""
    s = twoafc_per_triplet(d0, d1, J)
    return float(s.mean()) if len(s) else float("nan")


def human_ceiling(J: np.ndarray) -> float:
    """The best 2AFC any metric can reach: mean(max(J, 1 − J))."""
    J = np.asarray(J, dtype=np.float64)
    return float(np.maximum(J, 1 - J).mean()) if len(J) else float("nan")


def jnd_map(distances: np.ndarray, same: np.ndarray) -> float:
    """JND score: mean average precision of finding "same" pairs by increasing distance.

    ``same``: per pair, the fraction of judges who saw no difference. Pairs are sorted by
    ``distances`` (ascending); precision and recall count "same" fractionally, and the
    average precision is the area under the monotone precision envelope (the VOC
    definition, as in Zhang et al.'s ``score_jnd_dataset``).
    """
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=np.float64)
    if len(d) != len(s) or not len(d):
        raise ValueError("jnd_map needs as many 'same' fractions as distances (and some)")
    order = np.argsort(d, kind="stable")
    s = s[order]
    tp = np.cumsum(s)
    fp = np.cumsum(1 - s)
    total = s.sum()
    if total <= 0:
        return float("nan")
    prec = tp / np.maximum(tp + fp, 1e-12)
    rec = tp / total
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # precision envelope
    i = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


@dataclass
class Triplets:
    """2AFC triplets over a pool of images.

    ``image_ids[i]`` names pool image i; its pixels are ``pixels[i]`` (uint8 ``(3, H, W)``)
    or, when ``pixels`` is None, the file ``paths[i]`` (loaded by :meth:`load_pixels`).
    ``ref``, ``x0``, ``x1`` index the pool; ``J`` as in the module docstring; ``group``
    keeps related triplets together when splitting (a question, a reference image);
    ``table`` holds per-triplet details (votes, distortions, …); ``note`` says where the
    judgments come from.
    """

    image_ids: list[str]
    ref: np.ndarray
    x0: np.ndarray
    x1: np.ndarray
    J: np.ndarray
    group: np.ndarray
    pixels: "torch.Tensor | None" = None
    paths: list[Path] | None = None
    table: pd.DataFrame | None = None
    note: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ref, self.x0, self.x1 = (np.asarray(a, dtype=np.int64)
                                      for a in (self.ref, self.x0, self.x1))
        self.J = np.asarray(self.J, dtype=np.float64)
        self.group = np.asarray(self.group)
        n = len(self.ref)
        if not all(len(a) == n for a in (self.x0, self.x1, self.J, self.group)):
            raise ValueError("ref, x0, x1, J and group must have one value per triplet")
        if n and ((self.J < 0) | (self.J > 1) | ~np.isfinite(self.J)).any():
            raise ValueError("J must be a fraction between 0 and 1")

    def __len__(self) -> int:
        return len(self.ref)

    def subset(self, mask_or_index) -> "Triplets":
        """The triplets selected by a boolean mask or index array (same image pool)."""
        idx = positions(mask_or_index)
        table = None if self.table is None else self.table.iloc[idx].reset_index(drop=True)
        return Triplets(self.image_ids, self.ref[idx], self.x0[idx], self.x1[idx],
                        self.J[idx], self.group[idx], self.pixels, self.paths, table,
                        self.note, dict(self.info))

    def load_pixels(self, size: int = 64, *, progress: bool = False) -> "torch.Tensor":
        """The pool as uint8 ``(N, 3, size, size)`` (files decoded with
        :func:`simkit.features.images.load_rgb`, resized with its ``"resize"`` policy;
        a progress bar for 1,000 files or more when ``progress``)."""
        if self.pixels is not None:
            if self.pixels.shape[-1] == size and self.pixels.shape[-2] == size:
                return self.pixels
            from torchvision.transforms.v2 import functional as F
            return F.resize(self.pixels, [size, size], antialias=True)
        if self.paths is None:
            raise ValueError("these triplets have neither pixels nor image paths")
        cache = self.info.setdefault("_pixels", {})
        if size not in cache:
            cache[size] = load_pool(self.paths, size, progress=progress)
        return cache[size]


def positions(mask_or_index) -> np.ndarray:
    """The positions a boolean mask selects, or an index array as it is."""
    idx = np.asarray(mask_or_index)
    return np.flatnonzero(idx) if idx.dtype == bool else idx


def load_pool(paths: Sequence[Path], size: int = 64, *, progress: bool = False
              ) -> "torch.Tensor":
    """Image files as uint8 ``(N, 3, size, size)``: decoded with
    :func:`simkit.features.images.load_rgb`, resized with its ``"resize"`` policy."""
    import torch
    from tqdm.auto import tqdm

    from simkit.features.images import load_rgb, resize_policy

    arrs = [np.asarray(resize_policy(load_rgb(p), "resize", size), dtype=np.uint8)
            for p in tqdm(paths, desc="decoding images", unit="image",
                          disable=not progress or len(paths) < 1000)]
    if not arrs:
        return torch.empty((0, 3, size, size), dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()


@dataclass
class TripletStats:
    """Pair statistics behind a set of triplets: ``stats[base][p]`` for pair ``pairs[p]``;
    triplet t compares pair ``p0[t]`` = (ref, x0) with ``p1[t]`` = (ref, x1)."""

    pairs: np.ndarray
    stats: dict[str, np.ndarray]
    p0: np.ndarray
    p1: np.ndarray
    J: np.ndarray
    group: np.ndarray
    net: str
    weights: str
    is_random: bool
    size: int
    weights_note: str = ""

    def __len__(self) -> int:
        return len(self.p0)

    def subset(self, idx) -> "TripletStats":
        """The triplets selected by a boolean mask or index array (same pairs)."""
        idx = positions(idx)
        return TripletStats(self.pairs, self.stats, self.p0[idx], self.p1[idx], self.J[idx],
                            self.group[idx], self.net, self.weights, self.is_random,
                            self.size, self.weights_note)

    def pair_distances(self, comparison: str, w: np.ndarray | None = None) -> np.ndarray:
        """d of every pair in ``pairs`` under ``comparison`` with scalars ``w`` (None = 1)."""
        from simkit.methods.perceptual.metrics import combine
        s = combine(self.stats, comparison).astype(np.float64)
        return s.sum(1) if w is None else s @ (np.asarray(w, dtype=np.float64) ** 2)

    def distances(self, comparison: str, w: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """``(d0, d1)`` for every triplet under ``comparison`` with scalars ``w``."""
        d = self.pair_distances(comparison, w)
        return d[self.p0], d[self.p1]

    def score(self, comparison: str, w: np.ndarray | None = None) -> float:
        d0, d1 = self.distances(comparison, w)
        return score_2afc(d0, d1, self.J)


def _pair_index(a: np.ndarray, b: np.ndarray, extra: np.ndarray | None = None):
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    allp = np.stack([lo, hi], 1)
    if extra is not None and len(extra):
        e = np.sort(np.asarray(extra, dtype=np.int64).reshape(-1, 2), axis=1)
        allp = np.concatenate([allp, e])
    uniq, inv = np.unique(allp, axis=0, return_inverse=True)
    return uniq, inv.reshape(-1)


def triplet_statistics(triplets: Triplets, net: "LossNetwork", bases: Iterable[str] = (
        "spatial", "mean", "sort"), *, size: int = 64, batch_size: int = 32,
        extra_pairs: np.ndarray | None = None, progress: bool = True,
        max_cache_bytes: float = 4e9) -> TripletStats:
    """Run the loss network once per image and keep the statistics of every compared pair
    (plus ``extra_pairs``, e.g. all 10 pairs of each study question).

    The network is frozen, so these statistics are all that scoring and adapting need."""
    from simkit.methods.perceptual.metrics import pair_statistics

    n = len(triplets)
    pairs, inv = _pair_index(np.concatenate([triplets.ref, triplets.ref]),
                             np.concatenate([triplets.x0, triplets.x1]), extra_pairs)
    pixels = triplets.load_pixels(size, progress=progress)
    stats = pair_statistics(net, pixels, pairs, bases, batch_size=batch_size,
                            progress=progress, max_cache_bytes=max_cache_bytes,
                            desc=f"{net.name} features")
    return TripletStats(pairs, stats, inv[:n], inv[n:2 * n], triplets.J, triplets.group,
                        net.name, net.weights, net.is_random, size, net.weights_note)


@dataclass
class JndPairs:
    """Just-noticeable-difference pairs (BAPPS ``jnd``): images ``p0[k]``, ``p1[k]`` of the
    pool (files ``paths``) and ``same[k]``, the fraction of judges who saw no difference."""

    image_ids: list[str]
    p0: np.ndarray
    p1: np.ndarray
    same: np.ndarray
    paths: list[Path]
    table: pd.DataFrame | None = None
    note: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.p0, self.p1 = (np.asarray(a, dtype=np.int64) for a in (self.p0, self.p1))
        self.same = np.asarray(self.same, dtype=np.float64)
        if not len(self.p0) == len(self.p1) == len(self.same):
            raise ValueError("p0, p1 and same must have one value per pair")

    def __len__(self) -> int:
        return len(self.p0)

    def load_pixels(self, size: int = 64, *, progress: bool = False) -> "torch.Tensor":
        """The pool as uint8 ``(N, 3, size, size)`` (see :func:`load_pool`)."""
        return load_pool(self.paths, size, progress=progress)


@dataclass
class JndStats:
    """Pair statistics of :class:`JndPairs` (``stats[base][k]`` for pair k) and the
    "same" fractions: :meth:`score` is the JND mAP (:func:`jnd_map`)."""

    stats: dict[str, np.ndarray]
    same: np.ndarray
    net: str
    is_random: bool

    def __len__(self) -> int:
        return len(self.same)

    def distances(self, comparison: str, w: np.ndarray | None = None) -> np.ndarray:
        from simkit.methods.perceptual.metrics import combine
        s = combine(self.stats, comparison).astype(np.float64)
        return s.sum(1) if w is None else s @ (np.asarray(w, dtype=np.float64) ** 2)

    def score(self, comparison: str, w: np.ndarray | None = None) -> float:
        return jnd_map(self.distances(comparison, w), self.same)


def jnd_statistics(pairs: JndPairs, net: "LossNetwork", bases: Iterable[str] = ("spatial",),
                   *, size: int = 64, batch_size: int = 32, progress: bool = True) -> JndStats:
    """Run the loss network once per image of ``pairs`` and keep each pair's statistics."""
    from simkit.methods.perceptual.metrics import pair_statistics

    pixels = pairs.load_pixels(size, progress=progress)
    stats = pair_statistics(net, pixels, np.stack([pairs.p0, pairs.p1], 1), bases,
                            batch_size=batch_size, progress=progress,
                            desc=f"{net.name} features")
    return JndStats(stats, pairs.same, net.name, net.is_random)
