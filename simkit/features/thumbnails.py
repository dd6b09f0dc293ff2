"""Thumbnails: an image shrunk to fit a square, encoded as PNG or JPEG bytes.

The views show them (:func:`simkit.widgets.view.thumbnail_png` caches them) and the HTML
report embeds them as data URIs (:mod:`simkit.reports.html`). Decoding goes through
:func:`simkit.features.images.load_rgb`, so CMYK, 16-bit, alpha and EXIF rotation are
handled, and an unreadable file raises :class:`~simkit.features.images.ImageError`.
"""
from __future__ import annotations

import io
import os

__all__ = ["encode_thumbnail", "placeholder_image", "FORMATS"]

#: The encodings a thumbnail can have.
FORMATS = ("PNG", "JPEG")


def _check_format(fmt: str) -> str:
    fmt = str(fmt).upper().replace("JPG", "JPEG")
    if fmt not in FORMATS:
        raise ValueError(f"thumbnail format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


def encode_thumbnail(path: str | os.PathLike, size: int = 160, fmt: str = "PNG",
                     quality: int = 80) -> bytes:
    """The image at ``path`` shrunk to fit ``size`` × ``size`` (aspect ratio kept).

    Parameters
    ----------
    path : path-like
        An image file.
    size : int
        The longest side in pixels; a smaller image is not enlarged.
    fmt : str
        ``PNG`` (lossless) or ``JPEG`` (a few times smaller for prints and photographs).
    quality : int
        JPEG quality (1–95).

    Returns
    -------
    bytes
        The encoded image.
    """
    from PIL import Image

    from simkit.features.images import load_rgb

    fmt = _check_format(fmt)
    img = load_rgb(path)
    img.thumbnail((int(size), int(size)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=int(quality), optimize=True)
    else:
        img.save(buf, format="PNG")
    return buf.getvalue()


def placeholder_image(size: int = 16, fmt: str = "PNG") -> bytes:
    """A grey square: what is shown for an image that cannot be read, rather than failing."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (int(size), int(size)), (200, 200, 200)).save(buf, format=_check_format(fmt))
    return buf.getvalue()
