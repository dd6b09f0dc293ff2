"""probe2's findings 1, 2, 3, 5, 6 and 17: outputs of fetch, perceptual and report that
replaced a user's file, and perceptual / fetch option values that were tracebacks.

Each refusal is one ``error:`` line naming the file or option, exit status 2, before any
work: the tests check that nothing was written or changed.
"""
from __future__ import annotations

import json

import pytest

import simkit.cli.app as cli
from simkit.fetch.collection import COLUMNS

from . import test_probe2
from .test_probe2 import files, one_error

# nothing listens on port 1: a refused connection at once (no network, no wait)
NOWHERE = ["--base-url", "http://127.0.0.1:1/api/v1", "--retries", "0", "--rate", "0"]
FAST = ["--weights", "random:0", "--size", "32", "--no-progress"]


# probe2's fixtures: the fast CLI (autouse, offline, own cache) and its one-question study
_fast_cli, study = test_probe2._fast_cli, test_probe2.study


# -- 1: fetch into a study ---------------------------------------------------------------------
def test_fetch_into_a_study_is_refused_before_any_request(study, capsys):
    before = files(study)
    assert cli.main(["fetch", "aic-ukiyoe", "--out", str(study), "--limit", "1",
                     *NOWHERE]) == 2
    one_error(capsys, str(study / "images.csv"), "not the images.csv of a collection")
    assert files(study) == before
    assert not (study / ".simkit-fetch").exists()


def test_a_fetch_that_gets_nothing_writes_no_table(tmp_path, capsys):
    out = tmp_path / "new"
    assert cli.main(["fetch", "aic-ukiyoe", "--out", str(out), "--limit", "1", *NOWHERE]) == 2
    capsys.readouterr()
    assert not (out / "images.csv").exists() and not (out / "SOURCE.md").exists()


def test_a_fetch_that_gets_nothing_keeps_an_earlier_collection(tmp_path, capsys):
    out = tmp_path / "prints"
    out.mkdir()
    (out / "images.csv").write_text(",".join(COLUMNS) + "\n" + "a1,images/a1.jpg"
                                    + "," * (len(COLUMNS) - 2) + "\n")
    (out / "SOURCE.md").write_text("# an earlier fetch\n")
    before = files(out)
    assert cli.main(["fetch", "aic-ukiyoe", "--out", str(out), "--limit", "1", *NOWHERE]) == 2
    capsys.readouterr()
    assert {k: v for k, v in files(out).items() if not k.startswith(".simkit-fetch")} == before


# -- 17: fetch --rate --------------------------------------------------------------------------
@pytest.mark.parametrize("rate", ["-1", "nan", "inf"])
def test_fetch_rate_must_be_a_finite_number_of_seconds(tmp_path, capsys, rate):
    out = tmp_path / "new"
    assert cli.main(["fetch", "aic-ukiyoe", "--out", str(out), "--rate", rate]) == 2
    one_error(capsys, "--rate", rate)
    assert not out.exists()


# -- 3: report --out ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["images.csv", "notes.html"])
def test_report_out_never_replaces_a_file_that_is_not_a_report(study, capsys, name):
    (study / "notes.html").write_text("<!DOCTYPE html>\n<html><body>the user's own page")
    before = files(study)
    assert cli.main(["report", str(study), "--out", str(study / name)]) == 2
    one_error(capsys, name, "not a simkit report")
    assert files(study) == before


def test_a_rendered_report_is_recognised_and_a_fifo_is_not_opened(study, tmp_path):
    import os

    from simkit.errors import UsageError
    from simkit.reports.html import check_report_path, is_report_file, render_report
    from simkit.study.model import load_study

    ours = tmp_path / "r.html"
    ours.write_text(render_report(load_study(study), {}), encoding="utf-8")
    assert is_report_file(ours) and check_report_path(ours) == ours
    fifo = tmp_path / "fifo.html"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="fifo.html exists and is not a simkit report"):
        check_report_path(fifo)  # refused without opening it (which would wait for ever)


# -- 2: perceptual score / adapt outputs ------------------------------------------------------
def _score(study, *extra):
    return cli.main(["perceptual", "score", "--data", f"study={study}", "--net", "squeezenet",
                     *FAST, *extra])


@pytest.mark.parametrize("option, name", [("--out", "responses.csv"),
                                          ("--choices-out", "images.csv")])
def test_perceptual_score_never_replaces_a_study_file(study, tmp_path, capsys, option, name):
    before = files(study)
    out = ["--out", str(tmp_path / "r.json")] if option == "--choices-out" else []
    assert _score(study, *out, option, str(study / name)) == 2
    one_error(capsys, name, "is not a")
    assert files(study) == before and not (tmp_path / "r.json").exists()


def test_perceptual_score_replaces_its_own_outputs(study, tmp_path, capsys):
    out, choices = tmp_path / "r.json", tmp_path / "c.csv"
    for _ in range(2):  # the second run replaces the first run's files
        assert _score(study, "--out", str(out), "--choices-out", str(choices)) == 0
    assert json.loads(out.read_text())["n_triplets"] > 0
    assert choices.read_text().startswith("question_id,method,choice\n")
    capsys.readouterr()
    assert _score(study, "--out", str(out), "--choices-out", str(out)) == 2
    one_error(capsys, "r.json", "its own file")


@pytest.mark.parametrize("out, report", [("questions.csv", None), ("s.npz", "votes.json"),
                                         ("s.json", None)])
def test_perceptual_adapt_never_replaces_a_file_that_is_not_its_own(study, capsys, out,
                                                                    report):
    (study / "votes.json").write_text('{"data": "mine"}')
    (study / "s.json").write_text("{}")
    before = files(study)
    argv = ["perceptual", "adapt", "--data", f"study={study}", "--net", "squeezenet", *FAST,
            "--out", str(study / out), *(["--report", str(study / report)] if report else [])]
    assert cli.main(argv) == 2
    one_error(capsys, report or out)
    assert files(study) == before


def test_perceptual_adapt_recognises_its_own_scalars(study, tmp_path, capsys):
    from simkit.methods.perceptual.metrics import PerceptualMetric

    ours = PerceptualMetric.baseline("squeezenet", "spatial", weights="random:0",
                                     size=32).save(tmp_path / "s.npz")
    (study / "votes.json").write_text('{"data": "mine"}')
    # the scalars pass (they are checked first), the report is the user's file
    assert cli.main(["perceptual", "adapt", "--data", f"study={study}", *FAST,
                     "--out", str(ours), "--report", str(study / "votes.json")]) == 2
    assert "s.npz" not in one_error(capsys, "votes.json", "not a JSON report")


@pytest.mark.parametrize("command", ["score", "adapt"])
def test_perceptual_out_that_is_a_folder_or_under_a_file_is_refused_first(study, tmp_path,
                                                                          capsys, command):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out in (tmp_path, a_file / "x.json"):
        assert cli.main(["perceptual", command, "--data", f"study={study}", *FAST,
                         "--out", str(out)]) == 2
        one_error(capsys, "--out", str(out if out == tmp_path else a_file))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "study"]


# -- 5, 6: perceptual option values ---------------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["adapt", "--lr", "nan"], "--lr"), (["adapt", "--lr", "-1"], "--lr"),
    (["adapt", "--lr", "0"], "--lr"),
    (["adapt", "--val-fraction", "nan"], "--val-fraction"),
    (["adapt", "--val-fraction", "1.5"], "--val-fraction"),
    (["adapt", "--val-fraction", "0"], "--val-fraction"),
    (["adapt", "--holdout", "nan"], "--holdout"),
    (["adapt", "--seeds", "-1"], "--seeds"), (["adapt", "--seeds", "0,x"], "--seeds"),
    (["adapt", "--patience", "-1"], "--patience"),
    (["score", "--seed", "-1"], "--seed"),
    (["score", "--size", "99999999"], "--size"), (["adapt", "--size", "16"], "--size"),
    (["replicate", "--size", "99999999"], "--size"), (["replicate", "--size", "8"], "--size"),
])
def test_perceptual_unusable_numbers_are_one_line_before_any_work(study, tmp_path, capsys,
                                                                  argv, option):
    command, *rest = argv
    target = ["--out", str(tmp_path / "o")] if command == "replicate" else [
        "--data", f"study={study}", "--out", str(tmp_path / "o.json")]
    assert cli.main(["perceptual", command, *target, *rest]) == 2
    one_error(capsys, option)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]
