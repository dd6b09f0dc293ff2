"""Vote collection: the SQLite vote store and the questionnaire driven headless."""
from __future__ import annotations

import io
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from simkit.analysis.all_tables import compute_tables
from simkit.study.model import open_study
from simkit.votes.store import (StoreMismatch, StoreUnavailable, VoteError, VoteStore,
                                VoteStoreError, question_order)
from simkit.cli import main
from simkit.study.demo import make_demo_study
from simkit.study.model import PAIRS, load_study

pytest.importorskip("ipywidgets")
from simkit.widgets import Questionnaire  # noqa: E402


class FakeClock:
    """Each reading is ``step`` seconds after the previous one."""

    def __init__(self, step: float = 1.5) -> None:
        self.t, self.step = 100.0, step

    def __call__(self) -> float:
        self.t += self.step
        return self.t


@pytest.fixture
def study(tmp_path):
    """8 questions (2 groups × 4 genres) with small portrait/landscape images."""
    return make_demo_study(tmp_path / "study", groups_per_genre=2, image_size=64)


@pytest.fixture(scope="module")
def study80(tmp_path_factory):
    """The paper's size: 80 questions."""
    return make_demo_study(tmp_path_factory.mktemp("s80") / "study", groups_per_genre=20,
                           image_size=64)


def pick_for(qid: str, shift: int = 0) -> str:
    return PAIRS[(int(qid[1:]) + shift) % len(PAIRS)]


def answer(q: Questionnaire, pair: str) -> None:
    """Click the two images of ``pair`` (from an empty selection) and press Next."""
    for letter in q.selected:
        q.toggle(letter)
    q.toggle(pair[2])
    q.toggle(pair[0])
    q.next()


# -- the questionnaire, headless ----------------------------------------------------------
def test_widget_flow_register_answer_all_export(study):
    store = VoteStore.for_study(study)
    q = Questionnaire(study, store, participant_id="w1", seed=3, clock=FakeClock(1.5))
    assert q.page == "assessment" and q.current_question is None
    assert q._start.disabled  # nothing filled in yet
    q.start(familiarity=4, field="Art / design", visual_impairment=False)
    qids = list(study.questions["question_id"])
    assert q.order == question_order(qids, 3) and q.order != qids
    assert store.participant("w1")["order"] == q.order  # the random order is recorded

    seen = []
    for i in range(len(qids)):
        qid = q.current_question
        seen.append(qid)
        assert f"Question {i + 1} of 8" in q._counter.value and q._bar.value == i
        assert q.images == study.question_images(qid)
        assert not q.can_go_next and q._next.disabled
        q.toggle("a")
        with pytest.raises(VoteError, match="exactly two"):
            q.next()
        q.toggle("c")
        q.toggle("e")          # a third pick replaces the earliest
        assert q.selected == ("c", "e") and not q._next.disabled
        q.toggle("c")          # unpick
        pair = pick_for(qid)
        for letter in q.selected:
            q.toggle(letter)
        q.toggle(pair[0])
        q.toggle(pair[2])
        assert q.choice == pair and [t.value for t in q._toggles] == [
            letter in pair for letter in "abcde"]
        assert [t.description.endswith("✓") for t in q._toggles] == [
            letter in pair for letter in "abcde"]
        q.next()
    assert seen == q.order and q.finished and q.current_question is None
    assert "Thank you" in q._thanks.value and "8 of 8" in q._thanks.value

    store.export(study.root)
    got = pd.read_csv(study.root / "responses.csv", dtype=str, keep_default_na=False)
    expected = pd.DataFrame({"participant_id": "w1", "question_id": qids,
                             "choice": [pick_for(x) for x in qids], "seconds": "1.500"})
    pd.testing.assert_frame_equal(got, expected)
    people = pd.read_csv(study.root / "participants.csv", dtype=str, keep_default_na=False)
    assert people.to_dict("records") == [{
        "participant_id": "w1", "visual_impairment": "no", "familiarity": "4",
        "field": "Art / design", "language": "en", "seed": "3",
        "question_order": " ".join(q.order)}]


def test_images_keep_their_aspect_ratio(study):
    from PIL import Image

    q = Questionnaire(study, VoteStore.for_study(study), thumb_px=50)
    q.start(familiarity=1, field="Other", visual_impairment="no")
    landscape = set()
    while not q.finished:
        for widget, image_id in zip(q._images, q.images):
            shown = Image.open(io.BytesIO(widget.value))
            with Image.open(study.image_path(image_id)) as original:
                w, h = original.size
            assert shown.format == "PNG" and max(shown.size) == 50
            assert abs(shown.size[0] / shown.size[1] - w / h) < 0.05
            landscape.add(w > h)
        answer(q, "a-b")
    assert landscape == {True, False}  # both kinds of prints were shown


def test_overwrite_before_moving_on(study):
    store = VoteStore.for_study(study)
    q = Questionnaire(study, store, participant_id="o1", seed=0)
    q.start(familiarity=2, field="Engineering", visual_impairment=False)
    first = q.current_question
    q.toggle("a"), q.toggle("b"), q.toggle("a"), q.toggle("c")   # changed mind: b-c
    q.next()
    assert store.answered("o1") == {first: "b-c"}
    q.back()                                   # back to change the answer
    assert q.current_question == first and q.selected == ("b", "c")
    q.toggle("b"), q.toggle("c"), q.toggle("e"), q.toggle("d")
    q.next()
    assert store.answered("o1") == {first: "d-e"}
    # the store itself: answering again replaces, the primary key forbids duplicates
    store.record("o1", first, "(a)-(e)", seconds=2)
    rows = sqlite3.connect(store.path).execute(
        "SELECT choice, seconds FROM responses WHERE participant_id='o1'").fetchall()
    assert rows == [("a-e", 2.0)]
    with pytest.raises(sqlite3.IntegrityError):
        with sqlite3.connect(store.path) as raw:
            raw.execute("INSERT INTO responses VALUES ('o1', ?, 'a-b', 1, 0)", (first,))


def test_resume_where_the_participant_stopped(study):
    path = study.root / "votes.sqlite"
    q = Questionnaire(study, VoteStore(path, study), participant_id="r1")
    q.start(familiarity=5, field="Other", visual_impairment=False)
    order = list(q.order)
    for _ in range(3):
        answer(q, pick_for(q.current_question))
    del q  # the kernel restarts

    store = VoteStore(path, study)
    q = Questionnaire(study, store, participant_id="r1")
    assert q.page == "question" and q.order == order
    assert q.current_question == order[3] and q.progress.answered == 3
    assert store.progress("r1").answered == 3 and store.progress("r1").total == 8
    assert "Question 4 of 8" in q._counter.value

    fresh = Questionnaire(study, store)       # the "Resume" box on the first page
    with pytest.raises(VoteError, match="no participant with code"):
        fresh.resume("nobody")
    fresh.resume("r1")
    assert fresh.current_question == order[3]
    while not fresh.finished:
        answer(fresh, pick_for(fresh.current_question))
    assert store.answered("r1") == {x: pick_for(x) for x in order}
    assert Questionnaire(study, store, participant_id="r1").finished


# -- many writers at once -----------------------------------------------------------------
def _writer(path: str, k: int, barrier, results) -> None:
    store = VoteStore(path, timeout=30)
    pid = f"c{k}"
    store.register(pid, familiarity=1 + k % 5, field="cs", visual_impairment=False)
    qids = store.question_ids
    barrier.wait()
    mine = {}
    for i, qid in enumerate(qids):
        mine[qid] = store.record(pid, qid, PAIRS[(k + i) % 10], seconds=i)
    for qid in qids[:5]:                               # change some answers, too
        mine[qid] = store.record(pid, qid, PAIRS[(k + 3) % 10], seconds=1)
    results.put((pid, mine))


def run_at_once(target, n: int, *args) -> list:
    """Start ``n`` processes that call ``target(*args, k, barrier, results)`` and pass the
    barrier together; return what they put in ``results``, after they all exited 0."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, k, barrier, results)) for k in range(n)]
    for p in procs:
        p.start()
    out = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return out


def test_eight_processes_lose_nothing(study80):
    path = study80.root / "votes.sqlite"
    VoteStore(path, study80).close()
    expected = dict(run_at_once(_writer, 8, str(path)))
    store = VoteStore(path, study80)
    assert store.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    got = store.responses()
    assert len(got) == 640 == len(expected) * 80
    assert not got.duplicated(["participant_id", "question_id"]).any()
    for pid, mine in expected.items():
        rows = got[got["participant_id"] == pid]
        assert dict(zip(rows["question_id"], rows["choice"])) == mine


def _opener(path: str, study, k: int, barrier, results) -> None:
    barrier.wait()
    store = VoteStore(path, study, timeout=30)   # all create the same new file at once
    store.register(f"o{k}", familiarity=3, field="x", visual_impairment=False)
    store.record(f"o{k}", "q001", "a-b")
    results.put(k)


def test_a_whole_class_creates_the_store_at_once(study):
    path = study.root / "votes.sqlite"
    done = sorted(run_at_once(_opener, 6, str(path), study))
    assert done == list(range(6))
    store = VoteStore(path, study)
    assert len(store.responses()) == 6
    assert store.question_ids == list(study.questions["question_id"])


def test_killed_kernel_keeps_every_confirmed_answer(study):
    path = study.root / "votes.sqlite"
    VoteStore(path, study).close()
    script = textwrap.dedent(f"""
        import itertools, sys
        from simkit.votes.store import VoteStore
        from simkit.study.model import PAIRS
        store = VoteStore({str(path)!r})
        store.register("k1", familiarity=3, field="x", visual_impairment=False)
        for n in itertools.count():
            for i, qid in enumerate(store.question_ids):
                choice = PAIRS[(n + i) % 10]
                store.record("k1", qid, choice)
                print(qid, choice, flush=True)   # confirmed: record() returned
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    confirmed = []
    try:
        while len(confirmed) < 20:
            line = child.stdout.readline()
            assert line, "the writer died early"
            confirmed.append(line.split())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    last = dict(confirmed)                       # the latest confirmed answer per question
    store = VoteStore(path, study)
    stored = store.answered("k1")
    assert set(last) <= set(stored)
    ahead = [q for q in last if stored[q] != last[q]]
    # at most the one answer written after the last line we read may be newer
    assert len(ahead) <= 1
    assert store.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store.record("k1", "q001", "a-b")           # the store still works
    assert store.answered("k1")["q001"] == "a-b"


# -- bad input and faults -----------------------------------------------------------------
@pytest.mark.parametrize("choice", ["a-a", "a-f", "ab", "", "a-b-c", "x"])
def test_bad_choice(study, choice):
    store = VoteStore.for_study(study)
    store.register("p", familiarity=3, field="x", visual_impairment=False)
    with pytest.raises(VoteError, match="not two different letters a-e"):
        store.record("p", "q001", choice)
    assert store.answered("p") == {}


def test_unknown_participant_and_question(study):
    store = VoteStore.for_study(study)
    with pytest.raises(VoteError, match="participant 'ghost' is not registered.*register"):
        store.record("ghost", "q001", "a-b")
    with pytest.raises(VoteError, match="is not registered"):
        store.progress("ghost")
    store.register("p", familiarity=3, field="x", visual_impairment=False)
    with pytest.raises(VoteError, match="question 'q999' is not in this study"):
        store.record("p", "q999", "a-b")
    assert store.responses().empty


def test_bad_self_assessment(study):
    store = VoteStore.for_study(study)
    with pytest.raises(VoteError, match="familiarity 7 .* 1 .* 5"):
        store.register("p", familiarity=7)
    with pytest.raises(VoteError, match="visual_impairment 'maybe'"):
        store.register("p", visual_impairment="maybe")
    with pytest.raises(VoteError, match="participant_id"):
        store.register(" ")
    q = Questionnaire(study, store)
    with pytest.raises(VoteError, match="field of study is empty"):
        q.start(familiarity=3, field="  ", visual_impairment=False)
    assert store.participants() == []


def test_store_from_another_study_is_refused(study, tmp_path):
    other = make_demo_study(tmp_path / "other", groups_per_genre=3, image_size=64)
    store = VoteStore.for_study(study)
    store.register("p", familiarity=3, field="x", visual_impairment=False)
    with pytest.raises(StoreMismatch, match="votes of another study"):
        VoteStore(study.root / "votes.sqlite", other)
    with pytest.raises(StoreMismatch):
        Questionnaire(other, store)
    with pytest.raises(StoreMismatch):
        store.to_study(other)
    before = (other.root / "responses.csv").read_bytes()
    with pytest.raises(StoreMismatch):
        store.export(other.root)
    assert (other.root / "responses.csv").read_bytes() == before
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database " * 100)
    with pytest.raises(VoteStoreError, match="not a simkit vote store"):
        VoteStore(junk, study)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as raw:
        raw.execute("CREATE TABLE notes (text)")
    with pytest.raises(VoteStoreError, match="not a simkit vote store"):
        VoteStore(foreign, study)
    with sqlite3.connect(foreign) as raw:   # left alone
        assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [("notes",)]
    with pytest.raises(VoteStoreError, match="no vote store here yet"):
        VoteStore(tmp_path / "none.sqlite")


def test_read_only_store(study):
    store = VoteStore.for_study(study)
    store.register("p", familiarity=3, field="x", visual_impairment=False)
    store.record("p", "q001", "a-b")
    store.close()
    ro = VoteStore(study.root / "votes.sqlite", study, read_only=True)   # sqlite mode=ro
    assert ro.answered("p") == {"q001": "a-b"}
    with pytest.raises(StoreUnavailable, match="read-only"):
        ro.record("p", "q002", "c-d")
    # a store that SQLite itself refuses to write (as on a read-only disk)
    rw = VoteStore(study.root / "votes.sqlite", study)
    rw.conn.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreUnavailable, match="read-only.*nothing was saved"):
        rw.record("p", "q002", "c-d")
    with pytest.raises(StoreUnavailable):
        rw.register("p2", familiarity=1)
    assert ro.answered("p") == {"q001": "a-b"} and ro.participants() == ["p"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="file permissions do not stop root")
def test_read_only_file(study):
    store = VoteStore.for_study(study)
    store.register("p", familiarity=3, field="x", visual_impairment=False)
    store.close()
    os.chmod(study.root / "votes.sqlite", 0o444)
    with pytest.raises(StoreUnavailable):
        VoteStore.for_study(study).record("p", "q001", "a-b")


def test_locked_store_keeps_answers_in_memory_and_retries(study):
    store = VoteStore.for_study(study, timeout=0.2)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")          # another kernel holds the write lock
    try:
        with pytest.raises(StoreUnavailable, match="locked by another writer"):
            store.register("direct", familiarity=3, field="x", visual_impairment=False)
        q = Questionnaire(study, store, participant_id="l1")
        q.start(familiarity=3, field="Other", visual_impairment=True)
        assert q.current_question is not None and "kept here" in q.warning
        first, second = q.order[:2]
        answer(q, "a-b")
        answer(q, "c-e")
        assert q.pending == {first: "a-b", second: "c-e"}
        assert q.progress.answered == 2 and "2 answers are kept" in q._message.value
        assert not store.is_registered("l1")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    q.toggle("d")                                 # the next click saves everything
    assert q.pending == {} and q.warning == "" and q._message.value == ""
    assert store.answered("l1") == {first: "a-b", second: "c-e"}
    assert store.participant("l1")["visual_impairment"] == "yes"


# -- export, the command, the analysis ----------------------------------------------------
def test_exported_votes_feed_the_analysis_unchanged(study):
    store = VoteStore.for_study(study)
    qids = store.question_ids
    half = set(qids[: len(qids) // 2])
    voters = {"A": (False, lambda x: "a-b"),
              "B": (False, lambda x: "a-b" if x in half else "c-d"),
              "I": (True, lambda x: "d-e"),               # impaired: excluded
              "N": (False, lambda x: "d-e")}              # stops early: excluded
    for pid, (impaired, pick) in voters.items():
        q = Questionnaire(study, store, participant_id=pid)
        q.start(familiarity=2, field="Other", visual_impairment=impaired)
        for _ in range(3 if pid == "N" else len(qids)):
            answer(q, pick(q.current_question))
    pd.DataFrame({"question_id": qids, "method": "gram", "choice": "b-a"}).to_csv(
        study.root / "choices.csv", index=False)
    old = (study.root / "responses.csv").read_bytes()   # the demo's simulated votes

    assert main(["collect", str(study.root), "--export"]) == 0
    backups = list((study.root / "backup").glob("responses-*.csv"))
    assert [b.read_bytes() for b in backups] == [old]   # nothing overwritten unsaved

    loaded = load_study(study.root)
    assert loaded.valid_participants == ["A", "B"]
    assert set(loaded.exclusions["participant_id"]) == {"I", "N"}
    tables = compute_tables(loaded, ci=False)
    t2 = tables["table2"].set_index(["genre", "method"])["avg_ps"]
    assert t2["All", "majority"] == pytest.approx(75.0)   # 100 % on half, 50 % on half
    assert t2["All", "gram"] == pytest.approx(75.0)
    assert tables["table3"].set_index(["genre", "method"])["agree"]["All", "gram"] == 100.0
    live = compute_tables(store.to_study(loaded), ci=False)
    for name in ("table2", "table3", "per_question"):
        pd.testing.assert_frame_equal(live[name], tables[name])


def test_collect_command(study, capsys):
    assert main(["collect", str(study.root), "--export"]) == 2
    assert "no votes collected yet" in capsys.readouterr().err
    store = VoteStore.for_study(study)
    store.register("p", familiarity=3, field="x", visual_impairment=False)
    store.record("p", "q002", "e-a", seconds=3.25)
    assert main(["collect", str(study.root)]) == 0
    out = capsys.readouterr().out
    assert "1 registered" in out and "p: 1/8" in out
    assert main(["collect", str(study.root), "--export"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (study.root / "responses.csv").read_text() == \
        "participant_id,question_id,choice,seconds\np,q002,a-e,3.250\n"


def test_a_study_nobody_voted_on_yet(study):
    for name in ("responses.csv", "participants.csv"):
        (study.root / name).unlink()
    fresh = open_study(study.root)
    assert len(fresh.questions) == 8 and fresh.responses.empty
    q = Questionnaire(fresh, VoteStore.for_study(fresh), participant_id="n1")
    q.start(familiarity=1, field="Other", visual_impairment=False)
    while not q.finished:
        answer(q, "b-c")
    q.store.export(fresh.root)
    assert load_study(fresh.root).valid_participants == ["n1"]
