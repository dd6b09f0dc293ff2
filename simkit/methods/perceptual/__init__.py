"""Deep perceptual similarity (LPIPS-style metrics) adapted to a context.

After Pihlgren, Sandin & Liwicki, *Deep Perceptual Similarity is Adaptable to Ambiguous
Contexts*, and Zhang et al. (2018), *The Unreasonable Effectiveness of Deep Features as a
Perceptual Metric*. One idea per module:

- :mod:`~simkit.methods.perceptual.networks`    loss networks (AlexNet, SqueezeNet 1.1, VGG-16 with
  the paper's Table 1 layers; VGG-19 at the ukiyo-e layers), weights imagenet | PATH | random:SEED
- :mod:`~simkit.methods.perceptual.metrics`     spatial / mean / sort comparisons (eqs. 1–3) with
  per-channel scalars, the per-pair statistics they are built from, :class:`PerceptualMetric`
- :mod:`~simkit.methods.perceptual.distortions` the six distortions of Table 2, seeded
- :mod:`~simkit.methods.perceptual.twoafc`      2AFC triplets, the 2AFC score (eq. 5), JND mAP
- :mod:`~simkit.methods.perceptual.datasets`    triplets from a distortion ranking, from a study's
  votes, and from the material-appearance benchmark (Lagunas et al. 2019)
- :mod:`~simkit.methods.perceptual.adaptation`       training the scalars (BCE through Zhang et al.'s
  small network + L_sync of eq. 4), several seeds; fine-tuning the network with them (the
  paper's "adapted net")
- :mod:`~simkit.methods.perceptual.study_adaptation` a study's choices and pair distances,
  cross-validation of the adaptation over its questions
- :mod:`~simkit.methods.perceptual.paper_data`  the paper's data sets: SVHN, STL-10 (torchvision),
  BAPPS 2AFC and JND (their on-disk layout); tiny fabricated ones in the same formats
- :mod:`~simkit.methods.perceptual.replication` the paper's protocol (random rankings, baseline
  vs adapted, resumable), its Table 3 and correlations beside the published ones
- :mod:`~simkit.methods.perceptual.errors`      :class:`PerceptualDataError`, the one error
  every module raises (below them all)
- :mod:`~simkit.cli.perceptual`     ``simkit perceptual score|adapt`` (terminal), and
  :mod:`~simkit.cli.perceptual_replicate` ``simkit perceptual replicate``

Importing this package loads nothing heavy; names below are imported on first use.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "NETWORKS": "networks", "load_network": "networks", "LossNetwork": "networks",
    "COMPARISONS": "metrics", "PerceptualMetric": "metrics", "pair_statistics": "metrics",
    "method_name": "metrics", "load_scalars": "metrics",
    "DISTORTIONS": "distortions", "distort": "distortions",
    "Triplets": "twoafc", "score_2afc": "twoafc", "jnd_map": "twoafc",
    "triplet_statistics": "twoafc",
    "distortion_triplets": "datasets", "vote_triplets": "datasets",
    "study_triplets": "datasets", "load_material_appearance": "datasets",
    "adapt": "adaptation", "adapt_seeds": "adaptation", "adapt_network": "adaptation",
    "cross_validate_study": "study_adaptation", "study_choices": "study_adaptation",
    "JndPairs": "twoafc", "jnd_statistics": "twoafc",
    "load_svhn": "paper_data", "load_stl10": "paper_data", "load_bapps_2afc": "paper_data",
    "load_bapps_jnd": "paper_data",
    "Protocol": "replication", "replicate": "replication", "paper_rankings": "replication",
    "summarise": "replication",
    "PerceptualDataError": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
