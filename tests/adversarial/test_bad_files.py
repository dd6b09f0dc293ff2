"""Bad and unusual files: the CSV reader and ``simkit validate``'s image checks.

Every bad input gets one line naming the file (and line, image id or value) and exit 2,
never a traceback or a hang; unusual but valid input is read exactly.
"""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import simkit.cli.app as cli
from simkit.study.model import FIELD_LIMIT, StudyError, load_study, read_table
from simkit.study.validate import check_image_files

Q = {"q1": ("G", ["i1", "i2", "i3", "i4", "i5"])}
V = {"P1": {"q1": "a-b"}, "P2": {"q1": "d-e"}}
HEADER = "image_id,file,genre,title"


@pytest.fixture
def folder(write_study):
    """A valid study whose five images exist (32 x 32 PNG files)."""
    root = write_study(Q, V, {"P1": "no", "P2": "no"})
    (root / "images").mkdir()
    for i in range(1, 6):
        Image.new("RGB", (32, 32), (i * 40, 0, 0)).save(root / "images" / f"i{i}.png")
    return root


def images_csv(root: Path, *rows: str, raw: bytes | None = None) -> Path:
    """Replace images.csv with ``rows`` (after the header) or with ``raw`` bytes."""
    path = root / "images.csv"
    path.write_bytes(raw if raw is not None else
                     "\n".join([HEADER, *rows, ""]).encode("utf-8"))
    return path


def good_rows(**titles: str) -> list[str]:
    return [f"i{i},images/i{i}.png,G,{titles.get(f'i{i}', 'plain')}" for i in range(1, 6)]


def refused(root: Path) -> str:
    """The one-line message ``load_study`` gives (also checks the CLI: exit 2, no traceback)."""
    with pytest.raises(StudyError) as info:
        load_study(root)
    msg = str(info.value)
    assert "\n" not in msg
    err = io.StringIO()
    with contextlib.redirect_stderr(err):  # any exception but SimkitError would escape
        assert cli.main(["validate", str(root)]) == 2
    assert err.getvalue() == f"error: {msg}\n"
    return msg


# -- unusual but valid: read exactly ---------------------------------------------------------
@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\u0085", "\f", "\v", "\x1c", "\x1d",
                                  "\x1e"], ids=["U+2028", "U+2029", "U+0085", "FF", "VT",
                                                "FS", "GS", "RS"])
def test_unicode_line_breaks_are_text(folder, char):
    # str.splitlines() ends lines at these; a CSV record ends only at \r, \n or \r\n.
    images_csv(folder, *good_rows(i3=f"wave{char}and sky"))
    study = load_study(folder)
    assert study.images.loc[2, "title"] == f"wave{char}and sky"
    assert study.images.attrs["lines"] == [2, 3, 4, 5, 6]


def test_quoted_line_breaks_are_kept_and_lines_stay_right(folder):
    rows = good_rows()
    rows[1] = 'i2,images/i2.png,G,"two\nlines, and ""quotes"""'
    rows[2] = 'i3,images/i3.png,G,"crlf\r\ninside"'
    images_csv(folder, *rows)
    study = load_study(folder)
    assert study.images.loc[1, "title"] == 'two\nlines, and "quotes"'
    assert study.images.loc[2, "title"] == "crlf\r\ninside"
    # each row's line is where its record starts, counting the lines inside quotes
    assert study.images.attrs["lines"] == [2, 3, 5, 7, 8]
    rows.append("i5,images/i5.png,G,again")  # a repeated id after two multi-line records
    images_csv(folder, *rows)
    assert refused(folder).startswith(f"{folder / 'images.csv'}, line 9: image_id 'i5' "
                                      f"already used on line 8")


def test_crlf_and_old_mac_line_ends(folder):
    for end in ("\r\n", "\r"):
        images_csv(folder, raw=end.join([HEADER, *good_rows(), ""]).encode())
        assert load_study(folder).images["title"].tolist() == ["plain"] * 5


def test_a_value_up_to_the_field_limit_is_read(folder):
    images_csv(folder, *good_rows(i4="x" * FIELD_LIMIT))
    assert len(load_study(folder).images.loc[3, "title"]) == FIELD_LIMIT


# -- bad CSV files: one line naming the file and line ----------------------------------------
def test_a_value_over_the_field_limit(folder):
    images_csv(folder, *good_rows(i4="x" * (FIELD_LIMIT + 1)))
    assert refused(folder) == (
        f"{folder / 'images.csv'}, line 5: a value is longer than 131,072 characters; check "
        f"for a quote (\") that is opened and never closed")


def test_an_unclosed_quote(folder):
    rows = good_rows()
    rows[1] = 'i2,images/i2.png,G,"never closed'
    images_csv(folder, *rows)
    msg = refused(folder)
    assert msg.startswith(f"{folder / 'images.csv'}, line 3: malformed CSV (unexpected end "
                          f"of data)")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16"])
@pytest.mark.parametrize("title", ["plain", "神奈川沖浪裏 " * 40], ids=["ascii", "japanese"])
def test_utf16_is_named(folder, encoding, title):
    text = "\n".join([HEADER, *good_rows(i1=title, i2=title, i3=title), ""])
    images_csv(folder, raw=text.encode(encoding))  # "utf-16" writes a BOM
    assert refused(folder) == (f"{folder / 'images.csv'}: is not UTF-8 text (looks like "
                               f"UTF-16); save it as UTF-8 CSV (\"CSV UTF-8\" in a spreadsheet)")


def test_a_binary_file(folder):
    Image.new("RGB", (8, 8)).save(folder / "images.csv", format="PNG")
    assert refused(folder) == (f"{folder / 'images.csv'}: is not UTF-8 text (looks like a "
                               f"binary file); give a CSV file saved as UTF-8")


def test_latin1_names_the_line(folder):
    images_csv(folder, raw="\n".join([HEADER, *good_rows(i2="café"), ""]).encode("latin-1"))
    assert refused(folder).startswith(f"{folder / 'images.csv'}, line 3: byte 0xe9 is not "
                                      f"UTF-8 text")


def test_a_nul_byte_in_a_path(folder):
    rows = good_rows()
    rows[2] = "i3,images/i3\0.png,G,plain"
    images_csv(folder, *rows)
    assert refused(folder) == (f"{folder / 'images.csv'}, line 4: contains a NUL byte (\\0), "
                               f"which no study value may hold; remove it (the file may be "
                               f"damaged)")


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", b"\xef\xbb\xbf"],
                         ids=["empty", "blank-lines", "bom-only"])
def test_an_empty_file(folder, content):
    images_csv(folder, raw=content)
    assert refused(folder) == (f"{folder / 'images.csv'}: the file is empty; it needs a "
                               f"header line with image_id, file, genre")


def test_images_csv_is_a_folder(folder):
    (folder / "images.csv").unlink()
    (folder / "images.csv").mkdir()
    assert refused(folder).startswith(f"{folder / 'images.csv'}: is a folder, not a CSV file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_images_csv_is_a_fifo_and_does_not_hang(folder):
    (folder / "images.csv").unlink()
    os.mkfifo(folder / "images.csv")
    assert refused(folder).startswith(f"{folder / 'images.csv'}: is not a regular file")


def test_too_few_values_names_the_line(folder):
    rows = good_rows()
    rows[3] = "i4,images/i4.png,G"
    images_csv(folder, *rows)
    assert refused(folder).startswith(f"{folder / 'images.csv'}, line 5: 3 values for 4 columns")


def test_read_table_is_the_same_reader_for_any_csv(tmp_path):
    path = tmp_path / "metadata.csv"
    path.write_text('filename,note\na.png,"x\u2028y"\n', encoding="utf-8")
    assert read_table(path, ["filename"]).loc[0, "note"] == "x\u2028y"


# -- simkit validate: every image file -------------------------------------------------------
def bad_images(folder: Path, tmp_path: Path) -> dict[str, str]:
    """Make images i1..i5 of ``folder`` bad in several ways; return id → expected reason."""
    img = folder / "images"
    (img / "i1.png").unlink()                                    # missing
    (img / "i2.png").unlink()
    (img / "i2.png").mkdir()                                     # a folder
    (img / "i3.png").write_text("<html>not found</html>")        # not an image
    (img / "i4.png").write_bytes(b"")                            # empty
    Image.new("RGB", (8, 8)).save(img / "i5.png")                # too small
    return {"i1": "not found", "i2": "is a folder", "i3": "is not an image Pillow can read",
            "i4": "is empty (0 bytes)", "i5": "both sides must be at least 32 px"}


def test_validate_names_every_bad_image_by_id_and_line(folder, tmp_path, capsys):
    expected = bad_images(folder, tmp_path)
    problems = check_image_files(load_study(folder))
    assert [p.image_id for p in problems] == list(expected)
    for line, (p, (image_id, reason)) in enumerate(zip(problems, expected.items()), start=2):
        assert p.location == f"{folder / 'images.csv'}, line {line}"
        assert reason in p.reason, (image_id, p.reason)
    assert cli.main(["validate", str(folder)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:5] == [f"error: {p}" for p in problems]
    assert err[5] == "error: 5 of 5 image file(s) cannot be used; fix the lines above"


def test_validate_passes_good_images_and_an_absolute_path(folder, tmp_path, capsys):
    outside = tmp_path / "elsewhere.png"
    Image.new("RGB", (40, 40)).save(outside)
    rows = good_rows()
    rows[0] = f"i1,{outside},G,plain"  # absolute paths are allowed by design
    images_csv(folder, *rows)
    assert check_image_files(load_study(folder)) == []
    assert cli.main(["validate", str(folder)]) == 0
    assert "image files: all 5 found and readable" in capsys.readouterr().out


def test_validate_refuses_paths_outside_the_study(folder, tmp_path):
    Image.new("RGB", (40, 40)).save(tmp_path / "out.png")
    (folder / "images" / "link.png").symlink_to(tmp_path / "out.png")
    rows = good_rows()
    rows[0] = "i1,../out.png,G,plain"
    rows[1] = "i2,images/link.png,G,plain"  # a link that leads out: checked resolved
    rows[2] = "i3,,G,plain"
    images_csv(folder, *rows)
    problems = {p.image_id: p.reason for p in check_image_files(load_study(folder))}
    assert set(problems) == {"i1", "i2", "i3"}
    assert "lies outside the study folder" in problems["i1"]
    assert "lies outside the study folder" in problems["i2"]
    assert problems["i3"].startswith("the file cell is empty")


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(),
                    reason="needs FIFOs and /dev/zero")
def test_validate_does_not_open_fifos_or_devices(folder):
    img = folder / "images"
    (img / "i1.png").unlink()
    os.mkfifo(img / "i1.png")
    (img / "i2.png").unlink()
    (img / "i2.png").symlink_to("/dev/zero")
    rows = good_rows()
    images_csv(folder, *rows)
    # an absolute path to a device is refused as well
    rows[2] = "i3,/dev/zero,G,plain"
    images_csv(folder, *rows)
    problems = {p.image_id: p.reason for p in check_image_files(load_study(folder))}
    assert "is not a regular file" in problems["i1"]
    assert set(problems) >= {"i1", "i2", "i3"}
    assert "is not a regular file" in problems["i3"]


def test_validate_applies_the_pixel_limit(folder):
    problems = check_image_files(load_study(folder), max_pixels=1000)
    assert len(problems) == 5
    assert "32x32 = 1,024 pixels exceeds the limit of 1,000 pixels" in problems[0].reason


def test_validate_fourteen_bad_images_all_named(write_study, capsys):
    questions = {f"q{k}": ("G", [f"i{k}{c}" for c in "abcde"]) for k in range(3)}
    root = write_study(questions, {"P1": {q: "a-b" for q in questions}})
    # no image exists: all 15 are named, none left out as "and N more"
    assert cli.main(["validate", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.count("not found") == 15
    assert "line 16" in err and "image 'i2e'" in err


def test_the_console_command_exits_2_without_a_traceback(folder):
    images_csv(folder, raw="\n".join([HEADER, *good_rows(), ""]).encode("utf-16-le"))
    r = subprocess.run([sys.executable, "-m", "simkit", "validate", str(folder)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "looks like UTF-16" in r.stderr
