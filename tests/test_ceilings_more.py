"""Issue 15, the remaining measures: split-half agreement, fraction of the ceiling, paired Ps
tests with effect sizes, the participant view and tables by a participant column — checked
by hand on a small study and against brute force written differently on random studies with
ties and exclusions."""
from __future__ import annotations

import itertools
import random
import statistics
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from simkit.analysis.by_group import tables_by
from simkit.analysis.paired import ps_comparisons, rank_biserial, sign_flip_exact
from simkit.analysis.participant_agreement import participant_agreement
from simkit.analysis.split_half import split_half
from simkit.analysis.all_tables import compute_tables
from simkit.analysis.tables import per_question
from simkit.study.model import PAIRS, load_study

from test_analysis import CHOICES, PARTICIPANTS, QUESTIONS, VOTES, value
from test_ceilings import brute_ceiling, brute_holm, brute_kappa, random_study

ABS = 1e-9


@pytest.fixture
def study(write_study):
    return load_study(write_study(QUESTIONS, VOTES, PARTICIPANTS, CHOICES))


# -- by hand: 4 valid participants (P1–P4), 3 questions ----------------------------------
def test_split_half_by_hand(study):
    s = split_half(study).set_index("genre")
    # the 3 splits {P1P2|P3P4}, {P1P3|P2P4}, {P1P4|P2P3}: q2 differs only in the second
    assert s.loc["All", "agree"] == pytest.approx(800 / 9, abs=ABS)
    assert s.loc["G1", "agree"] == pytest.approx(250 / 3, abs=ABS)
    assert s.loc["G2", "agree"] == 100.0
    assert (s.loc["All", "low"], s.loc["All", "high"]) == pytest.approx((200 / 3, 100.0))
    assert s.loc["All", "n_splits"] == 6 and s.loc["All", "half_size"] == 2  # ordered, exact


def test_paired_comparison_by_hand(study):
    row = value(ps_comparisons(per_question(study), n_boot=50), genre="All")
    # votes for gram's pick 3, 2, 1; for cosine's 1, 0, 3: d = 2, 2, -2 of N = 4
    assert row["p_value"] == 1.0  # every sign pattern gives |sum| >= 2
    assert row["ps_diff"] == pytest.approx(50 / 3, abs=ABS)
    assert row["ps_dz"] == pytest.approx(1 / (2 * 3 ** 0.5), abs=ABS)
    assert row["ps_rank_biserial"] == pytest.approx(1 / 3, abs=ABS)
    # gram agrees on q1, q2 (a tie), cosine on q3
    assert row["agree_diff"] == pytest.approx(100 / 3, abs=ABS)
    assert row["cohen_g"] == pytest.approx(1 / 6, abs=ABS)


def test_small_exact_values():
    assert sign_flip_exact([1, 2]) == pytest.approx(0.5, abs=ABS)
    assert sign_flip_exact([2, 2, 2]) == pytest.approx(0.25, abs=ABS)
    assert sign_flip_exact([3, 0, -1]) == 1.0
    assert sign_flip_exact([0, 0]) == 1.0
    assert sign_flip_exact([5] * 12) == pytest.approx(2 / 4096, abs=ABS)
    assert rank_biserial([1, -2, 3]) == pytest.approx(1 / 3, abs=ABS)
    assert np.isnan(rank_biserial([0, 0]))


def test_participant_view_by_hand(study):
    pa = participant_agreement(study)
    assert value(pa, genre="All", participant_id="P1", who="gram")["agree"] == \
        pytest.approx(100 / 3, abs=ABS)
    assert value(pa, genre="All", participant_id="P1", who="people")["agree"] == \
        pytest.approx(500 / 9, abs=ABS)
    t = compute_tables(study, n_boot=50)
    all_rows = pa[pa["genre"] == "All"].groupby("who")["agree"].mean()
    # the people's mean is the Ps ceiling, a method's mean its average Ps (N = 4 both)
    assert all_rows["people"] == pytest.approx(
        value(t["ceiling"], genre="All", measure="ps")["ceiling"], abs=ABS)
    assert all_rows["gram"] == pytest.approx(
        value(t["table2"], genre="All", method="gram")["avg_ps"], abs=ABS)
    frac = value(t["ceiling_fraction"], genre="All", method="gram", measure="agree")
    assert frac["fraction"] == pytest.approx((200 / 3) / 50, abs=ABS)


# -- random studies against brute force --------------------------------------------------
def brute_split(questions, votes, valid, genre):
    """Every assignment of each person to half A, half B or neither, kept when the halves
    have ⌊N/2⌋ each: the share of questions whose two majority sets meet."""
    qs = [q for q, (g, _) in questions.items() if genre in ("All", g)]
    h = len(valid) // 2
    values = []
    for where in itertools.product("ABx", repeat=len(valid)):
        if where.count("A") != h or where.count("B") != h:
            continue
        meet = 0
        for q in qs:
            tops = []
            for side in "AB":
                picks = [votes[p][q] for p, w in zip(valid, where) if w == side]
                most = max(picks.count(c) for c in picks)
                tops.append({c for c in picks if picks.count(c) == most})
            meet += bool(tops[0] & tops[1])
        values.append(Fraction(100 * meet, len(qs)))
    return values


def brute_ranks(xs):
    return [Fraction(sum(y < x for y in xs) + 1 + sum(y <= x for y in xs), 2) for x in xs]


def majority_sets(questions, votes, valid):
    out = {}
    for q in questions:
        counts = {c: sum(votes[p][q] == c for p in valid) for c in PAIRS}
        out[q] = {c for c, n in counts.items() if n == max(counts.values())}
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_studies_against_brute_force(write_study, seed):
    rng = random.Random(100 + seed)
    st, questions, votes, parts, choices, methods = random_study(write_study, rng, f"s{seed}")
    valid = [p for p in votes if parts[p] == "no" and len(votes[p]) == len(questions)]
    if not valid:
        return
    t = compute_tables(st, ci=False, n_boot=40, seed=seed)
    genres = [*dict.fromkeys(g for g, _ in questions.values()), "All"]
    n = len(valid)
    tops = majority_sets(questions, votes, valid)

    for g in genres:
        qs = [q for q, (gg, _) in questions.items() if g in ("All", gg)]
        # split-half, exact enumeration (at most 8 people: at most 140 ordered splits)
        if n >= 2:
            vals = brute_split(questions, votes, valid, g)
            row = value(t["split_half"], genre=g)
            assert row["n_splits"] == len(vals)
            assert row["agree"] == pytest.approx(float(sum(vals) / len(vals)), abs=ABS)
            fl = np.array([float(v) for v in vals])
            assert (row["low"], row["high"]) == pytest.approx(
                (np.quantile(fl, 0.025), np.quantile(fl, 0.975)), abs=ABS)
        else:
            assert t["split_half"].empty and t["ceiling_fraction"].empty
        # fraction of the ceiling
        for m in methods:
            agree = Fraction(100 * sum(choices[q, m] in tops[q] for q in qs), len(qs))
            ps = Fraction(100 * sum(sum(votes[p][q] == choices[q, m] for p in valid)
                                    for q in qs), n * len(qs))
            if n >= 2:
                c_agree, c_ps = brute_ceiling(questions, votes, valid, g)
                for measure, v, c in (("agree", agree, c_agree), ("ps", ps, c_ps)):
                    r = value(t["ceiling_fraction"], genre=g, method=m, measure=measure)
                    assert r["value"] == pytest.approx(float(v), abs=ABS)
                    want = float(v) / c if c else None
                    assert (np.isnan(r["fraction"]) if want is None
                            else r["fraction"] == pytest.approx(want, abs=ABS))
        # participant view
        pa = t["participant_agreement"].set_index(["genre", "participant_id", "who"])["agree"]
        for p in valid:
            for m in methods:
                hits = Fraction(100 * sum(choices[q, m] == votes[p][q] for q in qs), len(qs))
                assert pa[g, p, m] == pytest.approx(float(hits), abs=ABS)
            if n >= 2:
                same = [Fraction(100 * sum(votes[o][q] == votes[p][q] for q in qs), len(qs))
                        for o in valid if o != p]
                assert pa[g, p, "people"] == pytest.approx(float(sum(same) / len(same)), abs=ABS)
        assert set(pa.index.get_level_values("who")) == set(methods) | ({"people"} if n >= 2 else set())
        # paired Ps comparisons
        rows = t["ps_comparisons"][t["ps_comparisons"]["genre"] == g]
        pairs = list(itertools.combinations(methods, 2))
        assert list(zip(rows["method_a"], rows["method_b"])) == pairs
        raw = []
        for (a, b), r in zip(pairs, rows.itertuples()):
            d = [sum(votes[p][q] == choices[q, a] for p in valid)
                 - sum(votes[p][q] == choices[q, b] for p in valid) for q in qs]
            nz = [x for x in d if x]
            hits = sum(abs(sum(s * abs(x) for s, x in zip(signs, nz))) >= abs(sum(d))
                       for signs in itertools.product((1, -1), repeat=len(nz)))
            raw.append(hits / 2 ** len(nz))
            assert r.p_value == pytest.approx(raw[-1], abs=ABS)
            ps_d = [Fraction(100 * x, n) for x in d]
            assert r.ps_diff == pytest.approx(float(sum(ps_d) / len(qs)), abs=ABS)
            if len(qs) >= 2 and len(set(ps_d)) > 1:
                assert r.ps_dz == pytest.approx(float(statistics.mean(ps_d))
                                                / statistics.stdev([float(x) for x in ps_d]),
                                                rel=1e-9)
            else:
                assert np.isnan(r.ps_dz)
            if nz:
                ranks = brute_ranks([abs(x) for x in nz])
                plus = sum(rk for rk, x in zip(ranks, nz) if x > 0)
                assert r.ps_rank_biserial == pytest.approx(
                    float((2 * plus - sum(ranks)) / sum(ranks)), abs=ABS)
            else:
                assert np.isnan(r.ps_rank_biserial)
            ag_a = [choices[q, a] in tops[q] for q in qs]
            ag_b = [choices[q, b] in tops[q] for q in qs]
            a_only = sum(x and not y for x, y in zip(ag_a, ag_b))
            b_only = sum(y and not x for x, y in zip(ag_a, ag_b))
            assert r.agree_diff == pytest.approx(100 * (a_only - b_only) / len(qs), abs=ABS)
            assert (np.isnan(r.cohen_g) if a_only + b_only == 0 else
                    r.cohen_g == pytest.approx(a_only / (a_only + b_only) - 0.5, abs=ABS))
            assert (np.isfinite([r.agree_ci_low, r.ps_ci_high]).all() if len(qs) >= 2
                    else np.isnan([r.agree_ci_low, r.ps_ci_high]).all())
        assert list(rows["p_holm"]) == pytest.approx(brute_holm(raw), abs=ABS)


def test_paired_intervals_are_the_documented_bootstrap(study):
    pq = per_question(study)
    got = ps_comparisons(pq, n_boot=200, seed=3)
    rng = np.random.default_rng(3)
    # gram − cosine per question: Agree 100, 100, −100; Ps 50, 50, −50 (points)
    for genre, ag, ps in (("G1", [100, 100], [50, 50]), ("G2", [-100], [-50]),
                          ("All", [100, 100, -100], [50, 50, -50])):
        row = value(got, genre=genre)
        if len(ag) < 2:
            assert np.isnan(row["agree_ci_low"]) and np.isnan(row["ps_ci_high"])
            continue
        means_a, means_p = [], []
        for counts in rng.multinomial(len(ag), [1 / len(ag)] * len(ag), size=300):
            means_a.append(sum(c * x for c, x in zip(counts, ag)) / len(ag))
            means_p.append(sum(c * x for c, x in zip(counts, ps)) / len(ps))
        assert (row["agree_ci_low"], row["agree_ci_high"]) == pytest.approx(
            (np.quantile(means_a, .025), np.quantile(means_a, .975)), abs=ABS)
        assert (row["ps_ci_low"], row["ps_ci_high"]) == pytest.approx(
            (np.quantile(means_p, .025), np.quantile(means_p, .975)), abs=ABS)


def test_random_splits_when_there_are_many(study):
    # 6 ordered splits of 4 people: asking for fewer draws them at random, as documented
    got = value(split_half(study, n_splits=5, seed=11), genre="All")
    rng = np.random.default_rng(11)
    people = ["P1", "P2", "P3", "P4"]
    vals = []
    for _ in range(5):
        perm = [people[i] for i in rng.permutation(4)]
        meet = 0
        for q in QUESTIONS:
            tops = []
            for half in (perm[:2], perm[2:4]):
                picks = [per_question_pick(p, q) for p in half]
                tops.append({c for c in picks if picks.count(c) == max(map(picks.count, picks))})
            meet += bool(tops[0] & tops[1])
        vals.append(100 * meet / 3)
    assert got["n_splits"] == 5 and got["agree"] == pytest.approx(np.mean(vals), abs=ABS)


def per_question_pick(p, q):
    from simkit.study.model import normalize_choice
    return normalize_choice(VOTES[p][q])


# -- by a participant column -------------------------------------------------------------
def add_column(folder, values: dict):
    path = folder / "participants.csv"
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df["field"] = [values[p] for p in df["participant_id"]]
    df.to_csv(path, index=False)


@pytest.mark.parametrize("seed", range(2))
def test_tables_by_group_against_brute_force(write_study, seed):
    rng = random.Random(500 + seed)
    st, questions, votes, parts, choices, methods = random_study(write_study, rng, f"b{seed}")
    field = {p: rng.choice(["art", "design", ""]) for p in votes}
    add_column(st.root, field)
    st = load_study(st.root)
    valid = [p for p in votes if parts[p] == "no" and len(votes[p]) == len(questions)]
    if not valid:
        return
    t = tables_by(st, "field", ci=False)
    groups = t["by_field_groups"].set_index("group")
    want_groups = sorted({v or "(blank)" for v in field.values()})
    assert list(groups.index) == want_groups
    genres = [*dict.fromkeys(g for g, _ in questions.values()), "All"]
    for g in want_groups:
        members = [p for p in votes if (field[p] or "(blank)") == g]
        ok = [p for p in valid if p in members]
        assert (groups.loc[g, "n_participants"], groups.loc[g, "n_valid"]) == (len(members), len(ok))
        tops = majority_sets(questions, votes, ok) if ok else {}
        for genre in genres:
            qs = [q for q, (gg, _) in questions.items() if genre in ("All", gg)]
            for m in methods:
                r = value(t["by_field_table3"], group=g, genre=genre, method=m)["agree"]
                sig = value(t["by_field_significance"], group=g, genre=genre, method=m)
                if not ok:
                    assert np.isnan(r) and np.isnan(sig["p_value"])
                    continue
                n_agree = sum(choices[q, m] in tops[q] for q in qs)
                assert r == pytest.approx(100 * n_agree / len(qs), abs=ABS)
                assert sig["n_agree"] == n_agree and 0 < sig["p_value"] <= 1
                ps = value(t["by_field_table2"], group=g, genre=genre, method=m)["avg_ps"]
                assert ps == pytest.approx(100 * sum(votes[p][q] == choices[q, m] for p in ok
                                                     for q in qs) / len(ok) / len(qs), abs=ABS)
            c = value(t["by_field_ceiling"], group=g, genre=genre, measure="agree")["ceiling"]
            k = value(t["by_field_kappa"], group=g, genre=genre)["kappa"]
            if len(ok) < 2:
                assert np.isnan(c) and np.isnan(k)
            else:
                assert c == pytest.approx(brute_ceiling(questions, votes, ok, genre)[0], abs=ABS)
                want = brute_kappa(questions, votes, ok, genre)
                assert np.isnan(k) if want is None else k == pytest.approx(want, abs=ABS)


def test_one_valued_column_is_one_group(study):
    add_column(study.root, {p: "art" for p in VOTES})
    st = load_study(study.root)
    t = compute_tables(st, n_boot=50, by="field")
    assert t["by_field_groups"].to_dict("records") == \
        [{"group": "art", "n_participants": 6, "n_valid": 4}]
    assert "one group" in t["by_field_groups"].attrs["note"]
    ours = t["by_field_table3"].drop(columns="group")
    pd.testing.assert_frame_equal(ours, t["table3"])
    from simkit.reports.text import format_tables
    assert "By field: art (4 valid of 6)" in format_tables(t)


# -- bad input -----------------------------------------------------------------------
def test_one_valid_participant(write_study):
    q = {"q1": ("G", ["a1", "b1", "c1", "d1", "e1"]), "q2": ("H", ["a2", "b2", "c2", "d2", "e2"])}
    st = load_study(write_study(q, {"P1": {"q1": "a-b", "q2": "c-d"}, "P2": {"q1": "a-c"}},
                                None, {("q1", "gram"): "a-b", ("q2", "gram"): "a-b"}))
    t = compute_tables(st, n_boot=20)
    for name in ("split_half", "ceiling_fraction"):
        assert t[name].empty and "at least 2 valid participants" in t[name].attrs["note"]
    pa = t["participant_agreement"]
    assert set(pa["who"]) == {"gram"} and "left out" in pa.attrs["note"]
    assert value(pa, genre="All", who="gram")["agree"] == 50.0
    from simkit.reports.text import format_tables
    assert "Human ceiling: n/a (needs at least 2 valid participants)" in format_tables(t)


def test_everyone_agreeing_and_one_question_genres(write_study):
    q = {"q1": ("G1", ["a1", "b1", "c1", "d1", "e1"]),
         "q2": ("G2", ["a2", "b2", "c2", "d2", "e2"])}
    votes = {p: {"q1": "a-b", "q2": "c-d"} for p in ("P1", "P2", "P3")}
    ch = {(qq, m): v for m in ("gram", "cosine") for qq, v in (("q1", "a-b"), ("q2", "c-d"))}
    t = compute_tables(load_study(write_study(q, votes, None, ch)), n_boot=20)
    pc = t["ps_comparisons"]
    assert (pc["p_value"] == 1.0).all() and (pc["p_holm"] == 1.0).all()
    assert pc["cohen_g"].isna().all() and pc["ps_rank_biserial"].isna().all()
    assert (pc["ps_diff"] == 0).all() and (pc["agree_diff"] == 0).all()
    one_q = pc[pc["genre"] != "All"]
    assert one_q["ps_ci_low"].isna().all() and one_q["ps_dz"].isna().all()
    assert (t["split_half"]["agree"] == 100.0).all()
    assert (t["ceiling_fraction"]["fraction"] == 1.0).all()
    tests = t["participant_tests"]
    assert (tests["p_value"] == 1.0).all() and (tests["diff"] == 0).all()


def test_missing_machine_choices(study):
    pq = per_question(study).astype({"agree_gram": object})
    pq.loc[pq["question_id"] == "q1", ["choice_gram", "agree_gram"]] = [None, None]
    row = value(ps_comparisons(pq, n_boot=20), genre="All")
    assert row["n_questions"] == 2  # q2, q3: d = 2 − 0, 1 − 3
    assert row["ps_diff"] == pytest.approx(0.0, abs=ABS) and row["p_value"] == 1.0
    study.choices = study.choices[~((study.choices["method"] == "gram")
                                    & (study.choices["question_id"] == "q1"))]
    pa = participant_agreement(study)
    # gram left with q2 (c-e) and q3 (a-e): P4 picked both, P1 neither; G1 is q2 alone
    assert value(pa, genre="All", participant_id="P4", who="gram")["agree"] == 100.0
    assert value(pa, genre="G1", participant_id="P1", who="gram")["agree"] == 0.0
    assert value(pa, genre="All", participant_id="P1", who="cosine")["agree"] == \
        pytest.approx(100 / 3, abs=ABS)  # cosine still on all 3: only q3 (d-e) matches


def test_unknown_column_is_a_one_line_error(study, capsys, tmp_path):
    import simkit.cli.app as cli

    code = cli.main(["tables", str(study.root), "--by", "nope", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "--by nope" in err and "visual_impairment" in err
    assert "Traceback" not in err and not (tmp_path / "r").exists()


def test_cli_writes_the_by_files(study, tmp_path, capsys):
    import simkit.cli.app as cli

    add_column(study.root, {"P1": "art", "P2": "art", "P3": "design", "P4": "design",
                            "P5": "art", "P6": "art"})
    out = tmp_path / "r"
    assert cli.main(["tables", str(study.root), "--by", "field", "--out", str(out),
                     "--n-boot", "20"]) == 0
    text = capsys.readouterr().out
    assert "Split-half agreement" in text and "By field: art (2 valid of 4), design" in text
    for name in ("split_half", "ceiling_fraction", "ps_comparisons", "participant_agreement",
                 "participant_tests",
                 "by_field_groups", "by_field_table2", "by_field_table3", "by_field_ceiling",
                 "by_field_kappa", "by_field_significance", "by_field_comparisons"):
        assert (out / f"{name}.csv").exists(), name
    assert pd.read_csv(out / "ceiling_fraction.csv").columns.tolist() == \
        ["genre", "method", "measure", "value", "ceiling", "fraction"]
    assert pd.read_csv(out / "participant_agreement.csv").columns.tolist() == \
        ["genre", "participant_id", "who", "agree"]
    groups = pd.read_csv(out / "by_field_groups.csv")
    assert groups.to_dict("records") == [{"group": "art", "n_participants": 4, "n_valid": 2},
                                         {"group": "design", "n_participants": 2, "n_valid": 2}]


# -- shown: the plot and the table-replay view ------------------------------------------
def test_participant_figure_and_replay_view(study):
    from simkit.plots import participant_agreement_figure
    from simkit.widgets.table_replay import CEILINGS, TableReplay

    t = compute_tables(study, n_boot=20)
    fig = participant_agreement_figure(t["participant_agreement"], note="RANDOM weights")
    assert [tr.name for tr in fig.data] == ["other people", "Gram", "Cosine"]
    pa = t["participant_agreement"]
    np.testing.assert_allclose(fig.data[1].y, pa[(pa["genre"] == "All")
                                                 & (pa["who"] == "gram")]["agree"])
    line = fig.layout.shapes[0]
    assert line.y0 == pytest.approx(value(t["ceiling"], genre="All", measure="ps")["ceiling"])
    assert "RANDOM weights" in fig.layout.title.text
    tr = TableReplay(t)
    assert CEILINGS in tr.views
    tr.select(CEILINGS)
    html = tr.html()
    for caption in ("Human ceiling", "Split-half", "kappa", "fraction of the ceiling",
                    "McNemar", "sign-flip"):
        assert caption in html, caption
    assert tr.replayed() is None and tr.n_differences() == 0
    one = compute_tables(load_study(study.root), n_boot=20)
    one["ceiling"] = one["ceiling"].iloc[0:0]
    one["ceiling"].attrs["note"] = "needs at least 2 valid participants"
    assert "needs at least 2 valid participants" in TableReplay(one).html(CEILINGS)


# -- method against people, paired over persons ------------------------------------------
def test_participant_tests_against_brute_force(write_study):
    from simkit.analysis.participant_agreement import participant_tests

    for seed in (3, 8, 21):
        rng = random.Random(900 + seed)
        st, questions, votes, parts, choices, methods = random_study(write_study, rng, f"t{seed}")
        valid = [p for p in votes if parts[p] == "no" and len(votes[p]) == len(questions)]
        got = participant_tests(st)
        if len(valid) < 2:
            assert got.empty and "at least 2 valid" in got.attrs["note"]
            continue
        n = len(valid)
        for g in [*dict.fromkeys(gg for gg, _ in questions.values()), "All"]:
            qs = [q for q, (gg, _) in questions.items() if g in ("All", gg)]
            raw = []
            for m in methods:
                mine = [Fraction(sum(choices[q, m] == votes[p][q] for q in qs), len(qs))
                        for p in valid]
                theirs = [Fraction(sum(votes[o][q] == votes[p][q] for o in valid if o != p
                                       for q in qs), len(qs) * (n - 1)) for p in valid]
                d = [a - b for a, b in zip(mine, theirs)]
                nz = [x for x in d if x]
                hits = sum(abs(sum(s * x for s, x in zip(signs, nz))) >= abs(sum(d))
                           for signs in itertools.product((1, -1), repeat=len(nz)))
                raw.append(hits / 2 ** len(nz))
                r = value(got, genre=g, method=m)
                assert r["p_value"] == pytest.approx(raw[-1], abs=ABS)
                assert r["diff"] == pytest.approx(float(sum(d) * 100 / n), abs=ABS)
                assert r["mean_people"] == pytest.approx(float(sum(theirs) * 100 / n), abs=ABS)
            assert list(got[got["genre"] == g]["p_holm"]) == pytest.approx(brute_holm(raw))


def test_sign_flip_monte_carlo_beyond_the_exact_limit(monkeypatch):
    import simkit.analysis.paired as paired

    d = [3, 1, 4, 1, 5, 9, 2, 6, -5, 3]
    exact = sign_flip_exact(d)
    monkeypatch.setattr(paired, "MAX_EXACT_WORK", 0)
    mc = paired.sign_flip_test(d, n_perm=4000, seed=5)
    rng = np.random.default_rng(5)
    hits = sum(int((np.abs(rng.choice(np.array([-1, 1]), size=(1000, 10)) @ np.array(d))
                    >= abs(sum(d))).sum()) for _ in range(4))
    assert mc == (1 + hits) / 4001
    assert mc == pytest.approx(exact, abs=0.02)  # 4,000 draws: within ~4 standard errors


def test_shared_votes_give_each_function_its_own_answer(write_study):
    # compute_tables reads the votes once and hands them on; each table must be what its
    # function computes from the study alone (a random study: 6 valid of 8, two genres).
    from simkit.analysis.ceilings import human_ceiling
    from simkit.analysis.participant_agreement import participant_tests
    from simkit.analysis.tables import bootstrap_ci

    st = random_study(write_study, random.Random(917), "shared")[0]
    assert len(st.valid_participants) == 6
    ids = st.participants["participant_id"]
    add_column(st.root, {p: ("x", "y")[i % 2] for i, p in enumerate(ids)})
    st = load_study(st.root)
    t = compute_tables(st, n_boot=20, seed=3, by="field")
    alone = {"ceiling": human_ceiling(st, n_boot=20, seed=3),
             "split_half": split_half(st, seed=3),
             "participant_agreement": participant_agreement(st),
             "participant_tests": participant_tests(st),
             **tables_by(st, "field", n_boot=20, seed=3)}
    boot = bootstrap_ci(st, n_boot=20, seed=3)
    for name in ("table2", "table3"):
        alone[f"{name}_ci"] = boot[boot["table"] == name].drop(columns="table").reset_index(drop=True)
    for name, want in alone.items():
        pd.testing.assert_frame_equal(t[name], want, check_exact=True, obj=name)
