"""``simkit serve``: the questionnaire as a web page, the only writer of the vote store."""
from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import re
import shutil
import signal
import sqlite3
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("tornado")

from simkit.serve.server import listen, make_app  # noqa: E402
from simkit.serve.session import ServeError, ServeSession  # noqa: E402
from simkit.study.demo import make_demo_study  # noqa: E402
from simkit.votes.codes import normalize_code, show_code  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")


def bench():
    """benchmarks/bench_serve.py: its driver runs here at 10 participants."""
    spec = importlib.util.spec_from_file_location("bench_serve",
                                                  REPO / "benchmarks" / "bench_serve.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Served:
    """A study served in this process (a thread with its own event loop), optionally
    behind a path-prefix proxy like jupyter-server-proxy's ``/user/NAME/proxy/PORT/``."""

    def __init__(self, study, proxy: bool = False, **kwargs) -> None:
        self.session = ServeSession(study, **kwargs)
        self._ready = threading.Event()
        self._proxy = proxy
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        assert self._ready.wait(30)
        self.base = f"http://127.0.0.1:{self.port}/"
        self.link = f"{self.base}s/{self.session.session_token}/"
        self.teacher = f"{self.base}t/{self.session.teacher_token}/"

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.app = make_app(self.session, image_px=64)
        server, self.port = listen(self.app, "127.0.0.1", 0)
        proxy = None
        if self._proxy:
            proxy, self.proxy_port = listen(prefix_proxy(self.port), "127.0.0.1", 0)
            self.prefix = f"http://127.0.0.1:{self.proxy_port}/user/ana/proxy/{self.port}/"
        self._ready.set()
        await self._stop.wait()
        server.stop()
        if proxy:
            proxy.stop()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        for pool in self.app.simkit_threads:
            pool.shutdown(wait=True)
        self.session.release()


def prefix_proxy(port: int):
    """A tiny stand-in for jupyter-server-proxy: ``/user/ana/proxy/PORT/X`` → ``/X``."""
    import tornado.httpclient
    import tornado.web

    class Forward(tornado.web.RequestHandler):
        async def _forward(self, rest: str) -> None:
            query = f"?{self.request.query}" if self.request.query else ""
            response = await tornado.httpclient.AsyncHTTPClient().fetch(
                f"http://127.0.0.1:{port}/{rest}{query}", method=self.request.method,
                body=self.request.body if self.request.method == "POST" else None,
                headers={"Content-Type": self.request.headers.get("Content-Type", "")},
                follow_redirects=False, raise_error=False, decompress_response=True)
            self.set_status(response.code)
            for name in ("Content-Type", "Location", "Content-Security-Policy"):
                if name in response.headers:
                    self.set_header(name, response.headers[name])
            self.finish(response.body or b"")

        get = post = _forward

    return tornado.web.Application([(rf"/user/ana/proxy/{port}/(.*)", Forward)])


def call(url: str, body=None, raw: bytes | None = None) -> tuple[int, dict | str]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                        else None)
    request = urllib.request.Request(url, data=data, method="POST" if data is not None
                                     else "GET")
    try:
        with urllib.request.urlopen(request, timeout=20) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def rows(study) -> list[tuple]:
    with sqlite3.connect(study.root / "votes.sqlite") as conn:
        return sorted(conn.execute("SELECT participant_id, question_id, choice, seconds "
                                   "FROM responses").fetchall())


def join_body(code: str, **kw) -> dict:
    return {"code": code, "consent": True, "familiarity": 3, "field": "Other",
            "visual_impairment": "no", "language": "en", **kw}


@pytest.fixture
def study(tmp_path):
    return make_demo_study(tmp_path / "study", groups_per_genre=1, image_size=64)


# -- requests: refused when forged or malformed, idempotent when repeated ----------------
def test_forged_and_malformed_requests_are_refused_and_write_nothing(study):
    s = Served(study)
    try:
        status, joined = call(s.link + "api/join", join_body("ABCDE-FGHJK"))
        assert status == 200 and sorted(joined["order"]) == ["q001", "q002", "q003", "q004"]
        pid, q = joined["participant_id"], joined["order"][0]
        assert call(s.link + "api/join", join_body("XYZWV23456"))[0] == 200
        answer = {"code": "ABCDEFGHJK", "participant_id": pid, "question_id": q,
                  "choice": "(e)-(b)", "seconds": 2.5}
        assert call(s.link + "api/answer", answer) == (200, {"question_id": q,
                                                              "choice": "b-e"})
        before = rows(study)
        assert before == [(pid, q, "b-e", 2.5)]
        other = call(s.link + "api/resume", {"code": "XYZWV23456"})[1]["participant_id"]
        wrong_link = s.base + "s/not-the-token/"
        refused = [
            (404, call(wrong_link, None)),
            (404, call(wrong_link + "api/answer", answer)),
            (404, call(s.base + "t/" + s.session.session_token + "/api/progress")),
            (404, call(s.base + "t/guess/api/close", {})),
            (403, call(s.link + "api/answer", {**answer, "code": "2222222222"})),
            (403, call(s.link + "api/answer", {**answer, "participant_id": other})),
            (403, call(s.link + "api/resume", {"code": "2222222222"})),
            (404, call(s.link + "api/answer", {**answer, "question_id": "q999"})),
            (400, call(s.link + "api/answer", {**answer, "choice": "a-a"})),
            (400, call(s.link + "api/answer", {**answer, "choice": "a-f"})),
            (400, call(s.link + "api/answer", {**answer, "choice": 5})),
            (400, call(s.link + "api/answer", {**answer, "seconds": -1})),
            (400, call(s.link + "api/answer", {**answer, "code": "short"})),
            (400, call(s.link + "api/answer", raw=b"{not json")),
            (400, call(s.link + "api/answer", [answer])),
            (413, call(s.link + "api/answer", {**answer, "pad": "x" * 20_000})),
            (400, call(s.link + "api/join", join_body("MNPQR23456", consent=False))),
            (400, call(s.link + "api/join", join_body("MNPQR23456", familiarity=9))),
            (400, call(s.link + "api/join", join_body("MNPQR23456", field="\n"))),
            (404, call(s.link + "img/q999/a")),
            (404, call(s.base + "anything")),
        ]
        for want, (got, out) in refused:
            assert got == want, (want, got, out)
        assert all(isinstance(out, dict) and out["key"] for _, (_, out) in refused[1:])
        assert rows(study) == before and len(s.session.store.participants()) == 2

        # a retry (reload, lost confirmation) stores the answer once; a new pick replaces it
        assert call(s.link + "api/answer", answer)[0] == 200
        assert call(s.link + "api/join", join_body("ABCDEFGHJK"))[1]["order"] == joined["order"]
        assert rows(study) == before and len(s.session.store.participants()) == 2
        assert call(s.link + "api/answer", {**answer, "choice": "c-a"})[0] == 200
        assert rows(study) == [(pid, q, "a-c", 2.5)]
        assert call(s.link + "api/resume", {"code": "abcde-fghjk"})[1]["answered"] == {q: "a-c"}

        # the teacher closes the session: nothing more is written
        status, progress = call(s.teacher + "api/progress")
        assert status == 200 and progress["participants"] == 2 and progress["answers"] == 1
        assert {p["question_id"]: p["answers"] for p in progress["per_question"]}[q] == 1
        assert call(s.teacher + "api/close", {})[1]["closed"] is True
        assert call(s.link + "api/answer", {**answer, "choice": "d-e"})[0] == 410
        assert call(s.link + "api/join", join_body("MNPQR23456"))[0] == 410
        assert rows(study) == [(pid, q, "a-c", 2.5)]
        page = call(s.link)[1]
        assert '"closed": true' in page
    finally:
        s.stop()
    assert json.loads((study.root / "votes.serve.json").read_text())["closed"] is True
    assert oct((study.root / "votes.serve.json").stat().st_mode & 0o777) == "0o600"


def test_every_url_in_the_pages_is_relative(study):
    s = Served(study, proxy=True)
    try:
        page, teacher = call(s.link)[1], call(s.teacher)[1]
        assert "<html" in page and "<html" in teacher
        urls = []
        for text in (page, teacher):
            urls += re.findall(r"""(?:src|href|action)\s*=\s*["']([^"']*)["']""", text)
            urls += re.findall(r"""fetch\(\s*["'`]([^"'`]*)""", text)
            urls += re.findall(r"""\.src\s*=\s*["'`]([^"'`]*)""", text)
        assert urls and all(not u.startswith(("/", "http:", "https:")) and "//" not in u
                            for u in urls), urls
        # and through a proxy's path prefix, the link without its slash still lands there
        status, via = call(s.prefix + f"s/{s.session.session_token}")
        assert status == 200 and '"session": "' + s.session.session_token in via
        request = urllib.request.Request(s.link[:-1])
        opener = urllib.request.build_opener(NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as e:
            opener.open(request)
        assert e.value.code in (301, 302) and e.value.headers["Location"] == \
            f"{s.session.session_token}/"
        status, svg = call(s.teacher + "qr.svg?url=" + urllib.request.quote(
            s.prefix + f"s/{s.session.session_token}/", safe=""))
        assert status == 200 and svg.startswith("<svg")
        assert call(s.teacher + "qr.svg?url=https://evil.example/")[0] == 400
    finally:
        s.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


# -- load, a killed server, one server per study -------------------------------------------
def test_load_then_sigkill_and_restart_loses_nothing(tmp_path):
    b = bench()
    study = make_demo_study(tmp_path / "study", groups_per_genre=3, image_size=64)
    proc, link, teacher = b.start_server(study.root)
    try:
        results = b.drive(link, participants=10)
        assert b.check_store(study.root / "votes.sqlite", results, 12) == 120
        from simkit.votes.store import VoteStore

        with VoteStore(study.root / "votes.sqlite", read_only=True) as live:
            assert len(live.responses()) == 120   # a notebook reads while the server writes
        with pytest.raises(ServeError, match="another 'simkit serve'.*is serving"):
            ServeSession(study)
        # a participant half-way: 3 confirmed answers, then the server is killed
        client = b.Client(link)
        code = "KMNP234567"
        joined = client.post("join", join_body(code))[1]
        for qid in joined["order"][:3]:
            assert client.post("answer", {"code": code, "question_id": qid,
                                          "choice": "c-d"})[0] == 200
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    proc, link2, teacher2 = b.start_server(study.root)
    try:
        assert (link2.split("/s/")[1], teacher2.split("/t/")[1]) == \
            (link.split("/s/")[1], teacher.split("/t/")[1])   # the same links work again
        client = b.Client(link2)
        status, again = client.post("resume", {"code": code})
        assert status == 200 and again["order"] == joined["order"]
        assert again["answered"] == {q: "c-d" for q in joined["order"][:3]}
        progress = json.loads(urllib.request.urlopen(teacher2 + "api/progress").read())
        assert (progress["participants"], progress["answers"]) == (11, 123)
    finally:
        proc.terminate()
        proc.wait(10)


# -- two participants in headless Chromium, on a phone ---------------------------------------
@pytest.mark.slow
def test_two_participants_on_phones_in_english_and_japanese(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright

    import simkit
    from simkit.study.model import open_study
    from simkit.votes.store import VoteStore

    study = make_demo_study(tmp_path / "study", groups_per_genre=1, image_size=64)
    titles = study.images.assign(title=[f"Print {i}" for i in range(len(study.images))])
    titles.to_csv(study.root / "images.csv", index=False)
    study = open_study(study.root)
    s = Served(study, proxy=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                en = answer_in_browser(browser, s.link, "en", study)
                ja = answer_in_browser(browser, s.prefix + f"s/{s.session.session_token}/",
                                       "ja", study)
            finally:
                browser.close()
    finally:
        s.stop()
    store = VoteStore.for_study(study)
    assert store.answered(en["pid"]) == en["answers"] and store.answered(ja["pid"]) == ja["answers"]
    assert store.participant(ja["pid"])["language"] == "ja"
    assert store.participant(ja["pid"])["field"] == "Art / design"  # one spelling
    per_question = simkit.tables(store.to_study(study), ci=False)["per_question"]
    for _, row in per_question.iterrows():   # both votes counted, each for its pair
        assert row["N"] == 2
        picks = [who["answers"][row["question_id"]] for who in (en, ja)]
        for pair in set(picks):
            assert row[f"votes_{pair}"] == picks.count(pair)


PICKS = ["b-d", "a-e", "c-e", "a-b"]
FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})


def answer_in_browser(browser, link: str, language: str, study) -> dict:
    """Complete the questionnaire on a 390×844 phone screen: by tap in English, by keyboard
    in Japanese; a reload, a step back and a lost connection on the way."""
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(link)
    if language == "ja":
        page.get_by_role("button", name="日本語").click()
        assert page.locator("h1").first.inner_text() == "似ている画像はどれですか？"
        page.get_by_label("内容に同意して参加します").check()
        page.get_by_label("3 · ある程度ある").check()
        page.locator("#field").select_option("美術・デザイン")
        page.get_by_label("いいえ").check()
        page.get_by_role("button", name="はじめる").click()
    else:
        page.get_by_role("button", name="Start").click()       # no consent yet: refused
        assert "agree" in page.locator("#notice").inner_text()
        join_in_english(page)
    page.wait_for_selector("#question:not([hidden])")
    answers = {}
    for i in range(4):
        progress = page.locator("#progress-text").inner_text()
        assert progress == ("全4問中 %d問目" % (i + 1) if language == "ja"
                            else f"Question {i + 1} of 4")
        tiles = page.locator("#tiles .tile")
        assert tiles.count() == 5
        alt = tiles.nth(1).locator("img").get_attribute("alt")
        assert re.fullmatch(r"（b）Print \d+" if language == "ja" else r"\(b\) Print \d+", alt)
        qid = page.evaluate("JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]))"
                            ".order[%d]" % i)
        pair = PICKS[i]
        if language == "ja":
            page.keyboard.press(str("abcde".index(pair[0]) + 1))
            page.keyboard.press(pair[2])
            assert tiles.nth("abcde".index(pair[0])).get_attribute("aria-pressed") == "true"
            if i == 2:   # the network drops: the answer is kept and sent when it is back
                context.set_offline(True)
                page.keyboard.press("Enter")
                page.wait_for_function("() => document.getElementById('status').textContent.length > 0")
                context.set_offline(False)
            else:
                page.keyboard.press("Enter")
        else:
            extra = next(x for x in "abcde" if x not in pair)
            for letter in (extra, pair[0], pair[2]):   # the third pick replaces the first
                tiles.nth("abcde".index(letter)).tap()
            assert [tiles.nth(k).get_attribute("aria-pressed") for k in range(5)] == [
                str(x in pair).lower() for x in "abcde"]
            if i == 1:               # go back: the earlier pick is shown; confirm it again
                page.locator("#back").tap()
                assert page.locator("#progress-text").inner_text() == "Question 1 of 4"
                first = PICKS[0]
                assert [tiles.nth(k).get_attribute("aria-pressed") for k in range(5)] == [
                    str(x in first).lower() for x in "abcde"]
                page.locator("#next").tap()
                assert page.locator("#progress-text").inner_text() == "Question 2 of 4"
                tiles.nth("abcde".index(pair[0])).tap()
                tiles.nth("abcde".index(pair[2])).tap()
            page.locator("#next").tap()
            if i == 1:               # a reload half-way: nothing confirmed is lost
                page.reload()
                page.wait_for_selector("#question:not([hidden])")
        answers[qid] = pair
    page.wait_for_selector("#done:not([hidden])")
    page.wait_for_function("() => !document.getElementById('saved').textContent.includes('…')",
                           timeout=20000)
    done = page.locator("#done").inner_text()
    assert ("ありがとうございました" in done and "保存されました" in done) if language == "ja" \
        else ("Thank you" in done and "saved" in done)
    state = page.evaluate("JSON.parse(localStorage.getItem(Object.keys(localStorage)[0]))")
    assert state["pending"] == {} and errors == []
    page.screenshot(path=str(REPO / "test-artifacts" / f"serve-{language}.png"))
    assert show_code(state["code"]) in page.locator("#your-code").inner_text()
    page.locator("#start-over").click()      # a kiosk: the next person starts afresh
    assert page.locator("#welcome").is_visible() and not page.locator("#consent").is_checked()
    # the code the browser drew is of the one alphabet, and resumes typed as people type it
    # (full-width, an ideographic space); the browser reads it as Python does
    code = state["code"]
    assert normalize_code(code) == code
    typed = f" {show_code(code).lower().translate(FULL_WIDTH).replace('－', '　')} "
    assert page.evaluate("(t) => simkitCodes(JSON.parse(document.getElementById("
                         "'simkit-config').textContent).codes).clean(t)", typed) == code
    page.locator("#resume-code").fill(typed)
    page.locator("#resume").click()
    page.wait_for_selector("#done:not([hidden])")
    page.locator("#start-over").click()
    context.close()
    return {"pid": state["pid"], "answers": answers}


def join_in_english(page) -> None:
    """Consent, the self-assessment (4 · quite, Engineering, no impairment), Start."""
    page.get_by_label("I agree and want to take part").check()
    page.get_by_label("4 · quite").check()
    page.locator("#field").select_option("Engineering")
    page.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Start").click()


def test_cli_refuses_bad_options_in_one_line(study, capsys):
    from simkit.cli import main

    (study.root / "texts.csv").write_text("language,key,text\nen,welcome,Hi\n",
                                          encoding="utf-8")
    for argv, message in [
        (["--language", "fr"], "language 'fr' is not available; choose one of en, ja"),
        (["--port", "70000"], "--port 70000: give a port from 1 to 65535"),
        ([], "texts.csv, line 2: key 'welcome': unknown key"),
    ]:
        assert main(["serve", str(study.root), *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, err
    (study.root / "texts.csv").unlink()
    from simkit.cli.serve import links

    lines = links("127.0.0.1", 8765, "S1", "T1", "/user/ana/")
    assert lines[0] == "participants: http://localhost:8765/s/S1/"
    assert "/user/ana/proxy/8765/t/T1/" in lines[2] and "/user/ana/proxy/8765/s/S1/" in lines[2]
    held = ServeSession(study)               # a server already runs on this study
    try:
        assert main(["serve", str(study.root), "--port", "0"]) == 2
        assert "another 'simkit serve'" in capsys.readouterr().err
    finally:
        held.release()


def test_answers_saved_together_are_all_or_none(study):
    from simkit.votes.store import VoteError, VoteStore

    store = VoteStore.for_study(study)
    store.register("p1", familiarity=2, field="x", visual_impairment="no")
    assert store.record_many([("p1", "q001", "e-a", 1.0), ("p1", "q002", "b-c", None),
                              ("p1", "q001", "(d)-(c)", 2.0)]) == ["a-e", "b-c", "c-d"]
    assert store.answered("p1") == {"q001": "c-d", "q002": "b-c"}   # the later one wins
    with pytest.raises(VoteError, match="'ghost' is not registered"):
        store.record_many([("p1", "q003", "a-b", 1.0), ("ghost", "q004", "a-b", 1.0)])
    with pytest.raises(VoteError, match="not two different letters"):
        store.record_many([("p1", "q003", "a-b", 1.0), ("p1", "q004", "a-a", 1.0)])
    assert store.answered("p1") == {"q001": "c-d", "q002": "b-c"}   # nothing of either


def test_a_busy_store_answers_503_and_the_retry_is_saved(study):
    s = Served(study, timeout=0.3)
    try:
        joined = call(s.link + "api/join", join_body("BUSY234567"))[1]
        answer = {"code": "BUSY234567", "question_id": joined["order"][0], "choice": "a-c"}
        blocker = sqlite3.connect(study.root / "votes.sqlite", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")         # someone else holds the write lock
        try:
            request = urllib.request.Request(s.link + "api/answer",
                                             data=json.dumps(answer).encode(), method="POST")
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(request, timeout=20)
            assert e.value.code == 503 and e.value.headers["Retry-After"] == "1"
            assert json.loads(e.value.read())["key"] == "error_server"
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert rows(study) == []
        assert call(s.link + "api/answer", answer)[0] == 200       # the page's retry
        assert [r[1:3] for r in rows(study)] == [(joined["order"][0], "a-c")]
    finally:
        s.stop()


def test_the_same_answers_through_serve_and_through_jspsych_give_the_same_tables(
        write_study, tmp_path, capsys):
    # Issue 16: an online study (jsPsych data imported) and a room (simkit serve) that
    # collected the same answers give the same tables.
    from test_jspsych import ANSWERS, QUESTIONS, SELF, as_csv, trials

    from simkit.analysis.all_tables import compute_tables
    from simkit.cli.app import main
    from simkit.study.model import load_study, open_study
    from simkit.votes.messages import canonical_field

    online = write_study(QUESTIONS, {}, images=True)
    room = Path(shutil.copytree(online, tmp_path / "room"))
    data = tmp_path / "data.csv"
    data.write_text(as_csv([r for pid, a in ANSWERS.items() for r in trials(online, pid, a)]))
    assert main(["import", "jspsych", str(data), str(online), "--export"]) == 0

    s = Served(open_study(room))
    try:
        for code, (pid, answers) in zip(("ABCDE-FGHJK", "MNPQR-23456"), ANSWERS.items()):
            me = SELF[pid]
            status, joined = call(s.link + "api/join", join_body(
                code, familiarity=int(me["familiarity"]), field=canonical_field(me["field"]),
                visual_impairment=me["visual_impairment"]))
            assert status == 200, joined
            for qid, choice in answers.items():
                status, out = call(s.link + "api/answer", {
                    "code": code.replace("-", ""), "participant_id": joined["participant_id"],
                    "question_id": qid, "choice": choice, "seconds": 1.5})
                assert status == 200, out
    finally:
        s.stop()
    assert main(["collect", str(room), "--export"]) == 0
    capsys.readouterr()
    a, b = load_study(online), load_study(room)
    assert len(a.valid_participants) == len(b.valid_participants) == 2
    ta, tb = compute_tables(a, ci=False), compute_tables(b, ci=False)
    for name in ("table2", "per_question"):
        pd.testing.assert_frame_equal(ta[name], tb[name])



# -- through a real jupyter-server-proxy on a Jupyter Server with a hub's base URL -------------
@pytest.mark.slow
def test_through_a_real_jupyter_server_proxy(study, tmp_path):
    """``/user/ana/proxy/PORT/…`` on a Jupyter Server, as on a hub's single-user server:
    the pages, their images and API calls, the teacher's page and its QR code."""
    pytest.importorskip("jupyter_server_proxy")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        jport = sock.getsockname()[1]
    token = "hub-like-token-0123"
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run"),
           "IPYTHONDIR": str(home / "ipython")}
    (home / "config").mkdir(parents=True)
    # only the proxy: the other installed extensions (JupyterLab…) would slow the start
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {
            "jupyter_server_proxy": True, "jupyterlab": False, "jupyter_lsp": False,
            "notebook_shim": False, "jupyter_server_terminals": False}}}))
    log = (home / "jupyter.log").open("wb")  # not a pipe nobody reads: it could fill up
    jupyter = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--port={jport}", "--port-retries=0",
         f"--ServerApp.token={token}", "--ServerApp.base_url=/user/ana/",
         f"--ServerApp.root_dir={home}"],
        env=env, cwd=home, stdout=subprocess.DEVNULL, stderr=log)
    s = Served(study)
    try:
        with sync_playwright() as pw:
            # Chromium starts while Jupyter Server does
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            try:
                hub = f"http://127.0.0.1:{jport}/user/ana/"
                deadline = time.monotonic() + 30
                while True:
                    try:
                        urllib.request.urlopen(hub + "api/status?token=" + token, timeout=2)
                        break
                    except (urllib.error.URLError, ConnectionError, TimeoutError):
                        assert jupyter.poll() is None, (home / "jupyter.log").read_text()[-2000:]
                        assert time.monotonic() < deadline, "Jupyter Server did not start"
                        time.sleep(0.1)
                proxied = f"{hub}proxy/{s.port}/"
                link = f"{proxied}s/{s.session.session_token}/"
                teacher = f"{proxied}t/{s.session.teacher_token}/"
                # without the server's token the proxy lets nobody through
                request = urllib.request.Request(link, headers={"Accept": "application/json"})
                with pytest.raises(urllib.error.HTTPError) as e:
                    urllib.request.build_opener(NoRedirect).open(request)
                assert e.value.code in (302, 403)
                # the link without its slash: the relative Location lands on the proxied page
                request = urllib.request.Request(link[:-1],
                                                 headers={"Authorization": f"token {token}"})
                with pytest.raises(urllib.error.HTTPError) as e:
                    urllib.request.build_opener(NoRedirect).open(request)
                assert e.value.code in (301, 302)
                assert urllib.parse.urljoin(link[:-1], e.value.headers["Location"]) == link
                context = browser.new_context()
                page = context.new_page()
                errors, failed = [], []
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.on("requestfailed", lambda r: failed.append((r.url, r.failure)))
                response = page.goto(link + "?token=" + token)   # the hub's login, once
                # simkit's own security headers reach the browser, not Jupyter's
                assert "script-src 'nonce-" in response.headers["content-security-policy"]
                join_in_english(page)
                page.wait_for_selector("#question:not([hidden])")
                page.wait_for_function("() => [...document.querySelectorAll('#tiles img')]"
                                       ".every(i => i.complete && i.naturalWidth > 0)",
                                       timeout=10000)
                images = page.evaluate("[...document.querySelectorAll('#tiles img')]"
                                       ".map(i => i.src)")
                assert len(images) == 5 and all(u.startswith(link + "img/") for u in images)
                qid = page.evaluate("JSON.parse(localStorage.getItem("
                                    "Object.keys(localStorage)[0])).order[0]")
                tiles = page.locator("#tiles .tile")
                tiles.nth(1).click()
                tiles.nth(3).click()
                page.locator("#next").click()
                page.wait_for_function("() => document.getElementById('progress-text')"
                                       ".textContent === 'Question 2 of 4'")
                page.wait_for_function("() => Object.keys(JSON.parse(localStorage.getItem("
                                       "Object.keys(localStorage)[0])).pending).length === 0")
                pid = page.evaluate("JSON.parse(localStorage.getItem("
                                    "Object.keys(localStorage)[0])).pid")
                assert [r[:3] for r in rows(study)] == [(pid, qid, "b-d")]
                assert failed == []
                # the teacher's page, in the same browser: progress, the link, its QR code
                # (leaving the page may abort a request still in flight: not a failure)
                page.on("dialog", lambda dialog: dialog.accept())
                page.goto(teacher)
                page.wait_for_function("() => document.getElementById('summary')"
                                       ".textContent.startsWith('1 participants')")
                assert page.locator("#summary").inner_text() == \
                    "1 participants · 0 finished · 1 answers"
                assert page.locator("#link").inner_text() == link
                page.wait_for_function("() => document.getElementById('qr').naturalWidth > 0")
                page.locator("#close").click()
                page.wait_for_function("() => document.getElementById('close').disabled")
                assert errors == [] and [f for f in failed if "ERR_ABORTED" not in f[1]] == []
                context.close()
            finally:
                browser.close()
        assert s.session.progress()["closed"] is True
    finally:
        s.stop()
        jupyter.terminate()
        try:
            jupyter.wait(10)
        except subprocess.TimeoutExpired:
            jupyter.kill()
            jupyter.wait(5)
        log.close()
