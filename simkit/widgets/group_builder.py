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
(:func:`simkit.study.groups.suggest_groups`) with their reason. Saving validates the whole study
with :func:`simkit.study.model.load_study` before it replaces anything (each file atomically).

All logic lives in plain methods and properties that tests drive headless; the widgets only
show the state and call them.
"""
from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from simkit.study.collection import read_images
from simkit.methods.choices import choose_for_group
from simkit.methods.registry import DEFAULT_METHODS, get_method, resolve_methods
from simkit.study.groups import GROUP_SIZE, describe_picks, suggest_groups, write_study
from simkit.study.model import IMAGE_COLUMNS, LETTERS, PAIRS, Study, StudyError
from simkit.widgets.view import View, placeholder_png, thumbnail_png

__all__ = ["GroupBuilder", "ASPECTS"]

#: Aspect-ratio filters: width / height ranges.
ASPECTS = {"portrait": (0.0, 0.95), "square": (0.95, 1.05), "landscape": (1.05, np.inf)}
ALL = "(all)"


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
        self._widget = None
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
        imgs["path"] = [str(study.image_path(i).resolve()) for i in imgs["image_id"]]
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

    def _aspects(self) -> pd.Series:
        """Width / height of each collection image (read from the file header if unknown)."""
        a = pd.to_numeric(self.collection["aspect"], errors="coerce")
        missing = a.isna()
        if missing.any():
            from PIL import Image
            for k in np.flatnonzero(missing.to_numpy()):
                try:
                    with Image.open(self.collection["path"].iloc[k]) as im:
                        a.iloc[k] = im.size[0] / im.size[1]
                except OSError:
                    pass
            self.collection["aspect"] = a
        return a

    def _apply_filters(self) -> list[str]:
        df, f = self.collection, self.filters
        keep = pd.Series(True, index=df.index)
        for col in ("genre", "artist"):
            if f[col] not in (None, "", ALL):
                keep &= df.get(col, pd.Series("", index=df.index)).astype(str) == str(f[col])
        text = (f["text"] or "").strip().lower()
        if text:
            hay = df.get("title", pd.Series("", index=df.index)).fillna("").astype(str)
            keep &= hay.str.lower().str.contains(re.escape(text), regex=True)
        if f["aspect"] not in (None, "", ALL):
            lo, hi = ASPECTS[f["aspect"]] if isinstance(f["aspect"], str) else f["aspect"]
            a = self._aspects()
            keep &= (a >= lo) & (a < hi)
        return list(df.loc[keep, "image_id"])

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

    def _features(self, ids: list[str]):
        from simkit.features.extract import extract_features

        fs = extract_features({i: self.path_of(i) for i in ids}, progress=self.progress,
                              **self.feature_options)
        self.weights_note = fs.weights_note
        return fs

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
            result = choose_for_group({i: self.path_of(i) for i in ids}, self.methods,
                                      progress=self.progress, **self.feature_options)
            self.weights_note = " ".join(result.notes)
            dist = result.distances.pivot(index="pair", columns="method", values="distance")
            dist = dist.reindex(index=pd.Index(PAIRS, name="pair"), columns=result.methods)
            dist.columns.name = None
            picks = dict(zip(result.choices["method"], result.choices["choice"]))
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
        (see :func:`simkit.study.groups.suggest_groups`). Extracts features of those images
        (cached). ``by_genre``: keep each suggestion within one genre."""
        used = {g[c] for g in self.groups for c in IMAGE_COLUMNS}
        pool = [i for i in self._visible if i not in used]
        fs = self._features(pool)
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
        choices = None
        if (out / "choices.csv").exists():
            old = pd.read_csv(out / "choices.csv", dtype=str, keep_default_na=False)
            old = old[old["question_id"].isin(set(questions["question_id"]))]
            have = set(old["question_id"])
            methods = list(dict.fromkeys(old["method"]))
            rows = []
            for g in self.groups:
                if g["question_id"] not in have:
                    picks, _ = self.machine([g[c] for c in IMAGE_COLUMNS])
                    rows += [(g["question_id"], m, picks[m]) for m in methods if m in picks]
            choices = pd.concat([old, pd.DataFrame(rows, columns=["question_id", "method",
                                                                  "choice"])])
        study = write_study(out, self.images, questions, copy_images=copy_images,
                            choices=choices)
        self.study_path = out
        self.message = f"saved {len(questions)} groups to {out}"
        self._render()
        return study

    # -- the view ------------------------------------------------------------------------
    def _thumb(self, image_id: str, px: int | None = None) -> bytes:
        try:
            return thumbnail_png(self.path_of(image_id), px or self._thumb_px)
        except Exception:  # unreadable: a grey square rather than a broken view
            return placeholder_png()

    def _title(self, image_id: str) -> str:
        imgs = self.images.set_index("image_id")
        parts = [str(imgs.at[image_id, c]) for c in ("title", "artist", "genre")
                 if c in imgs.columns and str(imgs.at[image_id, c]) not in ("", "nan")]
        return " · ".join(parts) or image_id

    def _build(self) -> None:
        import ipywidgets as W

        opts = lambda col: [ALL, *self.options(col)]  # noqa: E731
        self._w_genre = W.Dropdown(options=opts("genre"), description="Genre")
        self._w_artist = W.Dropdown(options=opts("artist"), description="Artist")
        self._w_text = W.Text(placeholder="words in the title", description="Title")
        self._w_aspect = W.Dropdown(options=[ALL, *ASPECTS], description="Aspect")
        for w, key in ((self._w_genre, "genre"), (self._w_artist, "artist"),
                       (self._w_text, "text"), (self._w_aspect, "aspect")):
            w.observe(lambda ch, key=key: self._ui(lambda: self.filter(**{key: ch["new"]})),
                      "value")
        self._w_count = W.HTML()
        self._w_prev = W.Button(description="◀", layout=W.Layout(width="40px"))
        self._w_next = W.Button(description="▶", layout=W.Layout(width="40px"))
        self._w_prev.on_click(lambda _: self._ui(lambda: self.turn_page(-1)))
        self._w_next.on_click(lambda _: self._ui(lambda: self.turn_page(1)))
        self._tiles = []
        for _ in range(self.page_size):
            img = W.Image(format="png", layout=W.Layout(width=f"{self._thumb_px}px",
                          height=f"{self._thumb_px}px", object_fit="contain"))
            btn = W.Button(layout=W.Layout(width=f"{self._thumb_px}px"))
            btn.on_click(lambda b: self._ui(lambda: self.toggle(b.image_id)))
            self._tiles.append((W.VBox([img, btn]), img, btn))
        self._w_grid = W.GridBox([t[0] for t in self._tiles], layout=W.Layout(
            grid_template_columns=f"repeat(auto-fill, {self._thumb_px + 10}px)",
            max_height="520px", overflow="auto"))
        self._slots = []
        for letter in LETTERS:
            img = W.Image(format="png", layout=W.Layout(width="150px", height="150px",
                                                        object_fit="contain"))
            btn = W.Button(description=f"({letter}) ✕", layout=W.Layout(width="150px"))
            btn.on_click(lambda b: self._ui(lambda: self.remove(b.image_id)))
            self._slots.append((W.VBox([img, btn]), img, btn))
        self._w_machine = W.HTML()
        self._w_add = W.Button(description="Add to study ➕", button_style="primary")
        self._w_add.on_click(lambda _: self._ui(self.add_to_study))
        self._w_clear = W.Button(description="Clear group")
        self._w_clear.on_click(lambda _: self._ui(self.clear))
        self._w_undo = W.Button(description="Undo ↶")
        self._w_undo.on_click(lambda _: self._ui(self.undo))
        self._w_suggest = W.Button(description="Suggest a group 💡")
        self._w_suggest.on_click(lambda _: self._ui(lambda: self.suggest()))
        self._w_suggestions = W.VBox()
        self._w_path = W.Text(value=str(self.study_path or ""), description="Study",
                              placeholder="folder", layout=W.Layout(width="420px"))
        self._w_save = W.Button(description="Save 💾", button_style="success")
        self._w_save.on_click(lambda _: self._ui(lambda: self.save(self._w_path.value or None)))
        self._w_groups = W.VBox()
        self._w_message = W.HTML()
        self._widget = W.VBox([
            W.HBox([self._w_genre, self._w_artist]), W.HBox([self._w_text, self._w_aspect]),
            W.HBox([self._w_prev, self._w_count, self._w_next]), self._w_grid,
            W.HTML("<b>The group being built</b> (click a print above to add it)"),
            W.HBox([s[0] for s in self._slots]), self._w_machine,
            W.HBox([self._w_add, self._w_clear, self._w_undo, self._w_suggest]),
            self._w_suggestions, W.HTML("<b>The study's groups</b>"), self._w_groups,
            W.HBox([self._w_path, self._w_save]), self._w_message,
        ])

    def _ui(self, action: Callable[[], object]) -> None:
        """Run a click's action; a refused action becomes a message, not a traceback."""
        self._quiet = True  # one redraw at the end, not one per state change
        try:
            self.message = ""
            action()
        except (ValueError, KeyError, StudyError) as e:
            self.message = f"⚠ {e}"
        except Exception as e:  # e.g. weights unavailable: say so in the view
            self.message = f"⚠ {type(e).__name__}: {e}"
        finally:
            self._quiet = False
        self._render()

    def _machine_html(self) -> str:
        from simkit.analysis.report import display_name

        if not self.full:
            return (f"<i>{len(self.group)} of {GROUP_SIZE} prints chosen; the machines' "
                    f"picks appear when the group is full.</i>")
        picks, dist = self.machine()
        kind, reason = self.verdict
        flag = {"disagree": ("#fde2e1", "⚠ the methods disagree"),
                "near-tie": ("#fff3cd", "≈ a near tie"),
                "clear": ("#e2f0d9", "✓ the methods agree")}[kind]
        head = "".join(f"<th>{html.escape(display_name(m))}</th>" for m in dist.columns)
        body = ""
        for p in PAIRS:
            cells = "".join(
                f"<td style='{'font-weight:bold;background:#cfe2ff' if picks[m] == p else ''}'>"
                f"{dist.at[p, m]:.4g}</td>" for m in dist.columns)
            body += f"<tr><td>({p[0]})-({p[2]})</td>{cells}</tr>"
        picks_row = "".join(f"<td><b>{picks[m]}</b></td>" for m in dist.columns)
        note = (f"<div style='color:#a00'>{html.escape(self.weights_note)}</div>"
                if self.weights_note else "")
        return (f"<div style='background:{flag[0]};padding:6px;border-radius:4px'>"
                f"<b>{flag[1]}</b> — {html.escape(reason)}</div>{note}"
                f"<table style='border-collapse:collapse'><tr><th>pair</th>{head}</tr>"
                f"<tr><td>pick</td>{picks_row}</tr>{body}</table>")

    def _render(self) -> None:
        if self._widget is None or getattr(self, "_quiet", False):
            return
        import ipywidgets as W

        n = len(self._visible)
        pages = max(1, -(-n // self.page_size))
        self._w_count.value = f"&nbsp;{n} prints · page {self.page + 1} of {pages}&nbsp;"
        ids = self.page_ids
        for k, (box, img, btn) in enumerate(self._tiles):
            if k < len(ids):
                i = ids[k]
                box.layout.display = ""
                img.value = self._thumb(i)
                btn.image_id = i
                inside = i in self.group
                btn.description = ("✓ " if inside else "") + self._title(i)[:18]
                btn.tooltip = self._title(i)
                btn.button_style = "success" if inside else ""
            else:
                box.layout.display = "none"
        for k, (box, img, btn) in enumerate(self._slots):
            if k < len(self.group):
                box.layout.visibility = "visible"
                img.value = self._thumb(self.group[k], 150)
                btn.image_id = self.group[k]
                btn.tooltip = self._title(self.group[k])
            else:
                box.layout.visibility = "hidden"
        try:
            self._w_machine.value = self._machine_html()
        except Exception as e:
            self._w_machine.value = f"<span style='color:#a00'>⚠ {html.escape(str(e))}</span>"
        self._w_add.disabled = not self.full
        self._w_undo.disabled = not self._history
        rows = []
        if self.suggestions is not None:
            for r in self.suggestions.itertuples():
                b = W.Button(description=f"use #{r.rank}", layout=W.Layout(width="90px"))
                b.on_click(lambda _, k=r.rank: self._ui(lambda: self.use_suggestion(k)))
                rows.append(W.HBox([b, W.HTML(f"{r.genre} · {r.kind}: "
                                              f"{html.escape(r.reason)}")]))
        self._w_suggestions.children = rows
        grows = []
        for g in self.groups:
            q = g["question_id"]
            up, down, rm = (W.Button(description=d, layout=W.Layout(width="36px"))
                            for d in ("↑", "↓", "✕"))
            up.on_click(lambda _, q=q: self._ui(lambda: self.move_group(q, -1)))
            down.on_click(lambda _, q=q: self._ui(lambda: self.move_group(q, 1)))
            rm.on_click(lambda _, q=q: self._ui(lambda: self.remove_group(q)))
            thumbs = [W.Image(value=self._thumb(g[c], 48), format="png",
                              layout=W.Layout(width="48px", height="48px", object_fit="contain"))
                      for c in IMAGE_COLUMNS]
            grows.append(W.HBox([W.HTML(f"<b>{q}</b> {html.escape(g['genre'])}&nbsp;"),
                                 *thumbs, up, down, rm]))
        self._w_groups.children = grows
        self._w_message.value = html.escape(self.message)

    @property
    def widget(self):
        """The ipywidgets view (built on first use)."""
        if self._widget is None:
            self._build()
            self._render()
        return self._widget

    def show(self):
        """The ipywidgets view (as :attr:`widget`)."""
        return self.widget

    def __repr__(self) -> str:
        return (f"GroupBuilder({len(self.collection)} images, {len(self._visible)} visible, "
                f"group {len(self.group)}/{GROUP_SIZE}, {len(self.groups)} groups in the study)")
