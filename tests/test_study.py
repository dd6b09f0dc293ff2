"""Study folders: loading, validation errors that say where and how to fix, saving."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simkit.study.model import (PAIRS, Study, StudyError, load_study, normalize_choice,
                                row_location, save_study)

Q = {"q1": ("G", ["i1", "i2", "i3", "i4", "i5"]), "q2": ("G", ["i6", "i7", "i8", "i9", "i10"])}
V = {"P1": {"q1": "a-b", "q2": "c-d"}, "P2": {"q1": "e-d", "q2": "a-e"}}


@pytest.fixture
def folder(write_study):
    return write_study(Q, V, {"P1": "no", "P2": "no"})


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def error_of(folder: Path) -> str:
    with pytest.raises(StudyError) as info:
        load_study(folder)
    return str(info.value)


@pytest.mark.parametrize("raw, canon", [("d-e", "d-e"), ("e-d", "d-e"), ("(e)-(d)", "d-e"),
                                        ("B - A", "a-b"), ("c,e", "c-e")])
def test_choices_in_any_order(raw, canon):
    assert normalize_choice(raw) == canon


@pytest.mark.parametrize("bad", ["a-a", "a-f", "ab-c", "", "a", "1-2"])
def test_malformed_choice(bad):
    with pytest.raises(ValueError, match="two different letters"):
        normalize_choice(bad)


def test_pairs_are_the_ten_in_order():
    assert PAIRS == ["a-b", "a-c", "a-d", "a-e", "b-c", "b-d", "b-e", "c-d", "c-e", "d-e"]


def test_loads_and_normalises(folder):
    study = load_study(folder)
    assert len(study.images) == 10 and len(study.questions) == 2
    assert study.responses["choice"].tolist() == ["a-b", "c-d", "d-e", "a-e"]
    assert study.question_images("q2") == ["i6", "i7", "i8", "i9", "i10"]
    assert study.image_path("i1") == folder / "images" / "i1.png"
    assert study.genres == ["G"] and study.valid_participants == ["P1", "P2"]
    assert "participants: 2 recruited, 2 valid, 0 excluded" in study.summary()


def test_image_paths_of_every_image_in_one_pass(folder, tmp_path):
    elsewhere = tmp_path / "elsewhere" / "i3.png"  # an absolute file is the user's choice
    edit(folder / "images.csv", "i3,images/i3.png", f"i3,{elsewhere}")
    study = load_study(folder)
    paths = study.image_paths()
    assert list(paths) == [f"i{k}" for k in range(1, 11)]  # images.csv order
    assert paths == {i: study.image_path(i) for i in study.images["image_id"]}
    assert paths["i1"] == folder / "images" / "i1.png" and paths["i3"] == elsewhere


def test_line_numbers_are_shared_not_copied_by_every_table_operation(folder):
    # pandas deep-copies attrs into every result: a plain list of lines made each
    # look-up in a big table cost a loop over all its rows
    images = load_study(folder).images
    part = images.loc[images["image_id"] == "i4"]
    assert part.attrs["lines"] is images.attrs["lines"]
    assert images.attrs["lines"] == list(range(2, 12)) and part.attrs["path"].endswith(
        "images.csv")
    assert row_location(images, 3).endswith("images.csv, line 5")


def test_utf8_bom_is_fine(folder):
    p = folder / "images.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    assert len(load_study(folder).images) == 10


def test_participants_file_is_optional(write_study):
    study = load_study(write_study(Q, V))
    assert study.valid_participants == ["P1", "P2"]


@pytest.mark.parametrize("file, old, new, expected", [
    ("questions.csv", "q2,G,i6", "q2,G,i99", ["questions.csv, line 3", "i99", "images.csv"]),
    ("responses.csv", "P1,q2,c-d", "P1,q9,c-d", ["responses.csv, line 3", "unknown question_id 'q9'"]),
    ("questions.csv", "i6,i7", "i6,i6", ["questions.csv, line 3", "'i6' appears twice", "5 distinct"]),
    ("questions.csv", "i9,i10", "i9,", ["questions.csv, line 3", "image_5 is empty"]),
    ("responses.csv", "P2,q1,e-d", "P2,q1,e-e", ["responses.csv, line 4", "'e-e'", "like 'd-e'"]),
    ("responses.csv", "P2,q2,a-e", "P2,q1,a-e", ["responses.csv, line 5", "answered question 'q1' twice", "line 4"]),
    ("responses.csv", "participant_id,", "participant,", ["responses.csv, line 1", "missing column(s) participant_id"]),
    ("images.csv", "i2,images", "i1,images", ["images.csv, line 3", "image_id 'i1' already used"]),
    ("responses.csv", "P2,q1", "P3,q1", ["responses.csv, line 4", "'P3' is not in participants.csv"]),
    ("participants.csv", "P2,no", "P2,maybe", ["participants.csv, line 3", "'maybe'", "yes/no"]),
    ("images.csv", "i3,images/i3.png,G", "i3,images/i3.png", ["images.csv, line 4", "2 values for 3 columns"]),
])
def test_validation_errors_name_file_line_and_value(folder, file, old, new, expected):
    edit(folder / file, old, new)
    message = error_of(folder)
    for part in expected:
        assert part in message


def test_empty_file(folder):
    (folder / "questions.csv").write_text("")
    assert "questions.csv: the file is empty" in error_of(folder)


def test_missing_file(folder):
    (folder / "responses.csv").unlink()
    assert "responses.csv: file not found" in error_of(folder)


def test_undecodable_text(folder):
    p = folder / "images.csv"
    p.write_bytes(p.read_bytes() + "i11,images/\u00e9.png,G\n".encode("latin-1"))
    message = error_of(folder)
    assert "images.csv, line 12" in message and "not UTF-8" in message


def test_not_a_folder(tmp_path):
    with pytest.raises(StudyError, match="not a folder"):
        load_study(tmp_path / "nope")


def test_bad_machine_choices(folder):
    (folder / "choices.csv").write_text("question_id,method,choice\nq1,Gram,a-b\n")
    assert "method 'Gram' is not a lower-case identifier" in error_of(folder)
    (folder / "choices.csv").write_text("question_id,method,choice\nq1,gram,a-b\nq1,gram,c-d\n")
    assert "choices.csv, line 3" in error_of(folder)
    other = folder / "mine.csv"
    other.write_text("question_id,method,choice\nq1,gram,b-a\nq2,gram,(e)-(d)\n")
    assert load_study(folder, choices=other).choices["choice"].tolist() == ["a-b", "d-e"]


def test_machine_choices_must_cover_every_question(folder):
    # A missing choice has no Ps or Agree; it must not be scored as 0 and averaged in.
    (folder / "choices.csv").write_text("question_id,method,choice\nq1,gram,a-b\n")
    msg = error_of(folder)
    assert "choices.csv: method 'gram' has no choice for 1 of 2 questions (q2)" in msg


def test_save_round_trip(folder, tmp_path):
    study = load_study(folder)
    out = save_study(study, tmp_path / "copy")
    (out / "images").symlink_to(folder / "images")
    again = load_study(out)
    pd.testing.assert_frame_equal(again.responses, study.responses)
    assert again.valid_participants == study.valid_participants


def test_saving_over_a_study_backs_up_what_it_replaces(folder):
    # Saving a study with fewer votes over its own folder must not lose the votes it held.
    before = (folder / "responses.csv").read_bytes()
    study = load_study(folder)
    fewer = study.responses[study.responses.participant_id != "P1"]
    save_study(Study(study.images, study.questions, fewer, study.participants, None, folder),
               folder)
    backups = list((folder / "backup").glob("responses-*.csv"))
    assert len(backups) == 1 and backups[0].read_bytes() == before
    assert "P1" not in (folder / "responses.csv").read_text()
    save_study(load_study(folder), folder)  # same content again: no new backup
    assert len(list((folder / "backup").glob("*.csv"))) == 1


def test_incomplete_and_impaired_participants(write_study):
    votes = {**V, "P3": {"q1": "a-b"}, "P4": {"q1": "a-b", "q2": "a-b"}}
    study = load_study(write_study(Q, votes, {"P1": "no", "P2": "false", "P3": "no", "P4": "TRUE"}))
    assert study.valid_participants == ["P1", "P2"]
    assert len(study.valid_responses) == 4
