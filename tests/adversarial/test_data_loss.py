"""Data loss: nothing the user made is overwritten without a unique backup or a refusal,
outputs are replaced as a set, files respect the umask, the vote store never touches a
file it refuses, and a full disk or a kill leaves the previous files intact."""
from __future__ import annotations

import errno
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import simkit.cli.app as cli
from simkit import fileio
from simkit.study.demo import make_demo_study
from simkit.study.model import load_study
from simkit.votes.store import VoteError, VoteStore, VoteStoreError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path) -> Path:
    """A small demo study with given machine choices in ``choices.csv`` beside it."""
    out = tmp_path / "demo"
    study = make_demo_study(out, groups_per_genre=1, image_size=64)
    pd.DataFrame({"question_id": study.questions["question_id"], "method": "gram",
                  "choice": "a-b"}).to_csv(tmp_path / "choices.csv", index=False)
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def tables(study: Path, *extra: str) -> int:
    return cli.main(["tables", str(study), "--choices", str(study.parent / "choices.csv"),
                     "--n-boot", "20", *extra])


# -- nothing the user made is overwritten --------------------------------------------------
def test_demo_refuses_a_study_it_did_not_make(demo, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("images.csv", "questions.csv", "responses.csv", "participants.csv"):
        (mine / name).write_bytes((demo / name).read_bytes())
    before = snapshot(mine)
    assert cli.main(["demo", "--out", str(mine), "--groups", "1"]) == 2
    err = capsys.readouterr().err
    assert "not a demo study made by simkit" in err and str(mine) in err
    assert len(err.strip().splitlines()) == 1
    assert snapshot(mine) == before


def test_demo_rebuilds_its_own_and_backs_up_changed_votes(demo):
    votes = (demo / "responses.csv").read_bytes()
    mine = votes.replace(b"d-e", b"a-b")
    (demo / "responses.csv").write_bytes(mine)
    make_demo_study(demo, groups_per_genre=1, image_size=64)
    backups = list((demo / "backup").iterdir())
    assert [b.read_bytes() for b in backups] == [mine]
    assert (demo / "responses.csv").read_bytes() == votes
    make_demo_study(demo, groups_per_genre=1, image_size=64)  # unchanged: no new backup
    assert len(list((demo / "backup").iterdir())) == 1


def test_backups_in_the_same_second_are_distinct_and_identical(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio.time, "time", lambda: 1_700_000_000.25)
    made = []
    for i in range(3):
        (tmp_path / "responses.csv").write_bytes(f"version {i}\n".encode())
        made.append(fileio.backup_file(tmp_path / "responses.csv", tmp_path / "backup"))
    assert len(set(made)) == 3
    assert [p.read_bytes() for p in made] == [f"version {i}\n".encode() for i in range(3)]
    assert sorted(os.listdir(tmp_path / "backup")) == sorted(p.name for p in made)


def _store(study_dir: Path) -> VoteStore:
    study = load_study(study_dir)
    store = VoteStore(study_dir / "votes.sqlite", study)
    store.register("p01", familiarity=3, field="design", visual_impairment=False)
    for q in study.questions["question_id"]:
        store.record("p01", q, "a-b")
    return store


def test_two_exports_in_the_same_second_keep_both_originals(demo, monkeypatch, capsys):
    monkeypatch.setattr(fileio.time, "time", lambda: 1_700_000_000.5)
    store = _store(demo)
    originals = []
    for i in range(2):
        if i:  # new votes since the first export
            store.register("p02", familiarity=1, visual_impairment=False)
            store.record("p02", store.question_ids[0], "c-d")
        originals.append(snapshot(demo))
        assert cli.main(["collect", str(demo), "--export"]) == 0
    store.close()
    backups = sorted((demo / "backup").iterdir())
    assert len(backups) == 4 and len({b.name for b in backups}) == 4
    kept = sorted(b.read_bytes() for b in backups)
    assert kept == sorted(o[n] for o in originals for n in ("responses.csv",
                                                            "participants.csv"))
    load_study(demo)


# -- outputs replaced as a set -------------------------------------------------------------
def test_tables_leave_no_stale_output(demo):
    assert tables(demo) == 0
    assert (demo / "results" / "table2_ci.csv").exists()
    assert tables(demo, "--no-ci") == 0
    names = set(os.listdir(demo / "results"))
    assert "table2_ci.csv" not in names and "table2.csv" in names
    assert not [p for p in os.listdir(demo) if p.endswith((".tmp", ".old"))]


def test_failed_tables_leave_the_old_set(demo, tmp_path, monkeypatch):
    assert tables(demo) == 0
    before = snapshot(demo / "results")

    def broken(*a, **k):
        raise RuntimeError("boom")
    monkeypatch.setattr("simkit.analysis.all_tables.compute_tables", broken)
    with pytest.raises(RuntimeError):  # machine choices computed, then the tables fail
        cli.main(["tables", str(demo), "--no-ci", "--weights", "random:0", "--size", "32",
                  "--methods", "gram", "--cache-dir", str(tmp_path / "cache")])
    assert snapshot(demo / "results") == before  # no choices.csv beside the old tables


def test_tables_refuse_a_folder_with_user_files(demo, tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "my-notes.txt").write_text("keep me")
    assert tables(demo, "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert "my-notes.txt" in err and "simkit did not write" in err
    assert (out / "my-notes.txt").read_text() == "keep me" and len(os.listdir(out)) == 1


def _enospc_after(monkeypatch, n: int) -> None:
    """Make the n-th fsync of a file simkit writes fail as a full disk would."""
    calls = {"n": 0}
    real = os.fsync

    def fsync(fd):
        calls["n"] += 1
        if calls["n"] >= n:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)
    monkeypatch.setattr(fileio.os, "fsync", fsync)


def test_full_disk_during_tables_is_one_line_and_keeps_the_old_set(demo, monkeypatch,
                                                                   capsys):
    assert tables(demo) == 0
    before = snapshot(demo / "results")
    capsys.readouterr()
    _enospc_after(monkeypatch, 3)
    assert tables(demo, "--no-ci") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: no space left on the device holding {demo / 'results'}")
    assert err.endswith("; free space and run again; nothing was replaced")
    assert len(err.splitlines()) == 1
    assert snapshot(demo / "results") == before
    assert sorted(os.listdir(demo.parent)) == ["choices.csv", "demo"]  # no staging left


def test_full_disk_during_export_keeps_the_study(demo, monkeypatch, capsys):
    _store(demo).close()
    before = snapshot(demo)
    _enospc_after(monkeypatch, 2)
    assert cli.main(["collect", str(demo), "--export"]) == 2
    err = capsys.readouterr().err
    assert "no space left on the device holding" in err and "nothing was replaced" in err
    after = snapshot(demo)
    assert {k: v for k, v in after.items() if k != "votes.sqlite"} == \
        {k: v for k, v in before.items() if k != "votes.sqlite"}


def test_read_only_folder_is_one_line(demo, tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert tables(demo, "--out", str(out / "results")) == 2
        assert "no permission to write" in capsys.readouterr().err
    finally:
        out.chmod(0o755)


# -- the umask -----------------------------------------------------------------------------
@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755),
                                                        (0o002, 0o664, 0o775)])
def test_files_and_folders_respect_the_umask(demo, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        assert fileio.file_mode() == file_mode
        assert tables(demo, "--no-ci") == 0
        fileio.write_text("x", demo / "cache" / "entry.txt")
        backup = fileio.backup_file(demo / "responses.csv", demo / "backup")
    finally:
        os.umask(old)
    results = demo / "results"
    assert results.stat().st_mode & 0o777 == dir_mode
    for p in [*results.iterdir(), demo / "cache" / "entry.txt", backup]:
        assert p.stat().st_mode & 0o777 == file_mode, p


# -- the vote store ------------------------------------------------------------------------
def test_foreign_sqlite_file_is_refused_untouched(demo):
    path = demo / "votes.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO accounts VALUES (1, 'alice')")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(VoteStoreError, match="not a simkit vote store.*left unchanged"):
        VoteStore(path, load_study(demo))
    assert path.read_bytes() == before
    assert sorted(p.name for p in demo.glob("votes.sqlite*")) == ["votes.sqlite"]


def test_non_sqlite_file_is_refused_untouched(demo, capsys):
    path = demo / "votes.sqlite"
    path.write_bytes(b"my thesis, not a database\n" * 100)
    assert cli.main(["collect", str(demo)]) == 2
    assert "not an SQLite file" in capsys.readouterr().err
    assert path.read_bytes() == b"my thesis, not a database\n" * 100


@pytest.mark.parametrize("pid", ["p\r1", "p\n1", "p\t1", "p\x001", "p\u20281", "p\u00851",
                                 " p1", "p1 ", "", "a,b", 'a"b', "p" * 201])
def test_unusable_participant_ids_are_refused(demo, pid):
    store = VoteStore(demo / "votes.sqlite", load_study(demo))
    with pytest.raises(VoteError, match="participant_id"):
        store.register(pid, familiarity=3)
    assert store.participants() == []


def test_export_refuses_a_bad_store_and_keeps_the_study(demo, capsys):
    store = _store(demo)
    with sqlite3.connect(demo / "votes.sqlite") as conn:  # as an older simkit accepted it
        conn.execute("INSERT INTO participants (participant_id, registered_at) "
                     "VALUES ('bad\r', 1e10)")
        conn.execute("INSERT INTO responses VALUES ('bad\r', 'q001', 'a-b', NULL, 1e10)")
    conn.close()
    before = {k: v for k, v in snapshot(demo).items() if not k.startswith("votes")}
    for _ in range(2):  # and again: a refused export never blocks the next one
        assert cli.main(["collect", str(demo), "--export"]) == 2
        err = capsys.readouterr().err
        assert "cannot be exported" in err and "nothing was replaced" in err
        assert {k: v for k, v in snapshot(demo).items()
                if not k.startswith("votes")} == before
    with sqlite3.connect(demo / "votes.sqlite") as conn:
        conn.execute("DELETE FROM responses WHERE participant_id='bad\r'")
        conn.execute("DELETE FROM participants WHERE participant_id='bad\r'")
    conn.close()
    store.export(demo)
    assert "p01" in set(load_study(demo).participants["participant_id"])


# -- killed at random ----------------------------------------------------------------------
_EXPORTER = textwrap.dedent("""
    import sys
    from simkit.study.model import load_study
    from simkit.votes.store import VoteStore
    root = sys.argv[1]
    store = VoteStore(root + "/votes.sqlite", load_study(root))
    qs = store.question_ids
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        pid = f"k{sys.argv[2]}-{i}"
        store.register(pid, familiarity=2, visual_impairment=False)
        for q in qs:
            store.record(pid, q, "b-c")
        store.export(root)
""")


def test_export_killed_at_random_leaves_a_complete_study(demo):
    _store(demo).close()
    rng = random.Random(0)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for k in range(8):
        proc = subprocess.Popen([sys.executable, "-c", _EXPORTER, str(demo), str(k)],
                                stdout=subprocess.PIPE, env=env, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        study = load_study(demo)  # loadable after every kill
        # complete: the export of the store at some moment, not a part of one
        with VoteStore(demo / "votes.sqlite", read_only=True) as store:
            stored = store.responses()[["participant_id", "question_id", "choice"]]
            order = store.participants()
        exported = list(study.participants["participant_id"])
        assert exported == order[:len(exported)]
        rows = set(map(tuple, study.responses[["participant_id", "question_id",
                                                "choice"]].to_numpy()))
        assert rows <= set(map(tuple, stored.to_numpy()))
        for b in (demo / "backup").glob("*.csv") if (demo / "backup").exists() else []:
            assert b.stat().st_size > 0  # never a half-written backup
    with VoteStore(demo / "votes.sqlite") as store:  # the next export sweeps the leftovers
        store.export(demo)
    assert not [p.name for p in demo.iterdir() if p.name.startswith(".export.")]


def test_a_folder_where_the_store_should_be_is_refused(demo, capsys):
    (demo / "votes.sqlite").mkdir()
    assert cli.main(["collect", str(demo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_several_output_files_are_replaced_together(tmp_path, monkeypatch):
    a, b = tmp_path / "report.json", tmp_path / "sub" / "choices.csv"
    with fileio.replace_files(a, b) as (sa, sb):
        fileio.write_text("old report", sa)
        fileio.write_text("old choices", sb)
    _enospc_after(monkeypatch, 2)
    with pytest.raises(fileio.WriteError, match="no space left.*nothing was replaced"):
        with fileio.replace_files(a, b) as (sa, sb):
            fileio.write_text("new report", sa)
            fileio.write_text("new choices", sb)  # the disk fills here
    assert (a.read_text(), b.read_text()) == ("old report", "old choices")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["choices.csv", "report.json", "sub"]


def test_a_kill_between_the_renames_is_repaired_by_the_next_run(tmp_path):
    out = tmp_path / "results"
    with fileio.replace_set(out, ["*.csv"]) as stage:
        fileio.write_text("first", stage / "table2.csv")
    # What a kill after 'rename the old set away' leaves: the set under a dead writer's
    # .old folder and no results folder (pid 2**22+1 is beyond Linux's pid_max default).
    left = tmp_path / f".results.{2**22 + 1}.abc123.old"
    left.mkdir()
    out.rename(left / "results")
    dead_tmp = tmp_path / f".results.{2**22 + 1}.def456.tmp"
    dead_tmp.mkdir()
    fileio.staging_folder(tmp_path, "results").rmdir()
    assert (out / "table2.csv").read_text() == "first"  # the old set is back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]
