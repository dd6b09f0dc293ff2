"""simkit import wide: Google-Forms-like and Qualtrics-like tables with messy answers."""
from __future__ import annotations

import csv

import pandas as pd
import pytest

from simkit.cli import main
from simkit.study.model import load_study
from simkit.votes.imports import parse_pair, read_wide
from simkit.votes.store import VoteStore

QUESTIONS = {f"q{k}": ("g", [f"i{k}{x}" for x in "abcde"]) for k in range(1, 5)}
GROUPS = ["Group 1", "Group 2", "Group 3", "Group 4"]

ACCEPTED = ["d-e", "(d)-(e)", "D and E", "e & d", "d, e", "d – e", "E-D", "(e)-(d)", "d e",
            "d/e", "Image D, Image E", "d—e"]
UNREADABLE = ["not sure", "a-a", "f-g", "a-b-c", "d", "de", "a, b, c", "?"]


@pytest.fixture
def study(write_study):
    return write_study(QUESTIONS, {})


def write_map(path, participant=True):
    rows = [("column", "question_id", "participant_column")]
    rows += [(g, f"q{k}", "") for k, g in enumerate(GROUPS, 1)]
    if participant:
        rows += [("How familiar are you with ukiyo-e?", "", "familiarity"),
                 ("Field", "", "field"), ("Visual impairment?", "", "visual_impairment")]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def write_table(path, rows, header=None, extra_header_rows=()):
    header = header or ["Timestamp", "Your code", *GROUPS,
                        "How familiar are you with ukiyo-e?", "Field", "Visual impairment?"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(extra_header_rows)
        w.writerows(rows)
    return path


def test_every_accepted_spelling_and_unreadable_answer():
    for text in ACCEPTED:
        assert parse_pair(text) == "d-e", text
    assert parse_pair("") is None and parse_pair("   ") is None and parse_pair(None) is None
    assert parse_pair("b と a") == "a-b" and parse_pair("(c)・(a)") == "a-c"
    for text in UNREADABLE:
        with pytest.raises(ValueError):
            parse_pair(text)


def google_rows():
    # p1 answers everything with messy spellings; p2 leaves q4 blank
    return [["2026/05/01 10:00", "p1", "(d)-(e)", "A and B", "e & c", "b, d", "3 · somewhat",
             "Art / design", "No"],
            ["2026/05/01 10:01", "p2", "d – e", "a-b", "C-E", "", "5", "Engineering", "yes"]]


def test_google_forms_table_into_the_store_and_export(study, tmp_path, capsys):
    table = write_table(tmp_path / "form.csv", google_rows())
    mapping = write_map(tmp_path / "map.csv")
    assert main(["import", "wide", str(table), str(study), "--id-column", "Your code",
                 "--map", str(mapping), "--export"]) == 0
    out = capsys.readouterr().out
    assert "added 2 participant(s) and 7 vote(s)" in out
    loaded = load_study(study)
    got = {(r.participant_id, r.question_id): r.choice for r in loaded.responses.itertuples()}
    assert got == {("p1", "q1"): "d-e", ("p1", "q2"): "a-b", ("p1", "q3"): "c-e",
                   ("p1", "q4"): "b-d", ("p2", "q1"): "d-e", ("p2", "q2"): "a-b",
                   ("p2", "q3"): "c-e"}
    people = loaded.participants.set_index("participant_id")
    assert people.loc["p1", ["familiarity", "field", "visual_impairment"]].tolist() == \
        ["3", "Art / design", "no"]
    assert people.loc["p2", "visual_impairment"] == "yes"
    # p2 skipped a question and p2 reported an impairment: only p1 counts
    assert loaded.valid_participants == ["p1"]

    # the same file again adds nothing; a changed answer is refused, nothing written
    assert main(["import", "wide", str(table), str(study), "--id-column", "Your code",
                 "--map", str(mapping)]) == 0
    assert "added 0 participant(s) and 0 vote(s); 7 vote(s) already" in capsys.readouterr().out
    rows = google_rows()
    rows[1][5] = "a-e"   # p2 now answers q4 (new) ...
    rows[0][2] = "a-b"   # ... but p1 changed q1 (conflict)
    write_table(table, rows)
    assert main(["import", "wide", str(table), str(study), "--id-column", "Your code",
                 "--map", str(mapping)]) == 2
    err = capsys.readouterr().err
    assert "'p1', question 'q1': 'a-b' but the store has 'd-e'" in err
    with VoteStore(study / "votes.sqlite") as store:
        assert "q4" not in store.answered("p2") and len(store.responses()) == 7


def test_unreadable_cells_all_listed_nothing_written_then_skipped(study, tmp_path, capsys):
    rows = google_rows()
    rows[0][3] = "not sure"         # row 2, Group 2
    rows[1][2] = "a-a"              # row 3, Group 1
    rows[1][5] = "f-g"              # row 3, Group 4
    rows[1][6] = "very"             # row 3, familiarity
    rows.insert(1, [])              # a blank line: row 3 of the spreadsheet, skipped
    table = write_table(tmp_path / "form.csv", rows)
    mapping = write_map(tmp_path / "map.csv")
    args = ["import", "wide", str(table), str(study), "--id-column", "Your code",
            "--map", str(mapping)]
    before = (study / "responses.csv").read_bytes()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "4 cell(s) cannot be read; nothing was imported" in err
    listed = [line.strip() for line in err.splitlines() if line.startswith("  row")]
    assert [line.split(":")[0] for line in listed] == [
        "row 2, column 'Group 2'", "row 4, column 'Group 1'", "row 4, column 'Group 4'",
        "row 4, column 'How familiar are you with ukiyo-e?'"]
    assert not (study / "votes.sqlite").exists()
    assert (study / "responses.csv").read_bytes() == before

    assert main([*args, "--skip-unreadable"]) == 0
    captured = capsys.readouterr()
    assert "left out 4 unreadable cell(s)" in captured.err and "'f-g'" in captured.err
    with VoteStore(study / "votes.sqlite") as store:
        assert store.answered("p1") == {"q1": "d-e", "q3": "c-e", "q4": "b-d"}
        assert store.answered("p2") == {"q2": "a-b", "q3": "c-e"}
        assert store.participant("p2")["familiarity"] is None


def test_qualtrics_export_with_its_extra_header_rows(study, tmp_path, capsys):
    header = ["StartDate", "ResponseId", "Q1", "Q2", "Q3", "Q4", "Q5"]
    extra = [["Start Date", "Response ID", "Group 1: pick two", "Group 2", "Group 3",
              "Group 4", "Colour blind?"],
             ['{"ImportId":"startDate"}', '{"ImportId":"_recordId"}', '{"ImportId":"QID1"}',
              '{"ImportId":"QID2"}', '{"ImportId":"QID3"}', '{"ImportId":"QID4"}',
              '{"ImportId":"QID5"}']]
    rows = [["2026-05-01", "R_abc", "(a),(b)", "c & d", "E and A", "b - c", "No"],
            ["2026-05-01", "R_def", "b, a", "maybe c", "", "c+b", "No"]]
    table = write_table(tmp_path / "qualtrics.csv", rows, header, extra)
    mapping = tmp_path / "map.csv"
    mapping.write_text("column,question_id,participant_column\nQ1,q1,\nQ2,q2,\nQ3,q3,\n"
                       "Q4,q4,\nQ5,,visual_impairment\n", encoding="utf-8")
    wide = read_wide(table)
    assert wide.skipped_header_rows == 2 and wide.row_numbers == [4, 5]
    args = ["import", "wide", str(table), str(study), "--id-column", "ResponseId",
            "--map", str(mapping)]
    assert main(args) == 2
    assert "row 5, column 'Q2': 'maybe c'" in capsys.readouterr().err
    assert main([*args, "--skip-unreadable"]) == 0
    with VoteStore(study / "votes.sqlite") as store:
        assert store.answered("R_abc") == {"q1": "a-b", "q2": "c-d", "q3": "a-e", "q4": "b-c"}
        assert store.answered("R_def") == {"q1": "a-b", "q4": "b-c"}


def test_xlsx_like_a_spreadsheet(study, tmp_path, capsys):
    pytest.importorskip("openpyxl")
    header = ["Timestamp", "Your code", *GROUPS, "How familiar are you with ukiyo-e?",
              "Field", "Visual impairment?"]
    rows = google_rows()
    rows[1][4] = "three"  # spreadsheet row 3, column Group 3
    pd.DataFrame(rows, columns=header).to_excel(tmp_path / "form.xlsx", index=False)
    mapping = write_map(tmp_path / "map.csv")
    args = ["import", "wide", str(tmp_path / "form.xlsx"), str(study), "--id-column",
            "Your code", "--map", str(mapping)]
    assert main(args) == 2
    assert "row 3, column 'Group 3': 'three'" in capsys.readouterr().err
    assert main([*args, "--skip-unreadable"]) == 0
    with VoteStore(study / "votes.sqlite") as store:
        assert store.answered("p1") == {"q1": "d-e", "q2": "a-b", "q3": "c-e", "q4": "b-d"}
        assert store.participant("p1")["familiarity"] == "3"


@pytest.mark.parametrize("change, message", [
    (lambda rows, m: m.replace("Group 2,q2", "Group 2,q9"), "question_id 'q9' is not in the"),
    (lambda rows, m: m.replace("Group 2,q2", "Group 7,q2"), "column(s) 'Group 7' not in the"),
    (lambda rows, m: m.replace("Group 2,q2", "Group 2,q1"), "question_id 'q1' already mapped"),
    (lambda rows, m: m.replace("Group 2,q2,", "Group 2,q2,familiarity"), "exactly one of"),
    (lambda rows, m: rows[1].__setitem__(1, "p1") or m, "row 3: participant 'p1' already on row 2"),
    (lambda rows, m: rows[1].__setitem__(1, "") or m, "row 3: participant_id '' is empty"),
])
def test_map_and_id_problems_are_named(study, tmp_path, capsys, change, message):
    rows = google_rows()
    text = write_map(tmp_path / "map.csv").read_text(encoding="utf-8")
    (tmp_path / "map.csv").write_text(change(rows, text), encoding="utf-8")
    table = write_table(tmp_path / "form.csv", rows)
    assert main(["import", "wide", str(table), str(study), "--id-column", "Your code",
                 "--map", str(tmp_path / "map.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (study / "votes.sqlite").exists()


def test_missing_id_column(study, tmp_path, capsys):
    table = write_table(tmp_path / "form.csv", google_rows())
    assert main(["import", "wide", str(table), str(study), "--id-column", "Email",
                 "--map", str(write_map(tmp_path / "map.csv"))]) == 2
    assert "column(s) 'Email' not in the table" in capsys.readouterr().err


def test_semicolon_and_utf16_tab_tables(tmp_path):
    (tmp_path / "semi.csv").write_text("\nCode;Group 1, the first;Group 2\np1;d, e;a-b\n\n"
                                       "p2;c & d;\n", encoding="utf-8")
    semi = read_wide(tmp_path / "semi.csv")
    assert semi.header == ["Code", "Group 1, the first", "Group 2"]
    assert semi.rows == [["p1", "d, e", "a-b"], ["p2", "c & d", ""]]
    assert semi.row_numbers == [3, 5]  # as a spreadsheet numbers them, blank rows counted
    (tmp_path / "excel.txt").write_bytes("Code\tGroup 1\r\np1\t(d)-(e)\r\n".encode("utf-16"))
    assert read_wide(tmp_path / "excel.txt").rows == [["p1", "(d)-(e)"]]


def test_yes_no_spellings_are_read_alike_by_import_and_store():
    # one list of spellings: an imported table and the store (questionnaire, serve) agree
    from simkit.votes.errors import VoteError
    from simkit.votes.imports import parse_yes_no
    from simkit.votes.participants import NO_SPELLINGS, YES_SPELLINGS, yes_no
    assert "はい" in YES_SPELLINGS and "いいえ" in NO_SPELLINGS
    for word, answer in [*((w, "yes") for w in YES_SPELLINGS),
                         *((w, "no") for w in NO_SPELLINGS)]:
        for text in (word, f" {word.upper()} "):
            assert parse_yes_no(text) == yes_no(text, "p") == answer
    assert parse_yes_no("  ") is None and yes_no(True, "p") == "yes"
    with pytest.raises(ValueError, match="not yes or no"):
        parse_yes_no("maybe")
    with pytest.raises(VoteError, match="'maybe'"):
        yes_no("maybe", "p")
