// simkit serve: the participant's page. Every URL here is relative (the page may sit
// behind a JupyterHub proxy at /user/NAME/proxy/PORT/...). Answers are kept in
// localStorage until the server confirms them, and sent again until it does.
"use strict";
(function () {
  const CFG = JSON.parse(document.getElementById("simkit-config").textContent);
  const KEY = "simkit-serve:" + CFG.session;
  const LETTERS = CFG.letters;
  const $ = (id) => document.getElementById(id);

  // -- state, kept across reloads ---------------------------------------------------------
  let S = load() || blank();
  let picked = [];            // letters, in the order picked
  let shownAt = null;         // when the current question appeared (ms)
  let retryDelay = 1000, retryTimer = null, sending = false, closed = CFG.closed;

  function blank() {          // a new participant's state (a first visit, the next person)
    return {language: CFG.language, code: null, joined: false, join: null, order: null,
            answered: {}, pending: {}, spent: {}, index: 0};
  }
  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)); } catch (e) { return null; }
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(S)); } catch (e) { /* private mode: memory only */ }
  }
  function T(key, values) {
    let text = (CFG.texts[S.language] || CFG.texts[CFG.language])[key];
    for (const [k, v] of Object.entries(values || {})) text = text.split("{" + k + "}").join(String(v));
    return text;
  }
  const CODES = simkitCodes(CFG.codes);   // codes.js: simkit.votes.codes in the browser

  // -- talking to the server ---------------------------------------------------------------
  // ok: the JSON answer; refused: {status, key}; network trouble or 5xx: throws "retry".
  async function post(path, body) {
    let response;
    try {
      response = await fetch("api/" + path, {method: "POST", cache: "no-store",
        headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    } catch (e) { throw "retry"; }
    if (response.status >= 500 || response.status === 429 || response.status === 408) throw "retry";
    let data = {};
    try { data = await response.json(); } catch (e) { /* keep {} */ }
    if (!response.ok) return {refused: true, status: response.status, key: data.key || "error_server"};
    return data;
  }

  function scheduleRetry() {
    if (retryTimer) return;
    $("status").textContent = T("error_offline");
    retryTimer = setTimeout(() => { retryTimer = null; flush(); }, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  }

  async function flush() {
    if (sending || closed) return;
    sending = true;
    try {
      if (!S.joined && S.join) {
        const r = await post("join", S.join);
        if (r.refused) {              // back to the first page, with what to fix
          if (!refused(r)) { S.code = null; S.join = null; save(); render(); $("notice").textContent = T(r.key); }
          return;
        }
        S.joined = true; S.pid = r.participant_id; S.order = r.order; mergeServer(r.answered);
        firstOpen(); save();
        render();
      }
      for (const qid of Object.keys(S.pending)) {
        const p = S.pending[qid];
        const r = await post("answer", {code: S.code, participant_id: S.pid, question_id: qid,
                                        choice: p.choice, seconds: p.seconds});
        if (r.refused) { if (refused(r)) return; }
        // confirmed (or refused for good): it leaves the queue only now
        if (S.pending[qid] && S.pending[qid].choice === p.choice) delete S.pending[qid];
        save();
      }
      retryDelay = 1000;
      $("status").textContent = "";
      if (page === "done") render();
    } catch (e) {
      if (e !== "retry") throw e;
      scheduleRetry();
    } finally {
      sending = false;
    }
    if (Object.keys(S.pending).length && !retryTimer) flush();
  }

  // A refusal: the session is closed, the link or code is wrong, or a bad answer (dropped).
  // Returns true when nothing more can be sent.
  function refused(r) {
    if (r.status === 410) { closed = true; render(); return true; }
    $("notice").textContent = T(r.key);
    return r.status === 403 || r.status === 404 && r.key === "error_bad_link";
  }

  function mergeServer(answered) {
    for (const [qid, choice] of Object.entries(answered || {})) {
      if (!(qid in S.pending)) S.answered[qid] = choice;
    }
  }

  // -- actions -----------------------------------------------------------------------------
  function start() {
    const fam = document.querySelector("input[name=familiarity]:checked");
    const vi = document.querySelector("input[name=impairment]:checked");
    const field = $("field").value;
    if (!$("consent").checked) { $("notice").textContent = T("error_consent"); return; }
    if (!fam || !vi || !field) { $("notice").textContent = T("error_assessment"); return; }
    S.code = CODES.draw();
    S.join = {code: S.code, consent: true, familiarity: Number(fam.value), field: field,
              visual_impairment: vi.value, language: S.language};
    S.joined = false; S.index = 0; save();
    $("notice").textContent = "";
    // the order comes from the server: wait for the join, retrying if the network is away
    page = "joining"; render(); flush();
  }

  async function resume() {
    const code = CODES.clean($("resume-code").value);
    if (!code) return;
    try {
      const r = await post("resume", {code: code});
      if (r.refused) { $("notice").textContent = T("error_unknown_code", {code: code}); return; }
      S = {language: r.language || S.language, code: code, pid: r.participant_id, joined: true,
           join: null, order: r.order, answered: {}, pending: {}, spent: {}, index: 0};
      mergeServer(r.answered); firstOpen(); save(); $("notice").textContent = "";
      render();
    } catch (e) { $("notice").textContent = T("error_offline"); }
  }

  function firstOpen() {
    const i = S.order.findIndex((q) => !(q in S.answered));
    S.index = i < 0 ? S.order.length : i;
  }

  function toggle(letter) {
    const at = picked.indexOf(letter);
    if (at >= 0) picked.splice(at, 1);
    else { picked.push(letter); if (picked.length > 2) picked.shift(); }
    renderPicks();
  }

  function leave() {
    const qid = S.order[S.index];
    if (shownAt !== null && qid) S.spent[qid] = (S.spent[qid] || 0) + (performance.now() - shownAt) / 1000;
    shownAt = null;
  }

  function next() {
    if (picked.length !== 2) { $("notice").textContent = T("error_pick_two"); return; }
    const qid = S.order[S.index];
    const choice = picked.slice().sort().join("-");
    leave();
    S.answered[qid] = choice;
    S.pending[qid] = {choice: choice, seconds: Math.round((S.spent[qid] || 0) * 1000) / 1000};
    S.index += 1;
    if (S.index >= S.order.length) firstOpen();   // anything skipped comes last
    save(); $("notice").textContent = "";
    render(); flush();
  }

  function back() {
    if (S.index <= 0) return;
    leave(); S.index -= 1; save(); render();
  }

  // -- the pages ---------------------------------------------------------------------------
  let page = null;
  function currentPage() {
    if (closed) return "closed";
    if (!S.code || (!S.joined && !S.join)) return "welcome";
    if (!S.joined) return "joining";
    return S.index >= S.order.length ? "done" : "question";
  }

  function render() {
    page = currentPage();
    document.documentElement.lang = S.language;
    document.title = T("title");
    for (const el of document.querySelectorAll("[data-t]")) el.textContent = T(el.dataset.t);
    for (const id of ["welcome", "joining", "question", "done", "closed"]) $(id).hidden = id !== page;
    $("your-code").hidden = !S.code || page === "welcome" || page === "closed";
    if (S.code) $("your-code").textContent = T("your_code", {code: CODES.show(S.code)});
    if (page === "welcome") renderWelcome();
    if (page === "question") renderQuestion();
    if (page === "done") {
      $("thanks").textContent = T("thanks", {answered: Object.keys(S.answered).length, total: S.order.length});
      const waiting = Object.keys(S.pending).length;
      $("saved").textContent = waiting ? T("saving") : T("saved");
      $("start-over").hidden = waiting > 0;   // a shared device (a kiosk): the next person
    }
  }

  function renderWelcome() {
    const langs = $("languages");
    langs.replaceChildren();
    for (const [code, name] of Object.entries(CFG.languages)) {
      const b = document.createElement("button");
      b.type = "button"; b.textContent = name; b.lang = code;
      b.setAttribute("aria-pressed", String(code === S.language));
      b.addEventListener("click", () => { S.language = code; save(); render(); });
      langs.appendChild(b);
    }
    const fam = $("familiarity-options"), chosenF = document.querySelector("input[name=familiarity]:checked");
    const keepF = chosenF ? chosenF.value : null;
    fam.replaceChildren();
    for (let i = 1; i <= 5; i++) fam.appendChild(radio("familiarity", String(i), T("familiarity_" + i), keepF));
    const vi = $("impairment-options"), chosenV = document.querySelector("input[name=impairment]:checked");
    const keepV = chosenV ? chosenV.value : null;
    vi.replaceChildren(radio("impairment", "no", T("no"), keepV), radio("impairment", "yes", T("yes"), keepV));
    const sel = $("field"), keep = sel.selectedIndex;
    sel.replaceChildren(new Option(T("field_placeholder"), ""));
    for (const k of CFG.field_keys) sel.appendChild(new Option(T(k), T(k)));
    sel.selectedIndex = Math.max(0, keep);
    $("resume-code").placeholder = T("resume_placeholder", {example: CODES.example});
  }

  function radio(name, value, text, keep) {
    const label = document.createElement("label");
    label.className = "choice";
    const input = document.createElement("input");
    input.type = "radio"; input.name = name; input.value = value; input.checked = value === keep;
    label.append(input, document.createTextNode(text));
    return label;
  }

  function renderQuestion() {
    const qid = S.order[S.index], total = S.order.length;
    $("progress-text").textContent = T("progress", {n: S.index + 1, total: total});
    $("progress-bar").max = total;
    $("progress-bar").value = Object.keys(S.answered).length;
    const previous = S.answered[qid];
    picked = previous ? [previous[0], previous[2]] : [];
    const grid = $("tiles");
    if (grid.dataset.qid !== qid || grid.dataset.lang !== S.language) {
      grid.replaceChildren();
      LETTERS.forEach((letter, i) => {
        const title = CFG.titles[qid][i];
        const alt = title ? T("image_alt_titled", {letter: letter, title: title}) : T("image_alt", {letter: letter});
        const b = document.createElement("button");
        b.type = "button"; b.className = "tile"; b.dataset.letter = letter;
        b.setAttribute("aria-pressed", "false");
        const img = document.createElement("img");
        img.alt = alt; img.src = "img/" + encodeURIComponent(qid) + "/" + letter;
        const mark = document.createElement("span");
        mark.className = "mark"; mark.textContent = "(" + letter + ") " + (i + 1);
        b.append(img, mark);
        b.title = T("pick_image", {letter: letter});
        b.addEventListener("click", () => toggle(letter));
        grid.appendChild(b);
      });
      grid.dataset.qid = qid; grid.dataset.lang = S.language;
      shownAt = performance.now();
      const first = grid.querySelector("button");
      if (first && document.activeElement && document.activeElement.classList.contains("tile")) first.focus();
    }
    $("back").disabled = S.index === 0;
    $("next").textContent = S.index === total - 1 ? T("finish") + " ✔" : T("next") + " ▶";
    renderPicks();
  }

  function renderPicks() {
    for (const b of document.querySelectorAll("#tiles .tile")) {
      b.setAttribute("aria-pressed", String(picked.includes(b.dataset.letter)));
    }
    $("picked-count").textContent = T("picked_count", {count: picked.length});
    $("next").disabled = picked.length !== 2;
  }

  // -- wiring ------------------------------------------------------------------------------
  $("start").addEventListener("click", start);
  $("resume").addEventListener("click", resume);
  $("next").addEventListener("click", next);
  $("back").addEventListener("click", () => { back(); });
  $("start-over").addEventListener("click", () => {
    if (Object.keys(S.pending).length) return;   // never drop an unconfirmed answer
    S = blank();
    for (const el of document.querySelectorAll("#welcome input")) {
      if (el.type === "text") el.value = ""; else el.checked = false;
    }
    $("field").selectedIndex = 0;
    $("tiles").dataset.qid = "";     // the next person's first question starts its own clock
    save(); render(); window.scrollTo(0, 0);
  });
  document.addEventListener("keydown", (ev) => {
    if (page !== "question" || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const tag = (ev.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") return;
    const k = ev.key.toLowerCase();
    const i = "12345".indexOf(k) >= 0 ? "12345".indexOf(k) : LETTERS.indexOf(k);
    if (k.length === 1 && i >= 0) { ev.preventDefault(); toggle(LETTERS[i]); return; }
    if (ev.key === "Enter" && (tag !== "button" || ev.target.classList.contains("tile"))) {
      ev.preventDefault();          // Enter on a tile confirms; it does not toggle it
      if (picked.length === 2) next();
    }
  });
  window.addEventListener("online", () => { retryDelay = 1000; flush(); });

  if (S.joined && S.order) {
    // a reload: the server's confirmed answers count, the unconfirmed ones are sent again
    post("resume", {code: S.code}).then((r) => {
      if (r && !r.refused) { mergeServer(r.answered); save(); if (page !== "question") render(); }
      else if (r && r.refused) refused(r);
    }).catch(() => scheduleRetry());
  }
  render();
  flush();
})();
