"""The one call for the paper's tables (``simkit.tables``): a study and, optionally, the
machine choices :func:`simkit.choose` made for it.

:func:`compute_tables` brings together the tables of every module of ``simkit.analysis``:
:mod:`~simkit.analysis.tables` (Ps, Majority, Agree, Tables 2–5, intervals), the ceilings,
tests, split-half and participant view, and the tables per group of participants
(:mod:`~simkit.analysis.by_group`). Those modules compute; this one only orchestrates.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from simkit.analysis.by_group import tables_by
from simkit.analysis.ceilings import ceiling_fraction, fleiss_kappa, human_ceiling
from simkit.analysis.paired import ps_comparisons
from simkit.analysis.participant_agreement import participant_agreement, participant_tests
from simkit.analysis.significance import against_chance, compare_methods
from simkit.analysis.split_half import split_half
from simkit.analysis.tables import (bootstrap_ci, chance_levels, check_boot_args,
                                    easy_questions, fig1, onehot_votes, per_question, table2,
                                    table3, table4, table5)
from simkit.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from simkit.methods.choices import MachineChoices
    from simkit.study.model import Study

__all__ = ["tables", "compute_tables"]


def tables(study: "Study | str | os.PathLike",
           result: "MachineChoices | pd.DataFrame | str | os.PathLike | None" = None, *,
           ci: bool = True,
           n_boot: int = 2000, seed: int = 0,
           by: str | None = None) -> "dict[str, pd.DataFrame]":
    """Every table of Wei et al. (2022) for ``study``, keyed by its CSV name.

    Parameters
    ----------
    study : Study or path
        A loaded study (:func:`simkit.load_study`), or its folder.
    result : MachineChoices, DataFrame or path, optional
        Machine choices from :func:`simkit.choose` (or their ``choices`` table, or a
        choices CSV file); without it the study's own ``choices.csv`` is used (when it has
        none, only the human tables are filled).
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
        the ``by_<column>_…`` tables), as :func:`compute_tables` computes them.

    Examples
    --------
    >>> result = simkit.choose(study, weights="random:0")        # doctest: +SKIP
    >>> simkit.tables(study, result)["table3"]                   # doctest: +SKIP
    >>> simkit.tables(study, result, by="familiarity")["by_familiarity_table3"]  # doctest: +SKIP
    """
    import pandas as pd

    from simkit.methods.choices import MachineChoices
    from simkit.study.model import as_study, read_study_csv

    study = as_study(study, "simkit.tables(study, …)")
    if isinstance(result, MachineChoices):
        study = result.study_with_choices(study)
    elif isinstance(result, pd.DataFrame):  # e.g. result.choices: validated as choices.csv
        study = study.with_choices(result)
    elif isinstance(result, (str, os.PathLike)):  # a choices.csv file
        study = study.with_choices(read_study_csv(Path(result), "choices.csv"))
    elif result is not None:
        raise UsageError(f"simkit.tables(study, result): got a {type(result).__name__} as "
                         f"result; give the MachineChoices of simkit.choose, a choices "
                         f"table or the path of a choices.csv")
    return compute_tables(study, ci=ci, n_boot=n_boot, seed=seed, by=by)


def compute_tables(study: "Study", *, ci: bool = True, n_boot: int = 2000,
                   seed: int = 0, by: str | None = None) -> "dict[str, pd.DataFrame]":
    """Every table of the paper, keyed by the name of its CSV file (without ``.csv``):
    per_question, table2, table3, table4, table5, fig1, easy, chance, (``ci=True``)
    table2_ci and table3_ci, and the ceilings and tests of issue 15: ceiling, significance,
    comparisons, kappa (see :mod:`simkit.analysis.ceilings`,
    :mod:`simkit.analysis.significance`), split_half (:mod:`simkit.analysis.split_half`),
    ceiling_fraction, ps_comparisons (:mod:`simkit.analysis.paired`),
    participant_agreement and participant_tests
    (:mod:`simkit.analysis.participant_agreement`). With ``by`` (a
    column of participants.csv), also ``by_<column>_groups``, ``…_table2``, ``…_table3``,
    ``…_ceiling`` and ``…_kappa`` (:mod:`simkit.analysis.by_group`)."""
    check_boot_args(n_boot)  # before any table: a huge n_boot ran out of memory midway
    # The votes are read off the study once, as a frame (pq) and as an array (onehot), and
    # every table below takes them from here.
    pq = per_question(study)
    onehot, _ = onehot_votes(study)
    tables = {"per_question": pq, "table2": table2(pq), "table3": table3(pq),
              "table4": table4(pq), "table5": table5(pq), "fig1": fig1(pq),
              "easy": easy_questions(pq), "chance": chance_levels(pq),
              "ceiling": human_ceiling(study, ci=ci, n_boot=n_boot, seed=seed, onehot=onehot),
              "significance": against_chance(pq), "comparisons": compare_methods(pq),
              "kappa": fleiss_kappa(pq), "split_half": split_half(study, seed=seed, onehot=onehot),
              "ps_comparisons": ps_comparisons(pq, n_boot=n_boot, seed=seed),
              "participant_agreement": participant_agreement(study, onehot=onehot),
              "participant_tests": participant_tests(study, onehot=onehot)}
    tables["ceiling_fraction"] = ceiling_fraction(tables["table2"], tables["table3"],
                                                  tables["ceiling"])
    if by is not None:
        tables.update(tables_by(study, by, ci=ci, n_boot=n_boot, seed=seed, pq=pq))
    if ci:
        boot = bootstrap_ci(study, n_boot=n_boot, seed=seed, pq=pq, onehot=onehot)
        for name in ("table2", "table3"):
            tables[f"{name}_ci"] = boot[boot["table"] == name].drop(columns="table").reset_index(drop=True)
    return tables
