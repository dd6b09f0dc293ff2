"""notebooks/08_build_a_study.ipynb runs top to bottom: a collection → groups (by hand and
suggested) → a saved study → the questionnaire with one simulated participant."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from jupyter_client import KernelManager  # noqa: E402
from jupyter_client.kernelspec import KernelSpec  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "08_build_a_study.ipynb"


def test_notebook_08_is_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None
    assert "Question" in nb.cells[0].source and "own study" in nb.cells[0].source


@pytest.mark.slow
def test_notebook_08_builds_a_study(tmp_path):
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_NOTEBOOK_SIZE": "64",
           "SIMKIT_CACHE": str(tmp_path / "cache"), "SIMKIT_OFFLINE": "1",
           "TMPDIR": str(tmp_path)}
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
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in text  # offline: said loudly
    assert "questions: 2" in text
    studies = list(tmp_path.glob("simkit-build-*/my-study"))
    assert len(studies) == 1
    from simkit.study import load_study
    study = load_study(studies[0])
    assert len(study.questions) == 2
    assert (studies[0] / "votes.sqlite").exists()
    assert "answered=2, total=2" in text  # the simulated participant finished
    assert "methods disagree" in text or "near tie" in text or "clearly" in text  # reasons
