"""Tracebacks: every user error is one line on stderr, naming what to fix, and exit 2.

Bad option values, output paths of the wrong kind, unusable cache folders, full disks and
malformed paths, each through ``simkit.cli.main`` in this process (fast: a tiny demo study,
``--weights random:0 --size 32``). Faults (a read-only cache, a full disk) are injected by
monkeypatching, since the tests run as root, for whom ``chmod`` does not bite.
"""
from __future__ import annotations

import errno
import os
import re
from pathlib import Path

import numpy as np
import pytest

import simkit.cli.app as cli

FAST = ["--weights", "random:0", "--size", "32"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from simkit.study.demo import make_demo_study
    folder = tmp_path_factory.mktemp("s") / "study"
    make_demo_study(folder, groups_per_genre=1, image_size=64)
    return folder


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder\n")
    return path


def stderr_lines(err: str) -> list[str]:
    """The lines of stderr without progress bars (tqdm redraws its line with ``\r``)."""
    lines = [line.rsplit("\r", 1)[-1] for line in err.splitlines()]
    return [line for line in lines if line.strip() and not PROGRESS.search(line)]


PROGRESS = re.compile(r"\d+%\|.*\| \d+/\d+ ")


def one_line_error(capsys, rc: int, *named: str) -> str:
    """Assert the clean refusal: exit 2, one line ``error: …`` naming each of ``named``."""
    err = capsys.readouterr().err
    lines = stderr_lines(err)
    assert rc == 2, err
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    for name in named:
        assert name in lines[0], (name, err)
    return lines[0]


# -- bad option values ----------------------------------------------------------------------
@pytest.mark.parametrize("command", ["features", "index"])
def test_an_unknown_layer_names_it_once_and_the_valid_ones(study, tmp_path, capsys, command):
    if command == "index":
        pytest.importorskip("zarr")
    extra = ["--out", str(tmp_path / "f.npz")] if command == "features" else ["--workers", "0"]
    rc = cli.main([command, str(study), *extra, *FAST, "--layer", "conv9_9",
                   "--cache-dir", str(tmp_path / "cache")])
    err = one_line_error(capsys, rc, "conv9_9", "conv5_1", "conv1_1")
    assert err.count("conv9_9") == 1


# -- output paths of the wrong kind: refused before any work -------------------------------
@pytest.mark.parametrize("argv, named", [
    (["features", "{study}", "--out", "{tmp}"], ["--out", "{tmp} is a folder"]),
    (["features", "{study}", "--out", "{file}/f.npz"], ["--out", "{file} is a file"]),
    (["features", "{study}", "--out", "{tmp}/f.npz", "--cache-dir", "{file}"],
     ["--cache-dir", "{file} is a file"]),
    (["features", "{study}", "--out", "{tmp}/f.npz", "--cache-dir", "{file}/c"],
     ["--cache-dir", "{file} is a file"]),
    (["index", "{study}", "--workers", "0", "--store", "{file}"], ["--store", "{file}"]),
    (["tables", "{study}", "--cache-dir", "{file}"], ["--cache-dir", "{file}"]),
])
def test_an_output_path_of_the_wrong_kind_is_refused_first(study, tmp_path, a_file, capsys,
                                                           monkeypatch, argv, named):
    called = []
    monkeypatch.setattr("simkit.features.engine.content_keys",
                        lambda *a: called.append(a) or ({}, {}))
    argv, named = ([a.format(study=study, tmp=tmp_path, file=a_file) for a in strings]
                   for strings in (argv, named))
    one_line_error(capsys, cli.main([*argv, *FAST]), *named)
    assert not called  # nothing was hashed or computed


@pytest.mark.parametrize("argv", [
    ["tables", "{study}", "--out", "{file}", "--no-ci", "--methods", "gram", *FAST,
     "--cache-dir", "{tmp}/cache"],
    ["demo", "--out", "{file}", "--groups", "1", "--weights", "random:0"],
    ["study", "new", "{study}", "--out", "{file}", "--per-genre", "1"],
    ["fetch", "met-ukiyoe", "--out", "{file}", "--base-url", "http://127.0.0.1:1"],
])
def test_a_file_where_an_output_folder_is_needed_is_one_line(study, tmp_path, a_file, capsys,
                                                             argv):
    """Commands without an up-front check end in the CLI's OSError safety net."""
    argv = [a.format(study=study, tmp=tmp_path, file=a_file) for a in argv]
    one_line_error(capsys, cli.main(argv), str(a_file), "file")
    assert a_file.read_text() == "not a folder\n"


def test_simkit_cache_pointing_at_a_file_is_one_line(study, tmp_path, a_file, capsys,
                                                     monkeypatch):
    monkeypatch.setenv("SIMKIT_CACHE", str(a_file))
    rc = cli.main(["features", str(study), "--out", str(tmp_path / "f.npz"), *FAST])
    one_line_error(capsys, rc, str(a_file), "$SIMKIT_CACHE")


# -- a cache that cannot be written, a full disk ---------------------------------------------
def fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


def test_a_read_only_cache_still_gives_the_features_with_one_warning(study, tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.setattr(np, "save", fail_with(errno.EROFS))  # every cache entry write
    out = tmp_path / "f.npz"
    rc = cli.main(["features", str(study), "--out", str(out), *FAST,
                   "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert rc == 0 and out.is_file() and "Traceback" not in captured.err
    warned = [line for line in stderr_lines(captured.err) if "cannot be written" in line]
    assert len(warned) == 1 and warned[0].startswith("WARNING: ")
    assert str(tmp_path / "cache") in warned[0] and "--cache-dir" in warned[0]
    assert "RANDOM" in captured.err  # the other warnings are still shown
    assert len(np.load(out)["image_ids"]) == 20


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_a_read_only_cache_folder_by_permissions(study, tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    cache.chmod(0o555)
    try:
        rc = cli.main(["features", str(study), "--out", str(tmp_path / "f.npz"), *FAST,
                       "--cache-dir", str(cache)])
    finally:
        cache.chmod(0o755)
    assert rc == 0 and "cannot be written" in capsys.readouterr().err


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_under_the_cache_stops_with_one_line(study, tmp_path, capsys, monkeypatch,
                                                         code):
    monkeypatch.setattr(np, "save", fail_with(code))
    cache = tmp_path / "cache"
    rc = cli.main(["features", str(study), "--out", str(tmp_path / "f.npz"), *FAST,
                   "--cache-dir", str(cache)])
    one_line_error(capsys, rc, str(cache), "full", "--cache-dir")
    assert not (tmp_path / "f.npz").exists()
    assert not [p for p in cache.rglob("*.tmp")]  # no temporary file left behind


def test_a_full_disk_writing_the_output_is_one_line(study, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(np, "savez", fail_with(errno.ENOSPC))
    out = tmp_path / "f.npz"
    rc = cli.main(["features", str(study), "--out", str(out), *FAST,
                   "--cache-dir", str(tmp_path / "cache")])
    one_line_error(capsys, rc, "no space left on the device holding", "nothing was replaced")
    assert not out.exists() and not list(tmp_path.glob(".f.npz*"))


def test_a_full_disk_on_rename_names_the_target(study, tmp_path, capsys, monkeypatch):
    real = os.replace
    out = tmp_path / "f.npz"

    def replace(src, dst):
        if Path(dst) == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src), None, str(dst))
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    rc = cli.main(["features", str(study), "--out", str(out), *FAST,
                   "--cache-dir", str(tmp_path / "cache")])
    one_line_error(capsys, rc, str(out), "no space left")


# -- the safety net's rules -------------------------------------------------------------------
def test_the_safety_net_translates_only_the_users_environment(tmp_path):
    from simkit.cli.app import environment_error

    given = [str(tmp_path / "out")]
    # anywhere: a full disk, a quota, a read-only file system
    for code in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
        assert environment_error(OSError(code, os.strerror(code)), given)
        assert "/elsewhere" in environment_error(OSError(code, "x", "/elsewhere"), given)
    # on a path the user gave, under it or beside it: the path is named
    for name in (tmp_path / "out", tmp_path / "out" / "a" / "b", tmp_path / ".out.x.tmp"):
        msg = environment_error(FileNotFoundError(errno.ENOENT, "No such file", str(name)),
                                given)
        assert msg and msg.startswith(str(name))
    # elsewhere (simkit's own files): a bug, which keeps its traceback
    assert environment_error(FileNotFoundError(errno.ENOENT, "x", "/usr/lib/simkit/x"),
                             given) is None
    assert environment_error(OSError(errno.EIO, "I/O error", str(tmp_path / "out")),
                             given) is None


def test_a_bug_with_an_oserror_keeps_its_traceback(study, monkeypatch):
    def broken(args):
        raise FileNotFoundError(errno.ENOENT, "No such file", "/nonexistent/simkit/data.csv")
    monkeypatch.setattr("simkit.cli.validate.run", broken)
    with pytest.raises(FileNotFoundError):
        cli.main(["validate", str(study)])


# -- malformed paths and files ----------------------------------------------------------------
def test_a_nul_byte_in_an_image_path_is_an_image_error_not_a_crash(tmp_path):
    from simkit.features.engine import content_keys
    from simkit.features.extract import extract_features

    keys, errors = content_keys(["a"], [Path("images/a\0b.png")])
    assert keys == {} and "NUL byte" in errors["a"]
    fs = extract_features({"a": "images/a\0b.png"}, weights="random:0", size=32,
                          on_error="skip", cache_dir=tmp_path / "c", progress=False)
    assert fs.image_ids == [] and "NUL byte" in fs.errors["a"]


def test_index_collection_refuses_a_nul_byte_per_image(tmp_path):
    pytest.importorskip("zarr")
    from simkit.scale.cluster import index_collection

    res = index_collection({"a": "images/a\0b.png"}, weights="random:0", size=32, workers=0,
                           store_root=tmp_path / "zarr", progress=False)
    assert "NUL byte" in res.errors["a"] and len(res.features) == 0


def test_a_damaged_scalars_file_is_a_simkit_error(tmp_path):
    from simkit.errors import SimkitError
    from simkit.methods.perceptual.metrics import load_scalars

    path = tmp_path / "w.npz"
    np.savez(path, config=np.array('"just a string"'))
    with pytest.raises(SimkitError, match="not a scalars file"):
        load_scalars(path)
    with pytest.raises(SimkitError, match="not a scalars file"):
        load_scalars(tmp_path)  # a folder


def test_adaptation_with_too_few_triplets_is_a_simkit_error():
    from simkit.errors import SimkitError
    from simkit.methods.perceptual.adaptation import adapt

    class One:
        def __len__(self):
            return 1
    with pytest.raises(SimkitError, match="at least 2 triplets"):
        adapt(One(), "spatial", progress=False)
