"""Where 2AFC triplets come from: a distortion ranking, a study's votes, a human benchmark.

* :func:`distortion_triplets` — the protocol of Pihlgren et al. §3.4–3.5 on any images:
  each image with two versions distorted by two different randomly chosen distortions;
  J = 0 when x0's distortion is earlier in the ranking (x0 is more similar), else 1.
* :func:`vote_triplets` / :func:`study_triplets` — a study's pair votes as triplets
  (defined exactly in :func:`vote_triplets`).
* :func:`load_material_appearance` — the crowdsourced judgments of Lagunas et al. (2019),
  ``../shared/data/material-appearance`` (22,801 train / 3,000 test triplets).
"""
from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from simkit.methods.perceptual.errors import PerceptualDataError
from simkit.methods.perceptual.twoafc import Triplets
from simkit.study.model import LETTERS, PAIRS

if TYPE_CHECKING:
    import torch

    from simkit.study.model import Study

__all__ = ["distortion_triplets", "vote_triplets", "study_triplets", "study_pixels",
           "load_material_appearance", "folder_pixels", "MATERIAL_IMAGES",
           "PerceptualDataError", "HUMAN_NOTE", "SYNTHETIC_NOTE", "draw_triplets",
           "concat_triplets", "labels"]

MATERIAL_IMAGES = {"stpeters": "havran1_stpeters_256x256_LDR",
                   "ennis": "havran1_ennis_298x298_LDR"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}
SYNTHETIC_NOTE = ("synthetic context: J comes from a ranking of distortions, not from people")
HUMAN_NOTE = "human judgments"


# -- images ------------------------------------------------------------------------------
def folder_pixels(folder: str | os.PathLike, size: int = 64, limit: int | None = None
                  ) -> tuple[list[str], "torch.Tensor"]:
    """Every image file of ``folder`` (sorted by name), decoded safely and resized to
    ``size`` × ``size``: ``(names, uint8 (N, 3, size, size))``."""
    import torch

    from simkit.features.images import ImageError, load_rgb, resize_policy

    folder = Path(folder)
    if not folder.is_dir():
        raise PerceptualDataError(f"{folder}: not a folder; give a folder of images")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if limit is not None:
        files = files[:limit]
    if not files:
        raise PerceptualDataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    arrs, bad = [], []
    for p in files:
        try:
            arrs.append(np.asarray(resize_policy(load_rgb(p), "resize", size), dtype=np.uint8))
        except ImageError as e:
            bad.append(str(e))
    if bad:
        raise ImageError(f"{len(bad)} image(s) could not be used:\n" + "\n".join(bad[:3]))
    px = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()
    return [p.stem for p in files], px


def study_pixels(study: "Study", size: int = 64) -> tuple[list[str], "torch.Tensor"]:
    """A study's images (images.csv order), decoded safely and resized:
    ``(image ids, uint8 (N, 3, size, size))``."""
    files = study.image_paths()
    ids = list(files)
    pool = Triplets(ids, [], [], [], [], [], None, list(files.values()))
    return ids, pool.load_pixels(size)


# -- distortion-ranking contexts ---------------------------------------------------------
def distortion_triplets(pixels: "torch.Tensor", ranking: Sequence[str] | str, *,
                        seed: int = 0, per_image: int = 1, only_with: str | None = None,
                        image_ids: Sequence[str] | None = None) -> Triplets:
    """2AFC triplets of a distortion-ranking context (Pihlgren et al. §3.4).

    For each image (uint8 ``(N, 3, H, W)``) and each of ``per_image`` repeats: two
    different distortions are drawn at random, each applied with random parameters
    (Table 2); x0 and x1 are the two distorted versions, J = 0 when x0's distortion comes
    earlier in ``ranking`` (least disruptive first), else 1. The pool is laid out image by
    image (original, then its distorted versions), seeded by ``seed``.

    ``only_with``: every triplet pits this distortion against another one (in random
    order), e.g. to ask only "is this distortion the worst?".
    """
    import torch

    from simkit.methods.perceptual.distortions import DISTORTIONS, check_ranking, distort

    ranking = check_ranking(ranking)
    rank = {k: i for i, k in enumerate(ranking)}
    if only_with is not None and only_with not in DISTORTIONS:
        raise PerceptualDataError(f"only_with {only_with!r}: use one of {', '.join(DISTORTIONS)}")
    if pixels.dtype != torch.uint8 or pixels.ndim != 4:
        raise PerceptualDataError("pixels must be uint8 (N, 3, H, W)")
    ids = list(image_ids) if image_ids is not None else [f"img{i}" for i in range(len(pixels))]
    rng = np.random.default_rng(seed)
    pool, pool_ids, rows = [], [], []
    ref, x0, x1, J, group = [], [], [], [], []
    for i in range(len(pixels)):
        r = len(pool)
        pool.append(pixels[i])
        pool_ids.append(ids[i])
        for k in range(per_image):
            if only_with is None:
                a, b = rng.choice(len(DISTORTIONS), size=2, replace=False)
            else:
                a = DISTORTIONS.index(only_with)
                b = int(rng.choice([k for k in range(len(DISTORTIONS)) if k != a]))
                if rng.random() < 0.5:
                    a, b = b, a
            ka, kb = DISTORTIONS[a], DISTORTIONS[b]
            ia, pa = distort(pixels[i], ka, rng)
            ib, pb = distort(pixels[i], kb, rng)
            pool += [ia, ib]
            pool_ids += [f"{ids[i]}~{k}~{ka}", f"{ids[i]}~{k}~{kb}"]
            ref.append(r)
            x0.append(len(pool) - 2)
            x1.append(len(pool) - 1)
            J.append(0.0 if rank[ka] < rank[kb] else 1.0)
            group.append(i)
            rows.append({"image": ids[i], "distortion_0": ka, "distortion_1": kb,
                         "params_0": json.dumps(pa), "params_1": json.dumps(pb)})
    return Triplets(pool_ids, np.array(ref), np.array(x0), np.array(x1), np.array(J),
                    np.array(group), torch.stack(pool), None, pd.DataFrame(rows),
                    SYNTHETIC_NOTE, {"ranking": ranking, "seed": seed, "source": "distortions"})


# -- a study's votes ---------------------------------------------------------------------
def vote_triplets(study: "Study") -> pd.DataFrame:
    """A study's votes as 2AFC triplets, one row per informative (question, x, y, z).

    In a question with images a–e, each valid participant picks the most similar pair of
    the ten; let v(p) be the votes for pair p. For every reference image x and every two
    other images y, z (y before z in a–e order) of the same question:

    * n_xy = v({x, y}) participants judged (x, y) more similar than (x, z) — their pair
      was the most similar of all, so in particular more similar than (x, z);
    * n_xz = v({x, z}) judged the opposite;
    * a vote for any other pair says nothing about (x, y) versus (x, z) and is not used.

    The triplet is (ref = x, x0 = y, x1 = z) with J = n_xz / (n_xy + n_xz), the fraction
    of the informative votes that call (x, z) — x1 — the more similar; triplets with
    n_xy + n_xz = 0 are left out. A question gives at most 5 · 6 = 30 triplets.

    Columns: ``question_id, genre, x, y, z`` (letters), ``ref, x0, x1`` (image ids),
    ``votes_xy, votes_xz, n_votes, J``.
    """
    from simkit.analysis.tables import vote_counts

    counts = vote_counts(study)
    q = study.questions.set_index("question_id")
    rows = []
    for qid, c in counts.iterrows():
        imgs = study.question_images(qid)
        v = {p: int(c[p]) for p in PAIRS}
        for xi, x in enumerate(LETTERS):
            others = [o for o in LETTERS if o != x]
            for y, z in itertools.combinations(others, 2):
                nxy = v["-".join(sorted((x, y)))]
                nxz = v["-".join(sorted((x, z)))]
                if nxy + nxz == 0:
                    continue
                rows.append({"question_id": qid, "genre": q.loc[qid, "genre"],
                             "x": x, "y": y, "z": z, "ref": imgs[xi],
                             "x0": imgs[LETTERS.index(y)], "x1": imgs[LETTERS.index(z)],
                             "votes_xy": nxy, "votes_xz": nxz, "n_votes": nxy + nxz,
                             "J": nxz / (nxy + nxz)})
    cols = ["question_id", "genre", "x", "y", "z", "ref", "x0", "x1", "votes_xy",
            "votes_xz", "n_votes", "J"]
    return pd.DataFrame(rows, columns=cols)


def study_triplets(study: "Study") -> Triplets:
    """:func:`vote_triplets` as :class:`Triplets` over the study's images (grouped by
    question, so splits keep a question's triplets together)."""
    table = vote_triplets(study)
    files = study.image_paths()
    ids = list(files)
    index = {k: i for i, k in enumerate(ids)}
    paths = list(files.values())
    idx = {c: np.array([index[v] for v in table[c]], dtype=np.int64) for c in ("ref", "x0", "x1")}
    return Triplets(ids, idx["ref"], idx["x0"], idx["x1"], table["J"].to_numpy(float),
                    table["question_id"].to_numpy(), None, paths, table,
                    HUMAN_NOTE + (" (SIMULATED votes: see the study's README)"
                                  if _is_simulated(study) else ""),
                    {"source": "study", "root": str(study.root)})


def _is_simulated(study: "Study") -> bool:
    readme = study.root / "README.md" if study.root else None
    try:
        return bool(readme and "simulated" in readme.read_text(encoding="utf-8").lower())
    except OSError:
        return False


# -- material appearance (Lagunas et al. 2019) -------------------------------------------
def load_material_appearance(root: str | os.PathLike, split: str = "test", *,
                             images: str = "stpeters", subset: str = "all") -> Triplets:
    """The 2AFC judgments of Lagunas et al. (2019) as triplets.

    ``root`` holds ``answers_processed_{train,test}.json`` and the image folders (see its
    SOURCE.md). Each ``answers`` entry ``[ref, a, b]`` with ``agreement [votes_a, votes_b]``
    becomes (ref, x0 = a, x1 = b, J = votes_b / (votes_a + votes_b)); ``a`` is the majority
    choice, so J ≤ 1/2 (1/2 on ties). Index i is the i-th file name of the image folder in
    sorted order (extension ignored), as the authors' loader enumerates them.
    ``subset``: ``all`` (train 22,801 / test 3,000), ``diff`` (no tie) or ``equal`` (ties).
    ``images``: ``stpeters`` (256 px PNG) or ``ennis`` (298 px JPEG).
    """
    root = Path(root)
    if split not in ("train", "test"):
        raise PerceptualDataError(f"split {split!r}: use 'train' or 'test'")
    keys = {"all": ("answers", "agreement"), "diff": ("answers_diff", "agreement_diff"),
            "equal": ("answers_equal", "agreement_equal")}
    if subset not in keys:
        raise PerceptualDataError(f"subset {subset!r}: use all, diff or equal")
    if images not in MATERIAL_IMAGES:
        raise PerceptualDataError(f"images {images!r}: use {' or '.join(MATERIAL_IMAGES)}")
    path = root / f"answers_processed_{split}.json"
    if not path.is_file():
        raise PerceptualDataError(f"{path}: not found; point --data material-appearance= at "
                                  f"the folder holding answers_processed_{split}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise PerceptualDataError(f"{path}: not valid JSON ({e}); copy the file again") from None
    ka, kg = keys[subset]
    if not isinstance(data, dict) or ka not in data or kg not in data:
        raise PerceptualDataError(f"{path}: needs the keys {ka!r} and {kg!r}")
    answers, agreement = data[ka], data[kg]
    if len(answers) != len(agreement):
        raise PerceptualDataError(f"{path}: {ka} has {len(answers)} entries but {kg} "
                                  f"{len(agreement)}; they must align")
    folder = root / MATERIAL_IMAGES[images]
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES),
                   key=lambda p: p.stem.encode()) if folder.is_dir() else []
    if not files:
        raise PerceptualDataError(f"{folder}: no images; the benchmark needs its image folder")
    n_img = len(files)
    try:
        a = np.asarray(answers, dtype=np.int64).reshape(-1, 3)
        g = np.asarray(agreement, dtype=np.int64).reshape(-1, 2)
    except (ValueError, TypeError):
        raise PerceptualDataError(f"{path}: every {ka} entry must be 3 integers and every "
                                  f"{kg} entry 2 integers") from None
    bad = np.flatnonzero((a < 0).any(1) | (a >= n_img).any(1))
    if len(bad):
        raise PerceptualDataError(f"{path}: {ka}[{bad[0]}] = {answers[bad[0]]} names an image "
                                  f"outside 0..{n_img - 1} ({n_img} images in {folder.name})")
    bad = np.flatnonzero((g < 0).any(1) | (g.sum(1) == 0))
    if len(bad):
        raise PerceptualDataError(f"{path}: {kg}[{bad[0]}] = {agreement[bad[0]]}: votes must "
                                  f"be non-negative with at least one vote")
    J = g[:, 1] / g.sum(1)
    table = pd.DataFrame({"ref": a[:, 0], "a": a[:, 1], "b": a[:, 2],
                          "votes_a": g[:, 0], "votes_b": g[:, 1]})
    return Triplets([p.stem for p in files], a[:, 0], a[:, 1], a[:, 2], J, a[:, 0], None,
                    files, table, HUMAN_NOTE + " (Lagunas et al. 2019, crowdsourced)",
                    {"source": "material-appearance", "split": split, "subset": subset,
                     "images": images})


# -- distortion triplets of many images (the replication of Pihlgren et al.) -------------
def _resized(pixels: "torch.Tensor", size: int) -> "torch.Tensor":
    from torchvision.transforms.v2 import functional as F

    if pixels.shape[-1] == size and pixels.shape[-2] == size:
        return pixels
    return F.resize(pixels, [size, size], antialias=True)


def draw_triplets(pixels: "torch.Tensor", seed: int, size: int, *, chunk: int = 2048,
                  name: str = "img") -> list["Triplets"]:
    """One distortion triplet per image (resized to ``size`` first), drawn chunk by chunk
    (so memory stays bounded), labelled by the identity ranking; relabel with
    :func:`labels`. Groups are global image indices (the validation split keeps an image's
    triplet together)."""
    from simkit.methods.perceptual.distortions import DISTORTIONS

    out = []
    for k, s in enumerate(range(0, len(pixels), chunk)):
        px = _resized(pixels[s:s + chunk], size)
        t = distortion_triplets(px, DISTORTIONS, seed=seed * 100_003 + k,
                                image_ids=[f"{name}{s + i}" for i in range(len(px))])
        t.group = t.group + s
        out.append(t)
    return out


def concat_triplets(parts: Sequence["Triplets"]) -> "Triplets":
    """Triplets of several pools (with pixels) as one."""
    import torch

    off, ids, cols = 0, [], {k: [] for k in ("ref", "x0", "x1", "J", "group")}
    for t in parts:
        for k in ("ref", "x0", "x1"):
            cols[k].append(getattr(t, k) + off)
        cols["J"].append(t.J)
        cols["group"].append(t.group)
        ids += t.image_ids
        off += len(t.image_ids)
    first = parts[0]
    return Triplets(ids, *(np.concatenate(cols[k]) for k in ("ref", "x0", "x1", "J", "group")),
                    torch.cat([t.pixels for t in parts]), None,
                    pd.concat([t.table for t in parts], ignore_index=True), first.note,
                    dict(first.info))


def labels(table: pd.DataFrame, ranking: Sequence[str]) -> np.ndarray:
    """J of each triplet under ``ranking``: 0 when x0's distortion comes earlier, else 1."""
    rank = {k: i for i, k in enumerate(ranking)}
    return np.array([0.0 if rank[a] < rank[b] else 1.0
                     for a, b in zip(table["distortion_0"], table["distortion_1"])])
