"""Shared fixtures: small hand-made studies written to tmp folders."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def write_csv(path: Path, header: str, rows: list[str]) -> None:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def write_study(tmp_path):
    """Write a study folder from compact descriptions; returns the folder.

    ``questions``: {question_id: (genre, [5 image ids])}; ``votes``: {participant: {qid: choice}}.
    ``images=True`` also writes a small grey PNG for every image (``simkit validate`` opens
    them).
    """
    def make(questions: dict, votes: dict, participants: dict | None = None,
             choices: dict | None = None, name: str = "study", images: bool = False) -> Path:
        root = tmp_path / name
        root.mkdir()
        image_ids = list(dict.fromkeys(i for _, ids in questions.values() for i in ids))
        genre_of = {i: g for g, ids in questions.values() for i in ids}
        write_csv(root / "images.csv", "image_id,file,genre",
                  [f"{i},images/{i}.png,{genre_of[i]}" for i in image_ids])
        write_csv(root / "questions.csv", "question_id,genre,image_1,image_2,image_3,image_4,image_5",
                  [f"{q},{g}," + ",".join(ids) for q, (g, ids) in questions.items()])
        write_csv(root / "responses.csv", "participant_id,question_id,choice",
                  [f"{p},{q},{c}" for p, answers in votes.items() for q, c in answers.items()])
        if participants is not None:
            write_csv(root / "participants.csv", "participant_id,visual_impairment",
                      [f"{p},{v}" for p, v in participants.items()])
        if choices is not None:
            write_csv(root / "choices.csv", "question_id,method,choice",
                      [f"{q},{m},{c}" for (q, m), c in choices.items()])
        if images:
            from PIL import Image

            (root / "images").mkdir()
            for i in image_ids:
                Image.new("RGB", (32, 32), (128, 128, 128)).save(root / "images" / f"{i}.png")
        return root
    return make


# -- weights -----------------------------------------------------------------------------
def seeded_vgg19_state(seed: int) -> dict:
    """A seeded random VGG-19 trunk in torchvision's state_dict format (features.*):
    Kaiming-normal weights and small random biases."""
    import torch
    from torchvision.models.vgg import cfgs, make_layers

    g = torch.Generator().manual_seed(seed)
    trunk = make_layers(cfgs["E"])
    for m in trunk:
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu", generator=g)
            torch.nn.init.normal_(m.bias, 0.0, 0.01, generator=g)
    return {f"features.{k}": v for k, v in trunk.state_dict().items()}


@pytest.fixture(scope="session")
def weights_file(tmp_path_factory):
    """A VGG-19 weights file written by the test session, for the ``--weights PATH`` path."""
    import torch

    path = tmp_path_factory.mktemp("weights") / "vgg19-seeded.pth"
    torch.save(seeded_vgg19_state(2024), path)
    return path


# -- notebooks ---------------------------------------------------------------------------
NOTEBOOKS = REPO / "notebooks"


@pytest.fixture(scope="session")
def notebook_env(tmp_path_factory):
    """The environment of notebooks 00–03 and the browser test: a small default study and
    one feature cache for the whole session (the first notebook computes, the rest read)."""
    import os

    cache = tmp_path_factory.mktemp("simkit-cache")
    env = {"SIMKIT_NOTEBOOK_GROUPS": "2", "SIMKIT_CACHE": str(cache), "SIMKIT_OFFLINE": "1",
           "MPLBACKEND": "Agg"}
    # the real prints when this machine has them, whatever the kernel's folder
    from simkit.study.demo import find_wikiart
    wikiart = find_wikiart(REPO)
    if wikiart is not None:
        env["SIMKIT_WIKIART"] = str(wikiart)
    # numba's compiled UMAP code: reuse the project's cache when run.sh set one
    env.setdefault("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR",
                                                     str(REPO / ".cache" / "numba")))
    return env


def run_notebook(path: Path, env: dict[str, str], timeout: int = 600, *, clean: bool = True):
    """Execute a notebook top to bottom with this interpreter's ipykernel (whatever
    kernelspecs the machine has), the kernel inheriting ``env``; returns the executed
    notebook. Raises nbclient's CellExecutionError on the first failing cell, and (with
    ``clean``) an AssertionError when any output shows error or warning text
    (:func:`assert_clean_outputs`)."""
    import os
    import sys

    import nbclient
    import nbformat
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec

    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="python3")
    km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f",
                                       "{connection_file}"], display_name="simkit test",
                                 language="python")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the kernel inherits the environment of this process
    try:
        nbclient.NotebookClient(nb, km=km, timeout=timeout,
                                resources={"metadata": {"path": str(path.parent)}}).execute()
    finally:
        # nbclient leaves a kernel manager it was given running: without this, every
        # notebook test kept its kernel (1 GB or more each) until the whole run ended
        if km.has_kernel:
            km.shutdown_kernel(now=True)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    if clean:
        assert_clean_outputs(nb, path.name)
    return nb


#: Text no output may show: tracebacks, Python warnings ("UserWarning: …", "Warning: …"),
#: and the widget channel's refusal of NaN. Case matters: the notebooks' deliberate, loud
#: notice "WARNING: ImageNet VGG-19 weights are NOT available" (on stdout) is allowed.
DIRTY = re.compile(r"Traceback|\b[A-Za-z]*Warning\b(?!\w)|Message serialization failed|"
                   r"Out of range float values|Error displaying widget")

SCRIPT = re.compile(r"<script.*?</script>", re.S | re.I)


def assert_clean_outputs(nb, name: str = "notebook") -> None:
    """No cell of an executed notebook printed to stderr, raised, or shows error or warning
    text (:data:`DIRTY`) in any output."""
    problems = []
    for k, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        for o in cell.get("outputs", []):
            kind = o.get("output_type")
            if kind == "error":
                problems.append(f"cell {k}: {o.get('ename')}: {o.get('evalue')}")
            elif kind == "stream" and o.get("name") == "stderr":
                problems.append(f"cell {k}: stderr: {o.get('text', '')[:300]!r}")
            data = o.get("data", {})
            texts = [o.get("text", ""), data.get("text/plain", ""), data.get("text/markdown", ""),
                     SCRIPT.sub("", data.get("text/html", ""))]  # not library code (plotly.js)
            for text in texts:
                m = DIRTY.search(text)
                if m:
                    problems.append(f"cell {k}: {m.group(0)!r} in "
                                    f"{text[max(0, m.start() - 80):m.end() + 120]!r}")
    assert not problems, f"{name} is not clean:\n" + "\n".join(problems)


def outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def outputs_text(nb) -> str:
    """Everything a notebook printed or displayed as text."""
    return "\n".join(o.get("text", "") + "\n" + o.get("data", {}).get("text/plain", "")
                     for o in outputs(nb))
