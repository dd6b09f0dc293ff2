"""Study CSV tables read strictly, each row keeping the line it starts on for messages.

:func:`read_table` reads a UTF-8 CSV file as a table of strings and refuses, in one line
naming the file and line, what would otherwise be read wrongly (UTF-16 or binary files,
malformed quoting, ragged rows); :func:`row_location` names a row's file and line.
:class:`StudyError` is the error of every study file (:mod:`simkit.study.model` re-exports
all of these).
"""
from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import pandas as pd

from simkit.errors import SimkitError

__all__ = ["StudyError", "FIELD_LIMIT", "read_table", "row_location"]

#: The longest value a study CSV may hold (the csv module's default limit, which simkit
#: does not raise: the limit is process-wide, and no id, path or title comes near it).
FIELD_LIMIT = 131_072


class StudyError(SimkitError, ValueError):
    """A study folder (or a value in it) is invalid; the message says where and how to fix it."""


class _Lines(list):
    """The line numbers of a table's rows (``df.attrs["lines"]``), written once and never
    changed: pandas deep-copies ``attrs`` into the result of every operation on the table,
    which for a plain list costs a Python loop over every row, each time (most of the
    time of a per-image look-up in a large images.csv); this list is shared instead."""

    def __deepcopy__(self, memo: dict) -> "_Lines":
        return self


def read_table(path: str | os.PathLike, required: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV file as a table of strings (stripped), checked as study files are.

    UTF-8 (a BOM is fine), a header with the ``required`` columns and no duplicates, the
    same number of values on every record; blank lines are skipped. Only ``\\r``, ``\\n``
    and ``\\r\\n`` end a record: a quoted value keeps its line breaks, and U+2028, U+0085
    or a form feed are ordinary text. A value holds up to :data:`FIELD_LIMIT` characters.
    The line where each row starts is kept in ``df.attrs["lines"]`` for later messages.
    Raises :class:`StudyError`, one line naming the file (and line) and how to fix it.
    """
    path = Path(path)
    rows = _records(path, _decode(path, _read_bytes(path)))
    if not rows:
        raise StudyError(f"{path}: the file is empty; it needs a header line with "
                         f"{', '.join(required)}")
    header = [h.strip() for h in rows[0][1]]
    missing = [c for c in required if c not in header]
    if missing:
        raise StudyError(f"{path}, line {rows[0][0]}: missing column(s) {', '.join(missing)}; "
                         f"the header must include {', '.join(required)} "
                         f"(found: {', '.join(header) or 'nothing'})")
    dup = [h for h in header if header.count(h) > 1]
    if dup:
        raise StudyError(f"{path}, line {rows[0][0]}: column {dup[0]!r} appears twice; "
                         f"rename one")
    body, lines = [], []
    for lineno, row in rows[1:]:
        if len(row) != len(header):
            raise StudyError(f"{path}, line {lineno}: {len(row)} values for {len(header)} "
                             f"columns; check for a missing or extra comma")
        body.append([cell.strip() for cell in row])
        lines.append(lineno)
    df = pd.DataFrame(body, columns=header, dtype=str) if body else pd.DataFrame(
        {h: pd.Series(dtype=str) for h in header})
    df.attrs["lines"] = _Lines(lines)
    df.attrs["path"] = str(path)
    return df


def _read_bytes(path: Path) -> bytes:
    # stat before open: opening a FIFO would block forever, a folder cannot be read.
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise StudyError(f"{path}: file not found") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise StudyError(f"{path!s:.200}: cannot read the file ({e})") from None
    if stat.S_ISDIR(mode):
        raise StudyError(f"{path}: is a folder, not a CSV file; remove or rename the folder "
                         f"and save the table there as a CSV file")
    if not stat.S_ISREG(mode):
        raise StudyError(f"{path}: is not a regular file (a pipe, socket or device); "
                         f"save the table as an ordinary CSV file")
    try:
        return path.read_bytes()
    except OSError as e:
        raise StudyError(f"{path}: cannot read the file ({e.strerror or e}); check that it "
                         f"is readable") from None


def _decode(path: Path, raw: bytes) -> str:
    """The text of a CSV file; UTF-16 and binary files are named as such."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or _looks_utf16(raw):
        raise StudyError(f"{path}: is not UTF-8 text (looks like UTF-16); save it as "
                         f"UTF-8 CSV (\"CSV UTF-8\" in a spreadsheet)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if b"\0" in raw:
            raise StudyError(f"{path}: is not UTF-8 text (looks like a binary file); "
                             f"give a CSV file saved as UTF-8") from None
        line = raw[: e.start].count(b"\n") + 1
        raise StudyError(f"{path}, line {line}: byte {raw[e.start]:#04x} is not UTF-8 text; "
                         f"save the file as UTF-8 (CSV UTF-8 in a spreadsheet)") from None
    if "\0" in text:
        line = text[: text.index("\0")].count("\n") + 1
        raise StudyError(f"{path}, line {line}: contains a NUL byte (\\0), which no study "
                         f"value may hold; remove it (the file may be damaged)")
    return text


def _looks_utf16(raw: bytes) -> bool:
    # Each ASCII character of UTF-16 text (the header, ids, paths) has a NUL on the same
    # side of its two bytes; binary files have NULs on both sides.
    head = raw[:4096]
    half = len(head) // 2
    zeros = sorted((head[0::2].count(0), head[1::2].count(0)))
    return half >= 2 and zeros[1] >= 0.1 * half and zeros[0] <= 0.02 * half


def _records(path: Path, text: str) -> list[tuple[int, list[str]]]:
    """``(line where it starts, values)`` of each non-blank record of a CSV text."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):  # blank lines are harmless
                records.append((start, row))
            start = reader.line_num + 1
    except csv.Error as e:
        if "field limit" in str(e):
            raise StudyError(f"{path}, line {start}: a value is longer than {FIELD_LIMIT:,} "
                             f"characters; check for a quote (\") that is opened and never "
                             f"closed") from None
        raise StudyError(f"{path}, line {start}: malformed CSV ({e}); a value that holds "
                         f"commas, quotes or line breaks must be quoted like \"a, \"\"b\"\"\"")\
            from None
    return records


def row_location(df: pd.DataFrame, i: int) -> str:
    """``"FILE, line N"`` of row ``i`` of a table read by :func:`read_table` (for messages)."""
    return f"{df.attrs.get('path', 'table')}, line {df.attrs.get('lines', [])[i] if df.attrs.get('lines') else i + 2}"
