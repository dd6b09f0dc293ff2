"""Reports: the analysis's tables and figures made for people and for other tools.

- :mod:`~simkit.reports.text` — Tables 2–5 and the §4.3 summary in the paper's layout, and a
  replay beside the published values; :mod:`~simkit.reports.ceiling_text` — the ceilings,
  tests, participant view and groups in a few lines;
- :mod:`~simkit.reports.files` — every table as a CSV file at full precision (the results
  folder of ``simkit tables``);
- :mod:`~simkit.reports.html` — the report for colleagues (``simkit.report``), one
  self-contained HTML page, with its tables (:mod:`~simkit.reports.tables_html`) and questions
  (:mod:`~simkit.reports.questions_html`).

The numbers are computed in :mod:`simkit.analysis` and the figures drawn in :mod:`simkit.plots`;
nothing here computes a table.
"""
