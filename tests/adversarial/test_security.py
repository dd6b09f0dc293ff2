"""Security: hostile ids, manifests, records and redirects never read or write outside the
folders given, and each gets a one-line answer with its exit status (issue 13).

A local HTTP server on 127.0.0.1 (the fake museum of tests/test_datasets.py) serves the
hostile answers; nothing else is contacted.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from test_datasets import _jpeg, museum  # noqa: F401  (museum is a fixture)

from simkit.cli import main
from simkit.fetch.http import Http, UnsafeUrlError, require_http
from simkit.paths import PathEscapeError, inside
from simkit.study.collection import CollectionError, load_collection, read_images
from simkit.study.model import Study

MET = "/public/collection/v1"
SEARCH = f"{MET}/search?q=ukiyo-e&hasImages=true&departmentId=6"


@pytest.fixture(autouse=True)
def _fast_cli(monkeypatch):
    # The parser asks importlib.metadata for simkit's version on every call (~1.5 s here);
    # these tests run the CLI many times and are about safety, not the version string.
    monkeypatch.setattr("simkit.cli.app.version", lambda: "test")


def snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int]]:
    """Every file and link under ``root`` (but ``skip``): size and modification time."""
    found = {}
    for dirpath, dirnames, files in os.walk(root):
        for name in dirnames + files:
            p = Path(dirpath) / name
            if skip is not None and (p == skip or skip in p.parents):
                continue
            st = p.lstat()
            found[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, *names: str) -> str:
    """The single ``error:`` line of ``err``, checked to name each of ``names``."""
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def _png(width: int, height: int, rows: int | None = None) -> bytes:
    """A black 1-bit PNG of ``width`` x ``height``, written by hand (fast at any size);
    ``rows``: how many rows of pixel data it really holds (fewer: a decompression bomb's
    small file declaring a huge image)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    pixels = zlib.compress(row * (height if rows is None else rows), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height,
                                                                1, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def _met(museum, objects: dict[str, dict]) -> str:
    """The Met's search and object records, as given (oid -> record fields)."""
    museum.json[SEARCH] = {"total": len(objects), "objectIDs": list(objects)}
    for oid, rec in objects.items():
        museum.json[f"{MET}/objects/{oid}"] = {
            "objectID": oid, "isPublicDomain": True, "title": f"Print {oid}",
            "artistDisplayName": "Anon", "objectDate": "1800", "objectBeginDate": 1800,
            "objectURL": f"{museum.base}/art/{oid}", "tags": [], **rec}
    return f"{museum.base}{MET}"


def _fetch(base: str, out: Path, capsys) -> tuple[int, str, str]:
    return run_cli(["fetch", "met-ukiyoe", "--out", out, "--base-url", base, "--rate", "0",
                    "--retries", "1"], capsys)


# -- network reads: http(s) only ---------------------------------------------------------------
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/manifest.json",
                                 "data:application/json,{}", "/etc/passwd"])
def test_iiif_manifest_must_be_http(url, tmp_path, capsys):
    before = snapshot(tmp_path)
    code, out, err = run_cli(["fetch", f"iiif:{url}", "--out", tmp_path / "c"], capsys)
    assert code == 2
    one_line_error(err, repr(url), "http")
    assert snapshot(tmp_path) == before, "nothing may be written"


def test_base_url_must_be_http(tmp_path, capsys):
    code, _, err = run_cli(["fetch", "met-ukiyoe", "--out", tmp_path / "c", "--base-url",
                            "file:///etc"], capsys)
    assert code == 2
    one_line_error(err, "--base-url", "'file:///etc'")
    assert not (tmp_path / "c").exists()


def test_http_client_refuses_other_schemes_before_asking():
    http = Http(min_interval=0)
    for url in ("file:///etc/passwd", "ftp://example.org/x", "gopher://x", "http:///nohost"):
        with pytest.raises(UnsafeUrlError, match="only http"):
            http.get_json(url)
    assert http.requests == 0
    assert require_http("https://example.org/x") == "https://example.org/x"


def test_hostile_image_urls_and_redirects(museum, tmp_path, capsys):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(_jpeg((1, 2, 3), (40, 40)))
    good = f"{museum.base}/img/good.jpg"
    museum.images["/img/good.jpg"] = _jpeg((200, 10, 10), (40, 56))
    museum.redirects["/img/to-file.jpg"] = f"file://{secret}"
    museum.redirects["/img/to-ftp.jpg"] = "ftp://127.0.0.1/x.jpg"
    base = _met(museum, {
        "1": {"primaryImageSmall": f"file://{secret}"},
        "2": {"primaryImageSmall": "ftp://127.0.0.1/x.jpg"},
        "3": {"primaryImageSmall": f"{museum.base}/img/to-file.jpg"},
        "4": {"primaryImageSmall": f"{museum.base}/img/to-ftp.jpg"},
        "5": {"primaryImageSmall": good}})
    out = tmp_path / "col"
    before = snapshot(tmp_path, skip=out)
    code, stdout, err = _fetch(base, out, capsys)
    assert code == 1 and "Traceback" not in err
    assert snapshot(tmp_path, skip=out) == before
    failed = pd.read_csv(out / "failed.csv", dtype=str).set_index("image_id")
    assert sorted(failed.index) == ["met-1", "met-2", "met-3", "met-4"]
    assert failed["reason"].str.contains("only http").all()
    assert "file://" in failed.loc["met-3", "reason"]
    assert "ftp://" in failed.loc["met-4", "reason"]
    df = pd.read_csv(out / "images.csv", dtype=str)
    assert list(df["image_id"]) == ["met-5"]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["met-5.jpg"]
    assert "failed: 4" in stdout


# -- untrusted image bytes: verified before they are kept ----------------------------------
def test_hostile_image_bytes_are_refused_and_not_kept(museum, tmp_path, capsys):
    jpeg = _jpeg((10, 200, 10), (64, 64))
    bodies = {"bomb": _png(100_000, 100_000, rows=1), "huge": _png(12000, 9000),
              "truncated": jpeg[:len(jpeg) // 2],
              "html": b"<!doctype html><html><body>Not found</body></html>",
              "tiny": _jpeg((1, 1, 1), (8, 8)), "good": jpeg}
    for name, body in bodies.items():
        museum.images[f"/img/{name}.jpg"] = body
    base = _met(museum, {name: {"primaryImageSmall": f"{museum.base}/img/{name}.jpg"}
                         for name in bodies})
    out = tmp_path / "col"
    before = snapshot(tmp_path, skip=out)
    code, stdout, err = _fetch(base, out, capsys)
    assert code == 1 and "Traceback" not in err
    assert snapshot(tmp_path, skip=out) == before
    failed = pd.read_csv(out / "failed.csv", dtype=str).set_index("image_id")["reason"]
    assert sorted(failed.index) == sorted(f"met-{n}" for n in bodies if n != "good")
    assert "decompression-bomb" in failed["met-bomb"]
    assert "decompression-bomb" in failed["met-huge"]   # 108 MP > simkit's 100 MP
    assert "corrupt" in failed["met-truncated"]
    assert "HTML" in failed["met-html"]
    assert "at least 32 px" in failed["met-tiny"]
    assert all(f"{museum.base}/img/" in why for why in failed), "named by URL, not .part"
    assert sorted(p.name for p in (out / "images").iterdir()) == ["met-good.jpg"]
    # a rerun gets past the bad items again, and keeps the good one
    code, stdout, _ = _fetch(base, out, capsys)
    assert code == 1 and "1 already here" in stdout


def test_oversized_download_is_refused(museum, tmp_path):
    from simkit.fetch.collection import fetch_collection
    museum.images["/img/big.jpg"] = _jpeg((5, 5, 5), (400, 400)) + b"\0" * 5000
    base = _met(museum, {"1": {"primaryImageSmall": f"{museum.base}/img/big.jpg"}})
    http = Http(min_interval=0, retries=0, max_bytes=4000)
    report = fetch_collection("met-ukiyoe", tmp_path / "c", base_url=base, http=http,
                              progress=False)
    assert "more than the limit of 4,000" in report.failed[0][1]
    assert not list((tmp_path / "c" / "images").iterdir())


# -- names built from museum ids stay inside the collection -----------------------------------
def test_hostile_museum_ids_and_titles(museum, tmp_path, capsys):
    img = f"{museum.base}/img/p.jpg"
    museum.images["/img/p.jpg"] = _jpeg((9, 9, 9), (40, 40))
    ids = ["../../x", "/etc/passwd", "a\x00b", "z" * 400, "..", "%2e%2e"]
    base = _met(museum, {str(k): {"objectID": oid, "title": oid, "primaryImageSmall": img}
                         for k, oid in enumerate(ids)})
    museum.json[SEARCH]["objectIDs"].append("../../../etc/passwd\x00")  # quoted, then 404
    out = tmp_path / "col"
    before = snapshot(tmp_path, skip=out)
    code, stdout, err = _fetch(base, out, capsys)
    assert code == 1 and "Traceback" not in err and "HTTP 404" in stdout
    assert snapshot(tmp_path, skip=out) == before
    df = pd.read_csv(out / "images.csv", dtype=str, keep_default_na=False)
    assert len(df) == len(ids)
    for f in df["file"]:
        p = (out / f).resolve()
        assert p.parent == (out / "images").resolve() and len(p.name) < 100 and "\0" not in f
    assert list(df["title"])[:2] == ids[:2]  # titles are kept as text, never used as names


# -- study new --copy-images: ids and collection paths ----------------------------------------
def _collection(root: Path, ids: list[str], files: list[str] | None = None) -> Path:
    (root / "images").mkdir(parents=True)
    rows = []
    for k, i in enumerate(ids):
        f = files[k] if files else f"images/p{k}.jpg"
        if not files:
            Image.new("RGB", (40, 40), (k * 20, 0, 0)).save(root / f)
        rows.append({"image_id": i, "file": f, "genre": "A"})
    pd.DataFrame(rows).to_csv(root / "images.csv", index=False)
    return root


@pytest.mark.parametrize("hostile", ["../../x", "../../../../../../tmp/x", "/abs/x"])
def test_study_new_copy_images_hostile_id(hostile, tmp_path, capsys):
    col = _collection(tmp_path / "col", ["a", "b", "c", "d", hostile])
    out = tmp_path / "study"
    before = snapshot(tmp_path, skip=out)
    code, _, err = run_cli(["study", "new", col, "--out", out, "--per-genre", "1",
                            "--copy-images"], capsys)
    assert code == 2
    one_line_error(err, "image id", hostile)
    assert snapshot(tmp_path, skip=out) == before
    assert not (out / "questions.csv").exists()


def test_study_new_copy_images_into_symlinked_folder(tmp_path, capsys):
    col = _collection(tmp_path / "col", list("abcde"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "study"
    out.mkdir()
    (out / "images").symlink_to(elsewhere)  # a link out of --out
    code, _, err = run_cli(["study", "new", col, "--out", out, "--per-genre", "1",
                            "--copy-images"], capsys)
    assert code == 2
    one_line_error(err, "outside")
    assert not list(elsewhere.iterdir())


@pytest.mark.parametrize("kind", ["symlink", "dotdot"])
def test_collection_file_escaping_its_folder(kind, tmp_path, capsys):
    secret = tmp_path / "secret.jpg"
    Image.new("RGB", (40, 40)).save(secret)
    col = _collection(tmp_path / "col", list("abcde"),
                      [f"images/p{k}.jpg" for k in range(4)] + ["images/link.jpg"])
    for k in range(4):
        Image.new("RGB", (40, 40)).save(col / f"images/p{k}.jpg")
    if kind == "symlink":
        (col / "images" / "link.jpg").symlink_to(secret)
    else:
        df = pd.read_csv(col / "images.csv")
        df.loc[4, "file"] = "images/../../secret.jpg"
        df.to_csv(col / "images.csv", index=False)
    out = tmp_path / "study"
    before = snapshot(tmp_path, skip=out)
    code, _, err = run_cli(["study", "new", col, "--out", out, "--per-genre", "1",
                            "--copy-images"], capsys)
    assert code == 2
    one_line_error(err, "images.csv, line 6", "outside")
    assert snapshot(tmp_path, skip=out) == before
    with pytest.raises(CollectionError, match="line 6: file .* leads outside"):
        load_collection(col)
    with pytest.raises(CollectionError, match="outside"):
        read_images(col)


def test_study_image_path_confined_absolute_allowed(tmp_path):
    images = pd.DataFrame({"image_id": ["in", "up", "abs", "nul"],
                           "file": ["images/a.jpg", "../x.jpg", "/data/x.jpg", "a\0b"],
                           "genre": ["A"] * 4})
    st = Study.__new__(Study)  # only image_path is exercised: no validation needed
    st.images, st.root = images, tmp_path
    assert st.image_path("in") == tmp_path / "images" / "a.jpg"
    assert st.image_path("abs") == Path("/data/x.jpg")
    with pytest.raises(PathEscapeError, match="'../x.jpg' leads outside"):
        st.image_path("up")
    with pytest.raises(PathEscapeError, match="NUL"):
        st.image_path("nul")


def test_inside_helper(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "out").symlink_to(tmp_path)
    (tmp_path / "root" / "loop").symlink_to(tmp_path / "root" / "loop")
    assert inside(tmp_path / "root", "a/b.jpg") == tmp_path / "root" / "a" / "b.jpg"
    for bad, why in [("../x", "outside"), ("/x", "absolute"), ("out/x", "outside"),
                     ("", "not a usable"), ("x\0", "NUL"), ("n" * 300, "longer than"),
                     ("loop/x", "loop")]:
        with pytest.raises(PathEscapeError, match=why):
            inside(tmp_path / "root", bad, what="image id")
