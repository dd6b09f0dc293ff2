"""Jupyter views over the simkit API (ipywidgets + plotly).

Each view is a class in its own module, imported on first use so that ``import simkit``
never needs ipywidgets or plotly:

- :class:`GroupExplorer`  — one question: prints, votes, the Majority and each method's pair
- :class:`UmapExplorer`   — UMAP of the feature vectors, linked to the group explorer
- :class:`TableReplay`    — a computed table beside the published one
- :class:`Questionnaire`  — collect votes, the way the paper's online questionnaire did
- :class:`GroupBuilder`   — browse a collection, build 5-print groups, see the machines' picks
- :class:`CollectionMap`  — a WebGL map of a whole collection, neighbours on click

One display convention (:class:`simkit.widgets.view.View`): every view is a plain object
holding view state, whose ``.widget`` is its ipywidgets root (built on first use, to place
in your own layout) and which shows itself when it is a cell's value or passed to
``display()`` (``_repr_mimebundle_``). The figures come from :mod:`simkit.plots`, and the
thumbnails from one bounded cache (:func:`simkit.widgets.view.thumbnail_png`).
"""
from __future__ import annotations

import importlib

from simkit.errors import missing_extra

_VIEWS = {
    "GroupExplorer": "group_explorer",
    "UmapExplorer": "umap_explorer",
    "TableReplay": "table_replay",
    "Questionnaire": "questionnaire",
    "GroupBuilder": "group_builder",
    "CollectionMap": "collection_map",
}
__all__ = list(_VIEWS)


def __getattr__(name: str):
    if name in _VIEWS:
        try:
            module = importlib.import_module(f".{_VIEWS[name]}", __name__)
        except ImportError as e:  # the optional [lab] extra is missing
            raise missing_extra(f"simkit.widgets.{name}", "lab", e) from e
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
