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
pair's distance is computed again with the method itself. The map at a pixel is the mean,
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
every view of it shows the notes. Pure computation: no files are written (occlusion of the
``style`` family writes its images to a temporary folder that is removed).
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import pandas as pd

from simkit.errors import SimkitError
from simkit.study.model import PAIRS, normalize_choice, pair_letters

if TYPE_CHECKING:
    from simkit.methods.registry import Method
    from simkit.study.model import Study

__all__ = ["Explanation", "ExplainError", "explain", "occlusion_map", "channel_contributions",
           "notes_html", "GREY", "DEFAULT_PATCH", "DEFAULT_STRIDE"]

#: The occluding square's colour (mid grey, uint8 RGB).
GREY = (128, 128, 128)
#: Side of the occluding square and its step, in pixels of the preprocessed print
#: (at 224 px: 13 x 13 positions per print).
DEFAULT_PATCH = 32
DEFAULT_STRIDE = 16

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


def notes_html(notes: Sequence[str]) -> str:
    """The notes as bold red paragraphs (``<pre>``: JupyterLab typesets ``$…$`` in HTML)."""
    style = ("color:#a00;white-space:pre-wrap;font-family:inherit;font-weight:bold;"
             "margin:0 0 0.5em 0")
    return "".join(f"<pre class='simkit-note' style='{style}'>⚠ {html.escape(n)}</pre>"
                   for n in notes)


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


# -- occlusion -----------------------------------------------------------------------------
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
        raise ExplainError(f"occlusion needs an H x W x 3 image, got shape {img.shape}")
    if int(patch) < 1 or int(stride) < 1:
        raise ExplainError(f"patch ({patch}) and stride ({stride}) must be at least 1 pixel")
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
def _rgb(path, policy: str, size: int) -> np.ndarray:
    from simkit.features.images import load_rgb, resize_policy

    return np.array(resize_policy(load_rgb(path), policy, size), dtype=np.uint8)  # writable


def _gradient(paths: Sequence, spec: tuple[str, str, str, str], weights: str, size: int,
              policy: str, device) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray,
                                            np.ndarray, float]:
    """``(images, maps, vector_a, vector_b, distance)`` through the engine with autograd."""
    import torch

    from simkit.features.engine import forward
    from simkit.features.images import normalize
    from simkit.features.models import load_model

    model, layer, kind, metric = spec
    net = load_model(model, weights, [layer], device, size)
    images = [_rgb(p, policy, net.size or size) for p in paths]
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


# -- the occlusion path ----------------------------------------------------------------------
def _occluder(method: "Method", weights: str, size: int, policy: str, device
              ) -> tuple[Callable[[object], np.ndarray],
                         Callable[[list[np.ndarray], np.ndarray], np.ndarray]]:
    """``(prepare, distance)``: a print as the method sees it, and the method's distance
    from each of some images to a reference image."""
    if method.family == "style":
        return (lambda p: _rgb(p, policy, size),
                lambda ims, ref: _style_distance(method, ims, ref, weights, size, policy, device))
    if method.family == "local":
        from simkit.methods.local import match_counts, matches_to_distance

        return (lambda p: _rgb(p, policy, size),
                lambda ims, ref: matches_to_distance(match_counts(
                    ims, method.name, queries=[ref], progress=False))[0])
    if method.family == "perceptual":
        from simkit.methods.perceptual.metrics import PerceptualMetric

        metric = PerceptualMetric.baseline(method.params["net"], method.params["comparison"],
                                           weights=weights)
        return (lambda p: _rgb(p, "resize", metric.size),
                lambda ims, ref: _perceptual_distance(metric, ims, ref, device))
    raise ExplainError(f"method {method.name!r} is not explainable: no images (its "
                       f"vectors are given, not computed from the prints)")


def _style_distance(method: "Method", images: list[np.ndarray], ref: np.ndarray,
                    weights: str, size: int, policy: str, device) -> np.ndarray:
    import tempfile
    from pathlib import Path

    from PIL import Image

    from simkit.methods.style import style_features
    from simkit.search.distances import unit_rows

    with tempfile.TemporaryDirectory(prefix="simkit-occlusion-") as tmp:
        paths = []
        for k, im in enumerate([*images, ref]):
            paths.append(Path(tmp) / f"{k}.png")  # lossless: the method sees these pixels
            Image.fromarray(im).save(paths[-1])
        # a feature store of its own: occluded prints never enter the user's cache
        fs = style_features(paths, methods=[method.name], weights=weights, size=size,
                            policy=policy, cache_dir=tmp, progress=False, device=device)
    x = fs.vectors[method.name].astype(np.float64)
    if method.metric == "cosine":
        u = unit_rows(x).astype(np.float64)
        return 1.0 - u[:-1] @ u[-1]
    return np.linalg.norm(x[:-1] - x[-1], axis=1)


def _perceptual_distance(metric, images: list[np.ndarray], ref: np.ndarray, device
                         ) -> np.ndarray:
    import torch

    a = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    b = torch.from_numpy(ref).permute(2, 0, 1)[None].expand_as(a).contiguous()
    return metric.distance(a, b, device=device)


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
    notes = list(result.notes)
    spec = _network(m, layer)
    channel_pairs = channels = None
    d2 = float("nan")
    if spec is not None:
        images, maps, va, vb, dist = _gradient([paths[a], paths[b]], spec, used, size,
                                               policy, device)
        technique, meaning = "gradient", _GRADIENT
        if not np.all(np.isfinite(maps[0])):
            notes.append(f"the two prints' vectors are identical or zero (distance {dist:g}):"
                         f" the gradient of the distance is undefined, the maps are n/a")
        if spec[3] == "euclidean":
            channel_pairs, channels, d2 = channel_contributions(va, vb, matrix=spec[2] != "gap")
        note = _random_note(used, spec[0])
    else:
        prepare, dist_to = _occluder(m, used, size, policy, device)
        images = [prepare(paths[a]), prepare(paths[b])]
        maps = [occlusion_map(images[k], lambda ims, k=k: dist_to(ims, images[1 - k]),
                              patch=patch, stride=stride, progress=progress,
                              desc=f"occluding ({'ab'[k]}) {ids[(i, j)[k]]}")
                for k in range(2)]
        technique, meaning = "occlusion", _OCCLUSION
        net_name = "vgg19" if m.family == "style" else str(m.params.get("net", m.name))
        note = _random_note(used, net_name) if m.needs_network else ""
    if note:
        notes.insert(0, note)
    return Explanation(str(question_id), m.name, chosen, pick, (a, b), tuple(images),
                       tuple(maps), technique, meaning, distances[chosen], distances,
                       channel_pairs, channels, d2, list(dict.fromkeys(notes)), used)
