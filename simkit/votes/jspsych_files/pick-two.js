/* simkit: a jsPsych 7 plugin that shows five images and lets the participant pick the two
 * most similar ones, by tap, click or keyboard (1-5 or a-e to pick, Enter to go on; the
 * images are buttons, so Tab and Space work too). A third pick replaces the earliest one,
 * as in simkit's Jupyter questionnaire. `picked` shows an earlier answer ("b-d") to keep or
 * change; with a `back_label` a Back button ends the trial with simkit "back" instead.
 * Data: simkit ("question" or "back"), question_id, choice ("b-d"), rt (ms).
 * Written for simkit (MIT licence), no build step: it runs as it is in any browser. */
var jsPsychSimkitPickTwo = (function (jspsych) {
  "use strict";
  var P = jspsych.ParameterType;
  var info = {
    name: "simkit-pick-two",
    parameters: {
      question_id: { type: P.STRING, default: undefined },
      images: { type: P.COMPLEX, default: undefined },   // [{src, alt}] x 5, a-e
      progress: { type: P.HTML_STRING, default: "" },
      prompt: { type: P.HTML_STRING, default: "" },
      help: { type: P.HTML_STRING, default: "" },
      picked_count: { type: P.STRING, default: "{count} of 2 picked" },
      pick_image: { type: P.STRING, default: "pick image ({letter})" },
      next_label: { type: P.STRING, default: "Next" },
      picked: { type: P.STRING, default: "" },       // an earlier answer, "b-d", or ""
      back_label: { type: P.STRING, default: "" },   // "" = no Back button
      code: { type: P.HTML_STRING, default: "" },    // the participant's resume code line
    },
  };
  var LETTERS = ["a", "b", "c", "d", "e"];

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  class SimkitPickTwoPlugin {
    constructor(jsPsych) { this.jsPsych = jsPsych; }

    trial(display_element, trial) {
      var self = this;
      var picked = trial.picked ? trial.picked.split("-") : [];
      var start = performance.now();
      var html = '<div class="simkit-question">' +
        (trial.code ? '<p class="simkit-code">' + trial.code + "</p>" : "") +
        '<div class="simkit-progress" aria-live="polite">' + trial.progress + "</div>" +
        '<h2 class="simkit-prompt">' + trial.prompt + "</h2>" +
        '<p class="simkit-help">' + trial.help + "</p>" +
        '<div class="simkit-images" role="group">';
      trial.images.forEach(function (img, i) {
        var letter = LETTERS[i];
        html += '<button type="button" class="simkit-image" data-letter="' + letter +
          '" aria-pressed="false" aria-label="' +
          esc(trial.pick_image.replace("{letter}", letter)) + '">' +
          '<img src="' + esc(img.src) + '" alt="' + esc(img.alt) + '">' +
          '<span class="simkit-letter">(' + letter + ")</span></button>";
      });
      html += "</div>" +
        '<p class="simkit-count" aria-live="polite"></p>' +
        '<div class="simkit-nav">' + (trial.back_label ?
          '<button type="button" class="jspsych-btn simkit-back">' + esc(trial.back_label) +
          "</button>" : "") +
        '<button type="button" class="jspsych-btn simkit-next" disabled>' +
        esc(trial.next_label) + "</button></div></div>";
      display_element.innerHTML = html;
      var buttons = display_element.querySelectorAll(".simkit-image");
      var next = display_element.querySelector(".simkit-next");
      var count = display_element.querySelector(".simkit-count");

      function render() {
        buttons.forEach(function (b) {
          b.setAttribute("aria-pressed", picked.indexOf(b.dataset.letter) >= 0 ? "true" : "false");
        });
        count.textContent = trial.picked_count.replace("{count}", picked.length);
        next.disabled = picked.length !== 2;
      }
      function toggle(letter) {
        var k = picked.indexOf(letter);
        if (k >= 0) picked.splice(k, 1);
        else { picked.push(letter); if (picked.length > 2) picked.shift(); }
        render();
      }
      function end(data) {
        document.removeEventListener("keydown", onKey);
        data.question_id = trial.question_id;
        data.rt = Math.round(performance.now() - start);
        display_element.innerHTML = "";
        self.jsPsych.finishTrial(data);
      }
      function finish() {
        if (picked.length !== 2) return;
        var pair = picked.slice().sort();
        end({ simkit: "question", choice: pair[0] + "-" + pair[1] });
      }
      function onKey(e) {
        if (e.ctrlKey || e.metaKey || e.altKey) return;
        var key = e.key.toLowerCase();
        var k = "12345".indexOf(key);
        if (k < 0) k = LETTERS.indexOf(key);
        if (key.length === 1 && k >= 0) { toggle(LETTERS[k]); e.preventDefault(); }
        // Enter on a focused image button picks it (the browser's own click); elsewhere, go on
        else if (key === "enter" && !(e.target && e.target.classList &&
                                      e.target.classList.contains("simkit-image"))) {
          finish(); e.preventDefault();
        }
      }
      buttons.forEach(function (b) {
        b.addEventListener("click", function () { toggle(b.dataset.letter); });
      });
      next.addEventListener("click", finish);
      var back = display_element.querySelector(".simkit-back");
      if (back) back.addEventListener("click", function () { end({ simkit: "back" }); });
      document.addEventListener("keydown", onKey);
      render();
    }
  }
  SimkitPickTwoPlugin.info = info;
  return SimkitPickTwoPlugin;
})(jsPsychModule);
