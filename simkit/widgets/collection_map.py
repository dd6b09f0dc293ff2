"""A map of a whole collection: 100,000 points in the browser (WebGL), neighbours on click.

>>> m = CollectionMap(xy, collection.images, index=ann, colour="genre")   # doctest: +SKIP
>>> m                                                                    # doctest: +SKIP

``xy`` comes from :func:`simkit.scale.neighbours.large_umap`; the points are drawn with plotly's
``Scattergl`` (WebGL: SVG ``Scatter`` stalls beyond some 10,000 points), one trace per value
of the colour column (the most frequent 20, the rest as "other"). Clicking a point lists its
nearest images from the approximate index (:class:`simkit.scale.neighbours.CollectionIndex`) and
highlights them. The logic (:meth:`click`, :attr:`selected`) works without a browser.
"""
from __future__ import annotations

import html

import numpy as np
import pandas as pd

from simkit.plots.figures import collection_map, finite
from simkit.widgets.view import View

__all__ = ["CollectionMap"]


class CollectionMap(View):
    """Scattergl map of ``xy`` (N x 2) for the images of ``images`` (``image_id`` + labels,
    in the same order as ``xy``)."""

    def __init__(self, xy: np.ndarray, images: pd.DataFrame, index=None, *,
                 colour: str | None = None, k: int = 10, max_groups: int = 20) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        xy = np.asarray(xy, dtype=np.float32)
        if len(xy) != len(images):
            raise ValueError(f"{len(xy)} map points for {len(images)} images")
        self.images = images.reset_index(drop=True)
        self.ids = self.images["image_id"].astype(str).tolist()
        self.xy, self.index, self.k = xy, index, int(k)
        self.selected: list[str] = []
        labels = (self.images[colour].astype(str).fillna("") if colour in self.images
                  else pd.Series(["images"] * len(xy)))
        self.fig = go.FigureWidget(collection_map(xy, labels, self.ids, max_groups=max_groups))
        for trace in self.fig.data[:-1]:
            trace.on_click(self._on_click)
        self.info = w.HTML("click a point to list its nearest images")
        self.widget = w.VBox([self.fig, self.info])

    def _on_click(self, trace, points, _state) -> None:
        if points.point_inds:
            self.click(self.ids[int(trace.customdata[points.point_inds[0]])])

    def click(self, image_id: str) -> list[str]:
        """Select an image: its nearest images (approximate index) are highlighted and
        listed; returns them (empty without an index)."""
        if image_id not in self.ids:
            raise KeyError(f"{image_id!r} is not on this map")
        near: list[str] = []
        if self.index is not None:
            near, _ = self.index.query(image_id, self.k)
        self.selected = [image_id, *near]
        pos = [self.ids.index(i) for i in self.selected]
        with self.fig.batch_update():
            self.fig.data[-1].x = finite(self.xy[pos, 0])
            self.fig.data[-1].y = finite(self.xy[pos, 1])
        self.info.value = (f"<b>{html.escape(image_id)}</b> — nearest: "
                           + ", ".join(html.escape(i) for i in near))
        return near

