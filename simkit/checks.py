"""Checks of the numbers a Python caller passes (sizes, counts, seeds), as the command
line's option types check them: a value that cannot be used is a :class:`UsageError`
naming it, before any work, never numpy's or PIL's exception from deep inside.
"""
from __future__ import annotations

import numbers

from simkit.errors import UsageError

__all__ = ["whole_number", "MAX_SEED", "MAX_SIZE", "MAX_BOOT"]

#: The largest seed torch and numpy both take (torch's generator holds a signed 64-bit int).
MAX_SEED = 2**63 - 1
#: The largest input size in pixels: a VGG-19 at 4096 × 4096 already needs gigabytes per
#: image; far larger sizes only ran out of memory.
MAX_SIZE = 4096

#: The most bootstrap resamples: the resampling holds n_boot x participants counts at
#: once, so 10**12 asked for terabytes (a MemoryError); 100,000 is far past any need.
MAX_BOOT = 100_000


def whole_number(value: object, what: str, low: int, high: int | None = None,
                 hint: str = "") -> int:
    """``value`` as an int, when it is a whole number (not a bool, float or string) with
    ``low <= value <= high``; else a :class:`UsageError` naming ``what`` and the bounds.

    Parameters
    ----------
    value : object
        What the caller passed.
    what : str
        Its name in the message, e.g. ``"size"``.
    low, high : int
        The bounds (``high`` None: no upper bound).
    hint : str
        Appended to the message, e.g. ``"224 in the paper"``.

    Returns
    -------
    int
        The value.
    """
    bounds = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):  # type: ignore[operator]
        raise UsageError(f"{what} {value!r}: give a whole number {bounds}"
                         + (f" ({hint})" if hint else ""))
    return int(value)  # type: ignore[call-overload]
