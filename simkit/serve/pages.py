"""The served pages as HTML text: pure functions of what they show (no requests, no store).

Every URL in a page and its script is relative, so the same page works on a plain port
(``http://HOST:PORT/s/TOKEN/``) and behind a JupyterHub's proxy
(``https://HUB/user/NAME/proxy/PORT/s/TOKEN/``). Scripts and styles are inline, allowed by
a per-response nonce in the Content-Security-Policy (:func:`security_headers`).
"""
from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources
from typing import Any

from simkit.votes import codes

__all__ = ["participant_page", "teacher_page", "message_page", "security_headers", "asset",
           "qr_svg"]


@lru_cache(maxsize=None)
def asset(name: str) -> str:
    """The text of a file shipped in ``simkit/serve/static/`` (read once)."""
    return resources.files("simkit.serve").joinpath("static", name).read_text(encoding="utf-8")


def _json_script(element_id: str, data: Any) -> str:
    # "<" escaped: no text in the data (a title, a study's own consent) can close the tag
    text = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def security_headers(nonce: str) -> dict[str, str]:
    """Headers for every page: scripts and styles only inline with ``nonce`` or from this
    server; no framing; the link's token never sent on as a referrer."""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            f"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors 'none'"),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-store",
    }


def _shell(title: str, lang: str, nonce: str, body: str, script: str = "") -> str:
    return (f'<!doctype html>\n<html lang="{html.escape(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="referrer" content="no-referrer">'
            f'<title>{html.escape(title)}</title>'
            f'<style nonce="{nonce}">{asset("page.css")}</style></head>'
            f'<body><main>{body}</main>{script}</body></html>')


def participant_page(config: dict[str, Any], nonce: str) -> str:
    """The questionnaire, one page for every step (welcome, questions, thanks).

    ``config`` is :meth:`simkit.serve.session.ServeSession.page_config`; the script
    renders the texts of the participant's language from it."""
    t = config["texts"][config["language"]]
    e = html.escape
    body = f"""
<p id="your-code" class="muted code" hidden></p>
<section id="welcome" hidden>
  <div class="row langs" role="group" aria-labelledby="lang-label">
    <span id="lang-label" data-t="language_label">{e(t["language_label"])}</span>
    <span id="languages" class="row"></span>
  </div>
  <h1 data-t="title">{e(t["title"])}</h1>
  <h2 data-t="consent_title"></h2><p data-t="consent"></p>
  <h2 data-t="instructions_title"></h2><p data-t="instructions"></p>
  <label class="choice"><input type="checkbox" id="consent">
    <span data-t="consent_agree"></span></label>
  <p data-t="assessment_intro"></p>
  <fieldset><legend data-t="familiarity_question"></legend>
    <div id="familiarity-options"></div></fieldset>
  <fieldset><legend><label for="field" data-t="field_question"></label></legend>
    <select id="field"></select></fieldset>
  <fieldset><legend data-t="impairment_question"></legend>
    <div id="impairment-options" class="row"></div></fieldset>
  <p><button type="button" id="start" class="primary"><span data-t="start"></span> ▶</button></p>
  <h2><label for="resume-code" data-t="resume_prompt"></label></h2>
  <div class="row"><input type="text" id="resume-code" autocomplete="off"
    autocapitalize="characters" spellcheck="false" maxlength="16">
    <button type="button" id="resume" data-t="resume"></button></div>
</section>
<section id="joining" hidden><p class="big" data-t="saving"></p></section>
<section id="question" hidden>
  <p id="progress-text" class="big" aria-live="polite"></p>
  <progress id="progress-bar" value="0" max="1"></progress>
  <h1 data-t="question_prompt"></h1>
  <p class="muted" data-t="question_help"></p>
  <div id="tiles" class="grid" role="group" aria-describedby="picked-count"></div>
  <p id="picked-count" aria-live="polite"></p>
  <div class="row between"><button type="button" id="back">◀ <span data-t="back"></span></button>
    <button type="button" id="next" class="primary"></button></div>
</section>
<section id="done" hidden>
  <h1 data-t="thanks_title"></h1><p id="thanks" class="big"></p><p id="saved"></p>
  <p><button type="button" id="start-over" data-t="start_over"></button></p>
</section>
<section id="closed" hidden><h1 data-t="error_session_closed"></h1></section>
<div id="notice" class="notice" role="alert"></div>
<p id="status" class="muted" aria-live="polite"></p>
<noscript>This questionnaire needs JavaScript.</noscript>
"""
    script = (_json_script("simkit-config", config)
              + f'<script nonce="{nonce}">{codes.script()}</script>'
              + f'<script nonce="{nonce}">{asset("participant.js")}</script>')
    return _shell(t["title"], config["language"], nonce, body, script)


def teacher_page(config: dict[str, Any], nonce: str) -> str:
    """The teacher's page: the link and its QR code, live progress, closing the session.

    ``config``: ``session`` (the participants' token), ``study`` (a name to show)."""
    body = f"""
<h1>simkit serve · {html.escape(config["study"])}</h1>
<section aria-labelledby="link-h"><h2 id="link-h">Link for the participants</h2>
  <p class="big code" id="link"></p>
  <p id="where" class="notice" role="status"></p>
  <img id="qr" class="qr" alt="QR code of the participants' link">
  <p class="muted">Show this page on the projector, or hand out the link. Only people with
  this link can answer; keep this page's own address to yourself.</p></section>
<section aria-labelledby="progress-h"><h2 id="progress-h">Progress</h2>
  <p class="big" id="summary" aria-live="polite"></p>
  <table class="bars" id="per-question"><caption class="muted">answers per question</caption>
  <tbody></tbody></table></section>
<section aria-labelledby="close-h"><h2 id="close-h">Session</h2>
  <p id="state"></p>
  <button type="button" id="close" class="primary">Close the session</button>
  <p class="muted">Closing stops all answering; every answer given so far is kept.</p>
</section>
"""
    script = (_json_script("simkit-config", config)
              + f'<script nonce="{nonce}">{asset("teacher.js")}</script>')
    return _shell(f"simkit serve · {config['study']}", "en", nonce, body, script)


def message_page(title: str, text: str, lang: str, nonce: str) -> str:
    """A page with one message (an unknown link)."""
    return _shell(title, lang, nonce, f"<h1>{html.escape(title)}</h1>"
                                      f"<p>{html.escape(text)}</p>")


def qr_svg(url: str) -> str:
    """An SVG QR code of ``url`` (needs the ``serve`` extra: segno)."""
    from simkit.errors import import_extra

    import io

    segno = import_extra("segno", "the QR code of simkit serve", "serve")
    out = io.BytesIO()
    # a standalone SVG (with its namespace): shown by <img>, saved, or printed
    segno.make(url, error="m").save(out, kind="svg", xmldecl=False, svgns=True, scale=8,
                                    border=2, dark="#000000", light="#ffffff")
    return out.getvalue().decode("utf-8")
