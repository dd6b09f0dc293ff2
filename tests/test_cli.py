"""The `simkit` command's contract: validate, tables (given choices), atomic output."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from simkit import fileio
import simkit.cli.app as cli
from test_analysis import CHOICES, PARTICIPANTS, QUESTIONS, VOTES


@pytest.fixture
def folder(write_study):
    return write_study(QUESTIONS, VOTES, PARTICIPANTS, CHOICES, images=True)


def test_validate_prints_a_summary(folder, capsys):
    assert cli.main(["validate", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "questions: 3" in out and "G1: 2" in out and "G2: 1" in out
    assert "6 recruited, 4 valid, 2 excluded" in out
    assert "excluded (reported a visual impairment): 1" in out
    assert "excluded (did not answer every question): 1" in out


def test_validate_bad_study_exits_2_with_the_message(folder, capsys):
    (folder / "responses.csv").write_text("participant_id,question_id,choice\nP1,q1,a-z\n")
    assert cli.main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "responses.csv, line 2" in err and "'a-z'" in err


def test_console_script_runs(folder):
    r = subprocess.run([sys.executable, "-m", "simkit", "validate", str(folder)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_tables_writes_every_file_at_full_precision(folder, tmp_path, capsys):
    out = tmp_path / "res"
    assert cli.main(["tables", str(folder), "--out", str(out), "--n-boot", "200"]) == 0
    text = capsys.readouterr().out
    assert "AvgPs(Majority)" in text and "66.67" in text and "Agree(Gram)" in text
    t2 = pd.read_csv(out / "table2.csv")
    assert list(t2.columns) == ["genre", "method", "avg_ps"]
    assert t2.set_index(["genre", "method"]).loc[("All", "majority"), "avg_ps"] == pytest.approx(200 / 3, abs=1e-9)
    assert list(pd.read_csv(out / "table3.csv").columns) == ["genre", "method", "agree"]
    t4 = pd.read_csv(out / "table4.csv", dtype=str)
    assert list(t4.columns) == ["rank", "question_id", "genre", "ps_majority", "match_gram", "match_cosine"]
    assert t4["match_gram"].tolist() == ["true", "false", "true"]
    assert pd.read_csv(out / "table5.csv")["question_id"].tolist() == ["q2", "q1", "q3"]
    assert list(pd.read_csv(out / "fig1.csv").columns) == ["k", "question_id", "cma_majority", "cma_gram", "cma_cosine"]
    assert list(pd.read_csv(out / "easy.csv").columns) == ["threshold", "count", "mean_ps_majority", "mean_ps_gram", "mean_ps_cosine"]
    pq = pd.read_csv(out / "per_question.csv", dtype=str, keep_default_na=False)
    assert {"question_id", "N", "majority", "ps_majority", "choice_gram", "ps_gram", "agree_gram"} <= set(pq.columns)
    assert pq.set_index("question_id").loc["q2", "majority"] == "c-d|c-e"
    for name in ("table2_ci", "table3_ci", "chance"):
        assert (out / f"{name}.csv").exists()


def test_tables_default_out_and_choices_flag(folder, tmp_path):
    mine = tmp_path / "mine.csv"
    mine.write_text("question_id,method,choice\nq1,style,a-b\nq2,style,a-b\nq3,style,d-e\n")
    assert cli.main(["tables", str(folder), "--choices", str(mine), "--no-ci"]) == 0
    t3 = pd.read_csv(folder / "results" / "table3.csv")
    assert t3["method"].unique().tolist() == ["style"]
    assert t3.set_index("genre").loc["All", "agree"] == pytest.approx(200 / 3)


def test_tables_with_paper_replay(folder, capsys):
    assert cli.main(["tables", str(folder), "--no-ci", "--paper"]) == 0
    out = capsys.readouterr().out
    assert "table2 replayed — ours | paper (20 of 20 values differ" in out
    assert "66.67 | 53.05 *" in out


def test_interrupted_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "table2.csv"
    fileio.write_csv(pd.DataFrame({"a": [1]}), target)
    before = target.read_bytes()

    def boom(self, fh, **kw):
        fh.write("half a ")
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", boom)
    with pytest.raises(KeyboardInterrupt):
        fileio.write_csv(pd.DataFrame({"a": [2]}), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["table2.csv"]  # no temporary left behind


def test_terminal_demo_prints_the_tables_beside_the_paper(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no ImageNet weights here
    monkeypatch.setenv("SIMKIT_OFFLINE", "1")
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--groups", "1", "--image-size", "64",
                     "--size", "32", "--no-ci", "--cache-dir", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    assert "the demo continues with random:0 weights" in captured.err
    for title in ("Table 2", "Table 3", "Table 4", "Table 5", "table2 replayed"):
        assert title in captured.out
    assert "RANDOM network" in captured.out  # the tables carry the warning too
    assert (out / "results" / "choices.csv").exists()


# -- one error policy: a user error is one line on stderr and exit status 2 -------------------
def test_version(capsys):
    from simkit.cli.app import version
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"simkit {version()}\n"
    r = subprocess.run([sys.executable, "-m", "simkit", "--version"], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stdout.startswith("simkit ")


@pytest.mark.parametrize("argv, option", [
    (["tables", "{study}", "--size", "0"], "--size"),
    (["tables", "{study}", "--n-boot", "0"], "--n-boot"),
    (["tables", "{study}", "--methods", ""], "--methods"),
    (["tables", "{study}", "--methods", " , "], "--methods"),
    (["demo", "--out", "{tmp}/d", "--groups", "0"], "--groups"),
    (["study", "new", "{study}", "--out", "{tmp}/s", "--per-genre", "0"], "--per-genre"),
    (["features", "{study}", "--out", "{tmp}/f.npz", "--size", "zero"], "--size"),
    (["evaluate-retrieval", "{study}", "--label", "genre", "-k", "0"], "-k"),
    (["index", "{study}", "--workers", "-1"], "--workers"),
    (["perceptual", "adapt", "--data", "study={study}", "--out", "{tmp}/w.npz",
      "--seeds", ","], "--seeds"),
])
def test_a_bad_option_value_is_one_line_and_exit_2(folder, tmp_path, capsys, argv, option):
    argv = [a.format(study=folder, tmp=tmp_path) for a in argv]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and option in err
    assert "Traceback" not in err
    assert not (tmp_path / "d").exists() and not (tmp_path / "s").exists()  # nothing done


def test_a_missing_study_folder_is_one_line_and_exit_2(tmp_path, capsys):
    for command in ("validate", "tables", "collect"):
        assert cli.main([command, str(tmp_path / "nowhere")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and str(tmp_path / "nowhere") in err
        assert err.count("\n") == 1


def test_the_console_shows_no_traceback_for_a_user_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "simkit", "tables", str(tmp_path), "--size", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--size" in r.stderr and "Traceback" not in r.stderr


def test_collect_exits_2_for_invalid_input_or_a_corrupt_store(folder, capsys):
    assert cli.main(["collect", str(folder)]) == 2            # no votes collected yet
    assert "no votes collected yet" in capsys.readouterr().err
    (folder / "votes.sqlite").write_bytes(b"not a database at all" * 100)
    assert cli.main(["collect", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_a_bug_keeps_its_traceback(folder, monkeypatch):
    def broken(args):
        raise RuntimeError("a bug")
    monkeypatch.setattr("simkit.cli.validate.run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["validate", str(folder)])


def test_interrupted_exits_130(folder, monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr("simkit.cli.validate.run", interrupted)
    assert cli.main(["validate", str(folder)]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_warnings_go_to_stderr_and_results_to_stdout(tmp_path, capsys):
    from simkit.study.demo import make_demo_study
    folder = tmp_path / "demo"
    make_demo_study(folder, groups_per_genre=1, image_size=64)
    out = tmp_path / "res"
    assert cli.main(["tables", str(folder), "--out", str(out), "--no-ci", "--methods",
                     "gram", "--weights", "random:0", "--size", "32",
                     "--cache-dir", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    assert "WARNING" in captured.err and "RANDOM" in captured.err
    assert "Agree(Gram)" in captured.out and "Agree(Gram)" not in captured.err


# -- the CLI is the only place that parses arguments or prints --------------------------------
