"""notebooks/05_style_and_retrieval.ipynb runs top to bottom, unattended, on CPU."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("cv2")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_style_and_retrieval.ipynb"


@pytest.mark.slow
def test_notebook_05_style_and_retrieval_runs(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    # "python" in a kernelspec is replaced by this interpreter: the venv's ipykernel runs it.
    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    assert argv0 in ("python", "python3", sys.executable), argv0

    monkeypatch.setenv("SIMKIT_NOTEBOOK_GROUPS", "2")
    monkeypatch.setenv("SIMKIT_NOTEBOOK_SIZE", "64")   # small inputs keep the test fast
    monkeypatch.setenv("SIMKIT_CACHE", str(tmp_path))   # the study and features go here
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")           # never try a download in CI

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "store the notebook without outputs"
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on any error

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "40 prints" in text and "weights:" in text
    html = "\n".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    for method in ("style", "colour", "cnn", "gram", "sift", "orb"):
        assert method in html                          # the evaluation table
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in outputs)
    widgets = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in
               o.get("data", {})]
    assert len(widgets) >= 2                           # the grid and the neighbours
