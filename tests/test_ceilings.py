"""Issue 15: human ceilings, Fleiss' kappa, tests against chance and McNemar with Holm,
checked against hand computations and an independent brute force on random studies."""
from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from simkit.analysis.ceilings import fleiss_kappa, human_ceiling
from simkit.analysis.significance import (against_chance, chance_tail, compare_methods, holm,
                                          mcnemar_exact)
from simkit.analysis.all_tables import compute_tables
from simkit.analysis.tables import per_question
from simkit.study.model import PAIRS, load_study

from test_analysis import CHOICES, PARTICIPANTS, QUESTIONS, VOTES, value

ABS = 1e-12


@pytest.fixture
def study(write_study):
    return load_study(write_study(QUESTIONS, VOTES, PARTICIPANTS, CHOICES))


# -- hand-computed: 4 valid participants, 3 questions (test_analysis's study) -------------
def test_ceiling_by_hand(study):
    c = human_ceiling(study, n_boot=200)
    # agree: q1 3 of 4 people agree with the others' majority, q2 none, q3 3 of 4
    assert value(c, genre="G1", measure="agree")["ceiling"] == pytest.approx(37.5, abs=ABS)
    assert value(c, genre="G2", measure="agree")["ceiling"] == pytest.approx(75.0, abs=ABS)
    assert value(c, genre="All", measure="agree")["ceiling"] == pytest.approx(50.0, abs=ABS)
    # ps: q1 2/3+2/3+0+2/3, q2 4 × 1/3, q3 3 × 2/3 + 0
    assert value(c, genre="G1", measure="ps")["ceiling"] == pytest.approx(500 / 12, abs=ABS)
    assert value(c, genre="All", measure="ps")["ceiling"] == pytest.approx(400 / 9, abs=ABS)
    assert (c["ci_low"] <= c["ci_high"]).all()


def test_kappa_by_hand(study):
    k = fleiss_kappa(per_question(study)).set_index("genre")["kappa"]
    # q3: 3 × d-e, 1 × a-e: P = (9 + 1 - 4) / 12, Pe = 0.75² + 0.25²
    assert k["G2"] == pytest.approx(-1 / 3, abs=ABS)
    assert list(k.index) == ["G1", "G2", "All"]


def test_significance_and_mcnemar_by_hand(study):
    pq = per_question(study)
    s = against_chance(pq)
    gram = value(s, genre="All", method="gram")
    assert (gram["n_questions"], gram["n_agree"]) == (3, 2)
    # chance per question .1, .2 (a tie of two), .1; P(X ≥ 2)
    assert gram["p_value"] == pytest.approx(.1 * .2 * .9 + .1 * .8 * .1 + .9 * .2 * .1
                                            + .1 * .2 * .1, abs=ABS)
    assert gram["chance_agree"] == pytest.approx(40 / 3, abs=ABS)
    cmp_ = value(compare_methods(pq), genre="All")
    assert (cmp_["method_a"], cmp_["method_b"], cmp_["a_only"], cmp_["b_only"]) == \
        ("gram", "cosine", 2, 1)
    assert cmp_["p_value"] == 1.0 and cmp_["p_holm"] == 1.0


def test_small_exact_values():
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32, abs=ABS)
    assert mcnemar_exact(0, 0) == 1.0
    assert chance_tail([.5, .5], 2) == pytest.approx(.25, abs=ABS)
    assert chance_tail([.5, .5], 0) == 1.0
    assert chance_tail([.5], 3) == 0.0
    assert list(holm([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06], abs=ABS)


# -- degenerate input ------------------------------------------------------------------
def test_one_valid_participant_leaves_ceilings_out(write_study, capsys):
    q = {"q1": ("G", ["a1", "b1", "c1", "d1", "e1"])}
    st = load_study(write_study(q, {"P1": {"q1": "a-b"}, "P2": {"q1": "a-c"}},
                                {"P1": "no", "P2": "yes"}, {("q1", "gram"): "a-b"}))
    t = compute_tables(st, n_boot=50)
    for name in ("ceiling", "kappa"):
        assert t[name].empty and "at least 2 valid participants" in t[name].attrs["note"]
    assert value(t["significance"], genre="All", method="gram")["p_value"] == \
        pytest.approx(0.1, abs=ABS)


def test_everyone_agreeing_gives_p_one_and_one_question_genres(write_study):
    q = {"q1": ("G1", ["a1", "b1", "c1", "d1", "e1"]),
         "q2": ("G2", ["a2", "b2", "c2", "d2", "e2"])}
    votes = {p: {"q1": "a-b", "q2": "c-d"} for p in ("P1", "P2", "P3")}
    ch = {(qq, m): v for m in ("gram", "cosine", "vgg") for qq, v in (("q1", "a-b"), ("q2", "c-d"))}
    t = compute_tables(load_study(write_study(q, votes, None, ch)), n_boot=50)
    assert (t["comparisons"]["p_value"] == 1.0).all() and (t["comparisons"]["p_holm"] == 1.0).all()
    assert len(t["comparisons"]) == 3 * 3  # 3 pairs of methods × (G1, G2, All)
    assert (t["ceiling"]["ceiling"] == 100.0).all()
    k = t["kappa"].set_index("genre")["kappa"]
    assert k[["G1", "G2"]].isna().all()  # one pair chosen by all: P_e = 1, undefined
    assert k["All"] == 1.0  # pooled, two pairs: perfect agreement
    assert not t["significance"]["p_value"].isna().any()


def test_missing_machine_choices_use_the_questions_that_have_them(study):
    pq = per_question(study).astype({"agree_gram": object})
    pq.loc[pq["question_id"] == "q1", ["choice_gram", "agree_gram"]] = [None, None]
    gram = value(against_chance(pq), genre="All", method="gram")
    assert (gram["n_questions"], gram["n_agree"]) == (2, 1)
    assert gram["p_value"] == pytest.approx(1 - .8 * .9, abs=ABS)
    row = value(compare_methods(pq), genre="All")
    assert (row["a_only"], row["b_only"]) == (1, 1)


# -- random studies against a brute force ----------------------------------------------
def random_study(write_study, rng: random.Random, name: str):
    genres = [f"G{i}" for i in range(rng.randint(1, 3))]
    questions = {f"q{i}": (rng.choice(genres), [f"{x}{i}" for x in "abcde"])
                 for i in range(rng.randint(1, 7))}
    pool = rng.sample(PAIRS, rng.randint(1, 4))  # few pairs: many ties
    votes, parts = {}, {}
    for k in range(rng.randint(2, 8)):
        qs = list(questions) if rng.random() > 0.15 else list(questions)[:-1]
        votes[f"P{k}"] = {q: rng.choice(pool) for q in qs}
        parts[f"P{k}"] = "yes" if rng.random() < 0.15 else "no"
    methods = ["gram", "cosine", "vgg"][:rng.randint(1, 3)]
    choices = {(q, m): rng.choice(pool + [rng.choice(PAIRS)]) for q in questions for m in methods}
    return load_study(write_study(questions, votes, parts, choices, name=name)), questions, \
        votes, parts, choices, methods


def brute_ceiling(questions, votes, valid, genre):
    qs = [q for q, (g, _) in questions.items() if genre in ("All", g)]
    agree, ps = Fraction(0), Fraction(0)
    for p in valid:
        for q in qs:
            others = [votes[o][q] for o in valid if o != p]
            counts = {c: others.count(c) for c in set(others)}
            mine = counts.get(votes[p][q], 0)
            agree += mine == max(counts.values())
            ps += Fraction(mine, len(others))
    n = len(valid) * len(qs)
    return float(agree * 100 / n), float(ps * 100 / n)


def brute_kappa(questions, votes, valid, genre):
    qs = [q for q, (g, _) in questions.items() if genre in ("All", g)]
    n = len(valid)
    table = [[sum(votes[p][q] == c for p in valid) for c in PAIRS] for q in qs]
    p_i = [Fraction(sum(x * x for x in row) - n, n * (n - 1)) for row in table]
    p_j = [Fraction(sum(row[j] for row in table), n * len(qs)) for j in range(len(PAIRS))]
    p_e = sum(x * x for x in p_j)
    return None if p_e == 1 else float((sum(p_i) / len(qs) - p_e) / (1 - p_e))


def brute_tail(probs, k):
    total = Fraction(0)
    for outcome in itertools.product((0, 1), repeat=len(probs)):
        if sum(outcome) >= k:
            pr = Fraction(1)
            for o, p in zip(outcome, probs):
                pr *= p if o else 1 - p
            total += pr
    return float(total)


def brute_mcnemar(a, b):
    n = a + b
    pr = [Fraction(math.comb(n, i), 2 ** n) for i in range(n + 1)]
    return float(min(1, sum(x for x in pr if x <= pr[a])))


def brute_holm(ps):
    m, order = len(ps), sorted(range(len(ps)), key=lambda i: ps[i])
    out = [0.0] * m
    for rank, i in enumerate(order):
        out[i] = min(1.0, max((m - r) * ps[order[r]] for r in range(rank + 1)))
    return out


@pytest.mark.parametrize("seed", range(30))
def test_random_studies_against_brute_force(write_study, seed):
    rng = random.Random(seed)
    st, questions, votes, parts, choices, methods = random_study(write_study, rng, f"s{seed}")
    valid = [p for p in votes if parts[p] == "no" and len(votes[p]) == len(questions)]
    assert st.valid_participants == valid
    if not valid:
        return
    t = compute_tables(st, n_boot=100, seed=seed)
    genres = [*dict.fromkeys(g for g, _ in questions.values()), "All"]
    if len(valid) >= 2:
        for g in genres:
            agree, ps = brute_ceiling(questions, votes, valid, g)
            assert value(t["ceiling"], genre=g, measure="agree")["ceiling"] == pytest.approx(agree, abs=ABS)
            assert value(t["ceiling"], genre=g, measure="ps")["ceiling"] == pytest.approx(ps, abs=ABS)
            k = value(t["kappa"], genre=g)["kappa"]
            want = brute_kappa(questions, votes, valid, g)
            assert (np.isnan(k) if want is None else k == pytest.approx(want, abs=ABS))
    else:
        assert t["ceiling"].empty and t["kappa"].empty
    agrees = {}
    for g in genres:
        qs = [q for q, (gg, _) in questions.items() if g in ("All", gg)]
        tops = {}
        for q in qs:
            counts = {c: sum(votes[p][q] == c for p in valid) for c in PAIRS}
            tops[q] = {c for c, n in counts.items() if n == max(counts.values())}
        for m in methods:
            hit = {q: choices[(q, m)] in tops[q] for q in qs}
            agrees[g, m] = hit
            row = value(t["significance"], genre=g, method=m)
            probs = [Fraction(len(tops[q]), 10) for q in qs]
            assert row["n_agree"] == sum(hit.values()) and row["n_questions"] == len(qs)
            assert row["p_value"] == pytest.approx(brute_tail(probs, sum(hit.values())), abs=ABS)
            assert row["chance_agree"] == pytest.approx(float(sum(probs) * 100 / len(qs)), abs=ABS)
        rows = t["comparisons"][t["comparisons"]["genre"] == g]
        pairs = list(itertools.combinations(methods, 2))
        assert list(zip(rows["method_a"], rows["method_b"])) == pairs
        raw = []
        for (a, b), r in zip(pairs, rows.itertuples()):
            a_only = sum(agrees[g, a][q] and not agrees[g, b][q] for q in qs)
            b_only = sum(agrees[g, b][q] and not agrees[g, a][q] for q in qs)
            assert (r.a_only, r.b_only) == (a_only, b_only)
            raw.append(brute_mcnemar(a_only, b_only))
            assert r.p_value == pytest.approx(raw[-1], abs=ABS)
        assert list(rows["p_holm"]) == pytest.approx(brute_holm(raw), abs=ABS)


def test_ceiling_interval_is_the_participant_bootstrap(study):
    c = human_ceiling(study, n_boot=300, seed=7)
    rng = np.random.default_rng(7)
    w = rng.multinomial(4, [0.25] * 4, size=300)
    agree_people = np.array([2, 2, 1, 1]) / 3 * 100  # G1 ∪ G2 = All: per-person agree share
    dist = w @ agree_people / 4
    row = value(c, genre="All", measure="agree")
    assert (row["ci_low"], row["ci_high"]) == pytest.approx(
        (np.quantile(dist, 0.025), np.quantile(dist, 0.975)), abs=ABS)


def test_result_files_are_written(study, tmp_path):
    from simkit.reports.files import RESULT_FILES, save_tables
    from simkit.fileio import replace_set

    with replace_set(tmp_path / "out", RESULT_FILES) as stage:
        save_tables(compute_tables(study, n_boot=50), stage)
    heads = {n: pd.read_csv(tmp_path / "out" / f"{n}.csv").columns.tolist()
             for n in ("ceiling", "significance", "comparisons", "kappa")}
    assert heads["ceiling"] == ["genre", "measure", "ceiling", "ci_low", "ci_high"]
    assert heads["kappa"] == ["genre", "kappa"]
    assert heads["comparisons"][-1] == "p_holm" and heads["significance"][-1] == "p_value"


def test_cli_warns_when_ceilings_are_undefined(write_study, tmp_path, capsys):
    import simkit.cli.app as cli

    q = {"q1": ("G", ["a1", "b1", "c1", "d1", "e1"])}
    folder = write_study(q, {"P1": {"q1": "a-b"}}, None, {("q1", "gram"): "a-b"})
    assert cli.main(["tables", str(folder), "--out", str(tmp_path / "r"), "--n-boot", "20"]) == 0
    err = capsys.readouterr().err
    assert "ceiling.csv" in err and "kappa.csv" in err and "at least 2 valid" in err
    assert pd.read_csv(tmp_path / "r" / "ceiling.csv").empty
