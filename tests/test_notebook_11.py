"""notebooks/11_replay_adaptation_paper.ipynb runs top to bottom: the published Table 3 of
Pihlgren et al., a small replication on fabricated data (no data sets here), ours beside
theirs, Figs. 2 and 3 — every number said to be meaningless."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs, outputs_text, run_notebook

NOTEBOOK = NOTEBOOKS / "11_replay_adaptation_paper.ipynb"


@pytest.mark.slow
def test_notebook_11_runs(tmp_path):
    env = {"SIMKIT_NOTEBOOK_SIZE": "32", "SIMKIT_NOTEBOOK_RANKINGS": "3",
           "SIMKIT_NOTEBOOK_EPOCHS": "2", "SIMKIT_PERCEPTUAL_DATA": str(tmp_path / "absent"),
           "SIMKIT_CACHE": str(tmp_path / "cache"), "SIMKIT_OFFLINE": "1",
           "TORCH_HOME": str(tmp_path / "torch")}
    nb = run_notebook(NOTEBOOK, env)
    text = outputs_text(nb)
    assert "FABRICATED tiny data sets" in text and "absent/svhn/train_32x32.mat" in text
    assert "MEANINGLESS: fabricated data, random weights, a small subset" in text
    assert "0.7961" in text and "0.9933" in text         # the published numbers
    assert "0 of 9 runs already done; 9 to do" in text
    figures = [o["data"]["application/vnd.plotly.v1+json"] for o in outputs(nb)
               if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 2
    fig2, fig3 = figures
    assert "MEANINGLESS" in fig2["layout"]["title"]["text"]
    # Fig. 2: baseline, adapted scalars and adapted net on SVHN and STL-10, 3 rankings each
    assert sorted(t["name"] for t in fig2["data"]) == sorted(
        ["baseline", "adapted (scalars)", "adapted (net)"] * 2)
    assert all(len(t["y"]) == 3 for t in fig2["data"])
    assert {t["name"] for t in fig3["data"]} == {"baseline", "adapted (scalars)",
                                                 "adapted (net)"}
