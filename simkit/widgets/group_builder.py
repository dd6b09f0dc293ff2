"""Group builder: pick your own groups of five prints and see every machine's pick at once.

>>> b = GroupBuilder("prints", "my-study", weights="imagenet")   # doctest: +SKIP
>>> b.filter(genre="Bijin-ga", aspect="portrait")                # the visible image ids
>>> for i in b.visible[:5]: b.add(i)                             # the group is full …
>>> b.picks, b.disagree                                          # … each method's pair
>>> b.add_to_study(); b.save()                                   # q001 → my-study/
>>> b                                                            # in a notebook: the view

Browse a collection (``simkit fetch``) or any study's images as a thumbnail grid with
filters (genre, artist, title text, aspect ratio); click up to five prints into the group
being built. As soon as it is full, each chosen method of the registry (default Gram,
Cosine, Gram·Cosine; any of ``simkit.methods()``) shows its pair with the 10 pair
distances, computed by :func:`simkit.methods.choices.choose_for_group`, and the
group is flagged when the methods disagree. Add it to a study (new or existing) with one
click, reorder or remove groups, undo any step; "Suggest" proposes informative groups
(:func:`simkit.methods.group_picks.suggest_groups`) with their reason. Saving validates the whole study
with :func:`simkit.study.model.load_study` before it replaces anything (each file atomically).

All logic lives in plain methods and properties that tests drive headless, and they call
the library for everything computed (filters: :func:`simkit.study.collection.filter_images`;
picks: :func:`simkit.methods.group_picks.machine_picks`; saving:
:func:`simkit.study.groups.write_study_with_choices`). The controls
(:class:`simkit.widgets.group_builder_view.GroupBuilderControls`, ``builder.controls``) only
show that state and call those methods.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from simkit.methods.registry import DEFAULT_METHODS, get_method, resolve_methods
from simkit.study.collection import ASPECTS, filter_images, image_aspects, read_images
from simkit.methods.group_picks import describe_picks, machine_picks, suggest_groups
from simkit.study.groups import GROUP_SIZE, write_study_with_choices
from simkit.study.model import IMAGE_COLUMNS, Study, StudyError
from simkit.widgets.group_builder_view import ALL, GroupBuilderControls
from simkit.widgets.view import View

__all__ = ["GroupBuilder", "ASPECTS"]


class GroupBuilder(View):
    """Build 5-image groups from ``collection`` into ``study`` (a folder; created on save).

    ``collection``: a collection folder (``simkit fetch``), a study folder, or a DataFrame
    with ``image_id`` and ``path`` columns. ``study``: an existing study folder to add to,
    or a new folder. Features: ``weights`` (``imagenet`` | a file | ``random:SEED``),
    ``layer``, ``size``, ``policy``, ``precision``, ``cache_dir`` as in
    :func:`simkit.features.extract.extract_features`; ``methods``: the registered methods
    shown (default: Wei et al.'s three).
    """

    def __init__(self, collection: str | os.PathLike | pd.DataFrame,
                 study: str | os.PathLike | None = None, *, weights: str = "imagenet",
                 layer: str = "conv5_1", size: int = 224, policy: str = "resize",
                 precision: str = "fp32", cache_dir: str | os.PathLike | None = None,
                 methods: Iterable[str] | None = None, tie_margin: float = 0.05,
                 thumb_px: int = 110, page_size: int = 30, progress: bool = False) -> None:
        if isinstance(collection, pd.DataFrame):
            self.collection = collection.copy()
            if "aspect" not in self.collection.columns:
                self.collection["aspect"] = np.nan
        else:
            self.collection = read_images(collection)
        self.collection["image_id"] = self.collection["image_id"].astype(str)
        self.feature_options = dict(weights=weights, layer=layer, size=size, policy=policy,
                                    precision=precision, cache_dir=cache_dir)
        self.methods = [m.name for m in resolve_methods(
            DEFAULT_METHODS if methods is None else methods)]
        self.tie_margin = tie_margin
        self.progress = progress
        self.study_path = Path(study) if study is not None else None
        self.page_size = page_size
        self.page = 0
        self.filters: dict[str, Any] = {"genre": None, "artist": None, "text": "", "aspect": None}
        self.group: list[str] = []
        self.groups: list[dict] = []          # question rows, in study order
        self.suggestions: pd.DataFrame | None = None
        self.message = ""
        self.weights_note = ""
        self._history: list[tuple[list[str], list[dict]]] = []
        self._picks_cache: dict[tuple[str, ...], tuple[dict, pd.DataFrame]] = {}
        self._voted: set[str] = set()
        self._study_images = pd.DataFrame(columns=["image_id", "path"])
        if self.study_path is not None and (self.study_path / "questions.csv").exists():
            self._load_study(self.study_path)
        self._thumb_px = thumb_px
        #: The ipywidgets controls, built with :attr:`widget` (None until then).
        self.controls: GroupBuilderControls | None = None
        self._visible = self._apply_filters()

    # -- the study ------------------------------------------------------------------------
    def _load_study(self, path: Path) -> None:
        from simkit.study.model import open_study  # also accepts a study nobody has voted in yet

        study = open_study(path)
        self.groups = [{k: str(v) for k, v in row.items()}
                       for row in study.questions[["question_id", "genre", *IMAGE_COLUMNS]]
                       .to_dict("records")]
        self._voted = set(study.responses["question_id"].astype(str))
        imgs = study.images.copy()
        files = study.image_paths()
        imgs["path"] = [str(files[str(i)].resolve()) for i in imgs["image_id"]]
        self._study_images = imgs

    @property
    def images(self) -> pd.DataFrame:
        """Every known image (collection, then the study's own), one row per id."""
        both = pd.concat([self._study_images, self.collection], ignore_index=True)
        return both.drop_duplicates("image_id", keep="first").reset_index(drop=True)

    def path_of(self, image_id: str) -> Path:
        row = self.images.loc[self.images["image_id"] == image_id]
        if row.empty:
            raise KeyError(f"unknown image {image_id!r}")
        return Path(row.iloc[0]["path"])

    # -- browsing ------------------------------------------------------------------------
    def options(self, column: str) -> list[str]:
        """The values of ``column`` in the collection (for the filter menus), sorted."""
        if column not in self.collection.columns:
            return []
        vals = self.collection[column].fillna("").astype(str).str.strip()
        return sorted(v for v in vals.unique() if v)

    def _apply_filters(self) -> list[str]:
        if self.filters["aspect"] not in (None, "", ALL):
            # read the unknown aspects from the file headers once, then keep them
            self.collection["aspect"] = image_aspects(self.collection)
        f = dict(self.filters)
        for k in ("genre", "artist", "aspect"):  # the menus' "(all)" is no filter
            if isinstance(f[k], str) and f[k] == ALL:
                f[k] = None
        return filter_images(self.collection, **f)

    def filter(self, *, genre: str | None = ..., artist: str | None = ...,
               text: str | None = ..., aspect: str | tuple[float, float] | None = ...
               ) -> list[str]:
        """Set some filters (others unchanged; ``None`` clears one) and return the visible
        image ids. ``aspect``: ``"portrait"``, ``"square"``, ``"landscape"`` or a
        ``(min, max)`` range of width / height."""
        for k, v in (("genre", genre), ("artist", artist), ("text", text), ("aspect", aspect)):
            if v is not ...:
                if k == "aspect" and isinstance(v, str) and v not in ASPECTS and v != ALL:
                    raise ValueError(f"aspect {v!r}: use one of {', '.join(ASPECTS)} or a "
                                     f"(min, max) width/height range")
                self.filters[k] = v
        self._visible = self._apply_filters()
        self.page = 0
        self._render()
        return list(self._visible)

    @property
    def visible(self) -> list[str]:
        """Image ids that pass the filters, in collection order."""
        return list(self._visible)

    @property
    def page_ids(self) -> list[str]:
        s = self.page * self.page_size
        return self._visible[s:s + self.page_size]

    def turn_page(self, delta: int) -> None:
        last = max(0, (len(self._visible) - 1) // self.page_size)
        self.page = int(np.clip(self.page + delta, 0, last))
        self._render()

    # -- the group being built -----------------------------------------------------------
    def _snapshot(self) -> None:
        self._history.append((list(self.group), [dict(g) for g in self.groups]))
        del self._history[:-100]

    def add(self, image_id: str) -> None:
        """Put an image into the group (at most 5, each once)."""
        image_id = str(image_id)
        self.path_of(image_id)  # raises for an unknown id
        if image_id in self.group:
            raise ValueError(f"{image_id} is already in the group")
        if len(self.group) >= GROUP_SIZE:
            raise ValueError(f"the group is full ({GROUP_SIZE} images); remove one first")
        self._snapshot()
        self.group.append(image_id)
        self._render()

    def remove(self, image_id: str) -> None:
        """Take an image out of the group."""
        if image_id not in self.group:
            raise ValueError(f"{image_id} is not in the group")
        self._snapshot()
        self.group.remove(image_id)
        self._render()

    def toggle(self, image_id: str) -> None:
        (self.remove if image_id in self.group else self.add)(image_id)

    def clear(self) -> None:
        if self.group:
            self._snapshot()
            self.group = []
            self._render()

    @property
    def full(self) -> bool:
        return len(self.group) == GROUP_SIZE

    def _vector_methods(self) -> list[str] | None:
        # suggestions rank groups by the deep features' disagreement: the deep methods
        # chosen, or all of them when none is
        return [m for m in self.methods if get_method(m).family == "deep"] or None

    def machine(self, ids: list[str] | None = None) -> tuple[dict[str, str], pd.DataFrame]:
        """``(picks, distances)`` for 5 images (default: the group): each method's pair and
        the 10 pair distances (rows a-b … d-e, one column per method), exactly as
        :func:`simkit.choose` computes them for a question with these images."""
        ids = list(self.group if ids is None else ids)
        if len(ids) != GROUP_SIZE:
            raise ValueError(f"the group has {len(ids)} of {GROUP_SIZE} images")
        key = tuple(ids)
        if key not in self._picks_cache:
            picks, dist, self.weights_note = machine_picks(
                {i: self.path_of(i) for i in ids}, self.methods, progress=self.progress,
                **self.feature_options)
            self._picks_cache[key] = picks, dist
        picks, dist = self._picks_cache[key]
        return dict(picks), dist.copy()

    @property
    def picks(self) -> dict[str, str] | None:
        """Each method's pair for the full group (None while it has fewer than 5)."""
        return self.machine()[0] if self.full else None

    @property
    def distances(self) -> pd.DataFrame | None:
        return self.machine()[1] if self.full else None

    @property
    def disagree(self) -> bool | None:
        """True when the methods pick different pairs for the full group."""
        p = self.picks
        return None if p is None else len(set(p.values())) > 1

    @property
    def verdict(self) -> tuple[str, str] | None:
        """``(kind, reason)`` of the full group: disagree / near-tie / clear, in words."""
        if not self.full:
            return None
        picks, dist = self.machine()
        kind, reason, _, _ = describe_picks(picks, dist, self.tie_margin)
        return kind, reason

    # -- the study's groups --------------------------------------------------------------
    def _next_id(self) -> str:
        nums = [int(m.group(1)) for g in self.groups
                if (m := re.fullmatch(r"q(\d+)", g["question_id"]))]
        return f"q{max(nums, default=0) + 1:03d}"

    def add_to_study(self, label: str | None = None) -> str:
        """Append the full group to the study as a new question; returns its id.

        ``label`` (the question's genre): default the images' common genre, or "mixed".
        """
        if not self.full:
            raise ValueError(f"the group has {len(self.group)} of {GROUP_SIZE} images; "
                             f"add {GROUP_SIZE - len(self.group)} more")
        key = sorted(self.group)
        for g in self.groups:
            if sorted(g[c] for c in IMAGE_COLUMNS) == key:
                raise ValueError(f"the same five images are already question "
                                 f"{g['question_id']}")
        if label is None:
            imgs = self.images.set_index("image_id")
            genres = {str(imgs.at[i, "genre"]) if "genre" in imgs.columns else ""
                      for i in self.group}
            label = genres.pop() if len(genres) == 1 and "" not in genres else "mixed"
        self._snapshot()
        qid = self._next_id()
        self.groups.append({"question_id": qid, "genre": label,
                            **dict(zip(IMAGE_COLUMNS, self.group))})
        self.group = []
        self.message = f"added {qid}"
        self._render()
        return qid

    def _index(self, question_id: str) -> int:
        for k, g in enumerate(self.groups):
            if g["question_id"] == question_id:
                return k
        raise KeyError(f"no question {question_id!r} in this study")

    def move_group(self, question_id: str, delta: int) -> None:
        """Move a question up (``delta < 0``) or down in the study's order."""
        k = self._index(question_id)
        j = int(np.clip(k + delta, 0, len(self.groups) - 1))
        if j != k:
            self._snapshot()
            self.groups.insert(j, self.groups.pop(k))
            self._render()

    def remove_group(self, question_id: str) -> None:
        """Remove a question (refused when people have already voted on it)."""
        k = self._index(question_id)
        if question_id in self._voted:
            raise StudyError(f"question {question_id} already has votes in responses.csv; "
                             f"removing it would lose them (make a new study instead)")
        self._snapshot()
        self.groups.pop(k)
        self._render()

    def undo(self) -> bool:
        """Undo the last change to the group or the study's groups; False if none."""
        if not self._history:
            return False
        self.group, self.groups = self._history.pop()
        self._render()
        return True

    @property
    def questions(self) -> pd.DataFrame:
        return pd.DataFrame(self.groups, columns=["question_id", "genre", *IMAGE_COLUMNS])

    # -- suggestions ---------------------------------------------------------------------
    def suggest(self, n: int = 5, *, seed: int = 0, candidates: int = 500,
                prefer: str = "any", by_genre: bool = True) -> pd.DataFrame:
        """Informative groups from the visible images not yet in the study, with reasons
        (see :func:`simkit.methods.group_picks.suggest_groups`). Extracts features of those images
        (cached). ``by_genre``: keep each suggestion within one genre."""
        used = {g[c] for g in self.groups for c in IMAGE_COLUMNS}
        pool = [i for i in self._visible if i not in used]
        from simkit.features.extract import extract_features  # heavy: only when asked

        fs = extract_features({i: self.path_of(i) for i in pool}, progress=self.progress,
                              **self.feature_options)
        self.weights_note = fs.weights_note
        labels = None
        if by_genre and "genre" in self.collection.columns:
            labels = dict(zip(self.collection["image_id"], self.collection["genre"].astype(str)))
            if sum(bool(labels.get(i)) for i in pool) < GROUP_SIZE:
                labels = None
        self.suggestions = suggest_groups(fs, n=n, image_ids=pool, labels=labels,
                                          candidates=candidates, seed=seed,
                                          methods=self._vector_methods(),
                                          tie_margin=self.tie_margin,
                                          prefer=prefer)
        self._render()
        return self.suggestions

    def use_suggestion(self, rank: int = 1) -> None:
        """Make suggestion ``rank`` the group being built."""
        if self.suggestions is None or self.suggestions.empty:
            raise ValueError("no suggestions yet; call suggest() first")
        row = self.suggestions.loc[self.suggestions["rank"] == rank]
        if row.empty:
            raise ValueError(f"no suggestion ranked {rank}")
        self._snapshot()
        self.group = [str(row.iloc[0][c]) for c in IMAGE_COLUMNS]
        self._render()

    # -- saving --------------------------------------------------------------------------
    def save(self, path: str | os.PathLike | None = None, *, copy_images: bool = False) -> Study:
        """Write the study folder (``path``, default the one given at construction).

        Validates everything first (:func:`simkit.study.model.load_study` on a staged copy);
        existing votes, participants and machine choices are kept. When the study has a
        ``choices.csv``, the new questions get the picks shown here for its methods."""
        out = Path(path) if path is not None else self.study_path
        if out is None:
            raise ValueError("no study folder: GroupBuilder(collection, study=FOLDER) or "
                             "save(FOLDER)")
        if not self.groups:
            raise ValueError("the study has no groups yet; build one and add_to_study()")
        questions = self.questions
        # new questions of a study with choices.csv get the picks shown here
        study = write_study_with_choices(out, self.images, questions,
                                         lambda ids: self.machine(ids)[0],
                                         copy_images=copy_images)
        self.study_path = out
        self.message = f"saved {len(questions)} groups to {out}"
        self._render()
        return study

    # -- the view ------------------------------------------------------------------------
    @property
    def can_undo(self) -> bool:
        """Whether :meth:`undo` has a step to undo."""
        return bool(self._history)

    def _render(self) -> None:
        if self.controls is not None:
            self.controls.render()

    @property
    def widget(self):
        """The ipywidgets view (built on first use)."""
        if self.controls is None:
            self.controls = GroupBuilderControls(self, self._thumb_px)
            self.controls.render()
        return self.controls.root

    def show(self):
        """The ipywidgets view (as :attr:`widget`)."""
        return self.widget

    def __repr__(self) -> str:
        return (f"GroupBuilder({len(self.collection)} images, {len(self._visible)} visible, "
                f"group {len(self.group)}/{GROUP_SIZE}, {len(self.groups)} groups in the study)")
