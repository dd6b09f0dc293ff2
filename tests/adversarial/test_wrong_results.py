"""Silently wrong results: an undefined number is refused or shown as n/a, never as 0.

Each case was once a plausible-looking table (Ps 0, Agree 0.00 %, a zero-width interval)
computed from data that cannot give it.
"""
from __future__ import annotations

import contextlib
import io
import re

import numpy as np
import pandas as pd
import pytest

import simkit.cli.app as cli
from simkit.reports.text import format_tables
from simkit.analysis.all_tables import compute_tables
from simkit.analysis.tables import bootstrap_ci, per_question
from simkit.errors import SimkitError, UsageError
from simkit.study.model import StudyError, load_study

Q = {"q1": ("G1", ["a1", "b1", "c1", "d1", "e1"]),
     "q2": ("G1", ["a2", "b2", "c2", "d2", "e2"]),
     "q3": ("G2", ["a3", "b3", "c3", "d3", "e3"])}
V = {"P1": {"q1": "a-b", "q2": "c-d", "q3": "d-e"},
     "P2": {"q1": "a-b", "q2": "c-e", "q3": "d-e"},
     "P3": {"q1": "c-d", "q2": "c-d", "q3": "a-e"}}
FULL = {("q1", "gram"): "a-b", ("q2", "gram"): "c-d", ("q3", "gram"): "a-e"}


def tables_cli(root) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["tables", str(root), "--no-ci"])
    return code, out.getvalue(), err.getvalue()


# -- machine choices that cover only some questions -------------------------------------------
def test_partial_choices_are_refused_naming_the_missing_questions(write_study):
    partial = {k: v for k, v in FULL.items() if k[0] != "q2"}
    root = write_study(Q, V, None, partial)
    with pytest.raises(StudyError) as info:
        load_study(root)
    msg = str(info.value)
    assert msg == (f"{root / 'choices.csv'}: method 'gram' has no choice for 1 of 3 questions "
                   f"(q2); every method needs a choice for every question: add the rows, or "
                   f"leave the file out to compute the choices")
    code, out, err = tables_cli(root)  # nothing is printed as if q2 scored Ps 0
    assert code == 2 and out == "" and err == f"error: {msg}\n"


def test_partial_choices_are_refused_however_they_reach_a_study(write_study):
    study = load_study(write_study(Q, V))
    partial = pd.DataFrame({"question_id": ["q1", "q3"], "method": "cosine",
                            "choice": ["a-b", "d-e"]})
    with pytest.raises(StudyError, match=r"'cosine' has no choice for 1 of 3 questions \(q2\)"):
        study.with_choices(partial)
    with pytest.raises(StudyError, match="no choice for 1 of 3"):
        type(study)(study.images, study.questions, study.responses, study.participants,
                    partial, study.root)


def test_many_missing_questions_are_counted_not_all_listed(write_study):
    questions = {f"q{k}": ("G", [f"i{k}{c}" for c in "abcde"]) for k in range(1, 16)}
    votes = {"P1": {q: "a-b" for q in questions}}
    root = write_study(questions, votes, None, {("q1", "gram"): "a-b"})
    with pytest.raises(StudyError) as info:
        load_study(root)
    assert "no choice for 14 of 15 questions (q2, q3, q4, q5, q6, q7, q8, q9, q10, q11 and " \
           "4 more)" in str(info.value)


def test_full_choices_still_score(write_study):
    pq = per_question(load_study(write_study(Q, V, None, FULL))).set_index("question_id")
    assert pq["agree_gram"].tolist() == [True, True, False]
    assert pq["ps_gram"].tolist() == pytest.approx([200 / 3, 200 / 3, 100 / 3])


# -- no valid participant, no question --------------------------------------------------------
@pytest.mark.parametrize("participants, why", [
    ({"P1": "yes", "P2": "yes", "P3": "yes"}, "3 reported a visual impairment"),
    (None, "did not answer every question"),
])
def test_no_valid_participant_is_refused_with_the_reason(write_study, participants, why):
    votes = V if participants else {"P1": {"q1": "a-b"}, "P2": {"q2": "a-b"}}
    root = write_study(Q, votes, participants, FULL)
    study = load_study(root)
    for compute in (per_question, compute_tables, bootstrap_ci):
        with pytest.raises(StudyError) as info:
            compute(study)
        msg = str(info.value)
        assert msg.startswith(f"{root}: no valid participant, so Ps and Agree are undefined; "
                              f"a participant counts when they answered every question and "
                              f"reported no visual impairment (")
        assert why in msg and "\n" not in msg
    code, out, err = tables_cli(root)  # once "Agree 0.00 %, chance 0.00 %" and exit 0
    assert code == 2 and "0.00" not in out and err == f"error: {msg}\n"


def test_a_study_without_votes_is_refused(write_study):
    study = load_study(write_study(Q, {}, {}, FULL))
    with pytest.raises(StudyError, match=r"no valid participant.*\(0 recruited\)"):
        compute_tables(study, ci=False)


def test_a_study_without_questions_is_refused(write_study):
    root = write_study({}, {})
    with pytest.raises(StudyError, match="questions.csv has no question"):
        compute_tables(load_study(root), ci=False)


# -- bootstrap: bad settings refused, zero-width intervals n/a --------------------------------
@pytest.mark.parametrize("n_boot", [0, -1, 2.5, True, "10"])
def test_bad_n_boot_is_refused(write_study, n_boot):
    study = load_study(write_study(Q, V, None, FULL))
    with pytest.raises(UsageError, match=rf"n_boot {re.escape(repr(n_boot))}: give a whole "
                                         r"number from 1 to 100,000 \(the number of "
                                         r"bootstrap resamples"):
        bootstrap_ci(study, n_boot=n_boot)
    with pytest.raises(SimkitError):
        compute_tables(study, n_boot=n_boot)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1])
def test_bad_level_is_refused(write_study, level):
    with pytest.raises(UsageError, match="confidence level must be between 0 and 1"):
        bootstrap_ci(load_study(write_study(Q, V, None, FULL)), n_boot=10, level=level)


def test_one_participant_gives_no_participant_interval(write_study):
    study = load_study(write_study(Q, {"P1": V["P1"]}, None, FULL))
    ci = bootstrap_ci(study, n_boot=50)
    people = ci[ci["resample"] == "participants"]
    assert people["ci_low"].isna().all() and people["ci_high"].isna().all()
    assert people["value"].notna().all()  # the point values are defined
    questions = ci[ci["resample"] == "questions"]
    # G2 has one question: its interval is undefined too; G1 and All have two or more
    assert questions.loc[questions["genre"] == "G2", "ci_low"].isna().all()
    assert questions.loc[questions["genre"] != "G2", "ci_low"].notna().all()
    text = format_tables(compute_tables(study, n_boot=50))
    assert "participants [n/a, n/a]" in text and "participants [0.00, 0.00]" not in text


def test_no_easy_question_gives_n_a_not_0(write_study):
    study = load_study(write_study(Q, V, None, FULL))
    tables = compute_tables(study, ci=False)
    easy = tables["easy"].iloc[0]
    assert easy["count"] == 0 and np.isnan(easy["mean_ps_majority"])
    assert "mean Ps(Majority) n/a %" in format_tables(tables)


# -- the features error names every bad image, by id ------------------------------------------
def test_features_error_names_every_bad_image_by_id(tmp_path):
    from simkit.features.extract import extract_features
    from simkit.features.images import ImageError

    paths = {f"img{k}": tmp_path / f"missing{k}.png" for k in range(14)}
    with pytest.raises(ImageError) as info:
        extract_features(paths, weights="random:0", use_cache=False, progress=False)
    lines = str(info.value).splitlines()
    assert lines[0] == "14 image(s) could not be used:"
    assert [line.split(":")[0] for line in lines[1:]] == [f"image {k!r}" for k in paths]
    assert "more)" not in str(info.value)
