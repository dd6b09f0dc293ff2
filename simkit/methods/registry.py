"""The registry: every machine method is one :class:`Method`, found here by its name.

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
a method, made when it is first asked for (:func:`get_method`). Every other name is in the
catalogue (:mod:`simkit.methods.catalogue`: the built-in methods, and those made at run
time, your own vectors or an alias, which join through :func:`register_method`); this
module re-exports its names, so ``simkit.methods.registry`` is the one place to import
from.

A method either makes *vectors* compared with its ``metric`` (``euclidean`` or ``cosine``),
or *scores* pairs of images directly (``matches`` for keypoints, ``lpips`` for the
perceptual distances). :func:`simkit.methods.choices.choose` runs any mix of them on a study;
:mod:`simkit.search.retrieval` ranks collections with them.
"""
from __future__ import annotations

from typing import Iterable

from simkit.methods.catalogue import (DEFAULT_METHODS, DEFAULT_RETRIEVAL_METHODS, SURF_NOTE,
                                      Method, MethodList, UnknownMethodError,
                                      check_method_name, family_methods,
                                      list_methods, method_names, named_method,
                                      register_method, unregister_method)
from simkit.methods.model_methods import model_method

__all__ = ["Method", "MethodList", "UnknownMethodError", "DEFAULT_METHODS", "DEFAULT_RETRIEVAL_METHODS",
           "list_methods", "get_method", "method_names", "family_methods", "resolve_methods",
           "register_method", "unregister_method", "check_method_name"]


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
        raise UnknownMethodError(SURF_NOTE)
    found = named_method(key)
    if found is not None:
        return found
    if ":" in key:  # REPR:MODEL[@LAYER], made on first use
        return model_method(str(name).strip())
    raise UnknownMethodError(f"unknown method {name!r}; choose from "
                             f"{', '.join(method_names())}, or a model method "
                             f"REPR:MODEL[@LAYER] (see `simkit models`)")


def resolve_methods(names: Iterable[str] | str) -> list[Method]:
    """The methods named (a list or a comma-separated string), duplicates dropped, in order.

    Raises :class:`UnknownMethodError` for an unknown name or an empty selection.
    """
    if isinstance(names, str):
        names = names.split(",")
    methods = [get_method(n) for n in names if str(n).strip()]
    if not methods:
        raise UnknownMethodError(f"no method given; choose from {', '.join(method_names())}")
    return list({m.name: m for m in methods}.values())
