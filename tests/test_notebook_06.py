"""notebooks/06_perceptual_adaptation.ipynb runs top to bottom (nbclient, this interpreter):
a context → adaptation of every network × comparison → baseline vs adapted bar chart and
the learned per-channel weights. Offline, it must say plainly that its networks are random."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs, outputs_text, run_notebook

NOTEBOOK = NOTEBOOKS / "06_perceptual_adaptation.ipynb"


@pytest.mark.slow
@pytest.mark.parametrize("context", ["distortions", "study"])
def test_notebook_06_runs(context, tmp_path):
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_NOTEBOOK_SIZE": "32",
           "SIMKIT_NOTEBOOK_CONTEXT": context, "SIMKIT_CACHE": str(tmp_path / "cache"),
           "SIMKIT_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "torch")}
    nb = run_notebook(NOTEBOOK, env)
    outs = outputs(nb)
    text = outputs_text(nb)
    # no ImageNet weights here (TORCH_HOME is empty): said loudly, random:0 used
    assert "WARNING: ImageNet weights for alexnet are NOT available" in text
    assert "MEANS NOTHING" in text and "random:0" in text
    figures = [o["data"]["application/vnd.plotly.v1+json"] for o in outs
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 2  # Fig. 3 and the learned scalars
    bars = figures[0]["data"]
    assert {b["name"] for b in bars} == {"baseline", "adapted"}
    assert "RANDOM weights" in figures[0]["layout"]["title"]["text"]
    # one bar per network × comparison × variant
    assert sum(len(b["x"]) for b in bars) == 3 * 5 * 2
    if context == "study":
        assert "Agree and Ps in percent" in text
