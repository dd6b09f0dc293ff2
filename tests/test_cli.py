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
    return write_study(QUESTIONS, VOTES, PARTICIPANTS, CHOICES)


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
    r = subprocess.run([sys.executable, "-m", "simkit.cli.app", "validate", str(folder)],
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
