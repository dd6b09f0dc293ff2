"""notebooks/04_collect_votes.ipynb runs top to bottom, unattended, in this environment."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs, outputs_text, run_notebook


@pytest.mark.slow
def test_notebook_04_collect_votes_runs(tmp_path):
    # TMPDIR: the notebook's demo study goes under tmp_path
    nb = run_notebook(NOTEBOOKS / "04_collect_votes.ipynb", {"TMPDIR": str(tmp_path)})
    text = outputs_text(nb)
    assert "answered=8/8" in text                       # the simulated participant finished
    # the simulated participant and the form's two (one left a question blank and had an
    # unreadable cell): the export loads as a study
    assert "participants: 3 recruited, 2 valid" in text
    assert "cannot read: row 3, column 'Group 1': 'not sure'" in text
    assert "added 2 participants and 14 votes; left out 1 cell(s)" in text
    assert "the same table again: added 0 votes, 14 already there" in text
    views = [o for o in outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 2  # the questionnaire and the live group explorer
    stores = list(tmp_path.glob("simkit-collect-*/demo-study/votes.sqlite"))
    assert len(stores) == 1
    experiment = stores[0].parent.parent / "experiment"   # the jsPsych export
    assert (experiment / "index.html").is_file() and len(list(experiment.glob("images/*.jpg"))) > 0
