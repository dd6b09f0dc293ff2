"""Every notebook runs top to bottom (nbclient), on a small default study.

The kernel is this test's own Python (``sys.executable``), so the notebooks see the same
simkit and packages as the tests. ``SIMKIT_NOTEBOOK_GROUPS=2`` keeps the study small;
``SIMKIT_CACHE`` is one temporary folder for the whole session, so the features are
computed by the first notebook and read from the cache by the others. ``SIMKIT_OFFLINE=1``
skips the (here hopeless) ImageNet download, so the notebooks take their documented
random-weights path without waiting for a network timeout.

Every notebook run through :func:`conftest.run_notebook` (here and in test_notebook_0N.py)
is checked for clean outputs: no stderr, no error, no warning or traceback text. A widget
update the browser refuses (NaN in a figure) never shows up in nbclient's outputs, only in
JupyterLab; tests/test_widgets.py checks every message the views send as strict JSON.
"""
from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from conftest import NOTEBOOKS, assert_clean_outputs, outputs_text, run_notebook  # noqa: E402

NAMES = ["00_quickstart", "01_compare_choices", "02_umap", "03_replay_tables"]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_notebook_is_stored_without_outputs_and_says_what_it_answers(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "?" in first.source  # the question it answers
    assert any("your own" in c.source.lower() for c in nb.cells)  # how to use your own data


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom(name, notebook_env):
    nb = run_notebook(NOTEBOOKS / f"{name}.ipynb", notebook_env)
    text = outputs_text(nb)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # without ImageNet weights the notebook must say so plainly
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in text
    assert "random:0" in text
    # the widgets were displayed (a widget view, not an exception or a plain repr)
    if name != "03_replay_tables":
        views = [o for c in nb.cells for o in c.get("outputs", [])
                 if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
        assert views, f"{name} displayed no widget"
    if name == "03_replay_tables":
        assert "table2 replayed" in text and "values differ" in text


def test_the_clean_output_check_catches_what_jupyterlab_would_show():
    v4 = nbformat.v4

    def nb_with(*outs):
        return v4.new_notebook(cells=[v4.new_code_cell("x", outputs=list(outs))])

    ok = nb_with(v4.new_output("stream", name="stdout", text="WARNING: ImageNet VGG-19 "
                               "weights are NOT available here\n"),
                 v4.new_output("display_data", data={"text/html": "<script>console.warn("
                                                     "'Warning')</script><b>ok</b>"}))
    assert_clean_outputs(ok)
    for bad in (v4.new_output("stream", name="stderr", text="100%|####|\n"),
                v4.new_output("error", ename="ValueError", evalue="x", traceback=[]),
                v4.new_output("stream", name="stdout", text="a.py:1: UserWarning: careful\n"),
                v4.new_output("display_data", data={"text/plain": "Message serialization "
                                                    "failed"})):
        with pytest.raises(AssertionError):
            assert_clean_outputs(nb_with(bad))
