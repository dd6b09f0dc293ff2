"""notebooks/07_whole_collection.ipynb runs top to bottom, unattended, on the demo collection."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, REPO, outputs, outputs_text, run_notebook

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("distributed")
pytest.importorskip("zarr")
pytest.importorskip("faiss")


@pytest.mark.slow
def test_notebook_07_whole_collection_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("SIMKIT_DASK_SCHEDULER", raising=False)  # the embedded cluster
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2",
           "SIMKIT_NOTEBOOK_SIZE": "64",     # small inputs keep the test fast
           "SIMKIT_CACHE": str(tmp_path),   # collection, store and maps go here
           "SIMKIT_OFFLINE": "1",           # never try a download in CI
           # numba's compiled UMAP code: the project's cache, as run.sh sets it
           "NUMBA_CACHE_DIR": str(REPO / ".cache" / "numba")}
    stored = nbformat.read(NOTEBOOKS / "07_whole_collection.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code"), \
        "store the notebook without outputs"
    nb = run_notebook(NOTEBOOKS / "07_whole_collection.ipynb", env, timeout=300)
    text = outputs_text(nb)
    assert "40 images in" in text
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in text  # offline: random:0
    assert "computed 40, from the store 0" in text
    assert "model loads per worker process: [1, 1]" in text            # once per worker
    assert "second run: computed 0, from the store 40" in text         # resumes / reuses
    assert "recall@10 float16 vs float32" in text
    assert "approximate index:" in text and "recall@10 =" in text
    assert "→ highlighted" in text
    widgets = [o for o in outputs(nb)
               if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widgets                                                       # the WebGL map
    assert list(tmp_path.glob("zarr/*-float32.zarr"))
    assert list(tmp_path.glob("zarr/*-float16.zarr"))
