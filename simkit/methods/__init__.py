"""Machine methods: the registry of every method (:mod:`~simkit.methods.registry`), the
choices they make for a study (:mod:`~simkit.methods.choices`) and each family's computation
(:mod:`~simkit.methods.style`, :mod:`~simkit.methods.local`, :mod:`~simkit.methods.perceptual`).

This package is also callable: ``simkit.methods()`` lists the registered methods.

>>> import simkit
>>> [m.name for m in simkit.methods()][:3]
['gram', 'cosine', 'gram_cosine']
"""
from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simkit.methods.registry import MethodList


class _CallableModule(types.ModuleType):
    # The public surface promises ``simkit.methods()`` while ``simkit.methods`` is also this
    # subpackage; a module can only be called when its class defines __call__.
    def __call__(self) -> "MethodList":
        """Every registered method (:func:`simkit.methods.registry.list_methods`)."""
        from simkit.methods.registry import list_methods
        return list_methods()


sys.modules[__name__].__class__ = _CallableModule
