"""A wheel install works away from the checkout: the published tables travel as package data.

Builds the wheel from a copy of the sources (the checkout stays untouched), installs it
with ``pip install --no-deps --target T`` and runs the command from a folder outside the
repository with ``PYTHONPATH=T`` (the dependencies come from this interpreter's
environment): ``--version``, ``demo`` and ``tables --paper``.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

RUN = "import sys; from simkit.cli import main; sys.exit(main(sys.argv[1:]))"


def build_wheel(out: Path) -> Path:
    """The wheel of a copy of the sources (setuptools writes build/ beside them)."""
    src = out / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "simkit", src / "simkit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out / "dist"), str(src)], check=True, cwd=out)
    (wheel,) = (out / "dist").glob("*.whl")
    return wheel


def test_wheel_install_runs_the_demo_and_replays_the_paper(tmp_path):
    wheel = build_wheel(tmp_path)
    assert wheel.name.startswith("simkit_similarity-")  # the distribution name, not simkit
    names = zipfile.ZipFile(wheel).namelist()
    for table in ("table2", "table3", "table4", "table5", "easy"):
        assert f"simkit/analysis/wei2022/{table}.csv" in names
    assert "simkit/py.typed" in names and "simkit/plots/figures.py" in names

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True)
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("SIMKIT_PAPER_DATA",)}
    env.update(PYTHONPATH=str(target), SIMKIT_CACHE=str(tmp_path / "cache"),
               SIMKIT_OFFLINE="1", PYTHONNOUSERSITE="1")

    def simkit(*args: str) -> str:
        cmd = ([sys.executable, "-m", "simkit", *args]
               if (target / "simkit" / "__main__.py").exists()
               else [sys.executable, "-c", RUN, *args])
        done = subprocess.run(cmd, cwd=away, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    where = subprocess.run([sys.executable, "-c", "import simkit; print(simkit.__file__, "
                            "simkit.__version__)"], cwd=away, env=env, capture_output=True,
                           text=True, check=True).stdout
    assert where.startswith(str(target))  # the installed copy, not the checkout
    if (target / "simkit" / "__main__.py").exists():
        assert where.split()[-1] in simkit("--version")
    demo = tmp_path / "D"
    simkit("demo", "--out", str(demo), "--groups", "2", "--weights", "random:0", "--no-ci")
    assert (demo / "results" / "table2.csv").exists()
    out = simkit("tables", str(demo), "--paper", "--weights", "random:0", "--no-ci")
    assert "table2 replayed — ours | paper" in out
    assert "| 47.68" in out  # the paper's Ps(Majority) for Yakusha-e, from the package data
