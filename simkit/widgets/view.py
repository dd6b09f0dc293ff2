"""The display convention every view follows, and the thumbnails they show.

A view is a plain object holding view state, with

- ``.widget``: its ipywidgets root (built on first use), to place inside your own layout;
- ``_repr_mimebundle_``: a notebook shows the view when it is a cell's last value (or
  ``display(view)``), exactly as it would show ``view.widget``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

__all__ = ["View", "thumbnail_png", "placeholder_png", "THUMBNAIL_CACHE_SIZE", "one_of"]

#: Thumbnails kept in memory (a few kB each), shared by all views; the oldest go first.
THUMBNAIL_CACHE_SIZE = 2048


class View:
    """Base of the views: shows ``self.widget`` (a property or attribute of the subclass)."""

    widget: Any

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def one_of(value: Any, choices: Iterable[Any], what: str) -> Any:
    """``value`` when it is one of ``choices``, else ``ValueError`` naming ``what`` (a view
    option: a genre, an order, a representation …) and every choice."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of "
                         f"{', '.join(map(str, choices))}")
    return value


def thumbnail_png(path: str | Path, size: int = 160) -> bytes:
    """PNG bytes of an image shrunk to fit ``size`` × ``size``, keeping its aspect ratio.

    Made by :func:`simkit.features.thumbnails.encode_thumbnail` (decoded safely: CMYK,
    16-bit, alpha, EXIF…) and cached per file, size and modification time (the last
    :data:`THUMBNAIL_CACHE_SIZE` thumbnails)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = None
    return _thumbnail(str(path), int(size), mtime)


@lru_cache(maxsize=THUMBNAIL_CACHE_SIZE)
def _thumbnail(path: str, size: int, mtime: int | None) -> bytes:
    from simkit.features.thumbnails import encode_thumbnail

    return encode_thumbnail(path, size, "PNG")


@lru_cache(maxsize=8)
def placeholder_png(size: int = 16) -> bytes:
    """A grey square: what a view shows for an image it cannot read, rather than failing."""
    from simkit.features.thumbnails import placeholder_image

    return placeholder_image(size, "PNG")
