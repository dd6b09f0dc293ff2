"""notebooks/10_how_good_could_a_machine_be.ipynb runs top to bottom, offline (random weights,
said loudly): the ceilings, split-half, kappa, fraction of the ceiling, the tests, the
participant-level plot and a split by familiarity, each shown with the numbers the library
computes for the same study."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs_text, run_notebook

NOTEBOOK = NOTEBOOKS / "10_how_good_could_a_machine_be.ipynb"


def _cell_outputs(nb, last_line: str) -> list[dict]:
    """The outputs of the code cell whose last line starts with ``last_line``."""
    cells = [c for c in nb.cells if c.cell_type == "code"
             and c.source.strip().splitlines()[-1].strip().startswith(last_line)]
    assert len(cells) == 1, f"no single cell ending with {last_line!r}"
    return cells[0].outputs


@pytest.mark.slow
def test_notebook_10_shows_how_good_a_machine_could_be(notebook_env, tmp_path, monkeypatch):
    env = {**notebook_env, "SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_NOTEBOOK_SIZE": "64",
           "SIMKIT_CACHE": str(tmp_path / "cache"), "SIMKIT_OFFLINE": "1"}
    nb = run_notebook(NOTEBOOK, env)  # also: no stderr, no error, no warning text
    text = outputs_text(nb)

    # offline: random weights, said loudly
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in text and "random:0" in text

    # the same study, computed here: the notebook printed its numbers (the people's
    # measures do not depend on the machines' choices, so no network is run here)
    import simkit
    from simkit.reports.ceiling_text import format_ceilings

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    study = simkit.load_study(simkit.default_study(groups_per_genre=2))
    tables = simkit.tables(study, by="familiarity")
    human = [line for line in format_ceilings(tables).splitlines()
             if line.strip().startswith(("Human ceiling", "Split-half", "Fleiss", "By "))]
    assert len(human) == 4
    for line in human:
        assert line in text, line

    # the participant-level plot: a box for the people and each of the three methods,
    # the ceiling line at the Ps ceiling, and the random weights in its title
    figs = [o["data"]["application/vnd.plotly.v1+json"] for o in _cell_outputs(nb, "fig")
            if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figs) == 1
    assert [t["name"] for t in figs[0]["data"]] == ["other people", "Gram", "Cosine",
                                                    "Gram·Cosine"]
    ps_ceiling = tables["ceiling"].query("genre == 'All' and measure == 'ps'")["ceiling"].iloc[0]
    assert figs[0]["layout"]["shapes"][0]["y0"] == pytest.approx(ps_ceiling)
    assert "RANDOM weights" in figs[0]["layout"]["title"]["text"]

    # the split by familiarity: one row per group with its size
    groups_html = "".join(o.get("data", {}).get("text/html", "")
                          for o in _cell_outputs(nb, "display(groups.join"))
    assert "n_valid" in groups_html and "gram_cosine" in groups_html
    # the table-replay view was displayed as a widget
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in _cell_outputs(nb, "TableReplay(tables"))
