"""simkit — study how people and machines judge the similarity of images.

The five calls::

    import simkit
    study = simkit.load_study("STUDY")          # or simkit.default_study() for the demo
    simkit.methods()                            # every machine method, with a description
    result = simkit.choose(study, ["gram", "cosine", "gram_cosine"], weights="imagenet")
    tables = simkit.tables(study, result)       # every table of the paper
    simkit.widgets.GroupExplorer(study, result.choices, result.distances)   # explore

Today's models and your own vectors join by name::

    simkit.list_models("timm", "dinov2")        # torchvision, timm and open_clip models
    simkit.register_vectors("mine", "embeddings.parquet")   # one vector per image_id
    simkit.choose(study, ["gram", "embed:timm:vit_small_patch16_224",
                          "embed:open_clip:ViT-B-32.openai", "mine"], device="auto")

How good could a machine be, and why did it pick that pair::

    simkit.tables(study, result, by="familiarity")   # ceilings, tests, per participant group
    simkit.report(study, result, out="report.html")  # one self-contained HTML file
    simkit.explain(study, "q001", "gram")            # saliency maps and channel pairs

The package reads as the pipeline: ``study/`` (folders, groups, demo), ``votes/``,
``features/`` (images → network → representations), ``methods/`` (the registry and every
method), ``search/`` (distances, retrieval), ``analysis/`` (tables, ceilings, tests, published
numbers), ``scale/``, ``fetch/``, ``serve/`` (the questionnaire as a web page),
``plots/``, ``reports/`` (text, CSV files, the HTML report), ``widgets/``, ``cli/``.

Importing ``simkit`` loads nothing heavy (no torch, no plotting): the names below are
imported on first use.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from simkit.errors import SimkitError

if TYPE_CHECKING:
    from simkit.analysis.all_tables import tables
    from simkit.reports.html import report
    from simkit.features.models import list_models, model_layers
    from simkit.methods.choices import MachineChoices, choose
    from simkit.methods.explain import explain
    from simkit.methods.own_vectors import register_vectors
    from simkit.methods.registry import get_method
    from simkit.study.demo import default_study
    from simkit.study.model import Study, StudyError, load_study, save_study

__version__ = "0.1.0"

# name -> module that defines it; imported when first asked for
_EXPORTS = {
    "Study": "simkit.study.model", "StudyError": "simkit.study.model",
    "load_study": "simkit.study.model", "save_study": "simkit.study.model",
    "default_study": "simkit.study.demo",
    "get_method": "simkit.methods.registry",
    "choose": "simkit.methods.choices", "MachineChoices": "simkit.methods.choices",
    "tables": "simkit.analysis.all_tables",
    "report": "simkit.reports.html",
    "list_models": "simkit.features.models", "model_layers": "simkit.features.models",
    "register_vectors": "simkit.methods.own_vectors",
    "explain": "simkit.methods.explain",
}
__all__ = ["Study", "StudyError", "load_study", "save_study", "default_study", "methods",
           "get_method", "choose", "MachineChoices", "tables", "SimkitError", "__version__",
           "list_models", "model_layers", "register_vectors", "report", "explain"]


def __getattr__(name: str) -> Any:
    if name == "methods":  # the callable subpackage: simkit.methods() lists the registry
        return importlib.import_module("simkit.methods")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simkit' has no attribute {name!r}")
