"""notebooks/05_style_and_retrieval.ipynb runs top to bottom, unattended, on CPU."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs, outputs_text, run_notebook

pytest.importorskip("cv2")


@pytest.mark.slow
def test_notebook_05_style_and_retrieval_runs(tmp_path):
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2",
           "SIMKIT_NOTEBOOK_SIZE": "64",     # small inputs keep the test fast
           "SIMKIT_CACHE": str(tmp_path),   # the study and features go here
           "SIMKIT_OFFLINE": "1"}           # never try a download in CI
    nb = run_notebook(NOTEBOOKS / "05_style_and_retrieval.ipynb", env, timeout=300)
    text = outputs_text(nb)
    assert "40 prints" in text and "weights:" in text
    outs = outputs(nb)
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outs)
    for method in ("style", "colour", "cnn", "gram", "sift", "orb"):
        assert method in html                          # the evaluation table
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outs)
    widgets = [o for o in outs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(widgets) >= 2                           # the grid and the neighbours
