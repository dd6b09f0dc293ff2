"""Explain a choice: which regions of two prints, and which channels, drive a pair's distance.

>>> e = explain(study, "q01", "gram", weights="imagenet")       # doctest: +SKIP
>>> e.maps[0].shape, e.pair, e.pick                               # doctest: +SKIP
>>> e.top_channel_pairs(5)                                        # doctest: +SKIP

For a question, a method and one of its 10 pairs (default: the method's own pick):

**Saliency** (gradients, Simonyan, Vedaldi & Zisserman 2014) — for the differentiable
methods: ``gram``, ``cosine``, ``gram_cosine`` (VGG-19 ``conv5_1``) and every model method
``REPR[-METRIC]:MODEL[@LAYER]``. The map of each print is ``|∂d/∂x|`` **summed over the
three colour channels**, where ``d`` is the pair's distance (the method's own metric) and
``x`` the print's network input after resizing and normalisation; so a map has the shape
(and aspect) of that input. The vectors come from the one extraction engine
(:func:`simkit.features.engine.forward` with ``differentiable=True``).

**Occlusion** (Zeiler & Fergus 2014) — for the methods without gradients that still look at
the prints (``style``, ``colour``, ``cnn``, ``sift``, ``orb``, ``lpips_*``): a grey square of
``patch`` pixels, moved by ``stride`` pixels, hides part of one print at a time and the
pair's distance is computed again with the method itself (:mod:`simkit.methods.occlusion`). The map at a pixel is the mean,
over the squares covering it, of *(distance with the square − distance)*: positive where
hiding the region moves the prints apart (it makes them alike), negative where hiding it
brings them together (it makes them differ). Your own vectors have no images: not
explainable.

**Channels** — for Gram, Cosine and Gram·Cosine matrices compared by Euclidean distance,
the squared distance is a sum over the lower triangle, ``d² = Σ_{i≥j} (M_a,ij − M_b,ij)²``:
channel pair ``(i, j)`` contributes its squared difference. A channel's contribution is its
diagonal term plus **half** of each off-diagonal term it is part of (the halving
convention: the two channels of a pair share its term equally), so the pairs and the
channels both sum to ``d²`` exactly. For a pooled embedding compared by Euclidean distance
each channel contributes its squared difference (no pairs).

With random weights every :class:`Explanation` says so in :attr:`Explanation.notes`, and
every view of it shows the notes. Pure computation: no files are written (occluded prints
stay in memory).
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from simkit.errors import SimkitError
from simkit.methods.occlusion import DEFAULT_PATCH, DEFAULT_STRIDE
from simkit.study.model import PAIRS, normalize_choice, pair_letters

if TYPE_CHECKING:
    from simkit.methods.registry import Method
    from simkit.study.model import Study

__all__ = ["Explanation", "ExplainError", "explain", "channel_contributions", "notes_html"]

_GRADIENT = ("|∂d/∂x| summed over RGB: how strongly each pixel of the network input "
             "changes the pair's distance (Simonyan et al. 2014)")
_OCCLUSION = ("distance with a grey square here − distance (Zeiler & Fergus 2014): "
              "> 0 the region makes the prints alike, < 0 it makes them differ")


class ExplainError(SimkitError, ValueError):
    """A question, method or pair that cannot be explained; the message says why."""


@dataclass
class Explanation:
    """Why a method finds a pair of prints near or far (see the module docstring).

    Attributes
    ----------
    question_id, method : str
        The question and the method (registry name).
    pair : str
        The pair explained (``"c-e"``); ``pick`` is the method's own pair.
    image_ids : tuple of str
        The pair's two prints.
    images : tuple of ndarray
        Each print as the method sees it (uint8 ``H x W x 3``: resized by the policy).
    maps : tuple of ndarray
        Each print's map (float64 ``H x W``, the shape of its image); NaN where undefined.
    technique : str
        ``"gradient"`` or ``"occlusion"``; ``map_meaning`` says in one line what a
        value is.
    distance : float
        The pair's distance as the method computes it when it chooses;
        ``distances`` all 10 pairs of the question.
    channel_pairs : DataFrame or None
        ``channel_i, channel_j, contribution, share`` (i ≥ j, largest first): each
        pair's squared difference and its share of ``squared_distance``.
    channels : DataFrame or None
        ``channel, contribution, share`` (largest first), with the halving convention.
    squared_distance : float
        ``d²`` of the vectors the channels were computed from (NaN without channels).
    notes : list of str
        Warnings every view shows (random weights, fallbacks, undefined maps).
    weights : str
        The weights actually used ("" for methods without a network).
    """

    question_id: str
    method: str
    pair: str
    pick: str
    image_ids: tuple[str, str]
    images: tuple[np.ndarray, np.ndarray]
    maps: tuple[np.ndarray, np.ndarray]
    technique: str
    map_meaning: str
    distance: float
    distances: dict[str, float]
    channel_pairs: pd.DataFrame | None = None
    channels: pd.DataFrame | None = None
    squared_distance: float = float("nan")
    notes: list[str] = field(default_factory=list)
    weights: str = ""

    @property
    def letters(self) -> tuple[str, str]:
        """The pair's two letters, e.g. ``("c", "e")``."""
        return self.pair[0], self.pair[2]

    def top_channel_pairs(self, n: int = 10) -> pd.DataFrame | None:
        """The ``n`` channel pairs contributing most (``None`` without channels)."""
        return None if self.channel_pairs is None else self.channel_pairs.head(n)

    def summary(self) -> str:
        """A few lines: what is explained, the distance, the top channels, every note."""
        own = "the method's own pick" if self.pair == self.pick else f"its pick is {self.pick}"
        lines = [f"Explanation of {self.method} on question {self.question_id}: pair "
                 f"{self.pair} ({own}), distance {self.distance:.6g}; "
                 f"{self.technique} map: {self.map_meaning}"]
        top = self.top_channel_pairs(3)
        if top is not None and len(top):
            lines.append("top channel pairs: " + ", ".join(
                f"({r.channel_i}, {r.channel_j}) {_pct(r.share)}" for r in top.itertuples()))
        lines += [f"WARNING: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return notes_html(self.notes) + "<p>" + "<br>".join(
            html.escape(x) for x in self.summary().splitlines() if not x.startswith("WARNING"))


def _pct(share: float) -> str:
    return "n/a" if not np.isfinite(share) else f"{100 * share:.1f} %"


def notes_html(notes: Sequence[str], short: bool = False) -> str:
    """The notes as bold red paragraphs (``<pre>``: JupyterLab typesets ``$…$`` in HTML);
    ``short``: each note's first line only, the whole note as its tooltip."""
    style = ("color:#a00;white-space:pre-wrap;font-family:inherit;font-weight:bold;"
             "margin:0 0 0.5em 0")
    return "".join(
        f"<pre class='simkit-note' style='{style}' title='{html.escape(n)}'>⚠ "
        f"{html.escape(n.splitlines()[0] if short else n)}</pre>" for n in notes)


# -- channels ------------------------------------------------------------------------------
def channel_contributions(a: np.ndarray, b: np.ndarray, matrix: bool = True
                          ) -> tuple[pd.DataFrame | None, pd.DataFrame, float]:
    """Split ``d² = |a − b|²`` over channel pairs and channels.

    Parameters
    ----------
    a, b : ndarray
        Two vectors: lower triangles (``numpy.tril_indices(C)`` order, as the engine makes
        them) when ``matrix``, else one value per channel.

    Returns
    -------
    (channel_pairs, channels, d2)
        ``channel_pairs`` (``None`` when not ``matrix``): ``channel_i, channel_j,
        contribution, share``; ``channels``: ``channel, contribution, share`` (a diagonal
        term counts fully for its channel, an off-diagonal term half for each of its two
        channels); both sorted largest first and each summing to ``d2``. Shares are
        n/a (NaN) when ``d2`` is 0.
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    contrib = diff * diff
    d2 = float(contrib.sum())
    share = contrib / d2 if d2 > 0 else np.full_like(contrib, np.nan)
    if not matrix:
        ch = pd.DataFrame({"channel": np.arange(len(contrib)), "contribution": contrib,
                           "share": share})
        return None, _largest_first(ch), d2
    c = int(round((np.sqrt(8 * len(contrib) + 1) - 1) / 2))
    if c * (c + 1) // 2 != len(contrib):
        raise ValueError(f"a vector of length {len(contrib)} is not a lower triangle "
                         f"C(C+1)/2 of any C")
    i, j = np.tril_indices(c)
    per_channel = (np.bincount(i, weights=contrib / 2, minlength=c)
                   + np.bincount(j, weights=contrib / 2, minlength=c))
    pairs = pd.DataFrame({"channel_i": i, "channel_j": j, "contribution": contrib,
                          "share": share})
    channels = pd.DataFrame({"channel": np.arange(c), "contribution": per_channel,
                             "share": per_channel / d2 if d2 > 0 else np.nan})
    return _largest_first(pairs), _largest_first(channels), d2


def _largest_first(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("contribution", ascending=False, kind="stable").reset_index(drop=True)


# -- resolving what to explain ---------------------------------------------------------------
def _question(study: "Study", question_id: str) -> list[str]:
    qid = str(question_id)
    known = [str(q) for q in study.questions["question_id"]]
    if qid not in known:
        some = ", ".join(known[:5]) + (", …" if len(known) > 5 else "")
        raise ExplainError(f"unknown question {qid!r}: questions.csv has {some}; pass one "
                           f"of its question_id values")
    return study.question_images(qid)


def _pair(pair: str) -> str:
    try:
        return normalize_choice(pair)
    except ValueError:
        raise ExplainError(f"pair {pair!r} is not one of the 10 pairs {', '.join(PAIRS)}; "
                           f"write it like 'c-e'") from None


def _network(method: "Method", layer: str) -> tuple[str, str, str, str] | None:
    """``(model, layer, kind, metric)`` of a differentiable method, else ``None``."""
    if method.family == "deep":
        return "vgg19", layer, method.name, "euclidean"
    if method.family == "model":
        p = method.params
        return p["model"], p["layer"], p["kind"], method.metric
    return None


def _model_label(model: str) -> str:
    return "VGG-19" if model == "vgg19" else model


def _random_note(weights: str, model: str) -> str:
    from simkit.features.models.network import random_seed

    if random_seed(weights) is None:
        return ""
    return (f"random weights ({weights}): this map explains a random network, not "
            f"{_model_label(model)}")


# -- the gradient path -----------------------------------------------------------------------
def _gradient(paths: Sequence, spec: tuple[str, str, str, str], weights: str, size: int,
              policy: str, device) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray,
                                            np.ndarray, float]:
    """``(images, maps, vector_a, vector_b, distance)`` through the engine with autograd."""
    import torch

    from simkit.features.engine import forward
    from simkit.features.images import normalize
    from simkit.features.models import shared_model
    from simkit.methods.occlusion import prepared_rgb

    model, layer, kind, metric = spec
    net = shared_model(model, weights, [layer], device, size)
    images = [prepared_rgb(p, policy, net.size or size) for p in paths]
    xs = [normalize(torch.from_numpy(im.copy()).permute(2, 0, 1)[None], net.mean, net.std)
          .requires_grad_(True) for im in images]
    va, vb = (forward(net, x, [(kind, layer)], differentiable=True)[kind, layer][0].double()
              for x in xs)
    if metric == "euclidean":
        d = torch.linalg.vector_norm(va - vb)
        defined = bool(d > 0)  # the norm's gradient is undefined at 0
    else:
        na, nb = torch.linalg.vector_norm(va), torch.linalg.vector_norm(vb)
        defined = bool(na > 0) and bool(nb > 0)
        d = 1.0 - torch.dot(va, vb) / (na * nb) if defined else torch.tensor(1.0)
    if defined:
        d.backward()
        maps = [x.grad[0].abs().sum(0).double().cpu().numpy() for x in xs]
    else:
        maps = [np.full(im.shape[:2], np.nan) for im in images]
    return (images, maps, va.detach().cpu().numpy(), vb.detach().cpu().numpy(),
            float(d.detach()))


# -- the call -------------------------------------------------------------------------------
def explain(study: "Study", question_id: str, method: str, pair: str | None = None, *,
            weights: str | os.PathLike = "imagenet", fallback_weights: str | None = None,
            layer: str = "conv5_1", size: int = 224, policy: str = "resize",
            device: str | None = "auto", patch: int = DEFAULT_PATCH,
            stride: int = DEFAULT_STRIDE, cache_dir: str | os.PathLike | None = None,
            progress: bool = True) -> Explanation:
    """Explain why ``method`` finds a pair of a question's prints near or far.

    Parameters
    ----------
    study : Study
        A loaded study.
    question_id : str
        A question of ``questions.csv``.
    method : str
        Any method name with images (``gram``, ``cosine``, ``gram_cosine``, model methods
        ``REPR:MODEL[@LAYER]``, ``style``, ``colour``, ``cnn``, ``sift``, ``orb``,
        ``lpips_*``).
    pair : str, optional
        One of the 10 pairs (``"c-e"``, ``"(e)-(c)"`` …); default: the method's own pick.
    weights, fallback_weights, layer, size, policy, device, cache_dir
        As for :func:`simkit.choose` (the method's pick and distances are computed by it,
        through the feature cache).
    patch, stride : int
        The occluding square and its step, in pixels (occlusion methods only).
    progress : bool
        Show progress bars (occlusion).

    Returns
    -------
    Explanation

    Raises
    ------
    ExplainError
        An unknown question, a pair that is not one of the 10, a method without images.
    UnknownMethodError
        A method the registry does not know.
    WeightsUnavailableError
        Missing weights and no ``fallback_weights``.
    """
    from simkit.methods.choices import choose_for_group
    from simkit.methods.registry import get_method

    ids = _question(study, question_id)
    m = get_method(method)
    if m.family == "vectors":
        raise ExplainError(f"method {m.name!r} is not explainable: no images (its vectors "
                           f"are given, not computed from the prints)")
    wanted = None if pair is None else _pair(pair)
    paths = {i: study.image_path(i) for i in ids}
    result = choose_for_group(paths, [m.name], weights=weights, fallback_weights=fallback_weights,
                              layer=layer, size=size, policy=policy, cache_dir=cache_dir,
                              progress=False, device=device)
    d = result.distances
    distances = {str(p): float(x) for p, x in zip(d["pair"], d["distance"])}
    pick = str(result.choices["choice"].iloc[0])
    chosen = wanted or pick
    i, j = pair_letters(chosen)
    a, b = ids[i], ids[j]
    used = str(result.weights) if m.needs_network else ""
    spec = _network(m, layer)
    if spec is not None:
        parts = _by_gradient(spec, [paths[a], paths[b]], used, size, policy, device)
    else:
        parts = _by_occlusion(m, [paths[a], paths[b]], (a, b), used, size, policy,
                              device, patch=patch, stride=stride, progress=progress)
    notes = [parts.pop("note"), *result.notes, *parts.pop("notes")]
    return Explanation(str(question_id), m.name, chosen, pick, (a, b), distance=distances[chosen],
                       distances=distances, notes=list(dict.fromkeys(n for n in notes if n)),
                       weights=used, **parts)


def _by_gradient(spec: tuple[str, str, str, str], paths: list, weights: str, size: int,
                 policy: str, device) -> dict:
    images, maps, va, vb, dist = _gradient(paths, spec, weights, size, policy, device)
    notes, channel_pairs, channels, d2 = [], None, None, float("nan")
    if not np.all(np.isfinite(maps[0])):
        notes.append(f"the two prints' vectors are identical or zero (distance {dist:g}): "
                     f"the gradient of the distance is undefined, the maps are n/a")
    if spec[3] == "euclidean":
        channel_pairs, channels, d2 = channel_contributions(va, vb, matrix=spec[2] != "gap")
    return dict(images=tuple(images), maps=tuple(maps), technique="gradient",
                map_meaning=_GRADIENT, channel_pairs=channel_pairs, channels=channels,
                squared_distance=d2, note=_random_note(weights, spec[0]), notes=notes)


def _by_occlusion(m: "Method", paths: list, ids: tuple[str, str], weights: str, size: int,
                  policy: str, device, **options) -> dict:
    from simkit.methods.occlusion import occluder, occlusion_map

    made = occluder(m, weights, size, policy, device)
    if made is None:
        raise ExplainError(f"method {m.name!r} is not explainable: no images")
    prepare, dist_to = made
    images = [prepare(p) for p in paths]
    maps = [occlusion_map(images[k], lambda ims, k=k: dist_to(ims, images[1 - k]),
                          desc=f"occluding {ids[k]}", **options) for k in range(2)]
    net = "vgg19" if m.family == "style" else str(m.params.get("net", m.name))
    return dict(images=tuple(images), maps=tuple(maps), technique="occlusion",
                map_meaning=_OCCLUSION, note=_random_note(weights, net) if m.needs_network
                else "", notes=[])
