"""Image groups for a study: sampled the paper's way, or suggested where people are most needed.

Wei et al. took 100 prints per genre and cut them into 20 random groups of 5, no print used
twice within a genre. :func:`sample_groups` does that for any label column of a collection
(``genre``, ``artist``, …), :func:`new_study` writes the result as a study folder
(``simkit study new COLLECTION --out STUDY``), ready for the questionnaire.

:func:`suggest_groups` proposes the groups a human study learns most from: those where the
machine methods pick different pairs, and those where a method's best pair is only just
closer than its second best. Each suggestion carries its reason in words.

>>> new_study("prints", "my-study", per_label=20, seed=0)          # doctest: +SKIP
>>> suggest_groups(featureset, n=10, seed=0)[["image_1", "reason"]]  # doctest: +SKIP
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from simkit.paths import inside
from simkit.study.model import IMAGE_COLUMNS, PAIRS, Study, StudyError, load_study

if TYPE_CHECKING:
    from simkit.features.extract import FeatureSet

__all__ = ["GROUP_SIZE", "random_groups", "sample_groups", "write_study", "new_study",
           "group_picks", "suggest_groups", "describe_picks", "machine_picks",
           "write_study_with_choices"]

#: A question shows 5 images (a–e), as in the paper.
GROUP_SIZE = len(IMAGE_COLUMNS)
_PAIR_IDX = [(ord(p[0]) - 97, ord(p[2]) - 97) for p in PAIRS]


def random_groups(ids: Sequence[str], n_groups: int, rng: np.random.Generator,
                  group_size: int = GROUP_SIZE) -> list[list[str]]:
    """``n_groups`` random groups of ``group_size`` ids, no id used twice (the paper's way:
    shuffle, keep the first ``n_groups × group_size``, cut in order). Fewer groups when
    there are not enough ids."""
    shuffled = list(rng.permutation(list(ids)))[: n_groups * group_size]
    return [[str(x) for x in shuffled[g * group_size:(g + 1) * group_size]]
            for g in range(len(shuffled) // group_size)]


def sample_groups(images: pd.DataFrame, *, by: str = "genre", per_label: int = 20,
                  group_size: int = GROUP_SIZE, seed: int = 0,
                  labels: Sequence[str] | None = None) -> pd.DataFrame:
    """Questions (``question_id, genre, image_1 … image_5``) sampled per value of ``by``.

    Per label, up to ``per_label`` groups of ``group_size`` images without reuse (100 images
    → 20 groups of 5). ``labels``: which values and in which order (default: every non-empty
    value with at least ``group_size`` images, largest first). The question's ``genre``
    column holds the label. Same seed, same groups.
    """
    if group_size != GROUP_SIZE:
        raise ValueError(f"group size {group_size}: a study question shows exactly "
                         f"{GROUP_SIZE} images (a–e), as in the paper; use --group-size 5")
    if by not in images.columns:
        raise StudyError(f"no column {by!r} to group by; images.csv has "
                         f"{', '.join(images.columns)}")
    if per_label < 1:
        raise ValueError("per_label must be at least 1")
    col = images[by].fillna("").astype(str).str.strip()
    counts = col[col != ""].value_counts()
    if labels is None:
        labels = [str(v) for v, n in counts.items() if n >= group_size]
    else:
        missing = [v for v in labels if counts.get(v, 0) < group_size]
        if missing:
            raise StudyError(f"{by} {missing[0]!r} has {counts.get(missing[0], 0)} images; "
                             f"a group needs {group_size}")
    if not labels:
        raise StudyError(f"no {by} has {group_size} images; nothing to group (check the "
                         f"{by} column of images.csv, or group --by another column)")
    rng = np.random.default_rng(seed)
    rows = []
    for label in labels:
        ids = list(images.loc[col == label, "image_id"].astype(str))
        for g in random_groups(ids, per_label, rng, group_size):
            rows.append({"question_id": f"q{len(rows) + 1:03d}", "genre": label,
                         **dict(zip(IMAGE_COLUMNS, g))})
    return pd.DataFrame(rows, columns=["question_id", "genre", *IMAGE_COLUMNS])


# -- writing a study folder ------------------------------------------------------------------
_STUDY_META = ["title", "artist", "date", "year", "width", "height", "source_url", "licence",
               "sha256"]


def _study_images(out: Path, images: pd.DataFrame, used: list[str],
                  copy_images: bool) -> pd.DataFrame:
    """images.csv of the study ``out``: the ``used`` images, each ``file`` absolute (or,
    copied, relative to ``out``)."""
    by_id = images.set_index(images["image_id"].astype(str))
    unknown = [i for i in used if i not in by_id.index]
    if unknown:
        raise StudyError(f"image {unknown[0]!r} is in a group but not in the collection")
    rows = []
    for i in used:
        r = by_id.loc[i]
        src = Path(r["path"])
        if not src.exists():
            raise StudyError(f"image {i!r}: file {src} not found; fetch the collection again "
                             f"(`simkit fetch` resumes) or fix its images.csv")
        if copy_images:
            # The name comes from the image id: it must stay in --out once resolved.
            # (joined as paths: an absolute id is refused, not nested under images/)
            dest = inside(out, Path("images") / f"{i}{src.suffix.lower()}", what="image id")
            if not dest.exists() or dest.stat().st_size != src.stat().st_size:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
            file = dest.relative_to(out).as_posix()
        else:
            # Absolute: a relative file of a study must stay inside the study folder.
            file = src.resolve().as_posix()
        row = {"image_id": i, "file": file, "genre": str(r.get("genre", "") or "")}
        for c in _STUDY_META:
            if c in by_id.columns and str(r.get(c, "") or "") not in ("", "nan"):
                row[c] = str(r[c])
        rows.append(row)
    cols = ["image_id", "file", "genre"] + [c for c in _STUDY_META
                                           if any(c in row for row in rows)]
    return pd.DataFrame(rows).reindex(columns=cols).fillna("")


def write_study(out: str | os.PathLike, images: pd.DataFrame, questions: pd.DataFrame, *,
                copy_images: bool = False, keep_existing: bool = True,
                choices: pd.DataFrame | None = None) -> Study:
    """Write ``images`` (with a ``path`` column: where each file is) and ``questions`` as
    the study folder ``out``, validated before anything is replaced.

    Only the images the questions use are listed. ``file`` is the image's absolute path (or
    the image is copied into ``out/images`` with ``copy_images``, and ``file`` is relative:
    ``images/ID.jpg``, checked to stay there). An existing
    ``responses.csv`` / ``participants.csv`` / ``choices.csv`` is kept and must still fit
    (``keep_existing``); otherwise an empty ``responses.csv`` (header only) is written.
    ``choices`` (``question_id, method, choice``) replaces ``choices.csv``.
    The CSVs are staged in a sibling folder, checked with :func:`load_study`, then moved
    in one rename each (images.csv first, so a crash leaves a valid study).
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    used = list(dict.fromkeys(str(v) for v in questions[IMAGE_COLUMNS].to_numpy().ravel()))
    try:
        images_out = _study_images(out, images, used, copy_images)
    except BaseException:
        if created:  # a refused study leaves no half-made folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise

    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        from simkit.fileio import write_csv
        write_csv(images_out, stage / "images.csv")
        write_csv(questions[["question_id", "genre", *IMAGE_COLUMNS]].astype(str),
                  stage / "questions.csv")
        kept, moved = [], ["images.csv", "questions.csv", "responses.csv"]
        if choices is not None:
            write_csv(choices[["question_id", "method", "choice"]].astype(str),
                      stage / "choices.csv")
            kept.append("choices.csv")
            moved.append("choices.csv")
        for name in ("responses.csv", "participants.csv", "choices.csv"):
            if name in kept:
                continue
            if keep_existing and (out / name).exists():
                shutil.copy2(out / name, stage / name)
                kept.append(name)
        if "responses.csv" not in kept:
            (stage / "responses.csv").write_text("participant_id,question_id,choice\n",
                                                 encoding="utf-8")
        try:
            load_study(stage)  # the same checks `simkit validate` makes
        except StudyError as e:
            raise StudyError(str(e).replace(str(stage), str(out))) from None
        if keep_existing and (out / "questions.csv").exists() and (out / "images.csv").exists():
            # Replace images.csv with the union first, so that every state between the
            # renames is a valid study (old questions still find their images).
            old = pd.read_csv(out / "images.csv", dtype=str, keep_default_na=False)
            union = pd.concat([images_out, old[~old["image_id"].isin(set(used))]],
                              ignore_index=True).fillna("")
            write_csv(union, stage / "images.union.csv")
            os.replace(stage / "images.union.csv", out / "images.csv")
        for name in moved[1:] + ["images.csv"]:
            os.replace(stage / name, out / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return load_study(out)


def write_study_with_choices(out: str | os.PathLike, images: pd.DataFrame,
                             questions: pd.DataFrame,
                             picks_for: Callable[[list[str]], Mapping[str, str]], *,
                             copy_images: bool = False) -> Study:
    """:func:`write_study`, keeping an existing ``choices.csv`` complete.

    When ``out`` has a ``choices.csv``, its rows for the questions kept stay as they are, and
    each new question gets ``picks_for(its five image ids)`` (``{method: pair}``) for the
    methods that file already lists; questions no longer in the study lose their rows.
    """
    out = Path(out)
    choices = None
    if (out / "choices.csv").exists():
        old = pd.read_csv(out / "choices.csv", dtype=str, keep_default_na=False)
        old = old[old["question_id"].isin(set(questions["question_id"]))]
        have = set(old["question_id"])
        methods = list(dict.fromkeys(old["method"]))
        rows = []
        for q in questions.to_dict("records"):
            if q["question_id"] not in have:
                picks = picks_for([q[c] for c in IMAGE_COLUMNS])
                rows += [(q["question_id"], m, picks[m]) for m in methods if m in picks]
        choices = pd.concat([old, pd.DataFrame(rows, columns=["question_id", "method",
                                                              "choice"])])
    return write_study(out, images, questions, copy_images=copy_images, choices=choices)


def new_study(collection: str | os.PathLike, out: str | os.PathLike, *, by: str = "genre",
              per_label: int = 20, group_size: int = GROUP_SIZE, seed: int = 0,
              labels: Sequence[str] | None = None, copy_images: bool = False) -> Study:
    """``simkit study new``: sample groups from a collection and write a new study folder.

    Refuses to overwrite a folder that already holds a study (questions.csv).
    """
    from simkit.study.collection import read_images

    out = Path(out)
    if (out / "questions.csv").exists():
        raise StudyError(f"{out}: a study is already there (questions.csv); choose another "
                         f"--out, or add groups to it with the GroupBuilder")
    images = read_images(collection)
    questions = sample_groups(images, by=by, per_label=per_label, group_size=group_size,
                              seed=seed, labels=labels)
    return write_study(out, images, questions, copy_images=copy_images)


# -- machine picks and suggestions -----------------------------------------------------------
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
