"""The catalogue: every method that has a name of its own — the built-in ones and those
registered at run time (:func:`register_method`) — each one :class:`Method`.

The lookup of any name, model-method names (``REPR:MODEL[@LAYER]``) included, is
:func:`simkit.methods.registry.get_method`; this module sits below the families that
register their methods here (:mod:`.model_methods`, :mod:`.own_vectors`), so that none of
them imports the lookup that finds them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from simkit.errors import SimkitError

__all__ = ["Method", "MethodList", "UnknownMethodError", "DEFAULT_METHODS",
           "DEFAULT_RETRIEVAL_METHODS", "list_methods", "method_names", "family_methods",
           "register_method", "unregister_method", "named_method", "SURF_NOTE",
           "check_method_name"]

#: The three methods of Wei et al. (2022).
DEFAULT_METHODS = ("gram", "cosine", "gram_cosine")
#: What retrieval evaluates by default (sift/orb match every pair: slow on large
#: collections, so they are asked for by name).
DEFAULT_RETRIEVAL_METHODS = ("style", "colour", "cnn", "gram")

#: Why ``surf`` is not a method (the lookup says it when asked for one).
SURF_NOTE = ("SURF is patented and not in OpenCV's default (pip) build; use 'sift' or 'orb'")


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


def check_method_name(name: str) -> str:
    """``name`` lower-cased, when it can name a method (what choices.csv accepts:
    :func:`simkit.study.model.is_method_name`); else :class:`UnknownMethodError`."""
    from simkit.study.model import METHOD_NAME_RULE, is_method_name

    key = str(name).strip().lower()
    if not is_method_name(key):
        raise UnknownMethodError(f"method name {name!r} cannot be used: give "
                                 f"{METHOD_NAME_RULE}")
    return key


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to the registry, so every function that takes a method name knows it.

    A built-in name cannot be taken; a name registered before is an error unless
    ``replace`` (a notebook cell run twice passes ``replace=True``).
    """
    key = check_method_name(method.name)
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


def named_method(name: str) -> Method | None:
    """The method of the catalogue called ``name`` (lower case, no surrounding spaces),
    or ``None``; :func:`simkit.methods.registry.get_method` looks up any name."""
    return _registry().get(name)


def family_methods(family: str) -> list[Method]:
    """The registered methods of one family (``deep``, ``style``, ``local``, ``perceptual``)."""
    return [m for m in _registry().values() if m.family == family]
