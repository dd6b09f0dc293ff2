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
    assert "participants: 1 recruited, 1 valid" in text  # the export loads as a study
    views = [o for o in outputs(nb) if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) >= 2  # the questionnaire and the live group explorer
    stores = list(tmp_path.glob("simkit-collect-*/demo-study/votes.sqlite"))
    assert len(stores) == 1
