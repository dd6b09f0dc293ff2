"""The questionnaire as a jsPsych experiment, for online studies: export, and its data back.

:func:`export_experiment` writes a self-contained folder (``index.html``, the study's images
resized, jsPsych 7 from its npm release in ``lib/``: no CDN, no npm at run time) that runs
the questionnaire's flow, in English or Japanese from :mod:`simkit.votes.messages`, and
saves its data on JATOS, Pavlovia or as a CSV download (see the ``README.md`` it writes).
:func:`read_data` reads that experiment's data (CSV or JSON, as jsPsych, JATOS, Pavlovia and
cognition.run produce them) into registrations and votes for
:meth:`simkit.votes.store.VoteStore.add_answers`.

The files of the experiment are package data in ``simkit/votes/jspsych_files``;
``experiment.js``, ``pick-two.js`` (the pick-two-of-five plugin) and ``codes.js`` (resume
codes, configured by :mod:`simkit.votes.codes`) are simkit's own.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from simkit.study.model import IMAGE_COLUMNS, LETTERS, Study, normalize_choice
from simkit.votes import codes
from simkit.votes.errors import VoteError
from simkit.votes.participants import check_participant_id, study_fingerprint

__all__ = ["export_experiment", "read_data", "JsPsychData", "JsPsychDataError", "FILES"]

#: The package data folder with jsPsych and the experiment's own files.
FILES = Path(__file__).with_name("jspsych_files")
#: What an export writes into its folder (anything else there is the user's: refused).
OWNED = ("index.html", "experiment.js", "pick-two.js", "codes.js", "study.js", "simkit.css",
         "README.md", "LICENSE-jspsych.txt", "lib", "images")


class JsPsychDataError(VoteError):
    """A data file is not (readable) data of the exported experiment; the message names
    the file and row."""


# -- export ----------------------------------------------------------------------------------
def export_experiment(study: Study, out: str | os.PathLike, language: str = "en", *,
                      image_px: int = 800) -> Path:
    """Write the jsPsych experiment of ``study`` into the folder ``out`` and return it.

    Parameters
    ----------
    study : Study
        The study (its images are read from its folder).
    out : path-like
        The experiment folder; written as a set (an existing export is replaced; a folder
        holding other files is refused with :class:`~simkit.fileio.OverwriteRefused`).
    language : str
        ``"en"`` or ``"ja"``: the participant-facing texts (the study's ``texts.csv``
        overrides applied).
    image_px : int
        The longest side of the images written (JPEG); smaller images keep their size.

    Returns
    -------
    Path
        ``out``.
    """
    from tqdm.auto import tqdm

    from simkit.features.thumbnails import encode_thumbnail
    from simkit.fileio import replace_set, write_text
    from simkit.votes.messages import (FIELD_KEYS, check_language, image_alt,
                                       messages_for_study, question_titles)

    language = check_language(language)
    texts = messages_for_study(study, language)
    titles = question_titles(study)
    used = list(dict.fromkeys(v for c in IMAGE_COLUMNS for v in study.questions[c]))
    names = {image_id: f"images/{k + 1:04d}.jpg" for k, image_id in enumerate(used)}
    questions = []
    for row in study.questions.itertuples(index=False):
        q = str(row.question_id)
        ids = [str(getattr(row, c)) for c in IMAGE_COLUMNS]
        questions.append({"id": q, "images": [
            {"src": names[i], "alt": image_alt(texts, LETTERS[k], titles[q][k])}
            for k, i in enumerate(ids)]})
    payload = {"fingerprint": study_fingerprint(study.questions), "language": language,
               "texts": texts, "fields": [texts[k] for k in FIELD_KEYS],
               "questions": questions, "codes": codes.client_config()}
    out = Path(out)
    with replace_set(out, OWNED) as stage:
        (stage / "images").mkdir()
        for image_id in tqdm(used, desc="images", unit="image", leave=False):
            (stage / names[image_id]).write_bytes(encode_thumbnail(
                study.image_path(image_id), image_px, "JPEG", quality=88))
        shutil.copytree(FILES / "lib", stage / "lib")
        for name in ("experiment.js", "pick-two.js", "codes.js", "simkit.css",
                     "LICENSE-jspsych.txt"):
            shutil.copyfile(FILES / name, stage / name)
        write_text("window.SIMKIT = " + json.dumps(payload, ensure_ascii=False, indent=1)
                   + ";\n", stage / "study.js")
        fill = {"{language}": language, "{title}": texts["title"],
                "{study}": str(study.root or "STUDY"), "{questions}": str(len(questions))}
        for name in ("index.html", "README.md"):
            text = (FILES / name).read_text(encoding="utf-8")
            for key, value in fill.items():
                text = text.replace(key, value)
            write_text(text, stage / name)
    return out


# -- data back -------------------------------------------------------------------------------
@dataclass
class JsPsychData:
    """Registrations (``participants``: id → self-assessment) and ``votes``
    ({(id, question_id): (choice, seconds)}) read from data files, with ``notes`` (e.g.
    participants who stopped early)."""

    participants: dict[str, dict[str, Any]] = field(default_factory=dict)
    votes: dict[tuple[str, str], tuple[str, float | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _trials(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(where, trial)`` of every trial in a data file: CSV, a JSON array, or JSON lines
    (JATOS: one array per participant)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise JsPsychDataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise JsPsychDataError(f"{path}: is a folder; give the data file(s)") from None
    except UnicodeDecodeError:
        raise JsPsychDataError(f"{path}: is not UTF-8 text; give the CSV or JSON data "
                               f"file jsPsych wrote") from None
    stripped = text.lstrip()
    if stripped[:1] in "[{":
        try:
            chunks = [(None, json.loads(text))]
        except json.JSONDecodeError:  # JSON lines (JATOS' results export)
            chunks = []
            for n, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    try:
                        chunks.append((n, json.loads(line)))
                    except json.JSONDecodeError as e:
                        raise JsPsychDataError(f"{path}, line {n}: not JSON ({e.msg}); give "
                                               f"the data as jsPsych/JATOS wrote it") from None
        out = []
        for line, chunk in chunks:
            trials = chunk.get("trials", [chunk]) if isinstance(chunk, dict) else chunk
            if not isinstance(trials, list):
                raise JsPsychDataError(f"{path}: JSON that is not a list of trials")
            for k, trial in enumerate(trials, 1):
                where = f"{path}, {f'line {line}, ' if line else ''}trial {k}"
                if isinstance(trial, dict):
                    out.append((where, trial))
        return out
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out = []
    try:
        for row in reader:
            out.append((f"{path}, line {reader.line_num}", row))
    except csv.Error as e:
        raise JsPsychDataError(f"{path}, line {reader.line_num}: malformed CSV ({e})") from None
    return out


def _assessment(where: str, response: Any) -> dict[str, Any]:
    if isinstance(response, str):
        try:
            response = json.loads(response)
        except json.JSONDecodeError:
            raise JsPsychDataError(f"{where}: the self-assessment response {response[:80]!r} "
                                   f"is not JSON") from None
    if not isinstance(response, dict):
        raise JsPsychDataError(f"{where}: the self-assessment response is not a form's "
                               f"answers")
    from simkit.votes.messages import canonical_field

    keep = ("familiarity", "field", "visual_impairment")
    answers = {k: str(response[k]).strip() for k in keep if str(response.get(k, "")).strip()}
    if "field" in answers:  # one spelling per field, whichever language was shown
        answers["field"] = canonical_field(answers["field"])
    return answers


def read_data(files: Iterable[str | os.PathLike], study: Study) -> JsPsychData:
    """Read data files of the experiment :func:`export_experiment` wrote for ``study``.

    Rows of other trials (consent, Back, thank-you, Pavlovia's) are passed over. A question
    a participant answered more than once in one file (Back, then a new pick) counts with
    its last answer, as the questionnaire keeps it. Raises :class:`JsPsychDataError` naming
    the file and row for data of another study (its fingerprint), an unknown question, a
    bad choice, a missing or unusable participant id, a question answered differently in two
    files, or a file with no simkit rows at all.
    """
    fingerprint = study_fingerprint(study.questions)
    known = set(study.questions["question_id"])
    data = JsPsychData()
    seen: dict[tuple[str, str], tuple[Path, str]] = {}  # (file, row) of each vote kept
    for path in map(Path, files):
        rows = 0
        for where, trial in _trials(path):
            kind = str(trial.get("simkit") or "")
            if kind not in ("assessment", "question"):
                continue
            rows += 1
            theirs = str(trial.get("simkit_fingerprint") or "")
            if theirs != fingerprint:
                raise JsPsychDataError(
                    f"{where}: data of another study (fingerprint {theirs or 'missing'}, this "
                    f"study's is {fingerprint}: its questions or images differ); import it "
                    f"into the study it was exported from")
            try:
                pid = check_participant_id(str(trial.get("participant_id") or "").strip())
            except VoteError as e:
                raise JsPsychDataError(f"{where}: {e}") from None
            answers = data.participants.setdefault(pid, {})
            if kind == "assessment":
                answers.update(_assessment(where, trial.get("response")))
                if trial.get("simkit_language"):  # recorded as the questionnaire does
                    answers["language"] = str(trial["simkit_language"])
                continue
            qid = str(trial.get("question_id") or "")
            if qid not in known:
                raise JsPsychDataError(f"{where}: question_id {qid!r} is not in this study's "
                                       f"questions.csv")
            try:
                choice = normalize_choice(trial.get("choice"))
            except ValueError as e:
                raise JsPsychDataError(f"{where}: {e}") from None
            first = seen.get((pid, qid))
            if first and first[0] != path and data.votes[(pid, qid)][0] != choice:
                raise JsPsychDataError(f"{where}: participant {pid!r} answered {qid!r} "
                                       f"again, differently (earlier at {first[1]}); "
                                       f"keep one of the two data files")
            try:
                seconds = float(trial.get("rt")) / 1000.0
            except (TypeError, ValueError):
                seconds = None
            # within one file a later row is a later answer (after Back): it replaces
            data.votes[(pid, qid)] = (choice, seconds if seconds == seconds else None)
            seen[(pid, qid)] = (path, where)
        if rows == 0:
            raise JsPsychDataError(f"{path}: holds no rows of a simkit experiment (no "
                                   f"'simkit' column with assessment/question rows); give "
                                   f"the data of the experiment 'simkit export jspsych' wrote")
    answered = Counter(pid for pid, _ in data.votes)
    stopped = [p for p in data.participants if answered[p] < len(known)]
    if stopped:
        data.notes.append(f"{len(stopped)} participant(s) did not answer every question "
                          f"(not counted as valid): {', '.join(stopped[:10])}"
                          f"{', …' if len(stopped) > 10 else ''}")
    return data
