"""notebooks/08_build_a_study.ipynb runs top to bottom: a collection → groups (by hand and
suggested) → a saved study → the questionnaire with one simulated participant."""
from __future__ import annotations

import pytest

from conftest import NOTEBOOKS, outputs_text, run_notebook

NOTEBOOK = NOTEBOOKS / "08_build_a_study.ipynb"


@pytest.mark.slow
def test_notebook_08_builds_a_study(tmp_path):
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_NOTEBOOK_SIZE": "64",
           "SIMKIT_CACHE": str(tmp_path / "cache"), "SIMKIT_OFFLINE": "1",
           "TMPDIR": str(tmp_path)}
    nb = run_notebook(NOTEBOOK, env)
    text = outputs_text(nb)
    assert "WARNING: ImageNet VGG-19 weights are NOT available" in text  # offline: said loudly
    assert "questions: 2" in text
    studies = list(tmp_path.glob("simkit-build-*/my-study"))
    assert len(studies) == 1
    from simkit.study.model import load_study
    study = load_study(studies[0])
    assert len(study.questions) == 2
    assert (studies[0] / "votes.sqlite").exists()
    assert "answered=2, total=2" in text  # the simulated participant finished
    assert "methods disagree" in text or "near tie" in text or "clearly" in text  # reasons
