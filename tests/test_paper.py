"""The published numbers of Wei et al. and the replay beside them."""
from __future__ import annotations

import numpy as np
import pytest

from simkit.analysis.tables import easy_questions
from simkit.analysis.published import TABLES, published, replay


@pytest.mark.parametrize("name", list(TABLES))
def test_published_tables_load(name):
    assert len(published(name)) > 0


def test_easy_questions_from_table4_match_section_4_3():
    # §4.3: the 8 questions above 80 % in Table 4 average 88.41 % (the values are truncated,
    # so recompute them from the 41 participants' counts)
    t4 = published("table4")
    easy = t4[t4["ps_majority"] > 80]
    assert len(easy) == published("easy")["count"].iloc[0] == 8
    assert np.floor(easy["ps_majority"].mean() * 100) / 100 == pytest.approx(88.41)
    votes = np.round(easy["ps_majority"] / 100 * 41)
    assert votes.tolist() == [39, 38, 38, 37, 36, 35, 34, 33]
    assert votes.sum() / (8 * 41) * 100 == pytest.approx(88.41, abs=0.005)
    # and through the same function a study uses, with Table 4's columns as a study's
    pq = t4.rename(columns={c: c.replace("match_", "agree_") for c in t4.columns})
    pq["ps_majority"] = np.round(t4["ps_majority"] / 100 * 41) / 41 * 100
    assert easy_questions(pq).iloc[0]["mean_ps_majority"] == pytest.approx(88.41, abs=0.005)


def test_table2_all_is_the_mean_of_the_genres():
    t2 = published("table2")
    wide = t2.pivot(index="method", columns="genre", values="avg_ps")
    genres = ["Yakusha-e", "Bijin-ga", "Meisho-e", "Monogatari-e"]
    np.testing.assert_allclose(wide[genres].mean(axis=1), wide["All"], atol=0.01)


def test_table3_counts_are_multiples_of_one_question():
    t3 = published("table3")
    per_genre = t3[t3["genre"] != "All"]["agree"]
    assert np.allclose(per_genre % 5, 0)
    assert t3.set_index(["genre", "method"]).loc[("All", "cosine"), "agree"] == 43.75


def test_tie_question_in_table5_agrees_with_cosine_only():
    row = published("table5").set_index("rank").loc[3]
    assert (row["genre"], row["match_gram"], row["match_cosine"], row["match_gram_cosine"]) == \
        ("Meisho-e", False, True, False)


def test_replay_of_the_published_tables_shows_no_difference():
    for name in TABLES:
        r = replay(published(name), name)
        assert not r["differs"].any(), name


def test_replay_marks_differences():
    t2 = published("table2")
    t2.loc[(t2["genre"] == "All") & (t2["method"] == "cosine"), "avg_ps"] = 30.67 + 0.004
    t2.loc[(t2["genre"] == "All") & (t2["method"] == "gram"), "avg_ps"] = 30.0
    r = replay(t2, "table2").set_index(["genre", "method"])
    assert not r.loc[("All", "cosine"), "differs"]       # within the paper's rounding
    assert r.loc[("All", "gram"), "differs"]
    assert r.loc[("All", "gram"), "diff"] == pytest.approx(30.0 - 26.62)
    t4 = published("table4")
    t4.loc[0, "match_gram"] = False
    t4 = t4.drop(columns=["match_gram_cosine"])
    r4 = replay(t4, "table4")
    flagged = r4[r4["differs"]]
    assert ((flagged["rank"] == 1) & (flagged["column"] == "match_gram")).any()
    assert (flagged["column"] == "match_gram_cosine").sum() == 10  # missing → marked


def test_unknown_table():
    with pytest.raises(ValueError, match="choose one of"):
        published("table9")
