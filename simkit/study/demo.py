"""Demo studies that run offline: synthetic prints with simulated votes, or real prints.

Neither holds real human judgments: every vote here is **simulated** (the files say so), so
that every command, notebook and test runs on a laptop without internet. For the real votes
of Wei et al. see their OSF page (https://osf.io/rwmz5/); for your own, see ``simkit.votes.store``.

- :func:`make_demo_study` draws small abstract "prints" in four genres named after the
  paper's (Yakusha-e, Bijin-ga, Meisho-e, Monogatari-e) and simulates 54 recruited
  participants (41 valid) who vote by a hidden similarity with per-question difficulty.
- :func:`make_print_study` groups real prints (e.g. the WikiArt ukiyo-e set) like the
  paper did — per genre, 100 images → 20 random groups of 5 — and simulates votes from a
  simple colour-and-shape observer.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pandas as pd

from simkit.checks import MAX_SIZE, whole_number
from simkit.fileio import OverwriteRefused, backup_file, write_text
from simkit.study.model import IMAGE_COLUMNS, PAIRS, Study, load_study, save_study

__all__ = ["PAPER_GENRES", "make_demo_study", "make_print_study", "simulate_votes",
           "find_wikiart", "default_study", "DEMO_MARKER", "MAX_GROUPS", "MIN_IMAGE_SIZE"]

#: The most groups per genre: the demo draws 20 images a group over four genres, so an
#: unbounded count filled the disk for hours; 1,000 is 20,000 prints.
MAX_GROUPS = 1000
#: The smallest longer side: the shorter side is 62-75 % of it and every side must reach
#: the 32 px the feature extractor needs (48 drew prints it then refused; 1 was a PIL error).
MIN_IMAGE_SIZE = 64

#: How simkit knows a folder as a demo study it made itself: its README.md has this line
#: (see ``_SIMULATED_NOTE``). Only such a folder, or an empty one, is (re)built in place.
DEMO_MARKER = "Made by `simkit.study.demo."

PAPER_GENRES = ["Yakusha-e", "Bijin-ga", "Meisho-e", "Monogatari-e"]
_PAIR_IDX = list(itertools.combinations(range(5), 2))

_SIMULATED_NOTE = """# {title}

**The votes in this study are SIMULATED, not real human judgments.** {how}
They exist so that simkit's commands, notebooks and tests run offline. Do not cite numbers
computed from them. Replace responses.csv/participants.csv with real votes (or collect some
with `simkit.votes.store`) to study people.

Made by `simkit.study.demo.{func}` (seed {seed}).
"""


def _check_out(out: Path) -> None:
    """Refuse ``out`` unless it is missing, empty, or a demo study simkit made."""
    if out.exists() and not out.is_dir():
        raise OverwriteRefused(f"{out}: is a file; give the demo a new folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    try:
        readme = (out / "README.md").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        readme = ""
    if DEMO_MARKER not in readme:
        raise OverwriteRefused(
            f"{out}: the folder is not empty and is not a demo study made by simkit (its "
            f"README.md lacks the line '{DEMO_MARKER}…'); the demo would overwrite its "
            f"files, so give it a new folder (--out)")


def _save_demo(study: Study, out: Path) -> None:
    """Save a demo study into ``out``. :func:`save_study` backs up any CSV the user changed
    since simkit wrote it (e.g. real votes in responses.csv) to ``out/backup``; a
    ``choices.csv`` (machine choices of an earlier study) is moved there too."""
    stale = out / "choices.csv"
    if stale.is_file():
        backup_file(stale, out / "backup")
        stale.unlink()
    save_study(study, out)


def simulate_votes(questions: pd.DataFrame, latent: dict[str, np.ndarray], *,
                   n_participants: int = 54, n_impaired: int = 5, n_incomplete: int = 8,
                   seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a questionnaire: each participant picks, per question, the pair with the
    highest noisy similarity ``-distance(latent) * sharpness_q + Gumbel noise``.

    ``sharpness_q`` varies per question, so some questions are easy (people agree) and some
    hard (votes split), as in the paper. ``n_impaired`` participants report a visual
    impairment and ``n_incomplete`` stop before the end; with the defaults 54 recruited
    leave 41 valid, as in Wei et al. Returns ``(responses, participants)``.
    """
    rng = np.random.default_rng(seed)
    qids = list(questions["question_id"])
    util = []
    for _, row in questions.iterrows():
        z = np.stack([latent[i] for i in row[IMAGE_COLUMNS]])
        d = np.array([np.linalg.norm(z[a] - z[b]) for a, b in _PAIR_IDX])
        d = (d - d.min()) / (d.std() + 1e-9)
        util.append(-d * rng.uniform(0.2, 2.2))
    util = np.array(util)  # (Q, 10)
    pids = [f"P{i + 1:02d}" for i in range(n_participants)]
    order = rng.permutation(n_participants)
    impaired = set(order[:n_impaired])
    incomplete = set(order[n_impaired:n_impaired + n_incomplete])
    rows = []
    for p in range(n_participants):
        noise = rng.gumbel(size=util.shape)
        picks = np.argmax(util + noise, axis=1)
        answered = len(qids) if p not in incomplete else int(rng.integers(1, len(qids)))
        for qi in rng.permutation(len(qids))[:answered]:
            rows.append((pids[p], qids[qi], PAIRS[picks[qi]]))
    responses = pd.DataFrame(rows, columns=["participant_id", "question_id", "choice"])
    responses = responses.sort_values(["participant_id", "question_id"], kind="stable")
    participants = pd.DataFrame({
        "participant_id": pids,
        "visual_impairment": ["yes" if p in impaired else "no" for p in range(n_participants)],
        "familiarity": rng.integers(1, 6, n_participants).astype(str),
        "field": rng.choice(["computer science", "art history", "design", "other"], n_participants),
    })
    return responses.reset_index(drop=True).astype(str), participants.astype(str)


def _group(ids: list[str], genre: str, groups: int, rng: np.random.Generator,
           start: int) -> list[dict]:
    """Random groups of 5 without reuse, the paper's way (100 images → 20 groups)."""
    from simkit.study.groups import random_groups

    return [{"question_id": f"q{start + g + 1:03d}", "genre": genre,
             **dict(zip(IMAGE_COLUMNS, group))}
            for g, group in enumerate(random_groups(ids, groups, rng))]


def _draw(z: np.ndarray, genre_idx: int, size: tuple[int, int], rng: np.random.Generator):
    """An abstract 'print' whose look follows its latent vector z (in [0, 1]^6)."""
    from PIL import Image, ImageDraw

    w, h = size
    hue = (genre_idx / 4 + 0.22 * (z[0] - 0.5)) % 1.0
    img = Image.new("HSV", (w, h), (int(hue * 255), int(60 + 150 * z[1]), int(90 + 150 * z[2])))
    draw = ImageDraw.Draw(img)
    n_shapes = 3 + int(6 * z[3])
    for k in range(n_shapes):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = (0.08 + 0.25 * z[4]) * min(w, h) * rng.uniform(0.6, 1.4)
        fill = (int(((hue + 0.5 * z[5]) % 1) * 255), 200, int(255 - 120 * z[2]))
        if genre_idx % 2 == 0:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        else:
            draw.rectangle([cx - r, cy - r / 2, cx + r, cy + r / 2], fill=fill)
    for y in range(0, h, max(4, int(6 + 20 * z[5]))):  # woodgrain-like stripes
        draw.line([(0, y), (w, y + int(10 * (z[0] - 0.5)))], fill=(int(hue * 255), 40, 235), width=1)
    return img.convert("RGB")


def make_demo_study(out: str | os.PathLike, *, groups_per_genre: int = 20, image_size: int = 224,
                    seed: int = 0, genres: list[str] | None = None) -> Study:
    """Write a synthetic demo study (images + simulated votes) to ``out`` and return it.

    ``groups_per_genre=20`` gives the paper's 80 questions over 400 images; tests use fewer.
    Prints are portrait or landscape (``image_size`` is the longer side). Every group has
    a "twin" pair drawn from nearby latents, so humans (and machines) can find it.
    """
    groups_per_genre = whole_number(groups_per_genre, "groups_per_genre", 1, MAX_GROUPS,
                                    "20 in the paper")
    image_size = whole_number(image_size, "image_size", MIN_IMAGE_SIZE, MAX_SIZE,
                              "the longer side of each print in pixels")
    seed = whole_number(seed, "seed", 0)
    out = Path(out)
    _check_out(out)
    # the README (simkit's mark) first: an interrupted build can be run again in place
    write_text(_SIMULATED_NOTE.format(
        title="simkit demo study (synthetic prints, simulated votes)",
        how="The images are abstract drawings, not ukiyo-e.", func="make_demo_study",
        seed=seed), out / "README.md")
    (out / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    genres = genres or PAPER_GENRES
    images, latent, questions = [], {}, []
    for gi, genre in enumerate(genres):
        for g in range(groups_per_genre):
            base = rng.uniform(0, 1, (5, 6))
            a, b = rng.choice(5, 2, replace=False)  # the twins of this group
            base[b] = np.clip(base[a] + rng.normal(0, rng.uniform(0.03, 0.4), 6), 0, 1)
            ids = []
            for j in range(5):
                k = len(images) + 1
                image_id = f"img{k:04d}"
                portrait = rng.random() < 0.6
                short = int(image_size * rng.uniform(0.62, 0.75))
                size = (short, image_size) if portrait else (image_size, short)
                _draw(base[j], gi, size, rng).save(out / "images" / f"{image_id}.png")
                latent[image_id] = base[j]
                images.append({"image_id": image_id, "file": f"images/{image_id}.png",
                               "genre": genre,
                               "title": f"Simulated print {k} ({genre})",
                               "artist": f"Simulated artist {int(base[j][3] * 5) + 1}",
                               "year": str(1780 + int(base[j][1] * 80))})
                ids.append(image_id)
            questions.append({"question_id": f"q{len(questions) + 1:03d}", "genre": genre,
                              **dict(zip(IMAGE_COLUMNS, ids))})
    images_df = pd.DataFrame(images)
    questions_df = pd.DataFrame(questions)
    responses, participants = simulate_votes(questions_df, latent, seed=seed)
    study = Study(images_df, questions_df, responses, participants, None, out)
    _save_demo(study, out)
    return load_study(out)


_WARNED_WIKIART: set[str] = set()


def find_wikiart(start: str | os.PathLike | None = None) -> Path | None:
    """The real-print folder ``shared/data/ukiyoe-wikiart`` if it is on this machine.

    Looks at ``$SIMKIT_WIKIART``, then ``../shared/data/ukiyoe-wikiart`` from ``start``
    (default: the current folder) and its parents. A ``$SIMKIT_WIKIART`` that is not such
    a folder is said once (a warning), not silently passed over."""
    from simkit.config import wikiart_dir

    env = wikiart_dir()
    if env:
        if (Path(env) / "metadata.csv").is_file():
            return Path(env)
        if str(env) not in _WARNED_WIKIART:  # once: default_study() asks on every call
            import warnings

            _WARNED_WIKIART.add(str(env))
            warnings.warn(f"$SIMKIT_WIKIART={str(env)!r} is not a folder with metadata.csv, "
                          f"so synthetic prints are used instead; point it at the "
                          f"ukiyoe-wikiart folder, or unset it", stacklevel=2)
        return None
    here = Path(start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        for cand in (d / "shared" / "data" / "ukiyoe-wikiart", d / ".." / "shared" / "data" / "ukiyoe-wikiart"):
            if (cand / "metadata.csv").exists():
                return cand.resolve()
    return None


def make_print_study(src: str | os.PathLike, out: str | os.PathLike, *,
                     groups_per_genre: int = 20, seed: int = 0, label: str = "wikiart_genre",
                     min_images: int | None = None, n_genres: int = 4) -> Study:
    """Build a study from a folder of real prints with a ``metadata.csv`` (the WikiArt
    ukiyo-e layout: ``filename, artist_slug, title_slug, year_from_filename, wikiart_genre``).

    Like the paper: the ``n_genres`` largest values of ``label`` with at least
    ``min_images`` (default ``groups_per_genre × 5``) images each; per genre, random groups
    of 5 without reuse. WikiArt's ``cityscape`` is merged into ``landscape`` (both are
    meisho-e, famous places). The images are referenced by absolute path, not copied.
    Votes are simulated from a colour-and-shape observer (the study's README says so).
    """
    from PIL import Image

    src, out = Path(src).resolve(), Path(out)
    _check_out(out)
    meta = pd.read_csv(src / "metadata.csv", dtype=str, keep_default_na=False)
    meta[label] = meta[label].replace({"cityscape": "landscape"})
    need = min_images if min_images is not None else groups_per_genre * 5
    counts = meta[meta[label] != ""][label].value_counts()
    genres = [g for g, n in counts.items() if n >= need][:n_genres]
    if not genres:
        raise ValueError(f"{src / 'metadata.csv'}: no {label} has {need} images; "
                         f"lower groups_per_genre")
    write_text(_SIMULATED_NOTE.format(
        title=f"Real prints from {src.name}, simulated votes",
        how=f"The images are real prints from {src} (not copied; see its SOURCE.md for "
            f"licence), grouped by {label}.", func="make_print_study", seed=seed),
        Path(out) / "README.md")
    rng = np.random.default_rng(seed)
    questions, used = [], []
    for genre in genres:
        ids = list(meta.loc[meta[label] == genre, "filename"])
        questions += _group(ids, genre, groups_per_genre, rng, len(questions))
    for q in questions:
        used += [q[c] for c in IMAGE_COLUMNS]
    rows = meta.set_index("filename").loc[used]
    images = pd.DataFrame({
        "image_id": [Path(f).stem for f in used],
        "file": [str(src / f) for f in used],
        "genre": rows[label].to_numpy(),
        "title": rows["title_slug"].str.replace("-", " ").to_numpy(),
        "artist": rows["artist_slug"].to_numpy(),
        "year": rows["year_from_filename"].to_numpy(),
    })
    rename = dict(zip(used, images["image_id"]))
    questions_df = pd.DataFrame(questions)
    for c in IMAGE_COLUMNS:
        questions_df[c] = questions_df[c].map(rename)
    latent = {}
    for image_id, file in zip(images["image_id"], images["file"]):
        with Image.open(file) as im:
            small = np.asarray(im.convert("RGB").resize((8, 8)), dtype=float) / 255
        latent[image_id] = small.reshape(-1)  # a crude colour-layout observer
    responses, participants = simulate_votes(questions_df, latent, seed=seed)
    study = Study(images, questions_df, responses, participants, None, Path(out))
    _save_demo(study, out)
    return load_study(out)


def default_study(cache: str | os.PathLike | None = None, *, groups_per_genre: int = 20,
                  seed: int = 0) -> Path:
    """The study the notebooks open by default: real prints when ``find_wikiart()`` finds
    them, else the synthetic demo. Built once into ``cache`` (default
    ``$SIMKIT_CACHE/studies`` or ``~/.cache/simkit/studies``) and reused."""
    from simkit.config import cache_dir

    root = Path(cache) / "studies" if cache else cache_dir("studies")
    src = find_wikiart()
    name = f"{'wikiart' if src else 'demo'}-{groups_per_genre}-{seed}"
    out = root / name
    if not (out / "responses.csv").exists():
        if src:
            make_print_study(src, out, groups_per_genre=groups_per_genre, seed=seed)
        else:
            make_demo_study(out, groups_per_genre=groups_per_genre, seed=seed)
    return out
