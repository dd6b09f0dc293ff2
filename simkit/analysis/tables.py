"""The analysis of Wei et al. (2022): Ps, Majority (ties kept), Agree, Tables 2–5, Fig. 1.

Every value returned here is a **percentage** (0–100), unrounded, as written to the CSV files.

Definitions (paper §4.1, §4.4), for a question with N valid participants:

- ``Ps(x)`` — share of the N participants who chose pair x (eq. 4);
- ``Majority`` — the set of pairs with the top vote count (ties kept);
- ``Ps(Majority)`` — top count / N;
- ``Agree(method)`` — 1 when the method's pair is *in* the majority set (the §4.4 tie rule),
  so a method agreeing with any of several tied majority pairs counts as agreeing.

>>> pq = per_question(study)                   # doctest: +SKIP
>>> table2(pq)                                  # doctest: +SKIP

Every table at once: :func:`simkit.analysis.all_tables.compute_tables`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simkit.checks import MAX_BOOT, whole_number
from simkit.errors import UsageError
from simkit.study.model import PAIRS, Study, StudyError

__all__ = [
    "vote_counts", "per_question", "table2", "table3", "table4", "table5", "fig1",
    "easy_questions", "chance_levels", "bootstrap_ci", "EASY_THRESHOLD",
    "require_analysable", "check_boot_args", "onehot_votes", "participant_weights",
    "percentile_interval", "method_names", "genre_masks",
]

#: §4.3: easy questions have Ps(Majority) above 80 %.
EASY_THRESHOLD = 80.0


def vote_counts(study: Study) -> pd.DataFrame:
    """Votes of valid participants for each of the 10 pairs: one row per question, in
    questions.csv order, columns ``PAIRS``."""
    resp = study.valid_responses
    counts = pd.crosstab(resp["question_id"], resp["choice"]) if len(resp) else pd.DataFrame()
    counts = counts.reindex(index=study.questions["question_id"], columns=PAIRS, fill_value=0)
    return counts.fillna(0).astype(int)


def require_analysable(study: Study) -> None:
    """Refuse a study whose Ps and Agree are undefined (rather than report them as 0).

    Raises
    ------
    StudyError
        When the study has no question, or no valid participant (Ps divides by the
        number of valid participants); the message says why participants were excluded.
    """
    where = study.root or "the study"
    if study.questions.empty:
        raise StudyError(f"{where}: questions.csv has no question, so there is nothing to "
                         f"analyse; add questions (question_id, genre, image_1 … image_5)")
    if study.valid_participants:
        return
    reasons = study.exclusions["reason"].value_counts(sort=False)
    why = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
    raise StudyError(
        f"{where}: no valid participant, so Ps and Agree are undefined; a participant counts "
        f"when they answered every question and reported no visual impairment "
        f"({len(study.participants)} recruited{': ' + why if why else ''}); collect or "
        f"import complete answers first")


def per_question(study: Study) -> pd.DataFrame:
    """One row per question: N, votes, majority pairs, Ps(Majority) and each method's
    choice, Ps and Agree (methods from ``study.choices``).

    Raises :class:`~simkit.study.model.StudyError` when the study has no question or no
    valid participant (see :func:`require_analysable`): every number would be undefined.
    """
    require_analysable(study)
    counts = vote_counts(study)
    n = len(study.valid_participants)
    top = counts.max(axis=1)
    rows = pd.DataFrame({
        "question_id": study.questions["question_id"].to_numpy(),
        "genre": study.questions["genre"].to_numpy(),
        "N": n,
    })
    for pair in PAIRS:
        rows[f"votes_{pair}"] = counts[pair].to_numpy()
    majority = [
        "|".join(p for p in PAIRS if c[p] == t) if t > 0 else ""
        for (_, c), t in zip(counts.iterrows(), top)
    ]
    rows["majority"] = majority
    rows["ps_majority"] = 100.0 * top.to_numpy() / n
    for method in study.methods:
        ch = study.choices[study.choices["method"] == method].set_index("question_id")["choice"]
        # A Study holds one choice per method and question (checked when it is made).
        chosen = [ch[q] for q in rows["question_id"]]
        votes = np.array([counts.loc[q, c] for q, c in zip(rows["question_id"], chosen)])
        rows[f"choice_{method}"] = chosen
        rows[f"ps_{method}"] = 100.0 * votes / n
        rows[f"agree_{method}"] = [c in m.split("|") for c, m in zip(chosen, majority)]
    return rows


def method_names(pq: pd.DataFrame) -> list[str]:
    """The methods of a :func:`per_question` frame (its ``choice_<method>`` columns), in order."""
    return [c[len("choice_"):] for c in pq.columns if c.startswith("choice_")]


def _by_genre(pq: pd.DataFrame, columns: dict[str, str], value: str,
              scale: float = 1.0) -> pd.DataFrame:
    """Average ``columns`` (method name → column) per genre and over All questions."""
    genres = list(dict.fromkeys(pq["genre"]))
    out = []
    for genre in [*genres, "All"]:
        sel = pq if genre == "All" else pq[pq["genre"] == genre]
        for method, col in columns.items():
            out.append({"genre": genre, "method": method,
                        value: float(sel[col].astype(float).mean()) * scale})
    return pd.DataFrame(out)


def table2(pq: pd.DataFrame) -> pd.DataFrame:
    """Table 2: average Ps per genre and All; rows ``majority`` then each method."""
    cols = {"majority": "ps_majority", **{m: f"ps_{m}" for m in method_names(pq)}}
    return _by_genre(pq, cols, "avg_ps")


def table3(pq: pd.DataFrame) -> pd.DataFrame:
    """Table 3: Agree (share of questions whose majority set holds the method's pair)."""
    return _by_genre(pq, {m: f"agree_{m}" for m in method_names(pq)}, "agree", scale=100.0)


def _ranked(pq: pd.DataFrame, ascending: bool, k: int) -> pd.DataFrame:
    # A stable sort keeps the order of questions.csv among ties, as the contract asks.
    order = pq.sort_values("ps_majority", ascending=ascending, kind="stable").head(k)
    out = pd.DataFrame({"rank": np.arange(1, len(order) + 1),
                        "question_id": order["question_id"].to_numpy(),
                        "genre": order["genre"].to_numpy(),
                        "ps_majority": order["ps_majority"].to_numpy()})
    for m in method_names(pq):
        out[f"match_{m}"] = order[f"agree_{m}"].to_numpy().astype(bool)
    return out


def table4(pq: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Table 4: the k easiest questions (highest Ps(Majority) first)."""
    return _ranked(pq, ascending=False, k=k)


def table5(pq: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """Table 5: the k hardest questions, rank 1 = hardest (lowest Ps(Majority))."""
    return _ranked(pq, ascending=True, k=k)


def fig1(pq: pd.DataFrame) -> pd.DataFrame:
    """Fig. 1: cumulative moving average of Ps(x) over questions sorted by Ps(Majority),
    descending. Row k is the mean over the k easiest questions."""
    order = pq.sort_values("ps_majority", ascending=False, kind="stable")
    k = np.arange(1, len(order) + 1)
    out = pd.DataFrame({"k": k, "question_id": order["question_id"].to_numpy()})
    for m in ["majority", *method_names(pq)]:
        out[f"cma_{m}"] = np.cumsum(order[f"ps_{m}"].to_numpy(dtype=float)) / k
    return out


def easy_questions(pq: pd.DataFrame, threshold: float = EASY_THRESHOLD) -> pd.DataFrame:
    """§4.3: how many questions have Ps(Majority) above ``threshold`` % and the mean Ps of
    Majority and of each method over them."""
    sel = pq[pq["ps_majority"] > threshold]
    row = {"threshold": threshold, "count": len(sel)}
    for m in ["majority", *method_names(pq)]:
        row[f"mean_ps_{m}"] = float(sel[f"ps_{m}"].mean()) if len(sel) else np.nan
    return pd.DataFrame([row])


def chance_levels(pq: pd.DataFrame) -> pd.DataFrame:
    """What a method picking one of the 10 pairs uniformly at random would score.

    Expected Ps is always 10 % (the votes of a question sum to N); expected Agree is the
    size of the majority set / 10 (10 % without ties)."""
    n_major = pq["majority"].map(lambda m: len(m.split("|")) if m else 0)
    pq = pq.assign(_agree=100.0 * n_major / len(PAIRS), _ps=100.0 / len(PAIRS))
    ps = _by_genre(pq, {"chance": "_ps"}, "avg_ps")
    agree = _by_genre(pq, {"chance": "_agree"}, "agree")
    return ps.merge(agree, on=["genre", "method"])


def check_boot_args(n_boot: int, level: float = 0.95) -> None:
    """Refuse ``n_boot`` outside 1 … :data:`MAX_BOOT` or a ``level`` outside (0, 1) with a
    :class:`UsageError`."""
    whole_number(n_boot, "n_boot", 1, MAX_BOOT,
                 "the number of bootstrap resamples; 2000 by default")
    if not 0 < level < 1:
        raise UsageError(f"level {level!r}: the confidence level must be between 0 and 1, "
                         f"e.g. 0.95")


def onehot_votes(study: Study) -> tuple[np.ndarray, list[str]]:
    """Participants × questions × 10 pairs: 1 where a valid participant chose the pair."""
    resp = study.valid_responses
    pids = study.valid_participants
    qids = list(study.questions["question_id"])
    m = np.full((len(pids), len(qids)), -1, dtype=np.int64)
    pi = {p: i for i, p in enumerate(pids)}
    qi = {q: i for i, q in enumerate(qids)}
    pair_index = {p: i for i, p in enumerate(PAIRS)}
    for p, q, c in zip(resp["participant_id"], resp["question_id"], resp["choice"]):
        m[pi[p], qi[q]] = pair_index[c]
    # Valid participants answered every question, so every cell of m names a pair.
    return (m[..., None] == np.arange(len(PAIRS))).astype(float), qids


def participant_weights(n_p: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap weights over ``n_p`` participants: (n_boot, n_p) multinomial counts, each
    row one resample of the participants with replacement."""
    return rng.multinomial(n_p, np.full(n_p, 1 / n_p), size=n_boot).astype(float)


def genre_masks(genres: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """``(genre, mask)`` for each genre of ``genres`` (one per question) in order, then
    ``("All", every question)``."""
    return [(g, genres == g) for g in dict.fromkeys(genres)] + [("All", np.ones(len(genres), bool))]


def percentile_interval(dist: np.ndarray, level: float) -> tuple[float, float]:
    """The percentile bootstrap interval of ``dist`` at confidence ``level``."""
    alpha = (1 - level) / 2
    return float(np.quantile(dist, alpha)), float(np.quantile(dist, 1 - alpha))


def _scores(counts: np.ndarray, n: np.ndarray, method_idx: np.ndarray):
    """From vote counts (B, Q, 10) → Ps(Majority) (B, Q), Ps (B, M, Q), Agree (B, M, Q)."""
    top = counts.max(axis=2)
    ps_major = top / n
    b, q = np.meshgrid(np.arange(counts.shape[0]), np.arange(counts.shape[1]), indexing="ij")
    ps_m, agree_m = [], []
    for idx in method_idx:  # one row of pair indices per method (-1 = no choice)
        v = np.where(idx >= 0, counts[b, q, np.maximum(idx, 0)], 0)
        ps_m.append(v / n)
        agree_m.append((idx >= 0) & (v == top) & (top > 0))
    return ps_major, np.stack(ps_m, 1) if ps_m else None, np.stack(agree_m, 1) if agree_m else None


def bootstrap_ci(study: Study, n_boot: int = 2000, level: float = 0.95, seed: int = 0, *,
                 pq: pd.DataFrame | None = None, onehot: np.ndarray | None = None) -> pd.DataFrame:
    """Percentile bootstrap confidence intervals for Table 2 and Table 3 values.

    Two resampling schemes, each answering its own question:

    - ``participants`` — resample valid participants with replacement (would another
      group of people vote the same way?);
    - ``questions`` — resample questions with replacement within each genre (would other
      image groups of the same genres give the same averages?).

    Returns ``table, genre, method, value, resample, ci_low, ci_high`` (percent). An
    interval from resampling fewer than 2 participants (or, per genre, questions) would
    have zero width whatever the data, so it is undefined: ``ci_low`` and ``ci_high``
    are NaN (n/a). ``pq`` (:func:`per_question`) and ``onehot`` (:func:`onehot_votes`) of
    ``study`` are made here unless given.

    Raises :class:`~simkit.errors.UsageError` for ``n_boot`` < 1 or ``level`` outside
    (0, 1), and :class:`~simkit.study.model.StudyError` as :func:`per_question` does.
    """
    check_boot_args(n_boot, level)
    pq = per_question(study) if pq is None else pq
    methods = method_names(pq)
    onehot = onehot_votes(study)[0] if onehot is None else onehot
    n_p, n_q = onehot.shape[:2]
    pair_index = {p: i for i, p in enumerate(PAIRS)}
    method_idx = np.array([[pair_index.get(c, -1) for c in pq[f"choice_{m}"]] for m in methods],
                          dtype=np.int64).reshape(len(methods), n_q)
    genres = pq["genre"].to_numpy()
    genre_names = list(dict.fromkeys(genres))
    rng = np.random.default_rng(seed)

    out = []

    def summarise(resample: str, ps_major, ps_m, agree_m, weights_per_genre, units):
        # weights_per_genre: genre → (B, Q) weights of each question in that bootstrap sample;
        # units: genre → how many things were resampled (< 2: the interval is undefined)
        for genre in [*genre_names, "All"]:
            w = weights_per_genre[genre]
            denom = w.sum(axis=1)
            series = {("table2", "majority"): (ps_major * w).sum(1) / denom * 100}
            for j, m in enumerate(methods):
                series[("table2", m)] = (ps_m[:, j] * w).sum(1) / denom * 100
                series[("table3", m)] = (agree_m[:, j] * w).sum(1) / denom * 100
            for (table, m), dist in series.items():
                low, high = (percentile_interval(dist, level) if units[genre] >= 2
                             else (np.nan, np.nan))
                out.append({"table": table, "genre": genre, "method": m, "resample": resample,
                            "ci_low": low, "ci_high": high})

    # -- over participants: multinomial weights on people, all questions kept
    pw = participant_weights(n_p, n_boot, rng)  # (B, P)
    counts = np.einsum("bp,pqk->bqk", pw, onehot)
    ps_major, ps_m, agree_m = _scores(counts, n_p, method_idx)
    masks = {g: np.broadcast_to((genres == g).astype(float), (n_boot, n_q)) for g in genre_names}
    masks["All"] = np.ones((n_boot, n_q))
    summarise("participants", ps_major, ps_m, agree_m, masks, dict.fromkeys(masks, n_p))

    # -- over questions: resample within each genre, keep the people's votes as they are
    counts1 = onehot.sum(axis=0)[None]  # (1, Q, 10)
    ps_major1, ps_m1, agree_m1 = _scores(counts1, n_p, method_idx)
    qw = {}
    total = np.zeros((n_boot, n_q))
    for g in genre_names:
        idx = np.flatnonzero(genres == g)
        w = np.zeros((n_boot, n_q))
        w[:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1 / len(idx)), size=n_boot)
        qw[g] = w
        total += w
    qw["All"] = total
    rep = lambda a: None if a is None else np.broadcast_to(a, (n_boot, *a.shape[1:]))
    per_genre = {g: int((genres == g).sum()) for g in genre_names}
    summarise("questions", rep(ps_major1), rep(ps_m1), rep(agree_m1), qw,
              {**per_genre, "All": n_q})

    ci = pd.DataFrame(out)
    point = pd.concat([table2(pq).rename(columns={"avg_ps": "value"}).assign(table="table2"),
                       table3(pq).rename(columns={"agree": "value"}).assign(table="table3")])
    ci = point.merge(ci, on=["table", "genre", "method"], how="right")
    return ci[["table", "genre", "method", "value", "resample", "ci_low", "ci_high"]]
