"""The registry: every machine method is one :class:`Method`, listed here and nowhere else.

>>> [m.name for m in list_methods()][:3]
['gram', 'cosine', 'gram_cosine']
>>> get_method("cnn").metric
'cosine'

Each method belongs to one *family*, whose module computes what its members need once:

=============  =========================================  ==============================
family         methods                                    from
=============  =========================================  ==============================
deep           ``gram``, ``cosine``, ``gram_cosine``      Wei et al. (VGG-19 conv5_1)
style          ``style``, ``colour``, ``cnn``             Holtes; Mtasher & msad
local          ``sift``, ``orb``                          keypoint matches (OpenCV)
perceptual     ``lpips_<net>[_<comparison>]``, e.g.       Pihlgren et al. (baseline,
               ``lpips_alexnet``, ``lpips_vgg16_sort``    unit channel weights)
model          ``REPR[-METRIC]:MODEL[@LAYER]``, e.g.      any torchvision, timm or
               ``embed:timm:vit_small_patch16_224``,      open_clip model, by name
               ``gram:resnet50@layer4``                   (:mod:`.model_methods`)
vectors        any name given to :func:`register_vectors  your own embeddings
               <simkit.methods.own_vectors.register_vectors>`
=============  =========================================  ==============================

Model methods are not listed one by one (there are thousands): every name of that form is
a method, made when it is first asked for. Methods made at run time (your own vectors, an
alias) join the registry through :func:`register_method`.

A method either makes *vectors* compared with its ``metric`` (``euclidean`` or ``cosine``),
or *scores* pairs of images directly (``matches`` for keypoints, ``lpips`` for the
perceptual distances). :func:`simkit.methods.choices.choose` runs any mix of them on a study;
:mod:`simkit.search.retrieval` ranks collections with them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable

from simkit.errors import SimkitError

__all__ = ["Method", "MethodList", "UnknownMethodError", "DEFAULT_METHODS", "DEFAULT_RETRIEVAL_METHODS",
           "list_methods", "get_method", "method_names", "family_methods", "resolve_methods",
           "register_method", "unregister_method"]

#: The three methods of Wei et al. (2022).
DEFAULT_METHODS = ("gram", "cosine", "gram_cosine")
#: What retrieval evaluates by default (sift/orb match every pair: slow on large
#: collections, so they are asked for by name).
DEFAULT_RETRIEVAL_METHODS = ("style", "colour", "cnn", "gram")

_SURF = ("SURF is patented and not in OpenCV's default (pip) build; use 'sift' or 'orb'")


class UnknownMethodError(SimkitError, ValueError):
    """A method name that is not in the registry; the message lists the valid names."""


@dataclass(frozen=True)
class Method:
    """One machine method: what it is, what it needs and how it compares images.

    Attributes
    ----------
    name : str
        Lower-case identifier used in ``choices.csv`` and on the command line.
    description : str
        One line for people.
    family : str
        ``deep``, ``style``, ``local`` or ``perceptual``: the module that computes it.
    kind : str
        ``vectors`` (one vector per image, compared by ``metric``) or ``scores`` (pairs
        of images are scored directly).
    metric : str
        ``euclidean`` / ``cosine`` for vectors; ``matches`` or ``lpips`` for scores.
    needs : tuple of str
        What must be available: ``network`` (weights), ``opencv``.
    source : str
        The paper the method follows.
    params : dict
        Family-specific settings (the perceptual network and comparison).
    label : str
        The name tables print (the paper's ``Gram·Cosine``); the name when empty.
    """

    name: str
    description: str
    family: str
    kind: str
    metric: str
    needs: tuple[str, ...] = ()
    source: str = ""
    params: dict = field(default_factory=dict, compare=False, hash=False)
    label: str = ""

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def needs_network(self) -> bool:
        return "network" in self.needs

    def __str__(self) -> str:
        return f"{self.name:<28} {self.description}"


class MethodList(list):
    """A list of :class:`Method` that shows as a table (one line per method)."""

    def __repr__(self) -> str:
        return "\n".join([str(m) for m in self] + [_MORE])

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
                m.name, m.family, m.kind, m.metric, ", ".join(m.needs) or "-",
                m.description)) + "</tr>" for m in self)
        head = "".join(f"<th>{h}</th>" for h in ("method", "family", "kind", "metric",
                                                 "needs", "description"))
        return f"<table><tr>{head}</tr>{rows}</table><p>{html.escape(_MORE)}</p>"


#: What the listing adds: the model methods are too many to list.
_MORE = ("+ any torchvision, timm or open_clip model: REPR[-METRIC]:MODEL[@LAYER], e.g. "
         "embed:timm:vit_small_patch16_224 (see simkit.list_models())")
_WEI = "Wei et al. (2022), Gram/Cosine similarity of ukiyo-e prints"
_HOLTES = "Holtes (2019), art-style embeddings"
_RETRIEVAL = "Mtasher & msad, CNN features vs SIFT/SURF for image retrieval"
_PIHLGREN = "Pihlgren, Sandin & Liwicki, deep perceptual similarity (LPIPS baseline)"


def _fixed_methods() -> list[Method]:
    net, cv = ("network",), ("opencv",)
    return [
        Method("gram", "VGG-19 conv5_1 Gram matrix, Euclidean distance", "deep", "vectors",
               "euclidean", net, _WEI, label="Gram"),
        Method("cosine", "VGG-19 conv5_1 channel cosine matrix, Euclidean distance", "deep",
               "vectors", "euclidean", net, _WEI, label="Cosine"),
        Method("gram_cosine", "VGG-19 conv5_1 Gram x Cosine, Euclidean distance", "deep",
               "vectors", "euclidean", net, _WEI, label="Gram·Cosine"),
        Method("style", "Gram matrices of five VGG-19 layers + colour cube", "style",
               "vectors", "euclidean", net, _HOLTES),
        Method("colour", "colour cube of 625 sampled pixels (no network)", "style", "vectors",
               "euclidean", (), _HOLTES),
        Method("cnn", "VGG-19 conv5_4 global average pooling, cosine distance", "style",
               "vectors", "cosine", net, _RETRIEVAL),
        Method("sift", "SIFT keypoints, number of good matches", "local", "scores", "matches",
               cv, _RETRIEVAL),
        Method("orb", "ORB keypoints (free stand-in for SURF), number of good matches",
               "local", "scores", "matches", cv, _RETRIEVAL),
    ]


def _perceptual_methods() -> list[Method]:
    from simkit.methods.perceptual.metrics import COMPARISONS, method_name
    from simkit.methods.perceptual.networks import NETWORKS

    return [Method(method_name(n, c), f"LPIPS-style distance, {n} features, {c} comparison",
                   "perceptual", "scores", "lpips", ("network",), _PIHLGREN,
                   {"net": n, "comparison": c})
            for n in NETWORKS for c in COMPARISONS]


@lru_cache(maxsize=1)
def _fixed() -> dict[str, Method]:
    # built on first use: the perceptual names come from the networks and comparisons offered
    return {m.name: m for m in _fixed_methods() + _perceptual_methods()}


#: Methods registered at run time (:func:`register_method`), by lower-case name.
_USER: dict[str, Method] = {}


def _registry() -> dict[str, Method]:
    return {**_fixed(), **_USER}


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to the registry, so every function that takes a method name knows it.

    A built-in name cannot be taken; a name registered before is an error unless
    ``replace`` (a notebook cell run twice passes ``replace=True``).
    """
    key = method.name.strip().lower()
    if not key or "," in key:
        raise UnknownMethodError(f"a method name cannot be empty or hold a comma: "
                                 f"{method.name!r}")
    if key in _fixed() or key == "surf":
        raise UnknownMethodError(f"{method.name!r} is a built-in method; choose another name")
    if key in _USER and not replace and _USER[key] != method:
        raise UnknownMethodError(f"a method {method.name!r} is already registered; pass "
                                 f"replace=True to replace it")
    _USER[key] = method
    return method


def unregister_method(name: str) -> None:
    """Remove a method added with :func:`register_method` (nothing if there is none)."""
    _USER.pop(str(name).strip().lower(), None)


def list_methods() -> MethodList:
    """Every registered method, in display order (Wei et al. first).

    Returns
    -------
    MethodList
        A list of :class:`Method` that prints (and shows in a notebook) as a table.

    Examples
    --------
    >>> for m in list_methods()[:2]: print(m.name, m.kind, m.metric)
    gram vectors euclidean
    cosine vectors euclidean
    """
    return MethodList(_registry().values())


def method_names() -> list[str]:
    """The names of :func:`list_methods`, in the same order."""
    return list(_registry())


def family_methods(family: str) -> list[Method]:
    """The registered methods of one family (``deep``, ``style``, ``local``, ``perceptual``)."""
    return [m for m in _registry().values() if m.family == family]


def get_method(name: str) -> Method:
    """The registered method called ``name`` (case and surrounding spaces ignored).

    Raises
    ------
    UnknownMethodError
        When no method has that name; the message lists the valid names (and explains
        why SURF is not offered).

    Examples
    --------
    >>> get_method("sift").needs
    ('opencv',)
    """
    key = str(name).strip().lower()
    if key == "surf":
        raise UnknownMethodError(_SURF)
    found = _registry().get(key)
    if found is not None:
        return found
    if ":" in key:  # REPR:MODEL[@LAYER], made on first use
        from simkit.methods.model_methods import model_method

        return model_method(str(name).strip())
    raise UnknownMethodError(f"unknown method {name!r}; choose from "
                             f"{', '.join(_registry())}, or a model method "
                             f"REPR:MODEL[@LAYER] (see `simkit models`)")


def resolve_methods(names: Iterable[str] | str) -> list[Method]:
    """The methods named (a list or a comma-separated string), duplicates dropped, in order.

    Raises :class:`UnknownMethodError` for an unknown name or an empty selection.
    """
    if isinstance(names, str):
        names = names.split(",")
    methods = [get_method(n) for n in names if str(n).strip()]
    if not methods:
        raise UnknownMethodError(f"no method given; choose from {', '.join(_registry())}")
    return list({m.name: m for m in methods}.values())
