"""Image groups for a study: sampled the paper's way, or suggested where people are most needed.

Wei et al. took 100 prints per genre and cut them into 20 random groups of 5, no print used
twice within a genre. :func:`sample_groups` does that for any label column of a collection
(``genre``, ``artist``, …), :func:`new_study` writes the result as a study folder
(``simkit study new COLLECTION --out STUDY``), ready for the questionnaire.
Which pair each machine picks in a group, and suggestions of groups worth asking people
about, are in :mod:`simkit.methods.group_picks`.

>>> new_study("prints", "my-study", per_label=20, seed=0)          # doctest: +SKIP
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from simkit.checks import whole_number
from simkit.paths import inside
from simkit.study.collection import ADDED_COLUMNS
from simkit.study.model import IMAGE_COLUMNS, Study, StudyError, load_study

__all__ = ["GROUP_SIZE", "random_groups", "sample_groups", "write_study", "new_study",
           "write_study_with_choices"]

#: A question shows 5 images (a–e), as in the paper.
GROUP_SIZE = len(IMAGE_COLUMNS)


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
    own = [c for c in images.columns if c not in ADDED_COLUMNS]  # what images.csv holds
    if by not in own:
        raise StudyError(f"no column {by!r} to group by; images.csv has {', '.join(own)}")
    whole_number(per_label, "per_label", 1, hint="groups per label; 20 in the paper")
    seed = whole_number(seed, "seed", 0)
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
