"""The one extraction engine: decode → batches → network → representations → sinks.

>>> ext = extract(ids, paths, [("gram", "conv5_1")], weights="random:0")   # doctest: +SKIP
>>> ext.arrays["gram", "conv5_1"].shape                                    # doctest: +SKIP
(400, 131328)

An *output* is a ``(kind, layer)`` pair: ``kind`` is a representation of
:mod:`simkit.features.representations` (``gram``, ``cosine``, ``gram_cosine``: lower
triangles) or ``"gap"`` (the layer's maps averaged over all positions). One forward pass
per batch serves every output, up to the deepest layer asked for; each layer's maps are
read after its ReLU and turned into float32 vectors at once.

Vectors go to *sinks*, objects with ``write(indices, vectors)`` and ``close()``:
:class:`MemorySink` (rows of preallocated arrays), :class:`CacheSink` (the per-image
feature cache, :mod:`simkit.features.cache`) and :class:`ZarrSink` (the chunked store of
the Dask workers, :mod:`simkit.features.zarr_store`).
:func:`simkit.features.device.precision_context` is the one place that decides how the
network runs (``fp32``, or ``bf16``/``fp16`` autocast: faster on GPUs and on CPUs with
bfloat16 instructions, about 1 % vector error).

:func:`run` is the loop alone (a Dask worker's chunk); :func:`extract` adds what a
caller in this process needs: content hashes, cache look-up, loading the network only
when something is missing, and a progress bar.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import (TYPE_CHECKING, Callable, Iterable, Mapping, Protocol, Sequence,
                    runtime_checkable)

import numpy as np

from simkit.features.device import precision_context
from simkit.features.images import MAX_PIXELS, ImageError
from simkit.features.representations import REPRESENTATIONS, tril_size

if TYPE_CHECKING:
    import torch

    from simkit.features.cache import FeatureStore
    from simkit.features.zarr_store import ZarrFeatureStore
    from simkit.study.model import Study

__all__ = ["KINDS", "Output", "TappedNetwork", "ImageFiles", "output_dim",
           "resolve_inputs", "content_keys", "forward", "run", "extract", "Extraction",
           "MemorySink", "CacheSink", "ZarrSink"]

#: What an output can be: a lower-triangle representation, or global average pooling.
KINDS = (*REPRESENTATIONS, "gap")
#: ``(kind, layer)``, e.g. ``("gram", "conv5_1")`` or ``("gap", "conv5_4")``.
Output = tuple[str, str]


class TappedNetwork(Protocol):
    """What the engine needs of a network: :class:`simkit.features.backbones.Backbone`
    (the paper's VGG trunks) and :class:`simkit.features.models.Network` (any torchvision,
    timm or open_clip model) both are one."""

    name: str
    weights_id: str
    is_random: bool
    device: "torch.device | None"
    mean: tuple[float, float, float]   # input normalisation
    std: tuple[float, float, float]
    size: int | None                   # the input size the model needs (None: any)
    prefix_tokens: int                 # class/register tokens before the patch tokens

    def taps(self, x: "torch.Tensor", layers: Sequence[str],
             emit: Callable[[str, "torch.Tensor"], None]) -> None:
        """Run a batch; ``emit(layer, output)`` for each layer asked for."""


def output_dim(backbone: str, output: Output) -> int:
    """The length of one output's vector of a classic VGG trunk (``C(C+1)/2`` for a
    triangle, ``C`` for ``gap``); other models' lengths are known once they have run."""
    from simkit.features.backbones import layer_channels

    kind, layer = output
    c = layer_channels(backbone)[layer]
    return c if kind == "gap" else tril_size(c)


def _check_kinds(outputs: Sequence[Output]) -> None:
    bad = [k for k, _ in outputs if k not in KINDS]
    if bad:
        raise ValueError(f"unknown representation(s) {', '.join(bad)}; choose from "
                         f"{', '.join(KINDS)}")


@runtime_checkable
class ImageFiles(Protocol):
    """Anything that knows its images' files, e.g. a :class:`~simkit.study.model.Study`
    (features sit below the study, so they ask for this, not for the class)."""

    def image_paths(self) -> Mapping[str, Path]:
        """``{image_id: path}`` of every image, in order."""


def resolve_inputs(paths_or_study: "Study | Mapping[str, str | os.PathLike] | Sequence"
                   ) -> tuple[list[str], list[Path]]:
    """``(image_ids, paths)`` of a Study (images.csv order) or any :class:`ImageFiles`, a
    mapping ``{id: path}``, or paths (ids = the paths as given)."""
    if isinstance(paths_or_study, ImageFiles):
        paths_or_study = paths_or_study.image_paths()
    if isinstance(paths_or_study, Mapping):
        return [str(k) for k in paths_or_study], [Path(p) for p in paths_or_study.values()]
    if isinstance(paths_or_study, (str, os.PathLike)):
        paths_or_study = [paths_or_study]
    paths = [Path(p) for p in paths_or_study]
    return [str(p) for p in paths], paths


def content_keys(ids: Sequence[str], paths: Sequence[Path]
                 ) -> tuple[dict[int, str], dict[str, str]]:
    """``({position: content hash}, {image_id: error})``: the files that cannot be read
    get an error instead of a key."""
    from simkit.features.cache import content_hash

    keys: dict[int, str] = {}
    errors: dict[str, str] = {}
    for i, p in enumerate(paths):
        try:
            keys[i] = content_hash(p)
        except OSError as e:
            errors[ids[i]] = str(ImageError(
                f"{p}: cannot read the file ({e.strerror or e}); check the 'file' column "
                f"of images.csv (relative to the study folder)"))
    return keys, errors


def forward(net: TappedNetwork, x: "torch.Tensor", outputs: Sequence[Output],
            precision: str = "fp32", *, differentiable: bool = False
            ) -> dict[Output, "torch.Tensor"]:
    """One batch through ``net``: ``{output: (n, dim) float32 tensor}`` on the net's device.

    The network runs under :func:`~simkit.features.device.precision_context`; each
    requested layer's output is caught as the layer returns and reduced in float32 at
    once, with autocast off (:func:`~simkit.features.representations.reduce`: maps,
    tokens or one vector per image), so every output is computed as if that layer were
    the network's end.

    ``differentiable``: keep the autograd graph (no inference mode), so that a distance
    between outputs can be differentiated with respect to ``x`` (the saliency maps of
    :mod:`simkit.methods.explain`); the vectors are the same.
    """
    import contextlib

    import torch

    from simkit.features.representations import reduce

    wanted: dict[str, list[str]] = {}
    for kind, layer in outputs:
        wanted.setdefault(layer, []).append(kind)
    device = getattr(net, "device", None) or torch.device("cpu")
    out: dict[Output, "torch.Tensor"] = {}

    def emit(layer: str, value: "torch.Tensor") -> None:
        with torch.autocast(device.type, enabled=False):
            try:
                reduced = reduce(value.float(), wanted[layer], net.prefix_tokens)
            except ValueError as e:  # e.g. a Gram matrix of a layer without positions
                from simkit.features.models import ModelError

                raise ModelError(f"{getattr(net, 'name', 'the network')} layer {layer}: "
                                 f"{e}") from None
            for kind, vec in reduced.items():
                out[kind, layer] = vec

    graph = contextlib.nullcontext() if differentiable else torch.inference_mode()
    with graph, precision_context(precision, device):
        net.taps(x.to(device, non_blocking=True), list(wanted), emit)
    missing = [layer for layer in wanted if (wanted[layer][0], layer) not in out]
    if missing:
        raise ValueError(f"{getattr(net, 'name', 'the network')}: layer(s) "
                         f"{', '.join(missing)} produced no output for this input")
    return out


def run(items: Iterable[tuple[int, str | os.PathLike]], net: TappedNetwork,
        outputs: Sequence[Output], sinks: Sequence, *, policy: str = "resize",
        size: int = 224, batch_size: int = 8, max_pixels: int = MAX_PIXELS,
        precision: str = "fp32", errors: dict | None = None,
        advance: Callable[[int], None] | None = None, workers: int | None = None) -> int:
    """Decode ``(index, path)`` items in batches, run them through ``net`` and hand each
    batch's vectors (``{output: (n, dim) float32 array}``) to every sink; then close the
    sinks. An image that cannot be used goes to ``errors[index]``. ``advance(n)`` is
    called as images are done or skipped. Returns the number of images computed.

    The images are normalised as ``net`` was trained (its ``mean`` and ``std``) and
    resized to ``net.size`` when the network needs one input size (a transformer).
    ``workers``: processes decoding the next batches while the network runs (``None``:
    :func:`~simkit.features.images.default_workers` on a GPU, none on the CPU, where
    decoding costs about 1 % of the forward pass and moving images between processes
    more); on a GPU the batches come from pinned memory.
    """
    from simkit.features.images import default_workers, iter_batches

    errors = {} if errors is None else errors
    computed = 0
    device = getattr(net, "device", None)
    on_gpu = device is not None and device.type == "cuda"
    if workers is None:
        workers = default_workers() if on_gpu else 0
    for batch, x in iter_batches(items, policy=policy, size=net.size or size,
                                 batch_size=batch_size, max_pixels=max_pixels, errors=errors,
                                 on_skip=lambda _: advance and advance(1), mean=net.mean,
                                 std=net.std, workers=workers, pin_memory=on_gpu):
        vectors = {o: t.cpu().numpy() for o, t in forward(net, x, outputs, precision).items()}
        for sink in sinks:
            sink.write(batch, vectors)
        computed += len(batch)
        if advance:
            advance(len(batch))
    for sink in sinks:
        sink.close()
    return computed


# -- sinks -------------------------------------------------------------------------------
@dataclass
class MemorySink:
    """Fills row ``index`` of ``arrays[output]`` and marks it ``done``; an array that is
    ``None`` is made (``len(done)`` rows) when the first vectors show their length."""

    arrays: dict[Output, np.ndarray | None]
    done: np.ndarray

    def write(self, indices: Sequence[int], vectors: Mapping[Output, np.ndarray]) -> None:
        for o, v in vectors.items():
            if self.arrays.get(o) is None:
                self.arrays[o] = np.empty((len(self.done), v.shape[1]), dtype=np.float32)
            self.arrays[o][indices] = v
        self.done[indices] = True

    def close(self) -> None:
        pass


@dataclass
class CacheSink:
    """Writes each image's vectors to its feature store (one per output) as it comes, so an
    interruption loses at most one batch. ``keys[index]`` is the image's content hash."""

    stores: Mapping[Output, "FeatureStore | None"]
    keys: Mapping[int, str]

    def write(self, indices: Sequence[int], vectors: Mapping[Output, np.ndarray]) -> None:
        for j, i in enumerate(indices):
            per_store: dict[int, tuple["FeatureStore", dict[str, np.ndarray]]] = {}
            for o, v in vectors.items():
                store = self.stores.get(o)
                if store is not None:
                    per_store.setdefault(id(store), (store, {}))[1][o[0]] = v[j]
            for store, vec in per_store.values():
                store.put(self.keys[i], vec)

    def close(self) -> None:
        pass


@dataclass
class ZarrSink:
    """Collects a chunk's rows of ``representations`` and writes them (and the chunk's
    ``errors``, filled by :func:`run`) to the zarr store on :meth:`close`, in one step."""

    store: "ZarrFeatureStore"
    representations: Sequence[str]
    errors: dict[int, str] = field(default_factory=dict)
    rows: list[int] = field(default_factory=list)
    parts: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def write(self, indices: Sequence[int], vectors: Mapping[Output, np.ndarray]) -> None:
        for (kind, _), v in vectors.items():
            self.parts.setdefault(kind, []).append(v.copy())
        self.rows.extend(indices)

    def close(self) -> None:
        vectors = {r: (np.concatenate(self.parts[r]) if self.parts.get(r) else
                       np.zeros((0, self.store.dim), np.float32))
                   for r in self.representations}
        self.store.write_rows(self.rows, vectors, self.errors)


# -- the whole job in this process ---------------------------------------------------------
@dataclass
class Extraction:
    """What :func:`extract` did: ``arrays[output]`` (row i = image i; valid where
    ``done[i]``), ``errors`` by image id, and how many images were ``computed``."""

    arrays: dict[Output, np.ndarray]
    done: np.ndarray
    errors: dict[str, str]
    computed: int


def _from_cache(stores: Mapping[Output, "FeatureStore | None"], keys: Mapping[int, str],
                sink: MemorySink) -> list[int]:
    """Fill the rows the stores hold; return the positions that still need the network."""
    todo: list[int] = []
    for i, key in keys.items():
        found = {}
        for o in sink.arrays:
            store, a = stores.get(o), sink.arrays[o]
            length = a.shape[1] if a is not None else None
            v = store.get(key, o[0], length=length) if store is not None else None
            if v is None:
                todo.append(i)
                break
            found[o] = v[None]
        else:
            sink.write([i], found)
    return todo


def extract(ids: Sequence[str], paths: Sequence[Path], outputs: Sequence[Output], *,
            backbone: str = "vgg19", weights: str | os.PathLike = "imagenet",
            size: int = 224, policy: str = "resize", precision: str = "fp32",
            stores: Mapping[Output, "FeatureStore | None"] | None = None,
            batch_size: int = 8, max_pixels: int = MAX_PIXELS, progress: bool = True,
            desc: str = "features", device: "str | torch.device | None" = "auto",
            workers: int | None = None) -> Extraction:
    """The ``outputs`` of every image: from the ``stores`` where they hold them, else
    computed (one forward pass per batch) and written to the stores before the next batch.

    ``backbone`` is any model name of :mod:`simkit.features.models` (``vgg19``,
    ``timm:vit_small_patch16_224``, ``open_clip:ViT-B-32.openai`` …); the network is
    loaded on ``device`` only when something is missing from the stores.

    Unreadable files and images that cannot be decoded are left out (``done`` false) and
    listed in :attr:`Extraction.errors`; every other image is extracted.
    """
    from tqdm.auto import tqdm

    from simkit.features.models import load_model

    outputs = list(dict.fromkeys(outputs))
    _check_kinds(outputs)
    stores = dict(stores or {})
    keys, errors = content_keys(ids, paths)
    # filled in place, so memory stays at one copy of the result
    sink = MemorySink(dict.fromkeys(outputs), np.zeros(len(ids), dtype=bool))
    todo = _from_cache(stores, keys, sink)
    computed = 0
    if todo:
        net = load_model(backbone, weights, [layer for _, layer in outputs], device, size)
        bar = tqdm(total=len(todo), desc=desc, unit="img", disable=not progress)
        bad: dict[int, str] = {}
        try:
            computed = run(((i, paths[i]) for i in todo), net, outputs,
                           [CacheSink(stores, keys), sink],
                           policy=policy, size=size, batch_size=batch_size,
                           max_pixels=max_pixels, precision=precision, errors=bad,
                           advance=bar.update, workers=workers)
        finally:
            bar.close()
        errors.update({ids[i]: msg for i, msg in bad.items()})
    arrays = {o: (a if a is not None else np.zeros((len(ids), 0), np.float32))
              for o, a in sink.arrays.items()}
    return Extraction(arrays, sink.done, errors, computed)
