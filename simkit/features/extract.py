"""Batched deep-feature extraction: images -> network -> Gram/Cosine/Gram·Cosine vectors.

>>> fs = extract_features(study, weights="imagenet")            # doctest: +SKIP
>>> fs.vectors["cosine"].shape                                    # doctest: +SKIP
(400, 131328)

It runs the one extraction engine (:mod:`simkit.features.engine`): each image decoded
safely (:mod:`simkit.features.images`), run through the cut network
(:mod:`simkit.features.backbones`, channels-last, ``torch.inference_mode``; ``precision="bf16"``
uses bfloat16 autocast, about 1 % vector error), turned into
representations in float32 (:mod:`simkit.features.representations`) and saved in the feature
store (:mod:`simkit.features.cache`) before the next batch, so an interruption loses at most
one batch and a second run does no forward pass at all.

A bad image does not stop the others: every good image is extracted and stored first, then
:class:`~simkit.features.images.ImageError` lists the bad ones (or, with ``on_error="skip"``, they
are left out of the result and listed in :attr:`FeatureSet.errors`).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from simkit.checks import MAX_SIZE, whole_number
from simkit.errors import UsageError
from simkit.fileio import atomic_write
from simkit.features.device import PRECISIONS
from simkit.features.images import POLICIES, ImageError, MAX_PIXELS
from simkit.features.representations import REPRESENTATIONS

if TYPE_CHECKING:
    from simkit.study.model import Study

__all__ = ["FeatureSet", "extract_features", "feature_config", "save_npz", "load_npz",
           "PRECISIONS"]

PREPROCESS_VERSION = "rgb(alpha-on-white,exif)|pil-bilinear-aa|imagenet-norm|v1"


@dataclass
class FeatureSet:
    """Feature vectors of a list of images under one configuration.

    ``vectors[name]`` is an ``N x 131,328`` float32 array (row i = ``image_ids[i]``);
    ``weights_note`` is "" for real weights and a warning for random ones; ``stats`` says
    how many images were computed and how many came from the cache; ``errors`` maps the
    ids of images that could not be read (``on_error="skip"``) to the reason.
    """

    image_ids: list[str]
    vectors: dict[str, np.ndarray]
    config: dict
    weights_note: str = ""
    stats: dict = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def is_random(self) -> bool:
        return str(self.config.get("weights", "")).startswith("random:")

    def index(self, image_id: str) -> int:
        try:
            return self._index[image_id]
        except AttributeError:
            self._index = {k: i for i, k in enumerate(self.image_ids)}
            return self.index(image_id)
        except KeyError:
            raise KeyError(f"image {image_id!r} has no features in this set") from None


def feature_config(*, backbone: str = "vgg19", weights: str | os.PathLike = "imagenet",
                   layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                   precision: str = "fp32") -> dict:
    """The configuration dict (also the feature-store key) of an extraction.

    ``backbone`` is any model name of :mod:`simkit.features.models`; ``size`` is the size
    the model really runs at (an open_clip tower has its own).
    """
    from simkit.features.models import input_size, weights_identity

    if policy not in POLICIES:
        raise UsageError(f"unknown preprocessing policy {policy!r}; use one of "
                         f"{', '.join(POLICIES)}")
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}; use one of "
                         f"{', '.join(PRECISIONS)}")
    size = whole_number(size, "size", 16, MAX_SIZE, "the input size in pixels; 224 in the "
                        "paper")
    return {
        "backbone": backbone, "weights": str(weights),
        "weights_id": weights_identity(backbone, weights), "layer": layer,
        "policy": policy,
        "size": input_size(backbone, size) if policy != "native" else None,
        "precision": precision, "preprocess": PREPROCESS_VERSION,
    }


def extract_features(paths_or_study: "Study | Mapping[str, str | os.PathLike] | Sequence",
                     *, backbone: str = "vgg19", weights: str | os.PathLike = "imagenet",
                     layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                     precision: str = "fp32",
                     representations: Iterable[str] = REPRESENTATIONS,
                     cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                     batch_size: int = 8, on_error: str = "raise",
                     max_pixels: int = MAX_PIXELS, progress: bool = True,
                     device: str | None = "auto", workers: int | None = None) -> FeatureSet:
    """Extract (or read from the feature store) the representations of every image.

    ``paths_or_study``: a :class:`~simkit.study.model.Study` (all of images.csv, in its order),
    a mapping ``{image_id: path}`` or a sequence of paths (ids = the paths as given).
    ``on_error``: ``"raise"`` (default) stores every good image, then raises
    :class:`ImageError` listing the bad ones; ``"skip"`` leaves them out.
    ``device``: ``auto`` (CUDA, then MPS, then the CPU), ``cpu``, ``cuda[:N]`` or ``mps``;
    ``workers``: processes decoding images while the network runs (default: some on a GPU,
    none on the CPU).
    """
    from simkit.features.backbones import weights_note
    from simkit.features.cache import FeatureStore
    from simkit.features.engine import extract, resolve_inputs

    reps = list(dict.fromkeys(representations))
    unknown = [r for r in reps if r not in REPRESENTATIONS]
    if unknown or not reps:
        raise ValueError(f"unknown representation(s) {', '.join(unknown) or '(none)'}; "
                         f"choose from {', '.join(REPRESENTATIONS)}")
    if on_error not in ("raise", "skip"):
        raise ValueError("on_error must be 'raise' or 'skip'")
    config = feature_config(backbone=backbone, weights=weights, layer=layer, size=size,
                            policy=policy, precision=precision)
    ids, paths = resolve_inputs(paths_or_study)
    if len(set(ids)) != len(ids):
        raise ValueError("image ids must be unique")
    store = FeatureStore(config, cache_dir) if use_cache else None
    outputs = [(r, layer) for r in reps]
    ext = extract(ids, paths, outputs, backbone=backbone, weights=weights, size=size,
                  policy=policy, precision=precision, stores=dict.fromkeys(outputs, store),
                  batch_size=batch_size, max_pixels=max_pixels, progress=progress,
                  desc=f"features ({layer}, {precision})", device=device, workers=workers)
    errors, done = ext.errors, ext.done
    if errors and on_error == "raise":
        # Every bad image, by id (what images.csv and the user know it by); each message
        # already names the file and how to fix it.
        saved = (f"; the features of the other {int(done.sum())} image(s) are saved and "
                 f"will be reused" if store is not None and done.any() else "")
        raise ImageError(f"{len(errors)} image(s) could not be used{saved}:\n"
                         + "\n".join(f"image {i!r}: {msg}" for i, msg in errors.items()))
    keep = np.flatnonzero(done)
    vectors = {r: ext.arrays[r, layer] for r in reps}
    if len(keep) < len(ids):  # on_error="skip": drop the rows of bad images
        vectors = {r: v[keep] for r, v in vectors.items()}
    return FeatureSet([ids[i] for i in keep], vectors, config, weights_note(weights),
                      {"computed": ext.computed, "from_cache": len(keep) - ext.computed,
                       "errors": len(errors)}, dict(errors))


def save_npz(featureset: FeatureSet, path: str | os.PathLike) -> Path:
    """Write ``image_ids``, one array per representation and ``config`` (JSON), atomically.

    Uncompressed (the vectors do not compress); readable with ``numpy.load(path)`` and no
    pickle: ``image_ids`` is a unicode string array.
    """
    arrays = {"image_ids": np.array(featureset.image_ids, dtype=str)}
    for name, v in featureset.vectors.items():
        arrays[name] = np.asarray(v, dtype=np.float32)
    meta = {**featureset.config, "weights_note": featureset.weights_note}
    arrays["config"] = np.array(json.dumps(meta, sort_keys=True))
    path = Path(path)
    with atomic_write(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def load_npz(path: str | os.PathLike) -> FeatureSet:
    """Read a file written by :func:`save_npz` (or any npz with ``image_ids`` + vectors)."""
    with np.load(path, allow_pickle=False) as z:
        ids = [str(s) for s in z["image_ids"]]
        meta = json.loads(str(z["config"])) if "config" in z.files else {}
        vectors = {k: z[k] for k in z.files if k in REPRESENTATIONS}
    note = meta.pop("weights_note", "")
    return FeatureSet(ids, vectors, meta, note)
