"""The paper's analysis on small studies computed by hand (ties, exclusions, the tie rule)."""
from __future__ import annotations

import numpy as np
import pytest

from simkit.analysis.all_tables import compute_tables
from simkit.analysis.tables import (bootstrap_ci, chance_levels, easy_questions, fig1,
                             per_question, table2, table3, table4, table5)
from simkit.study.model import load_study

QUESTIONS = {
    "q1": ("G1", ["a1", "b1", "c1", "d1", "e1"]),
    "q2": ("G1", ["a2", "b2", "c2", "d2", "e2"]),
    "q3": ("G2", ["a3", "b3", "c3", "d3", "e3"]),
}
VOTES = {
    "P1": {"q1": "a-b", "q2": "c-d", "q3": "d-e"},
    "P2": {"q1": "b-a", "q2": "c-e", "q3": "(e)-(d)"},
    "P3": {"q1": "c-d", "q2": "c-d", "q3": "d-e"},
    "P4": {"q1": "a-b", "q2": "e-c", "q3": "a-e"},
    "P5": {"q1": "a-c", "q2": "a-c", "q3": "a-c"},   # reports a visual impairment
    "P6": {"q1": "a-c"},                             # stopped after one question
}
PARTICIPANTS = {"P1": "no", "P2": "No", "P3": "", "P4": "0", "P5": "yes", "P6": "no"}
CHOICES = {("q1", "gram"): "a-b", ("q2", "gram"): "c-e", ("q3", "gram"): "a-e",
           ("q1", "cosine"): "c-d", ("q2", "cosine"): "a-b", ("q3", "cosine"): "d-e"}


@pytest.fixture
def study(write_study):
    return load_study(write_study(QUESTIONS, VOTES, PARTICIPANTS, CHOICES))


def value(df, **where):
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, where
    return sel.iloc[0]


def test_exclusions_follow_the_paper(study):
    assert study.valid_participants == ["P1", "P2", "P3", "P4"]
    reasons = dict(zip(study.exclusions["participant_id"], study.exclusions["reason"]))
    assert reasons == {"P5": "reported a visual impairment", "P6": "did not answer every question"}


def test_per_question_counts_majority_ties_and_agree(study):
    pq = per_question(study).set_index("question_id")
    assert list(pq["N"]) == [4, 4, 4]
    assert pq.loc["q1", "votes_a-b"] == 3 and pq.loc["q1", "votes_c-d"] == 1
    assert pq.loc["q1", "votes_a-c"] == 0  # the excluded participants' votes do not count
    assert pq.loc["q2", "majority"] == "c-d|c-e"  # a tie keeps both pairs
    assert pq["ps_majority"].tolist() == [75.0, 50.0, 75.0]
    assert pq["ps_gram"].tolist() == [75.0, 50.0, 25.0]
    assert pq["ps_cosine"].tolist() == [25.0, 0.0, 75.0]
    # §4.4: a method's pair inside a tied majority set counts as agreeing
    assert pq["agree_gram"].tolist() == [True, True, False]
    assert pq["agree_cosine"].tolist() == [False, False, True]


def test_table2_and_table3(study):
    pq = per_question(study)
    t2 = table2(pq)
    assert list(t2["genre"].unique()) == ["G1", "G2", "All"]
    assert list(t2["method"].unique()) == ["majority", "gram", "cosine"]
    assert value(t2, genre="G1", method="majority")["avg_ps"] == pytest.approx(62.5)
    assert value(t2, genre="G1", method="cosine")["avg_ps"] == pytest.approx(12.5)
    assert value(t2, genre="All", method="majority")["avg_ps"] == pytest.approx(200 / 3)
    assert value(t2, genre="All", method="gram")["avg_ps"] == pytest.approx(50.0)
    t3 = table3(pq)
    assert value(t3, genre="G1", method="gram")["agree"] == pytest.approx(100.0)
    assert value(t3, genre="G2", method="gram")["agree"] == pytest.approx(0.0)
    assert value(t3, genre="All", method="cosine")["agree"] == pytest.approx(100 / 3)


def test_tables_4_5_keep_question_order_among_ties(study):
    pq = per_question(study)
    t4 = table4(pq)
    assert t4["question_id"].tolist() == ["q1", "q3", "q2"]  # q1 and q3 tie at 75 %
    assert t4["rank"].tolist() == [1, 2, 3]
    assert t4["match_gram"].tolist() == [True, False, True]
    t5 = table5(pq)
    assert t5["question_id"].tolist() == ["q2", "q1", "q3"]  # rank 1 = hardest
    assert table4(pq, k=1)["question_id"].tolist() == ["q1"]


def test_fig1_is_a_cumulative_moving_average(study):
    f = fig1(per_question(study))
    assert f["question_id"].tolist() == ["q1", "q3", "q2"]
    np.testing.assert_allclose(f["cma_majority"], [75, 75, 200 / 3])
    np.testing.assert_allclose(f["cma_gram"], [75, 50, 50])
    np.testing.assert_allclose(f["cma_cosine"], [25, 50, 100 / 3])
    # its last point is Table 2's All column
    t2 = table2(per_question(study))
    assert f["cma_gram"].iloc[-1] == pytest.approx(value(t2, genre="All", method="gram")["avg_ps"])


def test_easy_questions(study):
    pq = per_question(study)
    e = easy_questions(pq, threshold=70).iloc[0]
    assert e["count"] == 2
    assert e["mean_ps_majority"] == pytest.approx(75)
    assert e["mean_ps_gram"] == pytest.approx(50) and e["mean_ps_cosine"] == pytest.approx(50)
    # "above" is strict, as in the paper
    assert easy_questions(pq, threshold=75).iloc[0]["count"] == 0


def test_chance_levels_count_ties(study):
    ch = chance_levels(per_question(study)).set_index("genre")
    assert (ch["avg_ps"] == 10).all()
    assert ch.loc["G1", "agree"] == pytest.approx(15.0)  # q2 has two majority pairs
    assert ch.loc["All", "agree"] == pytest.approx(40 / 3)


def test_bootstrap_intervals(study, write_study):
    ci = bootstrap_ci(study, n_boot=500, seed=1)
    assert set(ci["resample"]) == {"participants", "questions"}
    # G2 has one question: resampling it gives a zero-width interval whatever the data,
    # so that interval is undefined (n/a), not [value, value]
    undefined = ci["ci_low"].isna()
    assert undefined.eq(ci["ci_high"].isna()).all()
    assert set(ci.loc[undefined, "genre"]) == {"G2"}
    assert set(ci.loc[undefined, "resample"]) == {"questions"}
    assert (ci.loc[~undefined, "ci_low"] <= ci.loc[~undefined, "ci_high"]).all()
    assert ci.equals(bootstrap_ci(study, n_boot=500, seed=1))  # seeded
    row = value(ci, table="table3", genre="All", method="gram", resample="questions")
    # resampling within genres: G1's questions always agree, G2's never, so All is fixed
    assert row["value"] == row["ci_low"] == row["ci_high"] == pytest.approx(200 / 3)
    row = value(ci, table="table2", genre="All", method="gram", resample="participants")
    assert 0 <= row["ci_low"] < row["value"] < row["ci_high"] <= 100
    # unanimous voters: resampling people changes nothing
    unanimous = {p: {"q1": "a-b", "q2": "c-d", "q3": "d-e"} for p in ["P1", "P2", "P3"]}
    s2 = load_study(write_study(QUESTIONS, unanimous, choices=CHOICES, name="unanimous"))
    ci2 = bootstrap_ci(s2, n_boot=200)
    people = ci2[ci2["resample"] == "participants"]
    assert (people["ci_low"] == people["ci_high"]).all()


def test_compute_tables_has_every_table(study):
    tables = compute_tables(study, n_boot=100)
    assert set(tables) == {"per_question", "table2", "table3", "table4", "table5", "fig1",
                           "easy", "chance", "table2_ci", "table3_ci", "ceiling",
                           "significance", "comparisons", "kappa", "split_half",
                           "ceiling_fraction", "ps_comparisons", "participant_agreement",
                           "participant_tests"}


def test_without_machine_choices_only_majority(write_study):
    s = load_study(write_study(QUESTIONS, VOTES, PARTICIPANTS))
    tables = compute_tables(s, ci=False)
    assert tables["table2"]["method"].unique().tolist() == ["majority"]
    assert tables["table3"].empty
