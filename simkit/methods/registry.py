"""Every machine method by name: one call makes any mix of them choose for a study.

>>> choices, distances, notes = machine_choices(study, ["gram", "cosine", "colour"])  # doctest: +SKIP

Each method belongs to one *family*, which computes what its members need once:

=============  =========================================  ==============================
family         methods                                    from
=============  =========================================  ==============================
deep           ``gram``, ``cosine``, ``gram_cosine``      Wei et al. (VGG-19 conv5_1)
style          ``style``, ``colour``, ``cnn``             Holtes; Mtasher & msad
local          ``sift``, ``orb``                          keypoint matches (OpenCV)
perceptual     ``lpips_<net>[_<comparison>]``, e.g.       Pihlgren et al. (baseline,
               ``lpips_alexnet``, ``lpips_vgg16_sort``    unit channel weights)
=============  =========================================  ==============================

The result concatenates into one ``choices.csv`` (``question_id,method,choice``) and one
``pair_distances.csv``, so the tables, the group explorer and UMAP treat every method alike.
"""
from __future__ import annotations

import os
from typing import Iterable

import pandas as pd

__all__ = ["FAMILIES", "DEFAULT_METHODS", "available_methods", "machine_choices"]

FAMILIES: dict[str, tuple[str, ...]] = {
    "deep": ("gram", "cosine", "gram_cosine"),
    "style": ("style", "colour", "cnn"),
    "local": ("sift", "orb"),
}
#: The three methods of Wei et al. (2022).
DEFAULT_METHODS = FAMILIES["deep"]


def _perceptual_methods() -> dict[str, tuple[str, str]]:
    """``lpips_<net>[_<comparison>]`` → (net, comparison), for every network × comparison."""
    from simkit.methods.perceptual.metrics import COMPARISONS, method_name
    from simkit.methods.perceptual.networks import NETWORKS

    return {method_name(n, c): (n, c) for n in NETWORKS for c in COMPARISONS}


def available_methods() -> list[str]:
    return [m for members in FAMILIES.values() for m in members] + list(_perceptual_methods())


def _family(method: str) -> str:
    for family, members in FAMILIES.items():
        if method in members:
            return family
    if method in _perceptual_methods():
        return "perceptual"
    raise ValueError(f"unknown method {method!r}; choose from {', '.join(available_methods())}")


def machine_choices(study, methods: Iterable[str] = DEFAULT_METHODS, *,
                    weights: str | os.PathLike = "imagenet", layer: str = "conv5_1",
                    size: int = 224, policy: str = "resize", precision: str = "fp32",
                    cache_dir: str | os.PathLike | None = None, progress: bool = True
                    ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Each named method's choice for every question of ``study``.

    Returns ``(choices, pair_distances, notes)``: the two tables in the layout of
    :func:`simkit.methods.choices.choose`, methods in the order asked, and the warnings to show
    beside the results (e.g. that the weights were random).
    """
    methods = list(dict.fromkeys(methods))
    by_family: dict[str, list[str]] = {}
    for m in methods:
        by_family.setdefault(_family(m), []).append(m)
    choices, distances, notes = [], [], []
    if "deep" in by_family:
        from simkit.methods.choices import study_choices
        c, d, fs = study_choices(study, weights=weights, layer=layer, size=size, policy=policy,
                                 precision=precision, cache_dir=cache_dir, progress=progress)
        keep = by_family["deep"]
        choices.append(c[c["method"].isin(keep)])
        distances.append(d[d["method"].isin(keep)])
        notes.append(fs.weights_note)
    if "style" in by_family:
        from simkit.methods.style import style_choices
        c, d, fs = style_choices(study, by_family["style"], weights=weights, size=size,
                                 policy=policy, precision=precision, cache_dir=cache_dir)
        choices.append(c)
        distances.append(d)
        if set(by_family["style"]) - {"colour"}:  # colour needs no network
            notes.append(fs.weights_note)
    if "local" in by_family:
        from simkit.methods.local import local_choices
        c, d = local_choices(study, by_family["local"], progress=progress)
        choices.append(c)
        distances.append(d)
    if "perceptual" in by_family:
        from simkit.methods.perceptual.adaptation import study_choices as perceptual_choices
        from simkit.methods.perceptual.metrics import PerceptualMetric
        spec = _perceptual_methods()
        metrics = [PerceptualMetric.baseline(*spec[m], weights=str(weights))
                   for m in by_family["perceptual"]]
        c, d, note = perceptual_choices(study, metrics, progress=progress)
        choices.append(c)
        distances.append(d)
        notes.append(note)
    order = {m: i for i, m in enumerate(methods)}

    def ordered(frames: list[pd.DataFrame]) -> pd.DataFrame:
        df = pd.concat(frames, ignore_index=True)
        qorder = {q: i for i, q in enumerate(study.questions["question_id"])}
        key = df["question_id"].map(qorder) * len(order) + df["method"].map(order)
        return df.iloc[key.argsort(kind="stable")].reset_index(drop=True)

    return ordered(choices), ordered(distances), list(dict.fromkeys(n for n in notes if n))
