"""simkit — study how people and machines judge the similarity of images.

The public surface is small; each idea lives in its own module:

- :mod:`simkit.study.model`    load, validate and save study folders (images, questions, votes)
- :mod:`simkit.analysis.tables` Ps, Majority, Agree, Tables 2–5, Fig. 1, confidence intervals
- :mod:`simkit.analysis.published`    the published numbers of Wei et al. (2022) and the replay
- :mod:`simkit.study.demo`     offline demo studies (simulated votes)
- :mod:`simkit.features.extract` deep features (VGG-19 Gram / Cosine / Gram·Cosine), cached
- :mod:`simkit.methods.choices`  distances and each method's choice per question

Importing ``simkit`` loads nothing heavy (no torch, no plotting).
"""
from simkit.study.model import Study, StudyError, load_study, save_study

__version__ = "0.1.0"
__all__ = ["Study", "StudyError", "load_study", "save_study", "__version__"]
