"""The one call for the paper's tables (``simkit.tables``): a study and, optionally, the
machine choices :func:`simkit.choose` made for it.

It lives in its own module because ``simkit.analysis.tables`` is the module that computes
them (:func:`simkit.analysis.tables.compute_tables`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from simkit.methods.choices import MachineChoices
    from simkit.study.model import Study

__all__ = ["tables"]


def tables(study: "Study", result: "MachineChoices | None" = None, *, ci: bool = True,
           n_boot: int = 2000, seed: int = 0,
           by: str | None = None) -> "dict[str, pd.DataFrame]":
    """Every table of Wei et al. (2022) for ``study``, keyed by its CSV name.

    Parameters
    ----------
    study : Study
        A loaded study (:func:`simkit.load_study`).
    result : MachineChoices, optional
        Machine choices from :func:`simkit.choose`; without it the study's own
        ``choices.csv`` is used (when it has none, only the human tables are filled).
    ci : bool
        Add bootstrap confidence intervals (``table2_ci``, ``table3_ci``).
    n_boot, seed : int
        Bootstrap resamples and their seed.
    by : str, optional
        A column of ``participants.csv`` (``"familiarity"``, ``"field"`` …): also every
        table per group of participants, with the group sizes
        (:func:`simkit.analysis.by_group.tables_by`).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``per_question``, ``table2`` … ``table5``, ``fig1``, ``easy``, ``chance`` (and the
        ``_ci`` tables), ``ceiling``, ``significance``, ``comparisons``, ``kappa``, ``split_half``,
        ``ceiling_fraction``, ``ps_comparisons``, ``participant_agreement`` (and with ``by``
        the ``by_<column>_…`` tables), as :func:`simkit.analysis.tables.compute_tables`
        computes them.

    Examples
    --------
    >>> result = simkit.choose(study, weights="random:0")        # doctest: +SKIP
    >>> simkit.tables(study, result)["table3"]                   # doctest: +SKIP
    >>> simkit.tables(study, result, by="familiarity")["by_familiarity_table3"]  # doctest: +SKIP
    """
    from simkit.analysis.tables import compute_tables

    if result is not None:
        study = result.study_with_choices(study)
    return compute_tables(study, ci=ci, n_boot=n_boot, seed=seed, by=by)
