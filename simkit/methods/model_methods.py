"""Model methods: any (model, layer, representation, metric) as a method name.

>>> get_method("embed:timm:vit_small_patch16_224").metric                  # doctest: +SKIP
'cosine'
>>> simkit.choose(study, ["gram", "embed:open_clip:ViT-B-32.openai",
...                       "gram:timm:vit_small_patch16_224@blocks.11"])   # doctest: +SKIP

The name is ``REPR[-METRIC]:MODEL[@LAYER]``:

* ``REPR`` — ``embed`` (the pooled embedding: global average of maps, class token of a
  transformer's tokens, or the layer's vector), ``gram``, ``cosine`` or ``gram_cosine``
  (Wei et al.'s matrices, over the layer's positions: pixels of maps, patch tokens of a
  transformer);
* ``METRIC`` — ``euclidean`` or ``cosine`` (default: ``cosine`` for ``embed``,
  ``euclidean`` for the matrices, as in Wei et al.);
* ``MODEL`` — any name of :func:`simkit.features.models.list_models` (``resnet50``,
  ``timm:vit_small_patch14_dinov2.lvd142m``, ``open_clip:ViT-B-32.openai``);
* ``LAYER`` — any layer of :func:`simkit.features.models.model_layers` (default:
  ``embedding``; ``conv5_1`` for ``vgg19``).

So ``gram:vgg19@conv5_1`` is Wei et al.'s ``gram`` (and shares its cached features).
:func:`register_model_method` gives a model method a short name of your own.
"""
from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from simkit.features.representations import REPRESENTATIONS as MATRICES
from simkit.methods.catalogue import Method, UnknownMethodError, register_method

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet
    from simkit.study.model import Study

__all__ = ["REPRESENTATIONS", "parse_method_name", "model_method", "register_model_method",
           "model_vectors"]

#: The representation words of a model-method name, and what the engine computes for each.
REPRESENTATIONS = {"embed": "gap", **{r: r for r in MATRICES}}
_METRICS = ("euclidean", "cosine")
_SOURCE = "any model by name (simkit.features.models)"


def parse_method_name(name: str) -> tuple[str, str, str, str]:
    """``(representation, metric, model, layer)`` of ``REPR[-METRIC]:MODEL[@LAYER]``.

    Raises :class:`UnknownMethodError` saying what is wrong and what would be right.
    """
    from simkit.features.models import ModelError, default_layer, split_model

    text = str(name).strip()
    head, _, rest = text.partition(":")
    rep, _, metric = head.strip().lower().partition("-")
    if rep not in REPRESENTATIONS:
        raise UnknownMethodError(
            f"unknown method {name!r}: a model method is REPR[-METRIC]:MODEL[@LAYER] with "
            f"REPR one of {', '.join(REPRESENTATIONS)} (e.g. embed:timm:vit_small_patch16_224"
            f" or gram:resnet50@layer4)")
    metric = metric or ("cosine" if rep == "embed" else "euclidean")
    if metric not in _METRICS:
        raise UnknownMethodError(f"method {name!r}: unknown metric {metric!r}; use "
                                 f"{rep}-euclidean or {rep}-cosine")
    model, _, layer = rest.rpartition("@") if "@" in rest else (rest, "", "")
    if not model.strip():
        raise UnknownMethodError(f"method {name!r} names no model; e.g. {rep}:resnet50")
    try:
        split_model(model)
    except ModelError as e:
        raise UnknownMethodError(f"method {name!r}: {e}") from None
    return rep, metric, model.strip(), layer.strip() or default_layer(model.strip())


def _check_model(model: str) -> None:
    from simkit.features.models import ModelError, check_model

    try:
        check_model(model)
    except ModelError as e:
        raise UnknownMethodError(str(e)) from None


@functools.lru_cache(maxsize=256)
def model_method(name: str, *, label: str = "") -> Method:
    """The :class:`Method` a model-method name stands for (the model's name is checked;
    its layer is checked when the network is built)."""
    rep, metric, model, layer = parse_method_name(name)
    _check_model(model)
    what = "pooled embedding" if rep == "embed" else f"{rep} matrix"
    return Method(name.strip(), f"{model} {layer}: {what}, {metric} distance", "model",
                  "vectors", metric, ("network",), _SOURCE,
                  {"model": model, "layer": layer, "kind": REPRESENTATIONS[rep]},
                  label=label)


def register_model_method(name: str, model: str, *, layer: str | None = None,
                          representation: str = "embed", metric: str | None = None,
                          replace: bool = False) -> Method:
    """Give a model method a short name (``"dino"`` for the DINOv2 embedding), usable
    wherever a method name is.

    >>> register_model_method("dino", "timm:vit_small_patch14_dinov2.lvd142m")  # doctest: +SKIP
    """
    full = f"{representation}{'-' + metric if metric else ''}:{model}" + (
        f"@{layer}" if layer else "")
    m = model_method(full)
    return register_method(Method(name, m.description, m.family, m.kind, m.metric, m.needs,
                                  m.source, m.params), replace=replace)


def _key_model(model: str) -> str:
    # the classic VGG trunks keep their bare name, so gram:vgg19@conv5_1 shares gram's cache
    from simkit.features.models import split_model

    source, bare = split_model(model)
    return bare if source == "torchvision" else f"{source}:{bare}"


def model_vectors(paths_or_study: "Study | Mapping[str, str | os.PathLike] | Sequence",
                  methods: Iterable[Method], *, weights: str | os.PathLike = "imagenet",
                  size: int = 224, policy: str = "resize", precision: str = "fp32",
                  cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                  device: str | None = "auto", batch_size: int = 8, workers: int | None = None,
                  progress: bool = True) -> "FeatureSet":
    """The vectors of model methods for every image, keyed by method name.

    One forward pass per model serves all its methods (every layer and representation
    asked for); each (model, layer, representation) is cached in the feature store,
    keyed by the full configuration. Images that cannot be used raise
    :class:`~simkit.features.images.ImageError` listing them (the others are cached).
    """
    from simkit.features.backbones import weights_note
    from simkit.features.cache import FeatureStore
    from simkit.features.engine import extract, resolve_inputs
    from simkit.features.extract import FeatureSet, feature_config
    from simkit.features.images import ImageError

    methods = list(methods)
    ids, paths = resolve_inputs(paths_or_study)
    by_model: dict[str, list[Method]] = {}
    for m in methods:
        by_model.setdefault(_key_model(m.params["model"]), []).append(m)
    vectors: dict[str, np.ndarray] = {}
    configs, computed = {}, 0
    for model, members in by_model.items():
        outputs = list(dict.fromkeys((m.params["kind"], m.params["layer"]) for m in members))
        stores = {}
        for kind, layer in outputs:
            config = feature_config(backbone=model, weights=weights, layer=layer, size=size,
                                    policy=policy, precision=precision)
            if kind == "gap":
                config["pooling"] = "global-average"
            configs[model, kind, layer] = config
            stores[kind, layer] = FeatureStore(config, cache_dir) if use_cache else None
        ext = extract(ids, paths, outputs, backbone=model, weights=weights, size=size,
                      policy=policy, precision=precision, stores=stores,
                      batch_size=batch_size, progress=progress, desc=f"{model} features",
                      device=device, workers=workers)
        computed += ext.computed
        if ext.errors:
            raise ImageError(f"{len(ext.errors)} image(s) could not be used:\n" + "\n".join(
                f"image {i!r}: {msg}" for i, msg in ext.errors.items()))
        for m in members:
            vectors[m.name] = ext.arrays[m.params["kind"], m.params["layer"]]
    note = weights_note(weights, ", ".join(by_model))
    config = {"models": sorted(by_model), "weights": str(weights),
              "configs": [dict(c) for c in configs.values()]}
    return FeatureSet(ids, vectors, config, note,
                      {"computed": computed, "models": len(by_model)})
