"""Analysis: Ps, Majority, Agree, the paper's tables and intervals; the published numbers.

``simkit.tables(study, result)`` (:func:`simkit.analysis.all_tables.tables`) is the one call.
The modules here only compute; the tables as text, CSV files and the HTML report are
:mod:`simkit.reports`.
"""
