"""notebooks/06_perceptual_adaptation.ipynb runs top to bottom (nbclient, this interpreter):
a context → adaptation of every network × comparison → baseline vs adapted bar chart and
the learned per-channel weights. Offline, it must say plainly that its networks are random."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from jupyter_client import KernelManager  # noqa: E402
from jupyter_client.kernelspec import KernelSpec  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "06_perceptual_adaptation.ipynb"


def test_notebook_06_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None
    assert "Question" in nb.cells[0].source and "own study" in nb.cells[0].source


@pytest.mark.slow
@pytest.mark.parametrize("context", ["distortions", "study"])
def test_notebook_06_runs(context, tmp_path):
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_NOTEBOOK_SIZE": "32",
           "SIMKIT_NOTEBOOK_CONTEXT": context, "SIMKIT_CACHE": str(tmp_path / "cache"),
           "SIMKIT_OFFLINE": "1", "TORCH_HOME": str(tmp_path / "torch")}
    nb = nbformat.read(NOTEBOOK, as_version=4)
    km = KernelManager(kernel_name="python3")
    # this interpreter, whatever kernelspecs the machine has installed
    km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                       "{connection_file}"], display_name="simkit test",
                                 language="python")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits this environment
    try:
        client = nbclient.NotebookClient(nb, km=km, timeout=600,
                                         resources={"metadata": {"path": str(NOTEBOOK.parent)}})
        client.execute()  # raises CellExecutionError on any error
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    outs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outs)
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
