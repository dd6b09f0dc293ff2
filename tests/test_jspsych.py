"""The jsPsych export runs to the end in headless Chromium, and its data import to the
same tables as the same answers written directly through the VoteStore."""
from __future__ import annotations

import contextlib
import csv
import http.server
import io
import json
import re
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from simkit.analysis.all_tables import compute_tables
from simkit.cli import main
from simkit.study.model import load_study, open_study
from simkit.votes.codes import clean_code, normalize_code
from simkit.votes.jspsych import JsPsychDataError, read_data
from simkit.votes.messages import canonical_field
from simkit.votes.participants import study_fingerprint
from simkit.votes.store import VoteStore

CHROMIUM = Path("/usr/bin/chromium")
QUESTIONS = {f"q{k}": ("g" if k < 3 else "h", [f"i{k}{x}" for x in "abcde"])
             for k in range(1, 5)}
ANSWERS = {"web-en": {"q1": "b-d", "q2": "a-e", "q3": "c-d", "q4": "a-b"},
           "web-ja": {"q1": "b-d", "q2": "c-e", "q3": "c-d", "q4": "d-e"}}
SELF = {"web-en": {"familiarity": "3", "field": "Art / design", "visual_impairment": "no"},
        "web-ja": {"familiarity": "5", "field": "工学", "visual_impairment": "no"}}


@pytest.fixture
def study(write_study):
    return write_study(QUESTIONS, {}, images=True)


def trials(study_dir: Path, pid: str, answers: dict, fingerprint: str | None = None):
    """Rows as the exported experiment writes them (jsPsych's own columns too)."""
    fp = fingerprint or study_fingerprint(open_study(study_dir).questions)
    common = {"participant_id": pid, "simkit_fingerprint": fp, "simkit_language": "en"}
    rows = [{"simkit": "consent", "trial_type": "html-button-response", "response": 0, **common},
            {"simkit": "assessment", "trial_type": "survey-html-form",
             "response": SELF.get(pid, SELF["web-en"]), **common}]
    rows += [{"simkit": "question", "trial_type": "simkit-pick-two", "question_id": q,
              "choice": c, "rt": 1500 + k, **common} for k, (q, c) in enumerate(answers.items())]
    return rows + [{"simkit": "thanks", "trial_type": "html-button-response", **common}]


def as_csv(rows) -> str:
    out = io.StringIO()
    columns = list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(out, columns)
    w.writeheader()
    for r in rows:  # jsPsych writes objects as JSON in a CSV cell
        w.writerow({k: json.dumps(v) if isinstance(v, dict) else v for k, v in r.items()})
    return out.getvalue()


def test_csv_json_and_jatos_json_lines_read_alike(study, tmp_path):
    s = open_study(study)
    (tmp_path / "a.csv").write_text(as_csv(trials(study, "web-en", ANSWERS["web-en"])))
    (tmp_path / "b.json").write_text(json.dumps(trials(study, "web-ja", ANSWERS["web-ja"])))
    (tmp_path / "jatos.txt").write_text(
        "\n".join(json.dumps(trials(study, p, a)) for p, a in ANSWERS.items()) + "\n")
    one = read_data([tmp_path / "a.csv", tmp_path / "b.json"], s)
    both = read_data([tmp_path / "jatos.txt"], s)
    assert one.votes == both.votes and one.participants == both.participants
    assert one.votes[("web-en", "q2")] == ("a-e", 1.501)
    # the field in one spelling (English), whichever language was shown
    assert one.participants["web-ja"] == {**SELF["web-ja"], "field": "Engineering",
                                          "language": "en"} and not one.notes
    partial = read_data([tmp_path / "a.csv"], s)
    assert partial.votes.keys() == {("web-en", q) for q in ANSWERS["web-en"]}


def test_a_question_answered_again_counts_with_its_last_answer(study, tmp_path):
    s = open_study(study)
    rows = trials(study, "web-en", ANSWERS["web-en"])
    common = {k: rows[0][k] for k in ("participant_id", "simkit_fingerprint")}
    # q1 first answered c-e, then Back from q2 and answered b-d (as in ANSWERS)
    rows[2:2] = [{"simkit": "question", "question_id": "q1", "choice": "c-e", "rt": 900,
                  **common},
                 {"simkit": "back", "question_id": "q2", "rt": 300, **common}]
    (tmp_path / "again.csv").write_text(as_csv(rows))
    data = read_data([tmp_path / "again.csv"], s)
    assert data.votes[("web-en", "q1")] == ("b-d", 1.5)
    assert {q: c for (_, q), (c, _) in data.votes.items()} == ANSWERS["web-en"]
    # two files that disagree: which is the last is unknown, so refused
    (tmp_path / "other.csv").write_text(as_csv(rows[:3]))
    with pytest.raises(JsPsychDataError, match=r"other.csv, line 4: participant 'web-en' "
                                               r"answered 'q1' again, differently"):
        read_data([tmp_path / "again.csv", tmp_path / "other.csv"], s)


@pytest.mark.parametrize("edit, message", [
    (lambda rows: rows[3].update(choice="a-a"), "line 5: choice 'a-a' is not two different"),
    (lambda rows: rows[3].update(question_id="q9"), "line 5: question_id 'q9' is not in"),
    (lambda rows: rows[2].update(simkit_fingerprint="0123"), "line 4: data of another study"),
    (lambda rows: rows[4].update(participant_id=""), "line 6: participant_id '' is empty"),
])
def test_bad_rows_are_named(study, tmp_path, capsys, edit, message):
    rows = trials(study, "web-en", ANSWERS["web-en"])
    edit(rows)
    (tmp_path / "data.csv").write_text(as_csv(rows))
    assert main(["import", "jspsych", str(tmp_path / "data.csv"), str(study)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(tmp_path / "data.csv") in err, err
    assert not (study / "votes.sqlite").exists()
    with pytest.raises(JsPsychDataError, match="no rows of a simkit experiment"):
        (tmp_path / "other.csv").write_text("rt,response\n12,0\n")
        read_data([tmp_path / "other.csv"], open_study(study))


def pick(page, pair: str) -> None:
    """Click the two images of ``pair`` (unpicking any others first), as a participant."""
    shown, wanted = picked(page), pair.split("-")
    # unpick first: a third pick would drop the earliest
    for letter in [c for c in shown if c not in wanted] + [c for c in wanted if c not in shown]:
        page.locator(f".simkit-image[data-letter={letter}]").click()
    assert picked(page) == pair.split("-")


def picked(page) -> list[str]:
    """The letters shown as picked, a-e."""
    return page.eval_on_selector_all(".simkit-image[aria-pressed=true]",
                                     "bs => bs.map(b => b.dataset.letter)")


def drive(page, url: str, pid: str, by_keys: bool, back_and_reload: bool = False) -> None:
    """Answer the whole experiment as one participant: clicks, or keys where possible.
    ``back_and_reload``: the first question gets a wrong pick, corrected after Back from
    the second; the page is reloaded before the last question."""
    page.goto(f"{url}?participant={pid}")
    page.locator("#jspsych-html-button-response-btngroup button").click()   # consent
    page.locator(f"input[name=familiarity][value='{SELF[pid]['familiarity']}']").check()
    page.locator("#simkit-field").fill(SELF[pid]["field"])
    page.locator("input[name=visual_impairment][value='no']").check()
    page.locator("#jspsych-survey-html-form-next").click()
    for n, _ in enumerate(ANSWERS[pid], 1):
        if back_and_reload and n == len(ANSWERS[pid]):
            page.reload()   # the tab reloads: it continues at the last question
            page.wait_for_selector(".simkit-image")
            assert page.inner_text(".simkit-progress") == f"Question {n} of {n}"
        page.wait_for_selector(".simkit-image")
        qid = page.evaluate("simkitJsPsych.getCurrentTrial().question_id")
        x, y = ANSWERS[pid][qid].split("-")
        if back_and_reload and n == 1:   # a first pick the participant changes later
            wrong = "-".join(sorted(set("abcde") - {x, y})[:2])
            pick(page, wrong)
            page.locator(".simkit-next").click()
            page.locator(".simkit-back").click()
            assert page.evaluate("simkitJsPsych.getCurrentTrial().question_id") == qid
            assert picked(page) == wrong.split("-")   # the earlier pick, to change
        if by_keys:
            page.keyboard.press(str("abcde".index(x) + 1))  # 1-5 and a-e both pick
            page.keyboard.press("c" if "c" not in (x, y) else "e" if "e" not in (x, y) else "a")
            # three picks: the oldest is dropped
            page.keyboard.press(y)                          # (x dropped) ...
            page.keyboard.press(x)                          # ... so x again, the other dropped
            page.keyboard.press("Enter")
        elif back_and_reload and n == 1:
            pick(page, f"{x}-{y}")
            page.locator(".simkit-next").click()
        else:
            other = "c" if "c" not in (x, y) else "a" if "a" not in (x, y) else "b"
            for letter in (x, other, other, y):   # a second click unpicks
                page.locator(f".simkit-image[data-letter={letter}]").click()
            assert page.locator(".simkit-image[aria-pressed=true]").count() == 2
            page.locator(".simkit-next").click()


JATOS_STANDIN = """window.jatos = { workerId: "7", studySessionData: {},
  setStudySessionData: function (d) { this.studySessionData = d; return Promise.resolve(); },
  onLoad: function (f) { setTimeout(f, 0); },
  submitResultData: function (d) { window.submitted = d; return Promise.resolve(); },
  endStudy: function () { window.studyEnded = true; } };"""


@contextlib.contextmanager
def jatos_like(experiment: Path, site: Path):
    """Serve ``experiment`` over http at /publix/1/ with a stand-in jatos.js; yields the
    URL of its index.html."""
    shutil.copytree(experiment, site / "publix" / "1")
    (site / "publix" / "1" / "jatos.js").write_text(JATOS_STANDIN)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(site), **k)

        def log_message(self, *a):  # no request lines on stderr
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/publix/1/index.html"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_exported_experiment_runs_to_the_end_and_imports(study, tmp_path, capsys):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    images = pd.read_csv(study / "images.csv", dtype=str)
    images.assign(title=["Red Fuji" if i == "i1b" else "" for i in images["image_id"]]).to_csv(
        study / "images.csv", index=False)
    out = tmp_path / "experiment"
    assert main(["export", "jspsych", str(study), "--out", str(out), "--image-px", "64"]) == 0
    ja = tmp_path / "experiment-ja"
    assert main(["export", "jspsych", str(study), "--out", str(ja), "--language", "ja"]) == 0
    capsys.readouterr()
    payload = json.loads((out / "study.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert [q["id"] for q in payload["questions"]] == list(QUESTIONS)
    alts = [img["alt"] for img in payload["questions"][0]["images"]]
    assert alts[:3] == ["image (a)", "(b) Red Fuji", "image (c)"]  # alt text from the title
    for name in ("index.html", "experiment.js", "pick-two.js", "study.js"):  # no CDN
        assert "http" not in (out / name).read_text(encoding="utf-8"), name
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            errors: list[str] = []
            context = browser.new_context(accept_downloads=True,
                                          viewport={"width": 390, "height": 844})
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            drive(page, (out / "index.html").as_uri(), "web-en", by_keys=False,
                  back_and_reload=True)
            code = re.search(r"Your code: (\w{5}-\w{5})", page.inner_text("body")).group(1)
            assert normalize_code(code) == code.replace("-", "")  # the one alphabet, length
            with page.expect_download() as download:
                page.locator("#jspsych-html-button-response-btngroup button").click()  # thanks
            assert download.value.suggested_filename == "simkit-web-en.csv"
            download.value.save_as(tmp_path / "web-en.csv")
            assert "Your answers are saved." in page.inner_text("body")
            rows = pd.read_csv(tmp_path / "web-en.csv", dtype=str)
            asked = rows.loc[rows["simkit"] == "question", "question_id"]
            assert sorted(asked) == sorted(ANSWERS["web-en"])   # each once, the last answer
            # another tab of the same browser, no id in the link: the code resumes
            page = context.new_page()
            page.goto((out / "index.html").as_uri())
            page.locator("#simkit-code").fill("ZZZZ-ZZZZ")
            page.locator("#simkit-resume").click()
            assert "no participant with code ZZZZZZZZ" in page.inner_text("#simkit-notice")
            page.locator("#simkit-code").fill(code.lower())
            page.locator("#simkit-resume").click()
            assert "You answered 4 of 4 questions." in page.inner_text("body")
            # a code of an earlier export (8 characters, L among them) still resumes, typed
            # full-width; the browser reads what is typed and draws codes as Python does
            page = context.new_page()
            page.goto((out / "index.html").as_uri())
            page.evaluate("([key, code]) => localStorage.setItem(key + 'ABCDEFGL', "
                          "localStorage.getItem(key + code))",
                          [f"simkit:{payload['fingerprint']}:code:", code.replace("-", "")])
            page.locator("#simkit-code").fill("ａｂｃｄ－ｅｆｇｌ")
            page.locator("#simkit-resume").click()
            assert "You answered 4 of 4 questions." in page.inner_text("body")
            typed = ["abcde-fghjk", " Ｘ７ＫＱ２　Ｍ９ＰＷＺ ", "Х7КQ2ーМ9РWZ", "x7_kq.2–m9pwz", "o1l"]
            assert page.evaluate("(xs) => xs.map(simkitCodes(SIMKIT.codes).clean)", typed) == \
                [clean_code(t) for t in typed]
            drawn = page.evaluate("() => Array.from({length: 300}, simkitCodes(SIMKIT.codes).draw)")
            assert all(normalize_code(c) == c for c in drawn) and len(set(drawn)) == 300

            # as JATOS serves a study: over http under /publix/, with jatos.js beside it
            # (here a stand-in that keeps what would be submitted)
            with jatos_like(ja, tmp_path / "site") as url:
                page = browser.new_page()
                page.on("pageerror", lambda e: errors.append(str(e)))
                drive(page, url, "web-ja", by_keys=True)
                assert "全4問中 4問に回答しました" in page.inner_text("body")
                page.locator("#jspsych-html-button-response-btngroup button").click()
                page.wait_for_function("window.studyEnded === true")
                kept = page.evaluate("jatos.studySessionData.simkit")   # for a reload
                assert kept["pid"] == "web-ja" and kept["index"] == 4
                (tmp_path / "web-ja.json").write_text(page.evaluate("window.submitted"))
            assert not errors, errors
        finally:
            browser.close()

    imported = shutil.copytree(study, tmp_path / "imported")
    assert main(["import", "jspsych", str(tmp_path / "web-en.csv"), str(tmp_path / "web-ja.json"),
                 str(imported), "--export"]) == 0
    assert "added 2 participant(s) and 8 vote(s)" in capsys.readouterr().out
    # the same answers written directly through the store
    direct = shutil.copytree(study, tmp_path / "direct")
    with VoteStore.for_study(open_study(direct)) as store:
        for pid, answers in ANSWERS.items():
            store.register(pid, **{**SELF[pid], "field": canonical_field(SELF[pid]["field"])},
                           language=pid[-2:])
            for qid, choice in answers.items():
                store.record(pid, qid, choice)
        store.export(direct)
    ours, theirs = load_study(imported), load_study(direct)
    same = ["participant_id", "visual_impairment", "familiarity", "field", "language"]
    pd.testing.assert_frame_equal(ours.participants[same], theirs.participants[same])
    assert ours.participants.set_index("participant_id").loc["web-ja", "field"] == "Engineering"
    assert ours.valid_participants == theirs.valid_participants == list(ANSWERS)
    a, b = compute_tables(ours, ci=False), compute_tables(theirs, ci=False)
    for name in ("table2", "per_question"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert a["per_question"].set_index("question_id").loc["q2", "votes_a-e"] == 1
