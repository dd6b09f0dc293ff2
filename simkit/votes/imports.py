"""Votes from elsewhere: a one-row-per-participant table (Google Forms, Qualtrics,
LimeSurvey) read into the study's vote store, as if given in the questionnaire.

Three steps, each a plain function (no printing; the command is :mod:`simkit.cli.import_votes`):

1. :func:`read_wide` reads the table (CSV, or .xlsx with openpyxl), skipping Qualtrics' two
   extra header rows, and keeps each row's number *as a spreadsheet shows it*.
2. :func:`read_map` reads ``MAP.csv``, which says which column holds which question (or which
   self-assessment answer)::

       column,question_id,participant_column
       "Group 1: which two look most alike?",q001,
       "How familiar are you with ukiyo-e?",,familiarity

   Every row fills exactly one of ``question_id`` and ``participant_column`` (a file with only
   ``column,question_id`` is fine too).
3. :func:`plan_wide_import` turns the cells into registrations and votes, collecting *every*
   unreadable cell (:class:`Cell`); :func:`apply_import` writes them in one transaction
   (:meth:`simkit.votes.store.VoteStore.add_answers`): votes already in the store with the same
   choice are skipped, a different choice is refused, so importing the same file twice adds
   nothing.

Answer texts (:func:`parse_pair`): two different letters a-e, in any order and case, with or
without parentheses and the word "image", separated by a dash (- – —), comma, slash,
ampersand, plus, "and", Japanese と/・/、 or spaces: ``(d)-(e)``, ``d-e``, ``D and E``,
``e & d``, ``d, e``, ``d – e``, ``Image D, Image E`` all read as ``d-e``. A blank cell is an
unanswered question.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from simkit.errors import import_extra
from simkit.study.model import read_table
from simkit.votes.errors import VoteError
from simkit.votes.messages import canonical_field
from simkit.votes.participants import check_participant_id, read_yes_no

__all__ = ["parse_pair", "parse_familiarity", "parse_yes_no", "Cell", "WideTable", "ColumnMap",
           "WideImport", "ImportResult", "WideImportError", "UnreadableCells", "read_wide",
           "read_map", "plan_wide_import", "apply_import", "ANSWER_SPELLINGS"]

#: What :func:`parse_pair` accepts, for messages and the README.
ANSWER_SPELLINGS = ("two different letters a-e in any order, e.g. 'd-e', '(d)-(e)', "
                    "'D and E', 'e & d', 'd, e', 'd – e'")

# Separators between the two letters (and decoration around them), replaced by spaces.
_SEPARATORS = re.compile(r"\band\b|\bimages?\b|[-–—―‐‑−,;/&+・、，と()\[\]（）「」]")


def parse_pair(text: object) -> str | None:
    """The canonical pair (``"d-e"``) an answer text names, ``None`` for a blank cell.

    Raises ``ValueError`` saying why for anything else ("not sure", ``"a-a"``, ``"f-g"``,
    three letters).

    >>> parse_pair("(e) – (D)")
    'd-e'
    """
    raw = "" if text is None else str(text).strip()
    if not raw:
        return None
    tokens = _SEPARATORS.sub(" ", raw.lower()).split()
    letters = [t for t in tokens if len(t) == 1 and "a" <= t <= "e"]
    if len(tokens) != 2 or len(letters) != 2:
        many = len(letters) > 2 or len(tokens) > 2 and all(len(t) == 1 for t in tokens)
        raise ValueError("names more than two images" if many else
                         "is not a pair of two letters a-e")
    if letters[0] == letters[1]:
        raise ValueError("names the same image twice; a pair is two different letters")
    x, y = sorted(letters)
    return f"{x}-{y}"


def parse_familiarity(text: object) -> str | None:
    """A familiarity answer (``"3"``, ``"3 · somewhat"``, ``"3.0"``) as ``"1"``-``"5"``;
    ``None`` when blank; ``ValueError`` otherwise."""
    raw = "" if text is None else str(text).strip()
    if not raw:
        return None
    m = re.match(r"^([1-5])(\.0+)?(?![0-9.])", raw)
    if not m:
        raise ValueError("is not a familiarity level from 1 (not at all) to 5 (very)")
    return m.group(1)


def parse_yes_no(text: object) -> str | None:
    """A visual-impairment answer as ``"yes"``/``"no"``; ``None`` when blank;
    ``ValueError`` otherwise."""
    if text is None or not str(text).strip():
        return None
    answer = read_yes_no(text)
    if answer is None:
        raise ValueError("is not yes or no")
    return answer


def _text(text: str) -> str | None:
    return text or None


def _field(text: str) -> str | None:
    return canonical_field(text) if text else None  # one spelling per catalogue field


_PARTICIPANT_PARSERS = {"familiarity": parse_familiarity, "visual_impairment": parse_yes_no,
                        "field": _field}


# -- errors ----------------------------------------------------------------------------------
class WideImportError(VoteError):
    """The table or its map cannot be imported as given; the message says where and how."""


@dataclass(frozen=True)
class Cell:
    """One unreadable cell: its spreadsheet ``row`` (1 = the first row), ``column`` name,
    ``value`` and why it was not read."""

    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.value!r} {self.reason}"


class UnreadableCells(WideImportError):
    """Cells that could not be read; every one is listed (``cells``), nothing was written."""

    def __init__(self, path: str, cells: list[Cell]) -> None:
        self.cells = list(cells)
        lines = "\n".join(f"  {c}" for c in self.cells)
        super().__init__(f"{path}: {len(self.cells)} cell(s) cannot be read; nothing was "
                         f"imported. Correct them (answers: {ANSWER_SPELLINGS}; a blank cell "
                         f"is an unanswered question) or pass --skip-unreadable to import the "
                         f"rest:\n{lines}")


# -- the table -------------------------------------------------------------------------------
@dataclass
class WideTable:
    """A one-row-per-participant table as text.

    ``rows[i]`` is the spreadsheet row numbered ``row_numbers[i]`` (1 = the first row of
    the file, as a spreadsheet shows it), one value per ``header`` column.
    ``skipped_header_rows`` counts Qualtrics' extra header rows left out."""

    path: str
    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    skipped_header_rows: int = 0


def _is_import_id(cell: str) -> bool:
    return cell.startswith("{") and "importid" in cell.replace(" ", "").lower()


def _delimiter(text: str) -> str:
    """The delimiter that splits the header into the most columns: a comma (Google Forms,
    Qualtrics), a semicolon (Excel where the decimal mark is a comma) or a tab (Excel's
    "Unicode text"); a comma on a tie."""
    def columns(delimiter: str) -> int:
        rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            return len(next((r for r in rows if any(c.strip() for c in r)), []))
        except csv.Error:
            return 0
    return max((",", ";", "\t"), key=columns)  # max keeps the first of equals


def _grid(path: Path) -> list[list[str]]:
    """Every row of the file (blank ones too, so positions are spreadsheet rows)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import pandas as pd

        import_extra("openpyxl", f"reading {path.name} (.xlsx)", "xlsx")
        try:
            df = pd.read_excel(path, header=None, dtype=str, keep_default_na=False)
        except Exception as e:  # openpyxl raises many kinds for a damaged file
            raise WideImportError(f"{path}: cannot read it as an .xlsx workbook ({e}); "
                                  f"open and save it again, or save it as CSV UTF-8") from None
        return [["" if v is None else str(v) for v in row] for row in df.itertuples(index=False)]
    if path.suffix.lower() in (".xls", ".ods", ".numbers"):
        raise WideImportError(f"{path}: {path.suffix} files are not read; save the table as "
                              f".xlsx or as CSV UTF-8")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise WideImportError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise WideImportError(f"{path}: is a folder; give the exported CSV file") from None
    # Excel's "Unicode text" is UTF-16 with a byte-order mark; everything else must be UTF-8
    encoding = "utf-16" if raw.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        raise WideImportError(f"{path}: byte {e.start} is not {encoding.upper()[:6]} text; "
                              f"save the table as CSV UTF-8") from None
    delimiter = _delimiter(text)
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)]
    except csv.Error as e:
        raise WideImportError(f"{path}: malformed CSV ({e}); export the table again") from None


def read_wide(path: str | Path) -> WideTable:
    """Read a one-row-per-participant table (CSV, or the first sheet of an .xlsx with
    openpyxl installed).

    The header is the first non-blank row. A Qualtrics export's two extra header rows
    (the question texts, then ``{"ImportId": …}``) are recognised by the second of them
    and left out. Blank rows are left out; every row keeps its spreadsheet row number.
    Raises :class:`WideImportError` for an unreadable file or a repeated column name.
    """
    path = Path(path)
    grid = _grid(path)
    numbered = [(i + 1, [c.strip() for c in row]) for i, row in enumerate(grid)
                if any(c.strip() for c in row)]
    if not numbered:
        raise WideImportError(f"{path}: the table is empty; export the responses with a "
                              f"header row")
    header_row, header = numbered[0]
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise WideImportError(f"{path}, row {header_row}: column(s) {', '.join(map(repr, dup))} "
                              f"appear more than once; rename them so each name is unique")
    body = numbered[1:]
    skipped = 0
    # Qualtrics: row 2 the question texts, row 3 {"ImportId":"QID1"} in (almost) every cell
    if len(body) >= 2:
        cells = [c for c in body[1][1] if c]
        if cells and sum(map(_is_import_id, cells)) >= max(1, len(cells) // 2):
            body, skipped = body[2:], 2
    rows, numbers = [], []
    for number, row in body:
        if len(row) > len(header) and any(row[len(header):]):
            raise WideImportError(f"{path}, row {number}: {len(row)} values for "
                                  f"{len(header)} columns; check the delimiter and quotes")
        rows.append((row + [""] * len(header))[:len(header)])
        numbers.append(number)
    return WideTable(str(path), header, rows, numbers, skipped)


# -- the map ---------------------------------------------------------------------------------
@dataclass
class ColumnMap:
    """Which table column holds which question (``questions``) or self-assessment answer
    (``participant``: table column → participants.csv column)."""

    questions: dict[str, str] = field(default_factory=dict)
    participant: dict[str, str] = field(default_factory=dict)


_PARTICIPANT_COLUMN = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = {"participant_id", "seed", "question_order"}


def read_map(path: str | Path, question_ids: Iterable[str]) -> ColumnMap:
    """Read ``MAP.csv`` (``column,question_id[,participant_column]``) for a study with
    ``question_ids``.

    Raises :class:`~simkit.study.model.StudyError` for a malformed file and
    :class:`WideImportError` naming every unknown question id, repeated column or
    question, and row that fills both or neither of ``question_id`` and
    ``participant_column``.
    """
    path = Path(path)
    df = read_table(path, ["column"])
    has_q, has_p = "question_id" in df.columns, "participant_column" in df.columns
    if not (has_q or has_p):
        raise WideImportError(f"{path}, line 1: needs a question_id column (and optionally "
                              f"participant_column); the header is "
                              f"column,question_id,participant_column")
    known = set(map(str, question_ids))
    problems: list[str] = []
    out = ColumnMap()
    seen_columns: dict[str, int] = {}
    seen_questions: dict[str, int] = {}
    for i, row in enumerate(df.to_dict("records")):
        line = df.attrs["lines"][i]
        column = row["column"]
        qid = row.get("question_id", "") if has_q else ""
        pcol = row.get("participant_column", "") if has_p else ""
        where = f"line {line}"
        if not column:
            problems.append(f"{where}: empty column name")
            continue
        if column in seen_columns:
            problems.append(f"{where}: column {column!r} already mapped on line "
                            f"{seen_columns[column]}")
            continue
        seen_columns[column] = line
        if bool(qid) == bool(pcol):
            problems.append(f"{where}: column {column!r} needs exactly one of question_id "
                            f"and participant_column")
        elif qid:
            if qid not in known:
                problems.append(f"{where}: question_id {qid!r} is not in the study's "
                                f"questions.csv")
            elif qid in seen_questions:
                problems.append(f"{where}: question_id {qid!r} already mapped on line "
                                f"{seen_questions[qid]}")
            else:
                seen_questions[qid] = line
                out.questions[column] = qid
        else:
            if not _PARTICIPANT_COLUMN.match(pcol) or pcol in _RESERVED:
                problems.append(f"{where}: participant_column {pcol!r} must be a lower-case "
                                f"name such as familiarity, field, visual_impairment or age "
                                f"(not participant_id, seed, question_order)")
            elif pcol in out.participant.values():
                problems.append(f"{where}: participant_column {pcol!r} is mapped twice")
            else:
                out.participant[column] = pcol
    if problems:
        raise WideImportError(f"{path}: " + "; ".join(problems))
    if not out.questions:
        raise WideImportError(f"{path}: maps no column to a question; add rows "
                              f"'COLUMN,QUESTION_ID,'")
    return out


# -- the plan --------------------------------------------------------------------------------
@dataclass
class WideImport:
    """What a table holds: each participant's self-assessment (``participants``: id →
    {participants.csv column: value}), their ``votes`` ({(id, question_id): "d-e"}) and
    the ``unreadable`` cells (left out)."""

    path: str
    participants: dict[str, dict[str, str]]
    votes: dict[tuple[str, str], str]
    unreadable: list[Cell]


def _read_cells(number: int, cells: dict[str, str], parsers: dict[str, tuple[str, Any]],
                unreadable: list[Cell]) -> dict[str, str]:
    """``{key: value}`` of the cells of row ``number`` that ``parsers`` (column → (key,
    parse)) read; blank cells are left out, unreadable ones appended to ``unreadable``."""
    out = {}
    for column, (key, parse) in parsers.items():
        try:
            value = parse(cells[column])
        except ValueError as e:
            unreadable.append(Cell(number, column, cells[column], str(e)))
            continue
        if value is not None:
            out[key] = value
    return out


def plan_wide_import(table: WideTable, mapping: ColumnMap, id_column: str) -> WideImport:
    """Read every mapped cell of ``table``: registrations, votes and unreadable cells.

    Raises :class:`WideImportError` when the id column or a mapped column is missing
    from the table (naming all of them), or an id is empty, unusable or repeated (naming
    the rows). Unreadable answers are collected, not raised (see :func:`apply_import`).
    """
    where = table.path
    missing = [c for c in [id_column, *mapping.questions, *mapping.participant]
               if c not in table.header]
    if missing:
        raise WideImportError(
            f"{where}: column(s) {', '.join(map(repr, missing))} not in the table (its "
            f"columns: {', '.join(map(repr, table.header[:12]))}"
            f"{', …' if len(table.header) > 12 else ''}); fix --id-column or the map")
    if id_column in mapping.questions or id_column in mapping.participant:
        raise WideImportError(f"{where}: the id column {id_column!r} is also in the map; "
                              f"remove it from the map")
    index = {c: table.header.index(c) for c in [id_column, *mapping.questions,
                                                 *mapping.participant]}
    id_problems: list[str] = []
    first_row: dict[str, int] = {}
    participants: dict[str, dict[str, str]] = {}
    votes: dict[tuple[str, str], str] = {}
    unreadable: list[Cell] = []
    for number, row in zip(table.row_numbers, table.rows):
        raw_id = row[index[id_column]]
        try:
            pid = check_participant_id(raw_id)
        except VoteError as e:
            id_problems.append(f"row {number}: {str(e).split(';')[0]}")
            continue
        if pid in first_row:
            id_problems.append(f"row {number}: participant {pid!r} already on row "
                               f"{first_row[pid]}")
            continue
        first_row[pid] = number
        cells = {c: row[index[c]] for c in [*mapping.participant, *mapping.questions]}
        participants[pid] = _read_cells(number, cells, {
            c: (key, _PARTICIPANT_PARSERS.get(key, _text))
            for c, key in mapping.participant.items()}, unreadable)
        answered = _read_cells(number, cells, {
            c: (qid, parse_pair) for c, qid in mapping.questions.items()}, unreadable)
        votes.update({(pid, qid): pair for qid, pair in answered.items()})
    order = {c: k for k, c in enumerate(table.header)}
    unreadable.sort(key=lambda c: (c.row, order[c.column]))
    if id_problems:
        raise WideImportError(f"{where}: participant ids in column {id_column!r} must be "
                              f"filled and unique: " + "; ".join(id_problems))
    return WideImport(where, participants, votes, unreadable)


@dataclass(frozen=True)
class ImportResult:
    """What an import did: participants and votes added, votes already there (skipped),
    and the cells left out (only with ``skip_unreadable``)."""

    participants_added: int
    votes_added: int
    votes_already_there: int
    left_out: tuple[Cell, ...] = ()


def apply_import(store, plan: WideImport, *, skip_unreadable: bool = False) -> ImportResult:
    """Write ``plan`` into ``store`` (a :class:`~simkit.votes.store.VoteStore`) in one
    transaction, or nothing.

    Raises :class:`UnreadableCells` when a cell could not be read (unless
    ``skip_unreadable``: those cells are left out and returned), and
    :class:`~simkit.votes.errors.VoteError` when a vote or self-assessment answer conflicts
    with one already in the store (nothing written). Identical votes are skipped.
    """
    if plan.unreadable and not skip_unreadable:
        raise UnreadableCells(plan.path, plan.unreadable)
    added = store.add_answers(plan.participants, plan.votes, source=plan.path)
    return ImportResult(added["participants"], added["votes"], added["identical"],
                        tuple(plan.unreadable))

