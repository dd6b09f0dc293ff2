/* simkit: the questionnaire of Wei et al. as a jsPsych 7 experiment, written by
 * `simkit export jspsych`. The study (questions, images, texts) is in study.js; the flow is
 * the Jupyter questionnaire's: consent, self-assessment, every group in a random order per
 * participant, thank-you. Import the data with `simkit import jspsych FILE STUDY`.
 *
 * Saving: on JATOS (jatos.js loaded) the data go to JATOS with jatos.submitResultData; on
 * Pavlovia (when its jsPsych plugin is included, see README.md) through that plugin;
 * anywhere else the browser saves a CSV file at the end (localSave). */
(function () {
  "use strict";
  var S = window.SIMKIT;
  var T = S.texts;

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

  function participantId(jsPsych) {
    function url(name) { return jsPsych.data.getURLVariable(name); }
    var given = url("PROLIFIC_PID") || url("participant") || url("id");
    if (onJatos() && jatos.workerId) given = given || "jatos-" + jatos.workerId;
    // only the characters a study id may hold (no commas, quotes, spaces at the ends)
    given = given ? String(given).replace(/[^A-Za-z0-9_.@:-]/g, "").slice(0, 200) : "";
    return given || "p-" + jsPsych.randomization.randomID(8);
  }

  function run() {
    var jsPsych = initJsPsych({
      show_progress_bar: true,
      auto_update_progress_bar: true,
      message_progress_bar: "",
      on_finish: save,
    });
    window.simkitJsPsych = jsPsych;  // tests and the browser console read the data here
    var pid = participantId(jsPsych);
    jsPsych.data.addProperties({ participant_id: pid, simkit_fingerprint: S.fingerprint,
                                 simkit_language: S.language });
    var timeline = [];
    if (window.jsPsychPavlovia) timeline.push({ type: jsPsychPavlovia, command: "init" });

    timeline.push({
      type: jsPsychHtmlButtonResponse,
      stimulus: '<div class="simkit-text"><h1>' + esc(T.title) + "</h1><h2>" +
        esc(T.consent_title) + "</h2><p>" + esc(T.consent) + "</p><h2>" +
        esc(T.instructions_title) + "</h2><p>" + esc(T.instructions) + "</p></div>",
      choices: [T.consent_agree],
      data: { simkit: "consent" },
    });

    var fam = "";
    for (var i = 1; i <= 5; i++) {
      fam += '<label class="simkit-choice"><input type="radio" name="familiarity" value="' + i +
        '" required> ' + esc(T["familiarity_" + i]) + "</label>";
    }
    var fields = S.fields.map(function (f) { return '<option value="' + esc(f) + '">'; }).join("");
    timeline.push({
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
    });

    var order = jsPsych.randomization.shuffle(S.questions);
    order.forEach(function (q, k) {
      timeline.push({
        type: jsPsychSimkitPickTwo,
        question_id: q.id,
        images: q.images,
        progress: esc(fmt(T.progress, { n: k + 1, total: order.length })),
        prompt: esc(T.question_prompt),
        help: esc(T.question_help),
        picked_count: T.picked_count,
        pick_image: T.pick_image,
        next_label: k + 1 === order.length ? T.finish : T.next,
        data: { simkit_position: k + 1 },
      });
    });

    if (window.jsPsychPavlovia) timeline.push({ type: jsPsychPavlovia, command: "finish" });
    timeline.push({
      type: jsPsychHtmlButtonResponse,
      stimulus: function () {
        var answered = jsPsych.data.get().filter({ simkit: "question" }).count();
        var saved = onJatos() || window.jsPsychPavlovia ? "<p>" + esc(T.saved) + "</p>" : "";
        return '<div class="simkit-text"><h1>' + esc(T.thanks_title) + "</h1><p>" +
          esc(fmt(T.thanks, { answered: answered, total: order.length })) + "</p>" + saved + "</div>";
      },
      choices: [T.finish],
      data: { simkit: "thanks" },
    });
    jsPsych.run(timeline);

    function save() {
      var name = "simkit-" + pid + ".csv";
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
