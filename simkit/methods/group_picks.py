"""Which pair each machine method picks in a group of five, and which groups to ask about.

:func:`group_picks` and :func:`machine_picks` give each method's pair of a group with the
10 pair distances behind it; :func:`describe_picks` says in words how much the methods
disagree; :func:`suggest_groups` proposes the groups a human study learns most from: those
where the machine methods pick different pairs, and those where a method's best pair is only
just closer than its second best. Each suggestion carries its reason in words.

>>> suggest_groups(featureset, n=10, seed=0)[["image_1", "reason"]]  # doctest: +SKIP
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from simkit.study.groups import GROUP_SIZE
from simkit.study.model import IMAGE_COLUMNS, PAIRS

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet

__all__ = ["group_picks", "machine_picks", "describe_picks", "suggest_groups"]

_PAIR_IDX = [(ord(p[0]) - 97, ord(p[2]) - 97) for p in PAIRS]


def group_picks(featureset: "FeatureSet", ids: Sequence[str],
                methods: Iterable[str] | None = None) -> tuple[dict[str, str], pd.DataFrame]:
    """Each method's pair for the 5 images ``ids`` (a–e in this order) and the 10 distances.

    Exactly what :func:`simkit.methods.choices.choose` computes for a question with these images:
    returns ``({method: "b-d"}, DataFrame index=PAIRS, columns=methods)``.
    """
    from simkit.search.distances import pair_distances

    if len(ids) != GROUP_SIZE:
        raise ValueError(f"a group has {GROUP_SIZE} images, got {len(ids)}")
    methods = list(featureset.vectors) if methods is None else list(methods)
    rows = [featureset.index(str(i)) for i in ids]
    dist = pd.DataFrame({m: pair_distances(featureset.vectors[m][rows]) for m in methods},
                        index=pd.Index(PAIRS, name="pair"))
    picks = {m: PAIRS[int(np.argmin(dist[m].to_numpy()))] for m in methods}
    return picks, dist


def machine_picks(images: Mapping[str, str | os.PathLike], methods: Iterable[str],
                  **options: Any) -> tuple[dict[str, str], pd.DataFrame, str]:
    """``(picks, distances, note)`` for five images ``{image_id: path}`` (a–e in order).

    Computed by :func:`simkit.methods.choices.choose_for_group` (so they are the picks
    :func:`simkit.choose` makes once the group is a question); ``distances`` has the rows
    a-b … d-e and one column per method; ``note`` says e.g. that the weights are random.
    """
    from simkit.methods.choices import choose_for_group

    result = choose_for_group(images, list(methods), **options)
    dist = result.distances.pivot(index="pair", columns="method", values="distance")
    dist = dist.reindex(index=pd.Index(PAIRS, name="pair"), columns=result.methods)
    dist.columns.name = None
    picks = dict(zip(result.choices["method"], result.choices["choice"]))
    return picks, dist, " ".join(result.notes)


def _stats(d: np.ndarray) -> tuple[list[int], int, float, np.ndarray]:
    """From a (10 pairs × M methods) distance array: each method's pick (pair index), the
    number of different picks, the disagreement score and each method's relative margin."""
    picks = [int(np.argmin(d[:, m])) for m in range(d.shape[1])]
    distinct = list(dict.fromkeys(picks))
    margins = np.empty(d.shape[1])
    regrets = []
    for m, pk in enumerate(picks):
        col = d[:, m]
        best = col[pk]
        second = np.partition(col, 1)[1]
        margins[m] = (second - best) / best if best > 0 else (0.0 if second == 0 else np.inf)
        others = [p for p in distinct if p != pk]
        if others and best > 0:
            regrets.append(np.mean([(col[p] - best) / best for p in others]))
    dis = 0.0
    if len(distinct) > 1:
        dis = len(distinct) - 1 + (float(np.tanh(np.mean(regrets))) if regrets else 0.0)
    return picks, len(distinct), dis, margins


def describe_picks(picks: Mapping[str, str], dist: pd.DataFrame,
                   tie_margin: float = 0.05) -> tuple[str, str, float, float]:
    """``(kind, reason, disagreement, closest_margin)`` of one group's machine picks.

    ``dist``: the 10 pair distances (index ``PAIRS``, one column per method of ``picks``).
    ``kind``: ``"disagree"`` (methods pick different pairs), ``"near-tie"`` (some method's
    best and second-best pairs are within ``tie_margin``, relatively) or ``"clear"``.
    ``disagreement``: 0 when all agree; else (number of different picks − 1) plus how much
    farther, on average, each method finds the others' picks than its own (squashed to
    0–1). ``closest_margin``: the smallest (second − best) / best over the methods.
    """
    methods = list(picks)
    d = dist.loc[PAIRS, methods].to_numpy(dtype=float)
    _, n_distinct, dis, margins = _stats(d)
    tight = int(np.argmin(margins))
    closest = float(margins[tight])
    parts = []
    if n_distinct > 1:
        kind = "disagree"
        parts.append("methods disagree: " + ", ".join(f"{m} picks {picks[m]}" for m in methods))
    elif closest < tie_margin:
        kind = "near-tie"
    else:
        kind = "clear"
    if closest < tie_margin:
        col = d[:, tight]
        o = np.argsort(col, kind="stable")
        parts.append(f"near tie for {methods[tight]}: best {PAIRS[o[0]]} ({col[o[0]]:.4g}) vs "
                     f"second {PAIRS[o[1]]} ({col[o[1]]:.4g}), {100 * closest:.2f} % apart")
    if not parts:
        parts.append(f"all methods pick {picks[methods[0]]}, clearly (closest margin "
                     f"{100 * closest:.1f} %)")
    return kind, "; ".join(parts), dis, closest


def _rank_score(n_distinct: int, dis: float, margin: float, tie_margin: float,
                prefer: str) -> float:
    tie = 1.0 / (1.0 + margin / max(tie_margin, 1e-12))  # 1 at a tie, 0.5 at the margin
    if prefer == "disagree":
        return dis + 0.01 * tie
    if prefer == "near-tie":
        return tie + 0.01 * dis
    return (1.0 + dis if n_distinct > 1 else 0.0) + tie


def _strata(pool: list[str], labels: Mapping[str, str] | None) -> list[tuple[str, np.ndarray]]:
    """(label, positions in ``pool``) of every label with enough images for a group."""
    if labels is not None:
        groups_of: dict[str, list[int]] = {}
        for k, i in enumerate(pool):
            lab = str(labels.get(i, "") or "")
            if lab:
                groups_of.setdefault(lab, []).append(k)
        strata = [(lab, np.array(ks)) for lab, ks in groups_of.items() if len(ks) >= GROUP_SIZE]
    else:
        strata = [("", np.arange(len(pool)))] if len(pool) >= GROUP_SIZE else []
    if not strata:
        raise ValueError(f"need at least {GROUP_SIZE} images (with a label, if labels are "
                         f"given) to suggest a group; have {len(pool)}")
    return strata


def _candidates(strata: list[tuple[str, np.ndarray]], candidates: int,
                seed: int) -> list[tuple[str, tuple[int, ...]]]:
    """Up to ``candidates`` distinct random groups (label, positions), seeded."""
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, ...]] = set()
    cands: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(candidates):
        lab, ks = strata[int(rng.integers(len(strata)))]
        pick = tuple(int(x) for x in rng.choice(ks, GROUP_SIZE, replace=False))
        key = tuple(sorted(pick))
        if key not in seen:
            seen.add(key)
            cands.append((lab, pick))
    return cands


def suggest_groups(featureset: "FeatureSet", *, n: int = 10, image_ids: Iterable[str] | None = None,
                   labels: Mapping[str, str] | None = None, candidates: int = 1000,
                   seed: int = 0, methods: Iterable[str] | None = None,
                   tie_margin: float = 0.05, prefer: str = "any",
                   exclude: Iterable[str] = (), distinct: bool = True) -> pd.DataFrame:
    """Propose ``n`` groups of 5 most informative for a human study, each with its reason.

    Draws ``candidates`` random groups (seeded: same seed, same suggestions) from
    ``image_ids`` (default: every image of ``featureset``; ``exclude`` removes some, e.g.
    those already in the study), within one label each when ``labels`` ({image_id: label})
    is given. Ranks them by ``prefer``:

    - ``"disagree"``: the methods pick different pairs — the more different picks, and the
      farther each method finds the others' picks, the higher;
    - ``"near-tie"``: a method's best and second-best pair are nearly equally close (the
      smaller the relative margin, the higher) — people decide what the machine cannot;
    - ``"any"`` (default): disagreements first, then near ties.

    With ``distinct``, no image appears in two suggestions. The ranking uses the fast
    all-pairs distances; the picks and reasons shown are recomputed exactly (as
    :func:`simkit.methods.choices.choose` would). Returns ``rank, genre, image_1 … image_5, kind,
    score, reason, margin`` and ``choice_<method>`` columns.
    """
    from simkit.search.distances import all_pairs_distances

    if prefer not in ("any", "disagree", "near-tie"):
        raise ValueError("prefer must be 'any', 'disagree' or 'near-tie'")
    methods = list(featureset.vectors) if methods is None else list(methods)
    excluded = {str(i) for i in exclude}
    pool = [str(i) for i in (featureset.image_ids if image_ids is None else image_ids)
            if str(i) not in excluded]
    pool = list(dict.fromkeys(pool))
    rows_of = np.array([featureset.index(i) for i in pool], dtype=int)
    strata = _strata(pool, labels)
    D = {m: all_pairs_distances(featureset.vectors[m][rows_of]) for m in methods}

    cands = _candidates(strata, candidates, seed)
    ia = np.array([[c[1][i] for i, _ in _PAIR_IDX] for c in cands])
    ib = np.array([[c[1][j] for _, j in _PAIR_IDX] for c in cands])

    scored = []
    for c in range(len(cands)):
        d = np.stack([D[m][ia[c], ib[c]] for m in methods], axis=1)
        _, n_distinct, dis, margins = _stats(d)
        scored.append((-_rank_score(n_distinct, dis, float(margins.min()), tie_margin,
                                    prefer), c))
    scored.sort()

    out, used = [], set()
    for _, c in scored:
        lab, pick = cands[c]
        if distinct and used.intersection(pick):
            continue
        ids = [pool[k] for k in pick]
        picks, dist = group_picks(featureset, ids, methods)  # exact, as `choose` computes
        kind, reason, dis, margin = describe_picks(picks, dist, tie_margin)
        n_distinct = len(set(picks.values()))
        out.append({"genre": lab, **dict(zip(IMAGE_COLUMNS, ids)), "kind": kind,
                    "score": round(_rank_score(n_distinct, dis, margin, tie_margin, prefer), 6),
                    "reason": reason, "margin": margin,
                    **{f"choice_{m}": picks[m] for m in methods}})
        used.update(pick)
        if len(out) >= n:
            break
    df = pd.DataFrame(out)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df
