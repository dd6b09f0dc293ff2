"""notebooks/04_collect_votes.ipynb runs top to bottom, unattended, in this environment."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_collect_votes.ipynb"


@pytest.mark.slow
def test_notebook_04_collect_votes_runs(tmp_path, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager

    # "python" in a kernelspec is replaced by this interpreter: the venv's ipykernel runs it.
    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    assert argv0 in ("python", "python3", sys.executable), argv0
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the demo study goes under tmp_path

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), \
        "store the notebook without outputs"
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError on any error

    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs)
    assert "answered=8/8" in text                       # the simulated participant finished
    assert "participants: 1 recruited, 1 valid" in text  # the export loads as a study
    stores = list(tmp_path.glob("simkit-collect-*/demo-study/votes.sqlite"))
    assert len(stores) == 1
