"""Analysis: Ps, Majority, Agree, the paper's tables and intervals; the published numbers; text reports.

``simkit.tables(study, result)`` (:func:`simkit.analysis.all_tables.tables`) is the one call.
"""
