"""notebooks/09_todays_models.ipynb runs top to bottom: VGG-19 Gram, a timm ViT (DINOv2), a
CLIP image tower and a vectors file the notebook writes, side by side, offline (random
weights, said loudly), with the agreement tables, a bar chart and the UMAP explorer."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs, outputs_text, run_notebook

NOTEBOOK = NOTEBOOKS / "09_todays_models.ipynb"
METHODS = ["gram", "dinov2", "clip", "mine"]  # short names of the notebook's four methods


def _cell_outputs(nb, last_line: str) -> list[dict]:
    """The outputs of the code cell whose last line starts with ``last_line``."""
    cells = [c for c in nb.cells if c.cell_type == "code"
             and c.source.strip().splitlines()[-1].strip().startswith(last_line)]
    assert len(cells) == 1, f"no single cell ending with {last_line!r}"
    return cells[0].outputs


def _html(outs: list[dict]) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") for o in outs)


@pytest.mark.slow
def test_notebook_09_puts_todays_models_beside_wei_et_al(notebook_env, tmp_path):
    env = {**notebook_env, "SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_NOTEBOOK_SIZE": "112",
           "SIMKIT_CACHE": str(tmp_path / "cache"), "SIMKIT_OFFLINE": "1",
           "TMPDIR": str(tmp_path)}
    nb = run_notebook(NOTEBOOK, env)  # also: no stderr, no error, no warning text
    text = outputs_text(nb)

    # models by name: the list and a model's layers
    assert "'timm:vit_base_patch14_dinov2.lvd142m'" in text
    assert "embedding, patch_embed" in text and "blocks.11" in text

    # the vectors file: written by the notebook's stand-in tool, then registered
    files = list(tmp_path.glob("simkit-09-*/my_vectors.csv"))
    assert len(files) == 1
    import pandas as pd
    written = pd.read_csv(files[0])
    assert written.columns[0] == "image_id" and len(written) == 40
    assert "registered 'mine': your own vectors, 40 images x 78 dimensions, cosine distance" \
        in text and str(files[0]) in text

    # the short names stand for the models by name
    assert "dinov2                       timm:vit_small_patch14_dinov2.lvd142m embedding" in text
    assert "clip                         open_clip:ViT-B-32.openai embedding" in text

    # offline: random weights, said loudly, for VGG-19 and for the new models
    result_html = _html(_cell_outputs(nb, "result"))
    assert "ImageNet VGG-19 weights are NOT available" in result_html
    assert "RANDOM network" in result_html and "random:0" in result_html
    assert "vit_small_patch14_dinov2" in result_html and "ViT-B-32.openai" in result_html
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in text

    # the agreement tables name all four methods, with a chance row
    tables_html = _html(_cell_outputs(nb, "ps.style"))
    assert "Table 3 — Agree (%)" in tables_html and "Table 2 — average Ps (%)" in tables_html
    for m in METHODS:
        assert f">{m}</th>" in tables_html, m  # a row of each table
    assert "chance (a random pair)" in tables_html

    # the bar chart: one bar per method, and the random weights named in its title
    figs = [o["data"]["application/vnd.plotly.v1+json"] for o in _cell_outputs(nb, "fig")
            if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figs) == 1
    bars = figs[0]["data"][0]
    assert bars["type"] == "bar" and len(bars["x"]) == 4
    assert "RANDOM weights" in figs[0]["layout"]["title"]["text"]

    # the UMAP explorer and the group explorer were displayed as widgets
    for last in ("umap_view", "explorer"):
        views = [o for o in _cell_outputs(nb, last)
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert views, f"{last} displayed no widget"
    assert not any(o.get("output_type") == "error" for o in outputs(nb))
