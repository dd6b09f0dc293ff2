"""What names a network's weights, whichever family builds it: ``random:SEED`` (seeded
random weights, for tests and offline demos), and the errors of weights that cannot be used.

>>> random_seed("random:0"), random_seed("imagenet")
(0, None)

It sits below :mod:`simkit.features.backbones` and :mod:`simkit.features.models`, which
both read weights specifications through it.
"""
from __future__ import annotations

import os
import re

from simkit.errors import SimkitError

__all__ = ["WeightsError", "WeightsUnavailableError", "random_seed", "weights_note",
           "RANDOM_WEIGHTS_NOTE"]

RANDOM_WEIGHTS_NOTE = ("features from a RANDOM network (weights {spec}), not trained ones: "
                       "for tests and offline demos only; its choices say nothing about "
                       "{model} similarity.")


class WeightsError(SimkitError, ValueError):
    """A weights specification or file cannot be used; the message says how to fix it."""


_RANDOM_SEED_RE = re.compile(r"^random:(\d+)$")


def random_seed(weights: str | os.PathLike) -> int | None:
    """The seed of ``random:SEED`` weights, else ``None``.

    Raises :class:`WeightsError` for a seed past 2**63 - 1: torch's generators hold a
    signed 64-bit number (a larger seed was an overflow traceback).
    """
    from simkit.checks import MAX_SEED

    m = _RANDOM_SEED_RE.match(str(weights))
    # the digits' count first: int() of thousands of digits is itself refused
    if m and (len(m.group(1)) > len(str(MAX_SEED)) or int(m.group(1)) > MAX_SEED):
        raise WeightsError(f"--weights {str(weights)[:40]!r}: the seed of random:SEED must "
                           f"be from 0 to 2**63 - 1 ({MAX_SEED}); e.g. random:0")
    return int(m.group(1)) if m else None


class WeightsUnavailableError(SimkitError, RuntimeError):
    """Pretrained weights are neither cached nor downloadable; the message says what to do.

    ``what`` names the weights (``"ImageNet weights for vgg19"``, ``"timm weights for
    vit_small_patch16_224"``), or is empty."""

    def __init__(self, message: str = "", what: str = "") -> None:
        super().__init__(message)
        self.what = what


def weights_note(weights: str | os.PathLike, model: str = "VGG-19") -> str:
    """The warning every result of a random network carries ("" for real weights)."""

    spec = str(weights)
    return (RANDOM_WEIGHTS_NOTE.format(spec=spec, model=model)
            if random_seed(spec) is not None else "")
