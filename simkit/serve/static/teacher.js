// simkit serve: the teacher's page. Relative URLs only: the page may be behind a proxy.
"use strict";
(function () {
  const CFG = JSON.parse(document.getElementById("simkit-config").textContent);
  const $ = (id) => document.getElementById(id);
  // this page is .../t/TEACHER/ ; the participants' page is .../s/SESSION/
  const link = new URL("../../s/" + CFG.session + "/", window.location.href).href;
  $("link").textContent = link;
  if (/^(localhost|127\.|\[::1\])/.test(window.location.hostname)) {
    $("where").textContent = "This page is open as " + window.location.host + ": the link " +
      "works on this machine only. Open this page at the machine's network address " +
      "(printed by simkit serve when started with --host 0.0.0.0) to hand it out.";
  }
  $("qr").src = "qr.svg?url=" + encodeURIComponent(link);

  function show(p) {
    $("summary").textContent = p.participants + " participants · " + p.complete +
      " finished · " + p.answers + " answers";
    $("state").textContent = p.closed ? "The session is closed: no more answers are taken."
                                      : "The session is open.";
    $("close").disabled = p.closed;
    const most = Math.max(1, ...p.per_question.map((q) => q.answers));
    const body = $("per-question").tBodies[0];
    body.replaceChildren();
    for (const q of p.per_question) {
      const tr = body.insertRow(), name = tr.insertCell(), n = tr.insertCell(), bar = tr.insertCell();
      name.textContent = q.question_id; n.textContent = q.answers;
      const div = document.createElement("div");
      div.className = "bar"; div.style.width = (100 * q.answers / most) + "%";
      bar.style.width = "70%"; bar.appendChild(div);
    }
  }

  async function poll() {
    try {
      const r = await fetch("api/progress", {cache: "no-store"});
      if (r.ok) show(await r.json());
    } catch (e) { $("state").textContent = "The server does not answer; retrying…"; }
  }

  $("close").addEventListener("click", async () => {
    if (!window.confirm("Close the session? Participants can then no longer answer.")) return;
    const r = await fetch("api/close", {method: "POST"});
    if (r.ok) show(await r.json());
  });
  poll();
  setInterval(poll, 2000);
})();
