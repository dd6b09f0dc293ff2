"""Art-style embeddings (Holtes 2019), the colour cube alone, and global CNN features.

Three methods that plug in wherever ``gram`` does: :func:`style_features` returns a
:class:`~simkit.features.extract.FeatureSet` whose ``vectors`` are named ``"style"``, ``"colour"``
and ``"cnn"``, so :func:`simkit.choose` makes their choices for a study, the retrieval
workflow (:mod:`simkit.search.retrieval`) ranks collections with them and the projection
notebook can map them. The registry (:mod:`simkit.methods.registry`) names them and says
how each is compared.

``colour`` — Holtes' colour embedding, no network
    The RGB cube is split into n³ equal cells of side 255/n; a seeded random sample of 625
    pixels of the image downsized to 224 x 224 is counted per cell (the vector sums to
    625). Compared by Euclidean distance, as Holtes' nearest-neighbour search did.

``style`` — Holtes' art-style embedding
    The flattened Gram matrices ``G = A Aᵀ`` of chosen VGG-19 layers (after ReLU), then the
    colour cube: N = Σ k² + n³ in the article. We store each symmetric Gram matrix as its
    lower triangle with the off-diagonal entries multiplied by √2: every Euclidean
    distance and dot product is then *exactly* that of the full k² flattening, in half the
    memory (131,328 instead of 262,144 numbers for conv5_1).

``cnn`` — global CNN features, as in the retrieval paper (Mtasher & msad)
    VGG-19 ``conv5_4`` (after ReLU) averaged over all positions (global average pooling,
    512 numbers), compared by cosine similarity. The fully connected fc7 is not used: it
    needs the 400 MB classifier and a fixed 224 x 224 input, while pooled conv5 features
    work at any size and are the standard off-the-shelf retrieval descriptor
    (Babenko et al. 2015, "Aggregating deep convolutional features").

Defaults and why (Holtes names the ingredients but not all the numbers):

* ``layers = conv1_1, conv2_1, conv3_1, conv4_1, conv5_1`` — the style layers of Gatys et
  al., whose Gram-matrix style representation Holtes borrows; Gram matrices of several
  depths capture texture from brush-stroke to composition scale. Holtes picked layers
  "by trial and error, with emphasis placed on performance": pass fewer (e.g.
  ``("conv5_1",)``, Wei et al.'s layer) for a smaller, faster embedding.
* ``n = 4`` (64 cells) — with Holtes' 625 samples that is about 10 pixels per cell, so the
  counts are stable; n = 8 would spread 625 samples over 512 cells (about 1 each), mostly
  sampling noise.
* ``colour_weight = 0.5`` — Holtes concatenates the raw parts, so whichever has the larger
  numbers decides the distance (ImageNet Gram entries reach 10⁴–10⁶, counts at most 625:
  the colour part would be ignored, though he added it because colour is "an obvious
  visual descriptor … we did not want to overlook"). We scale each Gram layer and the
  colour part to unit length and weight them: the squared distance is
  ``(1 − w) · mean over layers of |Δĝ_l|² + w · |Δĥ|²``; w = 0.5 gives style and colour an
  equal say. ``colour_weight=None`` reproduces the article's raw concatenation.

Vectors are cached in the feature store (:mod:`simkit.features.cache`): the Gram layers through
:func:`simkit.features.extract.extract_features` (``style`` with conv5_1 shares the ``gram``
method's cache), the pooled features and colour cubes under their own configurations.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

import numpy as np

if TYPE_CHECKING:
    from PIL import Image as PILImage

    from simkit.features.extract import FeatureSet
    from simkit.study.model import Study

__all__ = [
    "DEFAULT_STYLE_LAYERS", "DEFAULT_N", "DEFAULT_SAMPLES",
    "DEFAULT_COLOUR_WEIGHT", "CNN_LAYER", "COLOUR_SIZE", "colour_histogram",
    "colour_image", "full_gram_equivalent", "combine_style", "colour_vectors",
    "deep_vectors", "style_features", "style_choices", "style_network", "style_pixel_vectors",
]

DEFAULT_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
DEFAULT_N = 4
DEFAULT_SAMPLES = 625
DEFAULT_COLOUR_WEIGHT = 0.5
CNN_LAYER = "conv5_4"
#: Holtes downsizes every image to 224 x 224 before sampling its colours.
COLOUR_SIZE = 224
_COLOUR_VERSION = 1


# -- the colour cube ---------------------------------------------------------------------
def colour_histogram(image: "np.ndarray | PILImage.Image", n: int = DEFAULT_N,
                     samples: int = DEFAULT_SAMPLES, seed: int = 0) -> np.ndarray:
    """Counts of ``samples`` random pixels in the n³ cells of the RGB cube (float32, n³).

    ``image``: an ``H x W x 3`` uint8 array (Holtes: the image downsized to 224 x 224,
    see :func:`colour_image`) or an RGB PIL image. Cells have side 255/n: channel value v
    falls in cell ``min(⌊v·n/255⌋, n − 1)``; the vector is indexed ``r·n² + g·n + b``.
    The pixels are drawn without replacement (with replacement only when the image has
    fewer than ``samples`` pixels) by ``numpy.random.default_rng(seed)``, so the same
    image always gives the same vector; the counts sum to ``samples``.

    >>> img = np.zeros((224, 224, 3), np.uint8); img[..., 0] = 255   # pure red
    >>> h = colour_histogram(img, n=2); int(h.sum()), int(h[1 * 4])  # cell r=1, g=0, b=0
    (625, 625)
    """
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"need an H x W x 3 RGB image, got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"need 8-bit pixels (uint8 0-255), got {a.dtype}; convert the "
                         f"image with simkit.features.images.load_rgb first")
    if int(n) < 1 or int(samples) < 1:
        raise ValueError(f"n and samples must be positive (got n={n}, samples={samples})")
    n = int(n)
    pixels = a.reshape(-1, 3)
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(pixels), size=int(samples), replace=int(samples) > len(pixels))
    cells = np.minimum(pixels[idx].astype(np.int64) * n // 255, n - 1)
    flat = (cells[:, 0] * n + cells[:, 1]) * n + cells[:, 2]
    return np.bincount(flat, minlength=n ** 3).astype(np.float32)


def colour_image(path: str | os.PathLike, size: int = COLOUR_SIZE) -> np.ndarray:
    """The file decoded safely (:func:`simkit.features.images.load_rgb`) and resized to size x size,
    as the uint8 array :func:`colour_histogram` counts."""
    from simkit.features.images import load_rgb

    return _colour_pixels(load_rgb(path), size)


def _colour_pixels(image: "PILImage.Image", size: int) -> np.ndarray:
    from simkit.features.images import resize_policy
    return np.asarray(resize_policy(image, "resize", size), dtype=np.uint8)


# -- combining Gram layers and colour ----------------------------------------------------
def _channels_of_tril(length: int) -> int:
    c = int(round((np.sqrt(8 * length + 1) - 1) / 2))
    if c * (c + 1) // 2 != length:
        raise ValueError(f"{length} is not the length of a lower triangle C(C+1)/2")
    return c


_OFFDIAG_SCALE: dict[int, np.ndarray] = {}


def full_gram_equivalent(tril: np.ndarray) -> np.ndarray:
    """Lower-triangle Gram vectors (``numpy.tril_indices`` order, as in
    :mod:`simkit.features.representations`) with off-diagonal entries times √2 (float32, a copy).

    Euclidean distances and dot products of the result equal those of the full flattened
    C x C matrices (each off-diagonal entry appears twice there), in half the memory.
    """
    t = np.asarray(tril, dtype=np.float32)
    c = _channels_of_tril(t.shape[-1])
    if c not in _OFFDIAG_SCALE:
        r, col = np.tril_indices(c)
        _OFFDIAG_SCALE[c] = np.where(r == col, 1.0, np.sqrt(2.0)).astype(np.float32)
    return t * _OFFDIAG_SCALE[c]


def _unit_rows(X: np.ndarray) -> np.ndarray:
    from simkit.search.distances import unit_rows
    return unit_rows(X)


def combine_style(grams: Sequence[np.ndarray], colour: np.ndarray,
                  colour_weight: float | None = DEFAULT_COLOUR_WEIGHT) -> np.ndarray:
    """The style embedding of N images from their Gram layers and colour cubes.

    ``grams``: one ``N x C(C+1)/2`` lower-triangle array per layer; ``colour``: ``N x n³``.
    With ``colour_weight`` w in [0, 1] each layer (as its full-matrix equivalent) and the
    colour part are scaled to unit length, the L layers by √((1 − w)/L) and the colour by
    √w, so ``|Δ|² = (1 − w)·mean_l |Δĝ_l|² + w·|Δĥ|²``. ``None``: the raw concatenation
    of Holtes' article (no scaling). Returns ``N x (Σ C(C+1)/2 + n³)`` float32.
    """
    colour = np.asarray(colour, dtype=np.float32)
    parts = [full_gram_equivalent(g) for g in grams]
    if any(len(p) != len(colour) for p in parts):
        raise ValueError("every Gram layer and the colour part need one row per image")
    if colour_weight is not None:
        w = float(colour_weight)
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"colour_weight must be between 0 and 1 (got {w}); "
                             f"0 = Gram only, 1 = colour only, None = raw concatenation")
        if not parts and w < 1.0:
            raise ValueError("no Gram layers given; pass layers or colour_weight=1")
        scale = np.sqrt((1.0 - w) / len(parts)) if parts else 0.0
        parts = [_unit_rows(p) * np.float32(scale) for p in parts]
        colour = _unit_rows(colour) * np.float32(np.sqrt(w))
    return np.concatenate([*parts, colour], axis=1)


# -- extraction (cached) -------------------------------------------------------------------
def _inputs(paths_or_study) -> tuple[list[str], list[Path]]:
    from simkit.features.engine import resolve_inputs
    return resolve_inputs(paths_or_study)


def _raise_errors(errors: dict[str, str], n_ok: int) -> None:
    from simkit.features.images import ImageError
    bad = list(errors.values())
    more = f"\n(and {len(bad) - 3} more)" if len(bad) > 3 else ""
    raise ImageError(f"{len(bad)} image(s) could not be used (the other {n_ok} are "
                     f"cached and will be reused):\n" + "\n".join(bad[:3]) + more)


def colour_vectors(paths_or_study, *, n: int = DEFAULT_N, samples: int = DEFAULT_SAMPLES,
                   seed: int = 0, size: int = COLOUR_SIZE,
                   cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                   on_error: str = "raise", progress: bool = True
                   ) -> tuple[list[str], np.ndarray, dict[str, str]]:
    """Colour cubes of many images: ``(image_ids, N x n³ float32, errors)``.

    Inputs as for :func:`simkit.features.extract.extract_features` (a study, ``{id: path}`` or
    paths). Cached in the feature store under the colour configuration.
    """
    from tqdm.auto import tqdm

    from simkit.features.images import ImageError
    from simkit.features.cache import FeatureStore, content_hash

    ids, paths = _inputs(paths_or_study)
    config = {"method": "colour_histogram", "n": int(n), "samples": int(samples),
              "seed": int(seed), "size": int(size), "version": _COLOUR_VERSION}
    store = FeatureStore(config, cache_dir) if use_cache else None
    rows, kept, errors = [], [], {}
    for image_id, path in tqdm(list(zip(ids, paths)), desc="colour cubes", unit="img",
                               disable=not progress):
        try:
            key = content_hash(path) if store is not None else None
        except OSError as e:
            errors[image_id] = f"{path}: cannot read the file ({e.strerror or e})"
            continue
        v = store.get(key, "colour", length=int(n) ** 3) if store is not None else None
        if v is None:
            try:
                v = colour_histogram(colour_image(path, size), n, samples, seed)
            except ImageError as e:
                errors[image_id] = str(e)
                continue
            if store is not None:
                store.put(key, {"colour": v})
        rows.append(v)
        kept.append(image_id)
    if errors and on_error == "raise":
        _raise_errors(errors, len(kept))
    X = np.stack(rows) if rows else np.zeros((0, int(n) ** 3), np.float32)
    return kept, X, errors


def deep_vectors(paths_or_study, *, weights: str | os.PathLike = "imagenet",
                 gram_layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
                 pooled_layers: Sequence[str] = (CNN_LAYER,), size: int = 224,
                 policy: str = "resize", precision: str = "fp32",
                 cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                 batch_size: int = 8, on_error: str = "raise", progress: bool = True,
                 device: str | None = "auto"
                 ) -> tuple[list[str], dict[str, np.ndarray], dict[str, str]]:
    """Gram matrices of several VGG-19 layers and globally average-pooled features, from
    **one** forward pass per image (up to the deepest layer asked for).

    Returns ``(image_ids, vectors, errors)`` with ``vectors["gram:conv3_1"]`` (``N x
    C(C+1)/2`` lower triangles, exactly :func:`simkit.features.representations.gram`) and
    ``vectors["gap:conv5_4"]`` (``N x C`` means over positions, after the ReLU). Each is
    cached in the feature store; the Gram entries under the same configuration as
    :func:`simkit.features.extract.extract_features` uses, so ``gram`` and ``style`` share them.
    """
    from simkit.features.cache import FeatureStore
    from simkit.features.engine import extract
    from simkit.features.extract import feature_config

    ids, paths = _inputs(paths_or_study)
    if on_error not in ("raise", "skip"):
        raise ValueError("on_error must be 'raise' or 'skip'")
    wanted = [("gram", l) for l in dict.fromkeys(gram_layers)]
    wanted += [("gap", l) for l in dict.fromkeys(pooled_layers)]
    stores = {}
    for kind, layer in wanted:
        config = feature_config(weights=weights, layer=layer, size=size, policy=policy,
                                precision=precision)
        if kind == "gap":
            config["pooling"] = "global-average"
        stores[kind, layer] = FeatureStore(config, cache_dir) if use_cache else None
    ext = extract(ids, paths, wanted, weights=weights, size=size, policy=policy,
                  precision=precision, stores=stores, batch_size=batch_size,
                  progress=progress, desc="deep features (one pass)", device=device)
    keep = np.flatnonzero(ext.done)
    if ext.errors and on_error == "raise":
        _raise_errors(ext.errors, len(keep))
    vectors = {f"{kind}:{layer}": ext.arrays[kind, layer][keep] for kind, layer in wanted}
    return [ids[i] for i in keep], vectors, ext.errors


def _parts(paths_or_study, colour: dict | None, gram_layers: list[str], pooled: list[str],
           network: dict, common: dict
           ) -> tuple[dict[str, tuple[list[str], np.ndarray]], dict[str, str]]:
    """``({part: (image ids, rows)}, errors)``: the colour cubes (when ``colour`` gives
    their settings) and the deep parts (``gram:LAYER``, ``gap:LAYER``), each cached."""
    per: dict[str, tuple[list[str], np.ndarray]] = {}
    errors: dict[str, str] = {}
    if colour is not None:
        kid, X, err = colour_vectors(paths_or_study, **colour, **common)
        per["colour"] = (kid, X)
        errors.update(err)
    if gram_layers or pooled:
        kid, deep, err = deep_vectors(paths_or_study, gram_layers=gram_layers,
                                      pooled_layers=pooled, **network, **common)
        per.update({name: (kid, X) for name, X in deep.items()})
        errors.update(err)
    return per, errors


def style_features(paths_or_study: "Study | Mapping[str, str | os.PathLike] | Sequence",
                   *, methods: Iterable[str] | None = None,
                   weights: str | os.PathLike = "imagenet", size: int = 224,
                   policy: str = "resize", precision: str = "fp32",
                   layers: Sequence[str] = DEFAULT_STYLE_LAYERS, n: int = DEFAULT_N,
                   samples: int = DEFAULT_SAMPLES, seed: int = 0,
                   colour_weight: float | None = DEFAULT_COLOUR_WEIGHT,
                   cnn_layer: str = CNN_LAYER,
                   cache_dir: str | os.PathLike | None = None, on_error: str = "raise",
                   progress: bool = True, device: str | None = "auto") -> "FeatureSet":
    """The ``style``, ``colour`` and ``cnn`` vectors of every image, as a FeatureSet.

    ``methods`` picks which to compute (default: all three; ``colour`` alone needs no
    network and no weights).
    ``weights``/``size``/``policy``/``precision``/``device`` are those of the network (as for
    :func:`simkit.features.extract.extract_features`); ``layers``, ``n``, ``samples``, ``seed``
    and ``colour_weight`` shape the style embedding and the colour cube (see the module
    docstring for the defaults). Images that fail with ``on_error="skip"`` are left out
    of every method (``FeatureSet.errors``) so all methods share the same rows.

    >>> fs = style_features(study, weights="random:0", size=64)       # doctest: +SKIP
    >>> choose_from_features(study, fs, ["style", "colour"])         # doctest: +SKIP
    """
    from simkit.features.backbones import weights_note
    from simkit.features.extract import FeatureSet

    methods = _selected(methods)
    if on_error not in ("raise", "skip"):
        raise ValueError("on_error must be 'raise' or 'skip'")
    ids, _ = _inputs(paths_or_study)
    if len(set(ids)) != len(ids):
        raise ValueError("image ids must be unique")
    gram_layers, pooled, needs_colour = _plan(methods, layers, colour_weight, cnn_layer)
    colour = dict(n=n, samples=samples, seed=seed) if needs_colour else None
    per, errors = _parts(paths_or_study, colour, gram_layers, pooled,
                         dict(weights=weights, size=size, policy=policy,
                              precision=precision, device=device),
                         dict(cache_dir=cache_dir, on_error=on_error, progress=progress))
    keep = [i for i in ids if i not in errors]

    def rows(part: str) -> np.ndarray:
        pid, X = per[part]
        where = {k: j for j, k in enumerate(pid)}
        return X[[where[i] for i in keep]]

    vectors = _assemble(methods, rows, gram_layers, cnn_layer, colour_weight)
    uses_net = bool(gram_layers) or "cnn" in methods
    config = {"methods": methods, "n": int(n), "samples": int(samples), "seed": int(seed),
              "colour_size": COLOUR_SIZE}
    if uses_net:
        config.update({"backbone": "vgg19", "weights": str(weights), "size": int(size),
                       "policy": policy, "precision": precision})
    if "style" in methods:
        config.update({"layers": gram_layers, "colour_weight": colour_weight})
    if "cnn" in methods:
        config.update({"cnn_layer": cnn_layer, "pooling": "global-average"})
    note = weights_note(weights) if uses_net else ""
    return FeatureSet(keep, vectors, config, note, {"images": len(keep)}, errors)


def _family_names() -> list[str]:
    from simkit.methods.registry import family_methods
    return [m.name for m in family_methods("style")]


def _selected(methods: Iterable[str] | None) -> list[str]:
    """The methods of the family asked for, each once (default: all three)."""
    family = _family_names()
    chosen = family if methods is None else list(dict.fromkeys(methods))
    unknown = [m for m in chosen if m not in family]
    if unknown or not chosen:
        raise ValueError(f"unknown method(s) {', '.join(unknown) or '(none)'}; choose from "
                         f"{', '.join(family)}")
    return chosen


def _plan(methods: list[str], layers: Sequence[str], colour_weight: float | None,
          cnn_layer: str) -> tuple[list[str], list[str], bool]:
    """``(Gram layers, pooled layers, whether colour cubes)`` that ``methods`` need."""
    gram_layers = list(layers) if "style" in methods else []
    if "style" in methods and colour_weight is not None and float(colour_weight) == 1.0:
        gram_layers = []  # the Gram part has weight 0: skip the network
    pooled = [cnn_layer] if "cnn" in methods else []
    needs_colour = "colour" in methods or "style" in methods  # style = Gram ⊕ colour cube
    return gram_layers, pooled, needs_colour


def _assemble(methods: list[str], rows: Callable[[str], np.ndarray], gram_layers: list[str],
              cnn_layer: str, colour_weight: float | None) -> dict[str, np.ndarray]:
    """Each method's vectors from its parts' rows (``colour``, ``gram:LAYER``, ``gap:LAYER``)."""
    vectors: dict[str, np.ndarray] = {}
    if "style" in methods:
        vectors["style"] = combine_style([rows(f"gram:{l}") for l in gram_layers],
                                         rows("colour"), colour_weight)
    if "colour" in methods:
        vectors["colour"] = rows("colour")
    if "cnn" in methods:
        vectors["cnn"] = rows(f"gap:{cnn_layer}")
    return vectors


# -- images in memory (occlusion) ------------------------------------------------------------
def style_network(methods: Iterable[str] | None = None, *,
                  weights: str | os.PathLike = "imagenet", size: int = 224,
                  layers: Sequence[str] = DEFAULT_STYLE_LAYERS,
                  colour_weight: float | None = DEFAULT_COLOUR_WEIGHT,
                  cnn_layer: str = CNN_LAYER, device: str | None = "auto"):
    """The VGG-19 that ``methods`` run on, as :func:`style_features` loads it (``None``
    for ``colour`` alone): load it once for a series of :func:`style_pixel_vectors` calls."""
    from simkit.features.models import shared_model
    gram_layers, pooled, _ = _plan(_selected(methods), layers, colour_weight, cnn_layer)
    if not gram_layers and not pooled:
        return None
    return shared_model("vgg19", weights, [*dict.fromkeys(gram_layers), *dict.fromkeys(pooled)],
                      device, size)


def style_pixel_vectors(images: Sequence[np.ndarray], methods: Iterable[str] | None = None,
                        *, network=None, weights: str | os.PathLike = "imagenet",
                        size: int = 224, policy: str = "resize", precision: str = "fp32",
                        layers: Sequence[str] = DEFAULT_STYLE_LAYERS, n: int = DEFAULT_N,
                        samples: int = DEFAULT_SAMPLES, seed: int = 0,
                        colour_weight: float | None = DEFAULT_COLOUR_WEIGHT,
                        cnn_layer: str = CNN_LAYER, batch_size: int = 8,
                        device: str | None = "auto") -> dict[str, np.ndarray]:
    """``{method: N x D float32}``: what :func:`style_features` gives for files of these
    pixels, bit for bit, from uint8 ``H x W x 3`` images in memory (no file read or written,
    nothing cached). ``network``: :func:`style_network`'s (default: loaded here); the other
    settings are :func:`style_features`'."""
    from PIL import Image
    methods = _selected(methods)
    gram_layers, pooled, needs_colour = _plan(methods, layers, colour_weight, cnn_layer)
    pictures = [Image.fromarray(np.asarray(a, dtype=np.uint8), "RGB") for a in images]
    per: dict[str, np.ndarray] = {}
    if needs_colour:
        per["colour"] = np.stack([colour_histogram(_colour_pixels(p, COLOUR_SIZE), n,
                                                   samples, seed) for p in pictures])
    if gram_layers or pooled:
        net = network if network is not None else style_network(
            methods, weights=weights, size=size, layers=layers, colour_weight=colour_weight,
            cnn_layer=cnn_layer, device=device)
        wanted = [("gram", l) for l in dict.fromkeys(gram_layers)]
        wanted += [("gap", l) for l in dict.fromkeys(pooled)]
        per.update(_deep_pixels(pictures, net, wanted, policy, size, precision, batch_size))
    return _assemble(methods, per.__getitem__, gram_layers, cnn_layer, colour_weight)


def _deep_pixels(pictures: list, net, wanted: list[tuple[str, str]], policy: str, size: int,
                 precision: str, batch_size: int) -> dict[str, np.ndarray]:
    """``{"KIND:LAYER": N x D}``, batched as the engine batches files (runs of one shape,
    at most ``batch_size``, channels-last): the vectors of :func:`deep_vectors`."""
    import torch

    from simkit.features.engine import forward
    from simkit.features.images import preprocess
    xs = [preprocess(p, policy, net.size or size, mean=net.mean, std=net.std)
          for p in pictures]
    parts: dict[tuple[str, str], list[np.ndarray]] = {o: [] for o in wanted}
    start = 0
    while start < len(xs):
        end = start + 1
        while end < len(xs) and end - start < batch_size and xs[end].shape == xs[start].shape:
            end += 1
        x = torch.stack(xs[start:end]).contiguous(memory_format=torch.channels_last)
        for o, t in forward(net, x, wanted, precision).items():
            parts[o].append(t.cpu().numpy())
        start = end
    return {f"{kind}:{layer}": np.concatenate(parts[kind, layer]) for kind, layer in wanted}


def style_choices(study: "Study", methods: Iterable[str] | None = None, **kwargs):
    """Each method's choice per question of ``study`` (as
    :func:`simkit.methods.closest.choose_from_features`), every method compared with its own
    metric (:attr:`simkit.methods.registry.Method.metric`); default: all three methods.

    Returns ``(choices, pair_distances, featureset)``; ``kwargs`` go to
    :func:`style_features`. The choices concatenate with those of ``gram`` etc. into one
    ``choices.csv`` for :func:`simkit.analysis.all_tables.compute_tables`.
    """
    import pandas as pd

    from simkit.methods.closest import choose_from_features
    from simkit.methods.registry import get_method

    methods = _family_names() if methods is None else list(dict.fromkeys(methods))
    fs = style_features(study, methods=methods, **kwargs)
    out_c, out_d = [], []
    for m in methods:
        c, d = choose_from_features(study, fs, [m], metric=get_method(m).metric)
        out_c.append(c)
        out_d.append(d)
    return (pd.concat(out_c, ignore_index=True), pd.concat(out_d, ignore_index=True), fs)
