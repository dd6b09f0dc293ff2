"""The real thing: JupyterLab in headless Chromium runs 01_compare_choices and we drive the
group explorer with the keyboard.

Starts ``jupyter lab`` on 127.0.0.1 (random free port, a token) with notebooks/ as its
root, opens the notebook in Debian's ``/usr/bin/chromium`` through Playwright, runs all
cells from the Run menu, waits for the widget, presses ArrowRight on the question slider
and checks that the Majority and each method's pair shown on the page change to the ones
simkit computes for the same study. A screenshot goes to ``test-artifacts/``.
Skips (saying why) only when Chromium or Playwright is not installed.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(notebook_env, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian: apt-get install chromium); "
                    f"the browser test needs it")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, **notebook_env,
           # a clean JupyterLab: no user settings, workspaces or runtime files involved
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    # a copy of the notebooks: JupyterLab autosaves, and the repository's notebooks must
    # stay without outputs
    root = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
         f"--port={port}", f"--IdentityProvider.token={token}", "--ServerApp.port_retries=0",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
         f"--ServerApp.root_dir={root}", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                log.flush()
                pytest.fail("JupyterLab did not start:\n"
                            + (tmp_path / "jupyterlab.log").read_text()[-3000:])
            time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _shown(page) -> dict[str, str]:
    """method → the pair(s) the page shows, read from the rendered group explorer."""
    return page.eval_on_selector_all(
        ".simkit-choice", "els => Object.fromEntries(els.map(e => "
        "[e.dataset.method, e.dataset.pairs]))")


def _accept_dialogs(page) -> None:
    """A fresh JupyterLab may ask which kernel to start ("Select Kernel"): take the one
    offered (the notebook's own, Python 3)."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.first.wait_for(state="visible", timeout=3_000)
    except Exception:
        return
    page.locator(".jp-Dialog .jp-mod-accept").first.click()
    dialog.first.wait_for(state="detached", timeout=10_000)


def test_compare_choices_in_jupyterlab(lab, notebook_env, monkeypatch):
    from playwright.sync_api import sync_playwright

    from simkit import load_study
    from simkit.analysis.tables import per_question
    from simkit.study.demo import default_study
    from simkit.methods.choices import study_choices

    base, token = lab
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{base}/lab/tree/01_compare_choices.ipynb?reset&token={token}")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
            # the kernel must be up before "Run All" (else the click is lost)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']",
                                   timeout=90_000)
            for attempt in range(3):  # a click while the kernel is still connecting is lost
                _accept_dialogs(page)
                page.get_by_role("menuitem", name="Run", exact=True).click()
                item = page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first
                item.wait_for(state="visible", timeout=10_000)
                item.click()
                try:
                    page.wait_for_function(
                        "() => [...document.querySelectorAll('.jp-InputArea-prompt')]"
                        ".some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))",
                        timeout=20_000)
                    break
                except Exception:
                    page.keyboard.press("Escape")
            page.wait_for_selector(".simkit-choices", timeout=300_000)

            for k in ("SIMKIT_WIKIART", "SIMKIT_CACHE"):  # the study the kernel opened
                if k in notebook_env:
                    monkeypatch.setenv(k, notebook_env[k])
            env_cache = Path(notebook_env["SIMKIT_CACHE"])
            study = load_study(default_study(env_cache / "studies", groups_per_genre=2))
            choices, _, _ = study_choices(study, weights="random:0", cache_dir=env_cache,
                                          progress=False)
            study = study.with_choices(choices)
            pq = per_question(study).set_index("question_id")
            genre = study.questions["genre"].iloc[0]
            first, second = list(study.questions.loc[study.questions["genre"] == genre,
                                                     "question_id"])[:2]

            def expected(q):
                return {"majority": pq.loc[q, "majority"],
                        **{m: pq.loc[q, f"choice_{m}"] for m in study.methods}}

            page.wait_for_selector(f'.simkit-choices[data-question="{first}"]')
            assert _shown(page) == expected(first)
            handle = page.locator(".simkit-question-slider .noUi-handle").first
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_selector(f'.simkit-choices[data-question="{second}"]',
                                   timeout=30_000)
            assert _shown(page) == expected(second)
            # the plotly bar chart rendered too
            assert page.locator(".simkit-group-explorer .js-plotly-plot").count() >= 1
            # Explain, on demand: the maps over the prints, the channel pairs, the note
            page.locator(".simkit-explain-button").first.click()
            page.wait_for_selector(".simkit-explain-summary", timeout=180_000)
            assert "random network" in page.inner_text(".simkit-explain-info")
            page.wait_for_function("() => document.querySelectorAll("
                                   "'.simkit-explain .js-plotly-plot').length >= 2",
                                   timeout=30_000)
            page.locator(".simkit-group-explorer").first.scroll_into_view_if_needed()
            # and nothing red: no stderr box, no widget message the kernel failed to send
            # (NaN through the widget channel once showed "Message serialization failed")
            page.wait_for_timeout(1_000)
            red = page.locator('.jp-OutputArea-output[data-mime-type='
                               '"application/vnd.jupyter.stderr"]')
            assert red.count() == 0, red.all_inner_texts()
            assert "serialization failed" not in page.inner_text(".jp-NotebookPanel")
        finally:
            page.screenshot(path=str(ARTIFACTS / "browser-01_compare_choices.png"),
                            full_page=False)
            browser.close()
