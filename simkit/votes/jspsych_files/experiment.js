/* simkit: the questionnaire of Wei et al. as a jsPsych 7 experiment, written by
 * `simkit export jspsych`. The study (questions, images, texts) is in study.js; the flow is
 * the Jupyter questionnaire's: consent, self-assessment, every group in a random order per
 * participant, thank-you. Import the data with `simkit import jspsych FILE STUDY`.
 *
 * Saving: on JATOS (jatos.js loaded) the data go to JATOS with jatos.submitResultData; on
 * Pavlovia (when its jsPsych plugin is included, see README.md) through that plugin;
 * anywhere else the browser saves a CSV file at the end (localSave).
 *
 * Back and resume: the questions run as one loop over the participant's order, so Back
 * shows the previous question with its pick, and a new answer replaces the earlier row of
 * that question in jsPsych's data (one row per question, the last answer). After every
 * trial the progress (order, position, the data so far) is kept in this browser's
 * localStorage under the study's fingerprint and the participant id, and on JATOS also in
 * its study session data. A reload of the tab continues at once (the tab's sessionStorage
 * names the participant); a link with the participant's id continues too; otherwise the
 * participant types the short code shown on every question on the first page. The data
 * saved at the end hold the answers given before the reload as well. */
(function () {
  "use strict";
  var S = window.SIMKIT;
  var T = S.texts;
  var KEY = "simkit:" + S.fingerprint + ":";   // one study's entries, whatever the page's URL
  var CODES = simkitCodes(S.codes);   // codes.js, configured by simkit.votes.codes

  function fmt(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? values[k] : m;
    });
  }
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function onJatos() { return typeof window.jatos !== "undefined"; }

  function givenId(jsPsych) {
    function url(name) { return jsPsych.data.getURLVariable(name); }
    var given = url("PROLIFIC_PID") || url("participant") || url("id");
    if (onJatos() && jatos.workerId) given = given || "jatos-" + jatos.workerId;
    // only the characters a study id may hold (no commas, quotes, spaces at the ends)
    return given ? String(given).replace(/[^A-Za-z0-9_.@:-]/g, "").slice(0, 200) : "";
  }

  // -- where the progress is kept: storage may be missing or full (private windows, some
  // file:// pages); the experiment then runs on, without resume
  function load(storage, key) {
    try { var text = window[storage].getItem(KEY + key); return text ? JSON.parse(text) : null; }
    catch (e) { return null; }
  }
  function keep(storage, key, value) {
    try {
      if (value === null) window[storage].removeItem(KEY + key);
      else window[storage].setItem(KEY + key, JSON.stringify(value));
    } catch (e) { /* see above */ }
  }
  function jatosState() {
    var data = onJatos() && jatos.studySessionData;
    var state = data && data.simkit;
    return state && state.pid && state.fingerprint === S.fingerprint ? state : null;
  }

  function run() {
    var jsPsych = initJsPsych({
      show_progress_bar: true,
      auto_update_progress_bar: false,   // the loop of questions: set from the answers
      message_progress_bar: "",
      on_trial_finish: function () { persist(); },
      on_finish: save,
    });
    window.simkitJsPsych = jsPsych;  // tests and the browser console read the data here
    var total = S.questions.length;
    var byId = {};
    S.questions.forEach(function (q) { byId[q.id] = q; });
    var given = givenId(jsPsych);
    // the participant to continue: JATOS's session, this tab (a reload), the id in the link
    var state = jatosState() || load("localStorage", "p:" + (given || load("sessionStorage", "current") || ""));
    var resumed = !!state;
    if (!state) {
      state = { fingerprint: S.fingerprint, pid: given || "p-" + jsPsych.randomization.randomID(8), code: CODES.draw(),
                order: jsPsych.randomization.shuffle(S.questions.map(function (q) { return q.id; })),
                index: 0, spent: {}, rows: [], done: false };
    }
    continueWith(state);

    function continueWith(st) {
      state = st;
      state.done = false;
      jsPsych.data.addProperties({ participant_id: state.pid, simkit_fingerprint: S.fingerprint,
                                   simkit_language: S.language });
      // the data of the earlier page loads, so that the file saved at the end holds them
      state.rows.forEach(function (row) { jsPsych.data.get().push(row); });
    }
    function answered() { return jsPsych.data.get().filter({ simkit: "question" }).count(); }
    function persist() {
      state.rows = jsPsych.data.get().values().filter(function (r) { return r.simkit !== "thanks"; });
      keep("localStorage", "p:" + state.pid, state);
      keep("localStorage", "code:" + state.code, state.pid);
      if (!state.done) keep("sessionStorage", "current", state.pid);
      if (onJatos() && typeof jatos.setStudySessionData === "function") {
        var data = jatos.studySessionData || {};
        data.simkit = state;
        try {
          var sent = jatos.setStudySessionData(data);
          if (sent && typeof sent.catch === "function") sent.catch(function () {});
        } catch (e) { /* JATOS keeps the last session data it got; localStorage has all */ }
      }
    }

    var timeline = [];
    if (window.jsPsychPavlovia) timeline.push({ type: jsPsychPavlovia, command: "init" });

    timeline.push({
      timeline: [{
        type: jsPsychHtmlButtonResponse,
        stimulus: '<div class="simkit-text"><h1>' + esc(T.title) + "</h1><h2>" +
          esc(T.consent_title) + "</h2><p>" + esc(T.consent) + "</p><h2>" +
          esc(T.instructions_title) + "</h2><p>" + esc(T.instructions) + "</p></div>",
        choices: [T.consent_agree],
        prompt: '<div class="simkit-text simkit-resume"><p><label for="simkit-code">' +
          esc(T.resume_prompt) + '</label></p><input id="simkit-code" autocomplete="off" ' +
          'autocapitalize="characters" spellcheck="false" maxlength="16" placeholder="' +
          esc(fmt(T.resume_placeholder, { example: CODES.example })) + '"> ' +
          '<button type="button" class="jspsych-btn" id="simkit-resume">' + esc(T.resume) +
          '</button><p id="simkit-notice" class="simkit-notice" role="alert"></p></div>',
        data: { simkit: "consent" },
        on_load: function () {
          var input = document.getElementById("simkit-code");
          function resume() {
            var code = CODES.clean(input.value);   // codes handed out earlier (8 characters) too
            if (!code) return;
            var pid = load("localStorage", "code:" + code);
            var found = pid && load("localStorage", "p:" + pid);
            if (!found) {
              document.getElementById("simkit-notice").textContent =
                fmt(T.error_unknown_code, { code: code });
              return;
            }
            continueWith(found);
            jsPsych.finishTrial({ simkit_resumed: true });  // (consented before)
          }
          document.getElementById("simkit-resume").addEventListener("click", resume);
          input.addEventListener("keydown", function (e) {
            if (e.key === "Enter") { e.preventDefault(); resume(); }
          });
        },
      }],
      conditional_function: function () { return !resumed; },
    });

    var fam = "";
    for (var i = 1; i <= 5; i++) {
      fam += '<label class="simkit-choice"><input type="radio" name="familiarity" value="' + i +
        '" required> ' + esc(T["familiarity_" + i]) + "</label>";
    }
    var fields = S.fields.map(function (f) { return '<option value="' + esc(f) + '">'; }).join("");
    timeline.push({
      timeline: [{
        type: jsPsychSurveyHtmlForm,
        preamble: "<p class='simkit-text'>" + esc(T.assessment_intro) + "</p>",
        html: '<div class="simkit-form">' +
          '<fieldset><legend>' + esc(T.familiarity_question) + "</legend>" + fam + "</fieldset>" +
          '<label for="simkit-field" class="simkit-legend">' + esc(T.field_question) + "</label>" +
          '<input id="simkit-field" name="field" list="simkit-fields" required placeholder="' +
          esc(T.field_placeholder) + '"><datalist id="simkit-fields">' + fields + "</datalist>" +
          '<fieldset><legend>' + esc(T.impairment_question) + "</legend>" +
          '<label class="simkit-choice"><input type="radio" name="visual_impairment" value="no" required> ' +
          esc(T.no) + "</label>" +
          '<label class="simkit-choice"><input type="radio" name="visual_impairment" value="yes"> ' +
          esc(T.yes) + "</label></fieldset></div>",
        button_label: T.start,
        data: { simkit: "assessment" },
      }],
      // a participant who resumed has answered it before
      conditional_function: function () {
        return jsPsych.data.get().filter({ simkit: "assessment" }).count() === 0;
      },
    });

    function current() { return state.order[state.index]; }
    function earlier(qid) {
      var rows = jsPsych.data.get().filter({ simkit: "question", question_id: qid }).values();
      return rows.length ? rows[rows.length - 1].choice : "";
    }
    var more = function () { return state.index < total; };
    timeline.push({
      timeline: [{
        type: jsPsychSimkitPickTwo,
        question_id: current,
        images: function () { return byId[current()].images; },
        picked: function () { return earlier(current()); },
        progress: function () { return esc(fmt(T.progress, { n: state.index + 1, total: total })); },
        code: function () { return esc(fmt(T.your_code, { code: CODES.show(state.code) })); },
        prompt: esc(T.question_prompt),
        help: esc(T.question_help),
        picked_count: T.picked_count,
        pick_image: T.pick_image,
        next_label: function () { return state.index + 1 === total ? T.finish : T.next; },
        back_label: function () { return state.index > 0 ? "\u25C0 " + T.back : ""; },
        data: { simkit_position: function () { return state.index + 1; } },
        on_start: function () { jsPsych.setProgressBar(answered() / total); },
        on_finish: function (data) {
          // rt: the time on this question over all visits, as the questionnaire counts it
          state.spent[data.question_id] = (state.spent[data.question_id] || 0) + data.rt;
          if (data.simkit === "back") { state.index -= 1; return; }
          data.rt = state.spent[data.question_id];
          // one row per question: the new answer replaces the earlier one
          var rows = jsPsych.data.get().values();
          for (var k = rows.length - 2; k >= 0; k--) {
            if (rows[k].simkit === "question" && rows[k].question_id === data.question_id) rows.splice(k, 1);
          }
          state.index += 1;
        },
      }],
      conditional_function: more,
      loop_function: more,
    });

    if (window.jsPsychPavlovia) timeline.push({ type: jsPsychPavlovia, command: "finish" });
    timeline.push({
      type: jsPsychHtmlButtonResponse,
      stimulus: function () {
        var saved = onJatos() || window.jsPsychPavlovia ? "<p>" + esc(T.saved) + "</p>" : "";
        return '<div class="simkit-text"><h1>' + esc(T.thanks_title) + "</h1><p>" +
          esc(fmt(T.thanks, { answered: answered(), total: total })) + "</p>" + saved +
          '<p class="simkit-code">' + esc(fmt(T.your_code, { code: CODES.show(state.code) })) +
          "</p></div>";
      },
      choices: [T.finish],
      data: { simkit: "thanks" },
      on_start: function () { jsPsych.setProgressBar(1); },
    });
    jsPsych.run(timeline);

    function save() {
      // done: kept under its code (to save the file again), no longer this tab's participant
      state.done = true;
      persist();
      keep("sessionStorage", "current", null);
      var name = "simkit-" + state.pid + ".csv";
      if (onJatos()) {
        jatos.submitResultData(jsPsych.data.get().json()).then(function () { jatos.endStudy(); });
      } else if (!window.jsPsychPavlovia) {
        jsPsych.data.get().localSave("csv", name);
        jsPsych.getDisplayElement().innerHTML = '<div class="simkit-text"><p>' + esc(T.saved) +
          '</p><button type="button" class="jspsych-btn" id="simkit-save-again">' +
          esc(T.save_again) + "</button></div>";
        document.getElementById("simkit-save-again").addEventListener("click", function () {
          jsPsych.data.get().localSave("csv", name);
        });
      }
    }
  }

  // JATOS serves jatos.js beside the study's files (its study URLs hold /publix/); load it
  // there and start once it is ready. Elsewhere start at once.
  if (location.pathname.indexOf("/publix/") >= 0) {
    var s = document.createElement("script");
    s.src = "jatos.js";
    s.onload = function () { jatos.onLoad(run); };
    s.onerror = run;
    document.head.appendChild(s);
  } else {
    run();
  }
})();
