"""Study folders: images, 5-image questions, human votes, optional machine choices.

A study folder holds plain CSV files (UTF-8, a BOM is fine)::

    STUDY/
      images.csv        image_id, file, genre [, title, artist, year, ...]
      questions.csv     question_id, genre, image_1, image_2, image_3, image_4, image_5
      responses.csv     participant_id, question_id, choice        e.g. "d-e"
      participants.csv  participant_id [, visual_impairment, familiarity, field, ...]  (optional)
      choices.csv       question_id, method, choice                 (optional)

``file`` is relative to the study folder (an absolute path also works). A *choice* names two
of the five images of a question by their letters a–e (image_1 … image_5) in any order:
"e-d", "(d)-(e)" and "D-E" all mean "d-e".

A participant is *valid* (counted in the analysis) when they answered every question and did
not report a visual impairment, as in Wei et al. (54 recruited → 41 valid):
``load_study("demo-study").valid_participants``.
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simkit.fileio import backup_file, replace_files
from simkit.paths import inside
from simkit.study.csvtable import FIELD_LIMIT, StudyError, read_table, row_location

__all__ = [
    "LETTERS", "PAIRS", "IMAGE_COLUMNS", "Study", "StudyError", "load_study", "save_study",
    "normalize_choice", "pair_letters", "read_table", "read_study_csv", "row_location",
    "check_unique", "validate_study_tables", "open_study", "FIELD_LIMIT", "as_study",
    "is_method_name", "METHOD_NAME_RULE",
]

LETTERS = "abcde"
IMAGE_COLUMNS = [f"image_{i}" for i in range(1, 6)]
#: The 10 pairs of a 5-image question, in the order used everywhere (ties go to the first).
PAIRS = [f"{x}-{y}" for x, y in itertools.combinations(LETTERS, 2)]

REQUIRED = {
    "images.csv": ["image_id", "file", "genre"],
    "questions.csv": ["question_id", "genre", *IMAGE_COLUMNS],
    "responses.csv": ["participant_id", "question_id", "choice"],
    "participants.csv": ["participant_id"],
    "choices.csv": ["question_id", "method", "choice"],
}
_TRUE = {"yes", "true", "1", "y"}
_FALSE = {"no", "false", "0", "n", ""}
_CHOICE_RE = re.compile(r"^\(?\s*([a-eA-E])\s*\)?\s*[-–,/ ]\s*\(?\s*([a-eA-E])\s*\)?$")
# a lower-case identifier (gram, lpips_alexnet, your own "mine"), or a model method
# REPR[-METRIC]:MODEL[@LAYER], whose model and layer keep their library's spelling
_METHOD_RE = re.compile(r"[a-z][a-z0-9_]*(-[a-z]+)?(:[A-Za-z0-9_.:@/+-]+)?")
#: What :func:`is_method_name` accepts, for messages.
METHOD_NAME_RULE = ("a lower-case identifier (like gram, cosine, gram_cosine) or a model "
                    "method (like embed:timm:vit_small_patch16_224)")


def is_method_name(name: object) -> bool:
    """Whether ``name`` can name a method: :data:`METHOD_NAME_RULE`. The one check of a
    name, used by choices.csv and by the registry (a name it refused at registration was
    computed, then refused when its choices were read back)."""
    return isinstance(name, str) and _METHOD_RE.fullmatch(name) is not None


def normalize_choice(value: object) -> str:
    """Return the canonical form ``"x-y"`` (x < y) of a choice, or raise ``ValueError``.

    >>> normalize_choice("(e)-(d)")
    'd-e'
    """
    text = str(value).strip()
    m = _CHOICE_RE.match(text)
    if not m or m.group(1).lower() == m.group(2).lower():
        raise ValueError(
            f"choice {text!r} is not two different letters a-e; write it like 'd-e'"
        )
    x, y = sorted((m.group(1).lower(), m.group(2).lower()))
    return f"{x}-{y}"


def pair_letters(pair: str) -> tuple[int, int]:
    """Indices (0-4) of the two images of a canonical pair such as ``"b-d"``."""
    return LETTERS.index(pair[0]), LETTERS.index(pair[2])


@dataclass
class Study:
    """A loaded, validated study. All tables hold strings as in the CSV files."""

    images: pd.DataFrame
    questions: pd.DataFrame
    responses: pd.DataFrame
    participants: pd.DataFrame
    choices: pd.DataFrame | None = None
    root: Path | None = None
    _exclusions: pd.DataFrame | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Every way into a Study checks its machine choices here, once: the analysis can
        # then rely on one valid choice per method and question.
        if self.choices is not None:
            self.choices = _check_choices(self.choices, "choices",
                                          set(self.questions["question_id"]))
        self._exclusions = _exclusions(self)

    # -- convenience ------------------------------------------------------------------
    @property
    def genres(self) -> list[str]:
        """Genres in the order they first appear in questions.csv."""
        return list(dict.fromkeys(self.questions["genre"]))

    @property
    def methods(self) -> list[str]:
        """Method names of the given machine choices, in file order."""
        if self.choices is None or self.choices.empty:
            return []
        return list(dict.fromkeys(self.choices["method"]))

    def question_images(self, question_id: str) -> list[str]:
        """The five image ids of a question, a–e."""
        row = self.questions.loc[self.questions["question_id"] == question_id]
        if row.empty:
            raise KeyError(f"unknown question_id {question_id!r}")
        return [str(v) for v in row.iloc[0][IMAGE_COLUMNS]]

    def image_path(self, image_id: str) -> Path:
        """The file of one image (see :meth:`image_paths`)."""
        row = self.images.loc[self.images["image_id"] == image_id]
        if row.empty:
            raise KeyError(f"unknown image_id {image_id!r}")
        return self._file_path(image_id, str(row.iloc[0]["file"]))

    def image_paths(self) -> dict[str, Path]:
        """``{image_id: file}`` of every image, in images.csv order: one pass over the
        table (:meth:`image_path` for each id would scan it once per image)."""
        return {str(i): self._file_path(str(i), str(f))
                for i, f in zip(self.images["image_id"], self.images["file"])}

    def _file_path(self, image_id: str, file: str) -> Path:
        if self.root is None:
            return Path(file)
        # An absolute path is the user's choice; a relative one must stay in the study.
        return inside(self.root, file, what=f"images.csv: file of image {image_id!r}",
                      allow_absolute=True)

    @property
    def exclusions(self) -> pd.DataFrame:
        """``participant_id, reason`` for every recruited participant who is not valid."""
        return self._exclusions.copy()

    @property
    def valid_participants(self) -> list[str]:
        excluded = set(self._exclusions["participant_id"])
        return [p for p in self.participants["participant_id"] if p not in excluded]

    @property
    def valid_responses(self) -> pd.DataFrame:
        """Responses of valid participants only."""
        valid = set(self.valid_participants)
        return self.responses[self.responses["participant_id"].isin(valid)].reset_index(drop=True)

    def with_choices(self, choices: pd.DataFrame | None) -> "Study":
        """A copy of this study with other machine choices (validated)."""
        return Study(self.images, self.questions, self.responses, self.participants,
                     choices, self.root)

    def summary(self) -> str:
        """A human-readable summary, as printed by ``simkit validate``."""
        lines = [f"study: {self.root or '(in memory)'}",
                 f"images: {len(self.images)}",
                 f"questions: {len(self.questions)}"]
        for genre, n in self.questions["genre"].value_counts(sort=False).items():
            lines.append(f"  {genre}: {n}")
        ex = self._exclusions
        lines.append(
            f"participants: {len(self.participants)} recruited, "
            f"{len(self.valid_participants)} valid, {len(ex)} excluded")
        for reason, n in ex["reason"].value_counts(sort=False).items():
            lines.append(f"  excluded ({reason}): {n}")
        lines.append(f"responses: {len(self.responses)} "
                     f"({len(self.valid_responses)} from valid participants)")
        if self.methods:
            lines.append("machine choices: " + ", ".join(self.methods))
        return "\n".join(lines)


# -- reading ------------------------------------------------------------------------------
def read_study_csv(path: Path, kind: str | None = None, *, optional: bool = False
                   ) -> pd.DataFrame | None:
    """Read a study CSV as strings; ``kind`` (default: the file name) picks the columns.

    Returns None for a missing file when ``optional``; raises :class:`StudyError` otherwise.
    """
    required = REQUIRED[kind or path.name]
    if not path.exists():
        if optional:
            return None
        raise StudyError(f"{path}: file not found; every study folder needs {path.name} "
                         f"with columns {', '.join(required)}")
    return read_table(path, required)


def check_unique(df: pd.DataFrame, column: str, what: str) -> None:
    """Raise :class:`StudyError` at the first empty or repeated id in ``column``."""
    seen: dict[str, int] = {}
    for i, v in enumerate(df[column]):
        if v == "":
            raise StudyError(f"{row_location(df, i)}: empty {column}; give every {what} an id")
        if v in seen:
            raise StudyError(f"{row_location(df, i)}: {column} {v!r} already used on "
                             f"{row_location(df, seen[v]).split(', ')[-1]}; ids must be unique")
        seen[v] = i


def _check_choices(df: pd.DataFrame, name: str, question_ids: set[str]) -> pd.DataFrame:
    df = df.copy()
    df.attrs.setdefault("path", name)
    for col in REQUIRED["choices.csv"]:
        if col not in df.columns:
            raise StudyError(f"{df.attrs['path']}: missing column {col}")
    seen: set[tuple[str, str]] = set()
    canon = []
    for i, (q, m, c) in enumerate(zip(df["question_id"], df["method"], df["choice"])):
        if q not in question_ids:
            raise StudyError(f"{row_location(df, i)}: unknown question_id {q!r}; "
                             f"it must be one of the ids in questions.csv")
        if not is_method_name(m):
            raise StudyError(f"{row_location(df, i)}: method {m!r} is not {METHOD_NAME_RULE}")
        if (q, m) in seen:
            raise StudyError(f"{row_location(df, i)}: method {m!r} has two choices for question "
                             f"{q!r}; keep one")
        seen.add((q, m))
        try:
            canon.append(normalize_choice(c))
        except ValueError as e:
            raise StudyError(f"{row_location(df, i)}: {e}") from None
    _check_coverage(df, question_ids)
    df["choice"] = canon
    return df


def _check_coverage(df: pd.DataFrame, question_ids: set[str]) -> None:
    # A method without a choice for a question has no Ps or Agree there; scoring it as 0
    # (or averaging over fewer questions than the people's row) would be silently wrong.
    for method in dict.fromkeys(df["method"]):
        have = set(df.loc[df["method"] == method, "question_id"])
        missing = [q for q in question_ids if q not in have]
        if missing:
            missing.sort(key=_natural)
            shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more"
                                                if len(missing) > 10 else "")
            raise StudyError(
                f"{df.attrs['path']}: method {method!r} has no choice for {len(missing)} of "
                f"{len(question_ids)} questions ({shown}); every method needs a choice for "
                f"every question: add the rows, or leave the file out to compute the choices")


def _natural(text: str) -> list:
    """Sort key that puts q2 before q10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def validate_study_tables(images: pd.DataFrame, questions: pd.DataFrame,
                          responses: pd.DataFrame, participants: pd.DataFrame) -> None:
    """Check a study's tables against each other; raise :class:`StudyError` at the first
    problem, naming its file and line."""
    check_unique(images, "image_id", "image")
    check_unique(questions, "question_id", "question")
    image_ids = set(images["image_id"])
    for i, row in enumerate(questions[IMAGE_COLUMNS].itertuples(index=False)):
        ids = list(row)
        for col, v in zip(IMAGE_COLUMNS, ids):
            if v == "":
                raise StudyError(f"{row_location(questions, i)}: {col} is empty; a question needs "
                                 f"exactly 5 images")
            if v not in image_ids:
                raise StudyError(f"{row_location(questions, i)}: {col} {v!r} is not an image_id "
                                 f"in images.csv; add it there or fix the id")
        if len(set(ids)) != 5:
            dup = next(v for v in ids if ids.count(v) > 1)
            raise StudyError(f"{row_location(questions, i)}: image {dup!r} appears twice; a "
                             f"question needs exactly 5 distinct images")
    check_unique(participants, "participant_id", "participant")
    if "visual_impairment" in participants.columns:
        for i, v in enumerate(participants["visual_impairment"]):
            if v.lower() not in _TRUE | _FALSE:
                raise StudyError(f"{row_location(participants, i)}: visual_impairment {v!r} is not "
                                 f"yes/no, true/false or 1/0")
    question_ids = set(questions["question_id"])
    known = set(participants["participant_id"])
    seen: dict[tuple[str, str], int] = {}
    for i, (p, q, c) in enumerate(zip(responses["participant_id"], responses["question_id"],
                                      responses["choice"])):
        if p == "":
            raise StudyError(f"{row_location(responses, i)}: empty participant_id")
        if p not in known:
            raise StudyError(f"{row_location(responses, i)}: participant_id {p!r} is not in "
                             f"participants.csv; add a row for them there")
        if q not in question_ids:
            raise StudyError(f"{row_location(responses, i)}: unknown question_id {q!r}; it must "
                             f"be one of the ids in questions.csv")
        try:
            normalize_choice(c)
        except ValueError as e:
            raise StudyError(f"{row_location(responses, i)}: {e}") from None
        if (p, q) in seen:
            raise StudyError(f"{row_location(responses, i)}: participant {p!r} answered question "
                             f"{q!r} twice (also on line {responses.attrs['lines'][seen[p, q]] if responses.attrs.get('lines') else seen[p, q] + 2}); "
                             f"keep one answer")
        seen[p, q] = i


def _exclusions(study: Study) -> pd.DataFrame:
    n_questions = len(study.questions)
    answered = study.responses.groupby("participant_id")["question_id"].nunique()
    impaired = set()
    if "visual_impairment" in study.participants.columns:
        mask = study.participants["visual_impairment"].str.lower().isin(_TRUE)
        impaired = set(study.participants.loc[mask, "participant_id"])
    rows = []
    for p in study.participants["participant_id"]:
        if p in impaired:
            rows.append((p, "reported a visual impairment"))
        elif answered.get(p, 0) < n_questions:
            rows.append((p, "did not answer every question"))
    return pd.DataFrame(rows, columns=["participant_id", "reason"])


def load_study(path: str | os.PathLike, choices: str | os.PathLike | None = None) -> Study:
    """Read and validate a study folder.

    ``choices`` names a machine-choices CSV to use instead of ``STUDY/choices.csv``.
    Raises :class:`StudyError` naming the file, line and value of the first problem.
    """
    root = Path(path)
    if not root.is_dir():
        raise StudyError(f"{root}: not a folder; a study is a folder with images.csv, "
                         f"questions.csv and responses.csv")
    images = read_study_csv(root / "images.csv")
    questions = read_study_csv(root / "questions.csv")
    responses = read_study_csv(root / "responses.csv")
    participants = read_study_csv(root / "participants.csv", optional=True)
    if participants is None:  # derive the roster from the votes
        # an empty id is left out here so that the check of responses.csv names its line
        ids = [p for p in dict.fromkeys(responses["participant_id"]) if p]
        participants = pd.DataFrame({"participant_id": pd.Series(ids, dtype=str)})
    validate_study_tables(images, questions, responses, participants)
    responses = responses.assign(choice=[normalize_choice(c) for c in responses["choice"]])
    choice_path = Path(choices) if choices is not None else root / "choices.csv"
    if choices is not None and not choice_path.exists():
        raise StudyError(f"{choice_path}: file not found (given as the machine choices)")
    machine = read_study_csv(choice_path, "choices.csv", optional=True)
    return Study(images, questions, responses, participants, machine, root)


def as_study(study: "Study | str | os.PathLike", what: str = "study") -> Study:
    """``study`` itself, or the study folder it names loaded (:func:`load_study`).

    Raises :class:`StudyError` for anything else, naming what was given (a folder name
    was taken as a list of image paths, a choices table as a study).
    """
    if isinstance(study, Study):
        return study
    if isinstance(study, (str, os.PathLike)):
        return load_study(study)
    raise StudyError(f"{what}: got a {type(study).__name__}; give a Study "
                     f"(simkit.load_study(FOLDER)) or the path of a study folder")


def save_study(study: Study, path: str | os.PathLike) -> Path:
    """Write a study folder's CSV files as one set (image files are not copied). A file
    whose content changes is first copied to ``path/backup/`` under a unique name."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    tables = {"images.csv": study.images, "questions.csv": study.questions,
              "responses.csv": study.responses, "participants.csv": study.participants,
              "choices.csv": study.choices}
    texts = {name: df.to_csv(index=False) for name, df in tables.items() if df is not None}
    for name, text in texts.items():
        if (root / name).is_file() and (root / name).read_bytes() != text.encode("utf-8"):
            backup_file(root / name, root / "backup")
    with replace_files(*(root / name for name in texts)) as temps:
        for tmp, text in zip(temps, texts.values()):
            tmp.write_text(text, encoding="utf-8", newline="")
    return root


def open_study(path: str | os.PathLike) -> Study:
    """Load a study folder for collecting votes: like :func:`load_study`,
    but a folder that has no ``responses.csv`` yet (nobody has voted) is fine."""
    root = Path(path)
    if (root / "responses.csv").exists() or not (root / "questions.csv").exists():
        return load_study(root)
    # No votes yet: validate images and questions with the same checks as load_study.
    images = read_study_csv(root / "images.csv")
    questions = read_study_csv(root / "questions.csv")
    responses = pd.DataFrame({c: pd.Series(dtype=str)
                              for c in ("participant_id", "question_id", "choice")})
    participants = pd.DataFrame({"participant_id": pd.Series(dtype=str)})
    validate_study_tables(images, questions, responses, participants)
    return Study(images, questions, responses, participants, None, root)
