"""The second hostile probe: option values and environment variables that crashed, ran out
of memory, filled the disk or replaced the user's files, and how each is answered now.

Each refusal is one ``error:`` line naming the value (or the file) and exit status 2, and
comes before any work: the tests check that nothing was computed or written.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simkit.cli.app as cli
from simkit import config

from .test_security import one_line_error

Q = {"q1": ("G", ["i1", "i2", "i3", "i4", "i5"])}
V = {"P1": {"q1": "a-b"}, "P2": {"q1": "d-e"}, "P3": {"q1": "a-b"}}
FAST = ["--weights", "random:0", "--size", "32"]


@pytest.fixture(autouse=True)
def _fast_cli(monkeypatch, tmp_path):
    # the version look-up costs ~1.5 s a parse here; these tests are about the answers
    monkeypatch.setattr("simkit.cli.app.version", lambda: "test")
    monkeypatch.setenv("SIMKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")


@pytest.fixture
def study(write_study):
    """A one-question study with its five 32 x 32 images."""
    return write_study(Q, V, images=True)


def one_error(capsys, *names: str) -> str:
    """The single stderr line (an ``error:``), checked to name each of ``names``."""
    return one_line_error(capsys.readouterr().err, *names)


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# -- outputs never replace a file the user made ------------------------------------------------
def test_features_out_never_replaces_a_study_file(study, capsys):
    before = files(study)
    assert cli.main(["features", str(study), *FAST, "--out", str(study / "images.csv")]) == 2
    one_error(capsys, "images.csv", "not a features file")
    assert files(study) == before


def test_features_out_keeps_a_users_vectors_npz_but_replaces_its_own(study, tmp_path, capsys):
    mine = tmp_path / "mine.npz"
    np.savez(mine, image_ids=np.array(["i1"]), vectors=np.ones((1, 3)))
    kept = mine.read_bytes()
    assert cli.main(["features", str(study), *FAST, "--out", str(mine)]) == 2
    one_error(capsys, "mine.npz")
    assert mine.read_bytes() == kept
    ours = tmp_path / "f.npz"
    for _ in range(2):  # a second run replaces the first run's file
        assert cli.main(["features", str(study), *FAST, "--out", str(ours)]) == 0
    with np.load(ours) as z:
        assert sorted(z["image_ids"]) == ["i1", "i2", "i3", "i4", "i5"]


def test_evaluate_retrieval_out_never_replaces_a_study_file(study, capsys):
    before = files(study)
    assert cli.main(["evaluate-retrieval", str(study), "--label", "genre", "--methods",
                     "colour", "-k", "2", "--out", str(study / "responses.csv")]) == 2
    one_error(capsys, "responses.csv", "not a retrieval table")
    assert files(study) == before


def test_evaluate_retrieval_replaces_its_own_table(study, tmp_path, capsys):
    out = tmp_path / "r.csv"
    for _ in range(2):
        assert cli.main(["evaluate-retrieval", str(study), "--label", "genre", "--methods",
                         "colour", "-k", "2", "--out", str(out), "--no-progress"]) == 0
    table = pd.read_csv(out)
    assert list(table["method"]) == ["colour"] and list(table["k"]) == [2]


def test_evaluate_retrieval_out_under_a_file_is_refused_first(study, tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert cli.main(["evaluate-retrieval", str(study), "--label", "genre",
                     "--out", str(a_file / "r.csv")]) == 2
    one_error(capsys, str(a_file), "--out")


# -- sizes and counts past any use: refused before any work --------------------------------
@pytest.mark.parametrize("argv, option", [
    (["tables", "{s}", "--n-boot", "99999999999999999999999"], "--n-boot"),
    (["tables", "{s}", "--size", "999999999"], "--size"),
    (["features", "{s}", "--size", "999999999", "--out", "{t}/f.npz"], "--size"),
    (["demo", "--out", "{t}/d", "--groups", "99999999999999"], "--groups"),
    (["demo", "--out", "{t}/d", "--image-size", "1"], "--image-size"),
    (["demo", "--out", "{t}/d", "--image-size", "48"], "--image-size"),
    (["demo", "--out", "{t}/d", "--image-size", "999999"], "--image-size"),
    (["study", "new", "{s}", "--out", "{t}/n", "--seed", "-1"], "--seed"),
    (["study", "new", "{s}", "--out", "{t}/n", "--labels", " , "], "--labels"),
    (["evaluate-retrieval", "{s}", "--label", "genre", "--sample", "3", "--seed", "-1"],
     "--seed"),
])
def test_an_unusable_number_is_one_line_before_any_work(study, tmp_path, capsys, argv, option):
    before = set(tmp_path.rglob("*"))
    argv = [a.format(s=study, t=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    one_error(capsys, option)
    assert set(tmp_path.rglob("*")) == before  # no study, no cache, no demo folder begun


@pytest.mark.parametrize("argv", [["validate", ""], ["tables", " "], ["index", ""],
                                  ["features", "", "--out", "f.npz"],
                                  ["retrieve", "", "--query", "i1"],
                                  ["evaluate-retrieval", "", "--label", "genre"],
                                  ["study", "new", "", "--out", "x"]])
def test_an_empty_path_is_not_the_current_folder(argv, capsys):
    assert cli.main(argv) == 2
    one_error(capsys, "is not a path")


def test_models_with_an_empty_name_is_an_unknown_model(capsys):
    assert cli.main(["models", ""]) == 2
    one_error(capsys, "unknown")


# -- environment variables ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["SIMKIT_CACHE", "SIMKIT_PAPER_DATA", "SIMKIT_WIKIART"])
def test_an_unexpandable_home_is_a_config_error(monkeypatch, name):
    monkeypatch.setenv(name, "~no-such-user-simkit/x")
    get = {"SIMKIT_CACHE": config.cache_root, "SIMKIT_PAPER_DATA": config.paper_data_dir,
           "SIMKIT_WIKIART": config.wikiart_dir}[name]
    with pytest.raises(config.ConfigError, match=name):
        get()


def test_an_unexpandable_cache_is_one_line_on_the_command_line(study, tmp_path, monkeypatch,
                                                                 capsys):
    monkeypatch.setenv("SIMKIT_CACHE", "~no-such-user-simkit/x")
    assert cli.main(["features", str(study), *FAST, "--out", str(tmp_path / "f.npz")]) == 2
    one_error(capsys, "$SIMKIT_CACHE", "~no-such-user-simkit")


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("YES", True), ("on", True),
    ("0", False), ("false", False), ("No", False), ("off", False), (" ", False)])
def test_simkit_offline_reads_yes_and_no(monkeypatch, value, expected):
    monkeypatch.setenv("SIMKIT_OFFLINE", value)
    assert config.offline() is expected


def test_simkit_offline_nonsense_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("SIMKIT_OFFLINE", "banana")
    with pytest.raises(config.ConfigError, match=r"SIMKIT_OFFLINE='banana'"):
        config.offline()


def test_a_paper_data_folder_that_is_not_there_stops_before_any_output(write_study, tmp_path,
                                                                        monkeypatch, capsys):
    root = write_study(Q, V, choices={("q1", "gram"): "a-b"})
    monkeypatch.setenv("SIMKIT_PAPER_DATA", str(tmp_path / "nowhere"))
    out = tmp_path / "results"
    assert cli.main(["tables", str(root), "--out", str(out), "--n-boot", "20", "--paper"]) == 2
    one_error(capsys, "$SIMKIT_PAPER_DATA", "nowhere")
    assert not out.exists()
