"""Machine choices: the closest pair of each question's five images, per method.

>>> result = choose(study, ["gram", "cosine", "colour"], weights="imagenet")  # doctest: +SKIP
>>> result.choices.head()                                                      # doctest: +SKIP

For each question and each method, the 10 pairs a-b, a-c, …, d-e are ranked by their
distance (for vector methods the distance between the two images' vectors, with the
method's metric; for scoring methods the method's own pair distance) and the closest pair
is the method's choice. Ties go to the first pair in :data:`~simkit.study.model.PAIRS`
order.

Distances within a question are exact float64 (:func:`simkit.search.distances.pair_distances`),
so a choice never depends on rounding.
"""
from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from simkit.methods.closest import choose_from_features
from simkit.methods.registry import DEFAULT_METHODS, Method, resolve_methods
from simkit.study.model import LETTERS, as_study

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet
    from simkit.study.model import Study

__all__ = ["MachineChoices", "choose", "choose_for_group", "choose_from_features",
           "study_choices", "usable_weights", "missing_weights_note"]

#: What :class:`~simkit.features.backbones.WeightsUnavailableError` names VGG-19's weights.
_VGG19_WEIGHTS = "ImageNet weights for vgg19"


def missing_weights_note(weights: str | os.PathLike, fallback: str, reason: str,
                         what: str = "", methods: Iterable[str] = ()) -> str:
    """The loud note of a result made with ``fallback`` because ``weights`` were missing.

    ``what`` names the missing weights (:class:`WeightsUnavailableError`'s ``what``, e.g.
    ``"timm weights for vit_small_patch16_224"``; empty or VGG-19's: VGG-19's);
    ``methods`` the methods that ran on the fallback (default: the whole result)."""
    methods = list(methods)
    who = f" for {', '.join(methods)}" if methods else ""
    if what and what != _VGG19_WEIGHTS:
        return (f"{what} are NOT available here; using RANDOM networks ({fallback}){who} "
                f"instead: those results are MEANINGLESS as similarity by that model. How "
                f"to get the real weights: {reason}")
    what = "ImageNet VGG-19" if str(weights) == "imagenet" else f"the {str(weights)!r}"
    return (f"{what} weights are NOT available here; using a RANDOM network ({fallback})"
            f"{who} instead: the results are MEANINGLESS as VGG-19 similarity. How to get "
            f"the real weights: {reason}")


def usable_weights(weights: str | os.PathLike = "imagenet", fallback: str = "random:0"
                   ) -> tuple[str, str]:
    """``(weights, "")`` when ``weights`` can be loaded, else ``(fallback, loud note)``.

    For work that does not go through :func:`choose` (the Dask extraction, the group
    builder) and needs to pick its weights up front.

    >>> WEIGHTS, note = usable_weights("imagenet", "random:0")   # doctest: +SKIP
    """
    from simkit.features.backbones import WeightsUnavailableError, load_backbone

    try:
        load_backbone("vgg19", weights, "conv5_1")
    except WeightsUnavailableError as e:
        return fallback, missing_weights_note(weights, fallback, str(e), getattr(e, "what", ""))
    return str(weights), ""


@dataclass
class MachineChoices:
    """What :func:`choose` returns: every method's choices, the distances behind them,
    the feature sets used and the notes to show beside any number taken from them.

    Attributes
    ----------
    choices : pandas.DataFrame
        ``question_id, method, choice``: questions.csv order, then method order.
    distances : pandas.DataFrame
        ``question_id, method, pair, distance``: 10 rows per question and method.
    features : dict
        The :class:`~simkit.features.extract.FeatureSet` of each vector family used
        (``"deep"``, ``"style"``, ``"model"``, ``"vectors"``), by family; :meth:`vectors`
        joins them.
    notes : list of str
        Warnings for every view of the results (e.g. random weights).
    methods : list of str
        The methods, in the order asked.
    weights : str
        The weights actually used: the fallback when the real ones were missing, and
        ``"FALLBACK for METHODS; WEIGHTS for the others"`` when only some were.
    """

    choices: pd.DataFrame
    distances: pd.DataFrame
    features: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    weights: str = "imagenet"

    def vectors(self) -> "FeatureSet":
        """One :class:`~simkit.features.extract.FeatureSet` with the vectors of every
        vector method used, keyed by method name, over the images they all have (the
        UMAP explorer's input). Scoring methods (sift, lpips_*) have no vectors."""
        from simkit.features.extract import FeatureSet

        sets = list(self.features.values())
        if not sets:
            raise ValueError(f"none of {', '.join(self.methods)} makes vectors")
        common = set.intersection(*(set(fs.image_ids) for fs in sets))
        ids = [i for i in sets[0].image_ids if i in common]
        vectors = {m: fs.vectors[m][[fs.index(i) for i in ids]] for m in self.methods
                   for fs in sets if m in fs.vectors}
        return FeatureSet(ids, vectors, {"methods": list(vectors)}, "\n".join(self.notes))

    def study_with_choices(self, study: "Study") -> "Study":
        """``study`` with these choices as its machine choices (for the tables and views)."""
        return study.with_choices(self.choices)

    def summary(self) -> str:
        """A few lines: methods, questions, weights and every note."""
        lines = [f"MachineChoices: {len(self.methods)} method(s) ({', '.join(self.methods)}) "
                 f"on {self.choices['question_id'].nunique()} question(s), "
                 f"weights {self.weights}"]
        lines += [f"WARNING: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        # <pre>: JupyterLab typesets "$TORCH_HOME … $" in HTML as LaTeX, but never inside
        # pre; pre-wrap keeps the line breaks of the how-to-fix text
        style = ("color:#a00;white-space:pre-wrap;word-break:normal;font-family:inherit;"
                 "font-weight:bold;margin:0 0 0.5em 0")
        notes = "".join(f"<pre style='{style}'>⚠ {html.escape(n)}</pre>" for n in self.notes)
        head = html.escape(self.summary().splitlines()[0])
        table = (self.choices.pivot(index="question_id", columns="method", values="choice")
                 .reindex(columns=self.methods).head(10).to_html())
        return f"<div>{notes}<p>{head}</p>{table}</div>"


def study_choices(study: "Study", *, weights: str | os.PathLike = "imagenet",
                  layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                  precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                  metric: str = "euclidean", progress: bool = True,
                  device: str | None = "auto"
                  ) -> tuple[pd.DataFrame, pd.DataFrame, "FeatureSet"]:
    """Extract (or reuse) the study's features and make the three deep methods' choices.

    Returns ``(choices, pair_distances, featureset)``; ``featureset.weights_note`` is a
    warning to show with the results when the weights are random.
    """
    from simkit.features.extract import extract_features

    fs = extract_features(study, weights=weights, layer=layer, size=size, policy=policy,
                          precision=precision, cache_dir=cache_dir, progress=progress,
                          device=device)
    choices, dists = choose_from_features(study, fs, metric=metric)
    return choices, dists, fs


# -- one runner per family: (choices, distances, featureset or None, notes) ---------------
_Run = tuple[pd.DataFrame, pd.DataFrame, "FeatureSet | None", list[str]]


def _run_deep(study: "Study", methods: list[Method], opts: dict) -> _Run:
    if opts["precision"] != "fp32":
        from simkit.features.extract import extract_features

        fs = extract_features(study, **opts)
        return _keep_answers(study, fs, methods, lambda ids: extract_features(
            {i: study.image_path(i) for i in ids}, **{**opts, "precision": "fp32",
                                                        "progress": False}), opts)
    c, d, fs = study_choices(study, **opts)
    keep = [m.name for m in methods]
    return c[c["method"].isin(keep)], d[d["method"].isin(keep)], fs, [fs.weights_note]


def _run_style(study: "Study", methods: list[Method], opts: dict) -> _Run:
    from simkit.methods.style import style_choices

    opts = {k: v for k, v in opts.items() if k != "layer"}  # style has its own layers
    c, d, fs = style_choices(study, [m.name for m in methods], **opts)
    uses_net = any(m.needs_network for m in methods)  # colour alone needs no network
    return c, d, fs, [fs.weights_note] if uses_net else []


def _run_local(study: "Study", methods: list[Method], opts: dict) -> _Run:
    from simkit.methods.local import local_choices

    c, d = local_choices(study, [m.name for m in methods], progress=opts["progress"])
    return c, d, None, []


def _run_model(study: "Study", methods: list[Method], opts: dict) -> _Run:
    from simkit.methods.model_methods import model_vectors

    opts = {k: v for k, v in opts.items() if k != "layer"}  # each method names its layer
    fs = model_vectors(study, methods, **opts)
    if opts["precision"] != "fp32":
        return _keep_answers(study, fs, methods, lambda ids: model_vectors(
            {i: study.image_path(i) for i in ids}, methods,
            **{**opts, "precision": "fp32", "progress": False}), opts)
    return (*_by_metric(study, fs, methods), fs, [fs.weights_note])


def _keep_answers(study: "Study", fs: "FeatureSet", methods: list[Method],
                  exact: Callable[[list[str]], "FeatureSet"], opts: dict) -> _Run:
    """Choices from reduced-precision vectors that are those of fp32: the error is
    measured on a few images computed both ways, and every question whose closest pairs
    lie within it has its five images recomputed in fp32
    (:mod:`simkit.methods.reduced_precision`)."""
    from simkit.features.extract import FeatureSet
    from simkit.methods.reduced_precision import measured_error, near_ties

    _, d = _by_metric(study, fs, methods)
    sample = fs.image_ids[:8]
    ref = exact(sample)
    rows = [fs.index(i) for i in sample]
    errors = {m.name: measured_error(fs.vectors[m.name][rows], ref.vectors[m.name])
              for m in methods}
    norms = {m.name: dict(zip(fs.image_ids, np.linalg.norm(
        fs.vectors[m.name].astype(np.float64), axis=1))) for m in methods}
    images = {str(q): study.question_images(str(q)) for q in study.questions["question_id"]}
    ties = near_ties(d, norms, errors, {m.name: m.metric for m in methods}, images)
    redo = list(dict.fromkeys(i for q in ties for i in images[q] if i not in sample))
    vectors = {m.name: fs.vectors[m.name].copy() for m in methods}
    for got in [ref] + ([exact(redo)] if redo else []):
        where = [fs.index(i) for i in got.image_ids]
        for m in methods:
            vectors[m.name][where] = got.vectors[m.name]
    fixed = FeatureSet(fs.image_ids, vectors, fs.config, fs.weights_note,
                       {**fs.stats, "near_ties": len(ties),
                        "recomputed_fp32": len(sample) + len(redo)}, fs.errors)
    c, d = _by_metric(study, fixed, methods)
    worst = max(errors.values(), default=0.0)
    note = (f"{opts['precision']}: {len(ties)} of {len(images)} question(s) had pairs closer "
            f"than the measured {opts['precision']} error (relative vector error "
            f"≤ {worst:.2%} with a safety margin) and were recomputed in fp32 "
            f"({len(sample) + len(redo)} image(s)); every choice is the one fp32 makes")
    return c, d, fixed, [fs.weights_note, note]


def _by_metric(study: "Study", fs: "FeatureSet", methods: list[Method]
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`choose_from_features` for vector methods that may differ in metric."""
    runs = [choose_from_features(study, fs, [m.name for m in methods if m.metric == metric],
                                 metric) for metric in dict.fromkeys(m.metric for m in methods)]
    return (pd.concat([c for c, _ in runs], ignore_index=True),
            pd.concat([d for _, d in runs], ignore_index=True))


def _run_perceptual(study: "Study", methods: list[Method], opts: dict) -> _Run:
    from simkit.methods.perceptual.study_adaptation import study_choices as perceptual_choices
    from simkit.methods.perceptual.metrics import PerceptualMetric

    # the perceptual networks keep their own input size (PerceptualMetric's default)
    metrics = [PerceptualMetric.baseline(m.params["net"], m.params["comparison"],
                                         weights=str(opts["weights"])) for m in methods]
    c, d, note = perceptual_choices(study, metrics, progress=opts["progress"],
                                    device=opts["device"])
    return c, d, None, [note]


def _run_vectors(study: "Study", methods: list[Method], opts: dict) -> _Run:
    # your own vectors (simkit.methods.own_vectors): the study's images' rows of each
    # table, then the same exact pair distances as the deep methods, one call per metric
    from simkit.features.extract import FeatureSet
    from simkit.methods.own_vectors import vectors_for
    from simkit.study.model import IMAGE_COLUMNS

    used = set(study.questions[IMAGE_COLUMNS].astype(str).to_numpy().ravel())
    ids = [i for i in study.images["image_id"].astype(str) if i in used]
    fs = FeatureSet(ids, {m.name: vectors_for(m, ids) for m in methods},
                    {"vectors": {m.name: m.source for m in methods}})
    return (*_by_metric(study, fs, methods), fs, [])


_RUNNERS: dict[str, Callable[["Study", list[Method], dict], _Run]] = {
    "deep": _run_deep, "style": _run_style, "local": _run_local,
    "perceptual": _run_perceptual, "model": _run_model, "vectors": _run_vectors}


def _in_study_order(study: "Study", frames: list[pd.DataFrame], methods: list[str]
                    ) -> pd.DataFrame:
    order = {m: i for i, m in enumerate(methods)}
    df = pd.concat(frames, ignore_index=True)
    qorder = {q: i for i, q in enumerate(study.questions["question_id"])}
    key = df["question_id"].map(qorder) * len(order) + df["method"].map(order)
    return df.iloc[key.argsort(kind="stable")].reset_index(drop=True)


def _groups(methods: list[Method]) -> dict[tuple[str, str], list[Method]]:
    """Methods by runner; model methods also by model, so that one model's missing
    weights send only that model to the fallback."""
    out: dict[tuple[str, str], list[Method]] = {}
    for m in methods:
        key = (m.family, str(m.params.get("model", "")) if m.family == "model" else "")
        out.setdefault(key, []).append(m)
    return out


def _run_group(study: "Study", family: str, members: list[Method], opts: dict,
               fallback: str | None) -> tuple[_Run, bool]:
    """One runner; on missing weights, again with ``fallback`` and a loud note first."""
    from simkit.features.backbones import WeightsUnavailableError

    try:
        return _RUNNERS[family](study, members, opts), False
    except WeightsUnavailableError as e:
        if fallback is None:
            raise
        note = missing_weights_note(opts["weights"], fallback, str(e), e.what,
                                    [m.name for m in members])
    c, d, fs, notes = _RUNNERS[family](study, members, {**opts, "weights": fallback})
    return (c, d, fs, [note, *notes]), True


def _merge(old: "FeatureSet | None", new: "FeatureSet") -> "FeatureSet":
    if old is None or old.image_ids != new.image_ids:
        return new
    old.vectors.update(new.vectors)
    return old


def _run_all(study: "Study", methods: list[Method], opts: dict,
             fallback: str | None = None) -> MachineChoices:
    choices, distances, features, notes, fell_back = [], [], {}, [], []
    for (family, _), members in _groups(methods).items():
        (c, d, fs, n), used_fallback = _run_group(study, family, members, opts, fallback)
        choices.append(c)
        distances.append(d)
        notes += n
        fell_back += [m.name for m in members] if used_fallback else []
        if fs is not None:
            features[family] = _merge(features.get(family), fs)
    names = [m.name for m in methods]
    weights = str(opts["weights"])
    if fell_back:
        weights = (str(fallback) if len(fell_back) == len(names) else
                   f"{fallback} for {', '.join(fell_back)}; {weights} for the others")
    return MachineChoices(_in_study_order(study, choices, names),
                          _in_study_order(study, distances, names), features,
                          list(dict.fromkeys(n for n in notes if n)), names, weights)


def choose(study: "Study | str | os.PathLike", methods: Iterable[str] | str = DEFAULT_METHODS, *,
           weights: str | os.PathLike = "imagenet", fallback_weights: str | None = None,
           layer: str = "conv5_1", size: int = 224, policy: str = "resize",
           precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
           progress: bool = True, device: str | None = "auto") -> MachineChoices:
    """Let the named machine methods choose the most similar pair of every question.

    Parameters
    ----------
    study : Study or path
        A loaded study (:func:`simkit.load_study`), or its folder.
    methods : list of str or str
        Registered method names (see ``simkit.methods()``), or one comma-separated string.
        Default: Wei et al.'s ``gram``, ``cosine``, ``gram_cosine``.
    weights : str or path
        ``imagenet`` (torchvision's cache or a download), a state_dict file, or
        ``random:SEED`` (tests and offline demos: the results mean nothing).
    fallback_weights : str, optional
        Used when ``weights`` are unavailable (not cached and no network), e.g.
        ``"random:0"``, for the methods whose model lacks them (the others keep theirs);
        the result then carries a loud note naming the missing weights, the methods and
        how to get them. Without it the error propagates.
    layer, size, policy, precision : optional
        The VGG-19 layer of the deep methods, the input size and resize policy, and
        ``fp32`` or ``bf16``.
    cache_dir : path, optional
        The feature store (default: the user cache).
    progress : bool
        Show progress bars.
    device : str, optional
        Where the networks run: ``auto`` (CUDA, then Apple MPS, then the CPU), ``cpu``,
        ``cuda``, ``cuda:N`` or ``mps``. The choices are the same on every device.

    Returns
    -------
    MachineChoices
        Choices, pair distances, the feature sets used, notes and the weights used.

    Raises
    ------
    UnknownMethodError
        For a name not in the registry.
    WeightsUnavailableError
        When the weights are missing and no ``fallback_weights`` is given.

    Examples
    --------
    >>> result = simkit.choose(study, weights="imagenet", fallback_weights="random:0")  # doctest: +SKIP
    >>> result.notes                                                              # doctest: +SKIP
    >>> simkit.tables(study, result)["table3"]                                    # doctest: +SKIP
    """
    from simkit.features.device import resolve_device

    selected = resolve_methods(methods)
    resolve_device(device)  # a missing GPU is an error before any work
    study = as_study(study, "simkit.choose(study, …)")  # a folder name is not image paths
    opts = dict(weights=weights, layer=layer, size=size, policy=policy,
                precision=precision, cache_dir=cache_dir, progress=progress, device=device)
    return _run_all(study, selected, opts, fallback_weights)


def choose_for_group(images: Mapping[str, str | os.PathLike],
                     methods: Iterable[str] | str = DEFAULT_METHODS, **options: Any
                     ) -> MachineChoices:
    """:func:`choose` for five images not (yet) in a study: ``{image_id: path}`` in a-e
    order, as one question ``"group"``; ``options`` as for :func:`choose`.

    The picks are by construction those :func:`choose` makes once the group is a question
    of a saved study (the group builder shows them while a group is being built).
    """
    from simkit.study.model import Study

    ids = [str(i) for i in images]
    if len(ids) != len(LETTERS) or len(set(ids)) != len(ids):
        raise ValueError(f"a group has 5 different images, got {len(ids)}")
    study = Study(
        images=pd.DataFrame({"image_id": ids, "file": [str(Path(p).resolve())
                                                      for p in images.values()],
                             "genre": ""}),
        questions=pd.DataFrame([["group", "", *ids]], columns=[
            "question_id", "genre", "image_1", "image_2", "image_3", "image_4", "image_5"]),
        responses=pd.DataFrame(columns=["participant_id", "question_id", "choice"]),
        participants=pd.DataFrame(columns=["participant_id"]))
    return choose(study, methods, **options)
