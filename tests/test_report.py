"""``simkit.report`` / ``simkit report``: one self-contained HTML file with every table
beside the paper's, the figures and every question's thumbnails and picks.

The studies are tiny and hand-made, with their machine choices given (no network runs); a
headless Chromium opens the file with every network request aborted.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import simkit
from simkit.reports.html import render_report
from simkit.reports.tables_html import TITLES
from simkit.analysis.published import published
from simkit.cli.app import main
from simkit.methods.choices import MachineChoices

pytest.importorskip("plotly")

CHROMIUM = Path("/usr/bin/chromium")
IMG = "<img src='data:image/jpeg;base64,"
#: An attribute or CSS that would make a browser fetch something from the network.
FETCHED = re.compile(r"""(?:\b(?:src|href|action|poster|srcset)\s*=\s*["']?\s*(?:https?:)?//)"""
                     r"""|url\(\s*["']?\s*(?:https?:)?//|@import|<link\b""", re.I)
SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)

QUESTIONS = {"q1": ("Yakusha-e", ["i1", "i2", "i3", "i4", "i5"]),
             "q2": ("Yakusha-e", ["i6", "i7", "i8", "i9", "i10"]),
             "q3": ("Bijin-ga", ["i11", "i12", "i13", "i14", "i15"])}
# q1: a-b 2, c-d 2 (a tie); q2: a-c 3; q3: d-e 2, a-b 1; p5 is excluded (impaired)
VOTES = {"p1": {"q1": "a-b", "q2": "a-c", "q3": "d-e"},
         "p2": {"q1": "c-d", "q2": "a-c", "q3": "d-e"},
         "p3": {"q1": "a-b", "q2": "a-c", "q3": "a-b"},
         "p4": {"q1": "c-d", "q2": "b-e", "q3": "c-e"},
         "p5": {"q1": "a-b", "q2": "a-b", "q3": "a-b"}}
PARTICIPANTS = {"p1": "no", "p2": "no", "p3": "no", "p4": "no", "p5": "yes"}
CHOICES = {("q1", "gram"): "a-b", ("q2", "gram"): "d-e", ("q3", "gram"): "d-e",
           ("q1", "cosine"): "c-d", ("q2", "cosine"): "a-c", ("q3", "cosine"): "b-c"}


@pytest.fixture
def study_dir(write_study):
    return write_study(QUESTIONS, VOTES, PARTICIPANTS, CHOICES, images=True)


def _section(text: str, name: str) -> str:
    start = text.index(f"id='t-{name}'")
    return text[start:text.index("</section>", start)]


def _no_network(text: str) -> list[str]:
    return FETCHED.findall(SCRIPT.sub("", text))


def test_report_shows_every_table_beside_the_paper_and_every_question(study_dir, tmp_path):
    study = simkit.load_study(study_dir)
    out = simkit.report(study, out=tmp_path / "r.html", n_boot=50, progress=False)
    text = out.read_text(encoding="utf-8")
    tables = simkit.tables(study, n_boot=50)
    for name in tables:  # every table, under its title
        assert f"id='t-{name}'" in text and TITLES.get(name, (name,))[0] in text
    # Table 2: each of our values with the paper's beside it, marked where they differ
    pub = published("table2").set_index(["genre", "method"])["avg_ps"]
    ours = tables["table2"].set_index(["genre", "method"])["avg_ps"]
    both = [k for k in ours.index if k in pub.index]
    assert len(both) == 3 * 3  # Yakusha-e, Bijin-ga, All × Majority, Gram, Cosine
    section = _section(text, "table2")
    for key in both:
        cell = f"{ours[key]:.2f} <span class='paper'>| {pub[key]:.2f}</span>"
        assert cell in section
    differ = sum(abs(ours[k] - pub[k]) > 0.01 for k in both)
    assert f"<b>{differ}</b> of {len(both)} published values differ" in section
    assert section.count("</span> <span class='mark'>*</span></td>") == differ
    # Table 4 compares by rank: the paper's question ids are not ours
    assert "published values differ" in _section(text, "table4")
    # five thumbnails per question, each an embedded JPEG; nothing fetched from a network
    assert text.count(IMG) == 5 * len(QUESTIONS)
    assert not _no_network(text)
    assert text.count("plotly.js v") <= 2 and "Plotly.newPlot" in text  # plotly.js once
    # the people's tie and each method's pair, in text
    q1 = text[text.index("id='q-q1'"):text.index("id='q-q2'")]
    assert "(a)-(b) or (c)-(d) — 2 of 4 votes each (a tie of 2 pairs" in q1
    assert "<b>Gram</b>: (a)-(b) — 2 votes, ✓ in the majority" in q1
    assert "<b>Cosine</b>: (c)-(d) — 2 votes, ✓ in the majority" in q1
    q2 = text[text.index("id='q-q2'"):text.index("id='q-q3'")]
    assert "<b>Gram</b>: (d)-(e) — 0 votes, ✗ not the majority" in q2
    assert "5 recruited, 4 valid, 1 excluded" in text


def test_notes_tables_added_later_and_missing_choices(study_dir, tmp_path):
    study = simkit.load_study(study_dir)
    note = "random weights: meaningless as VGG-19 results"
    result = MachineChoices(choices=study.choices, distances=pd.DataFrame(),
                            notes=[note], methods=["gram", "cosine"], weights="random:0")
    tables = dict(simkit.tables(study, result, n_boot=20))
    # a table another part of simkit may add later: shown under its own name
    tables["split_half"] = pd.DataFrame({"genre": ["Yakusha-e", "All"], "measure": "agree",
                                         "split_half": [61.25, 58.0]})
    pq = tables["per_question"].copy()
    pq.loc[pq["question_id"] == "q3", "choice_gram"] = None  # gram has no choice for q3
    tables["per_question"] = pq
    out = simkit.report(study, result, tables=tables, out=tmp_path / "r.html", progress=False)
    text = out.read_text(encoding="utf-8")
    assert f"WARNING: {note}" in text.split("<nav>")[0]  # at the top, before anything
    added = _section(text, "split_half")
    assert "<h3>split_half" in added and "61.25" in added and "58.00" in added
    q3 = text[text.index("id='q-q3'"):]
    assert "<b>Gram</b>: no choice" in q3 and "<b>Cosine</b>: (b)-(c)" in q3


def test_one_valid_participant_and_no_votes(write_study, tmp_path):
    one = write_study(QUESTIONS, {"p1": VOTES["p1"], "p4": {"q1": "a-b"}}, name="one",
                      choices=CHOICES, images=True)
    text = simkit.report(one, out=tmp_path / "one.html", n_boot=20,
                         progress=False).read_text(encoding="utf-8")
    assert "n/a — the human ceiling needs at least 2 valid participants" in text
    assert "n/a — Fleiss&#x27; kappa needs at least 2 valid participants" in text
    none = write_study(QUESTIONS, {}, name="none", choices=CHOICES, images=True)
    (none / "images" / "i7.png").write_bytes(b"not a png")  # a grey square, and a note
    text = simkit.report(none, out=tmp_path / "none.html",
                         progress=False).read_text(encoding="utf-8")
    assert "no tables:" in text and "no valid participant" in text
    assert "WARNING: image i7: no thumbnail (" in text.split("<nav>")[0]
    assert text.count("People (majority)</b>: no votes") == len(QUESTIONS)
    assert "<b>Cosine</b>: (a)-(c)" in text and text.count(IMG) == 5 * len(QUESTIONS)
    assert "plotly" not in text.lower()  # no figure, so no plotly.js either


def test_cli_replaces_the_report_keeps_other_files_and_refuses_a_folder(study_dir, tmp_path,
                                                                       capsys):
    out, figs = tmp_path / "r.html", tmp_path / "figs"
    out.write_text("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><meta "
                   "name='generator' content='simkit 0.0.1'><title>an older report")
    figs.mkdir()
    (figs / "mine.txt").write_text("the user's")
    assert main(["report", str(study_dir), "--out", str(out), "--figures", str(figs),
                 "--n-boot", "20"]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (figs / "mine.txt").read_text() == "the user's"
    assert {p.name for p in figs.glob("*.html")} == {"ps_by_genre.html", "agree_by_genre.html",
                                                     "fig1.html", "kappa.html"}
    assert f"wrote {out}" in capsys.readouterr().out
    assert main(["report", str(study_dir), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder; give the report a file name" in err


def test_render_report_on_in_memory_tables_is_pure(study_dir):
    study = simkit.load_study(study_dir)
    text = render_report(study, {}, thumbnails={}, title="<Mine>")
    assert "<title>&lt;Mine&gt;</title>" in text and text.count("(no thumbnail)") == 15


@pytest.mark.slow
@pytest.mark.browser
def test_chromium_opens_the_report_offline_and_draws_every_figure(study_dir, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed; the browser test needs it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    out = simkit.report(study_dir, out=tmp_path / "r.html", n_boot=20, progress=False)
    problems, fetched = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))

        def route(r):
            if r.request.url.startswith("file:"):
                r.continue_()
            else:
                fetched.append(r.request.url)
                r.abort()
        page.route("**/*", route)
        page.goto(out.as_uri())
        page.wait_for_selector(".plotly-graph-div .main-svg")
        drawn = page.eval_on_selector_all(
            ".plotly-graph-div", "els => els.map(e => !!e.querySelector('.main-svg'))")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => e.complete && e.naturalWidth > 0)")
        browser.close()
    assert not problems and not fetched
    assert drawn == [True] * 4
    assert images == [True] * (5 * len(QUESTIONS))


def test_genre_bars_draw_the_intervals_ceiling_and_chance_given():
    from simkit.plots.report_figures import genre_bars

    values = pd.DataFrame({"genre": ["A", "B", "A", "B"], "method": ["gram", "gram", "cosine",
                                                                     "cosine"],
                           "value": [40.0, 20.0, 50.0, float("nan")]})
    ci = values.assign(ci_low=values["value"] - [5, 2, 10, 0], ci_high=values["value"] + 1)
    ceiling = pd.DataFrame({"genre": ["B", "A"], "ceiling": [70.0, 80.0],
                            "ci_low": [60.0, 75.0], "ci_high": [72.0, 90.0]})
    fig = genre_bars(values, intervals=ci, ceiling=ceiling,
                     chance=pd.Series({"A": 10.0, "B": 12.5}))
    gram, cosine, ceil, chance = fig.data
    assert list(gram.y) == [40.0, 20.0] and list(cosine.y) == [50.0, None]
    assert list(gram.error_y.arrayminus) == [5.0, 2.0] and list(gram.error_y.array) == [1, 1]
    assert gram.marker.pattern.shape != cosine.marker.pattern.shape  # not colour alone
    assert list(ceil.y) == [80.0, 70.0] and list(ceil.error_y.array) == [10.0, 2.0]
    assert list(chance.y) == [10.0, 12.5] and [t.name for t in fig.data][2:] == [
        "human ceiling", "chance"]


def test_figures_replace_only_their_own_files(study_dir, tmp_path, capsys):
    import plotly.graph_objects as go

    from simkit.plots.report_figures import check_figures_folder, save_figures

    figs = tmp_path / "figs"
    save_figures({"fig1": go.Figure()}, figs)
    save_figures({"fig1": go.Figure()}, figs)          # its own page: replaced
    (figs / "kappa.html").write_text("the user's notes")
    with pytest.raises(simkit.errors.UsageError, match="kappa.html exists and is not a figure"):
        check_figures_folder(figs)
    out = tmp_path / "r.html"
    assert main(["report", str(study_dir), "--out", str(out), "--figures", str(figs)]) == 2
    assert "kappa.html exists" in capsys.readouterr().err
    assert (figs / "kappa.html").read_text() == "the user's notes" and not out.exists()
