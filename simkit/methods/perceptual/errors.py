"""The error of every perceptual module: a triplet source, scalars file or setting that
cannot be used.

Its own module, below the rest of the package, so that the distortions, the metrics and
the data sets can all raise it without importing one another.
"""
from __future__ import annotations

from simkit.errors import SimkitError

__all__ = ["PerceptualDataError"]


class PerceptualDataError(SimkitError, ValueError):
    """A triplet source is unusable; the message names the file/value and how to fix it."""
