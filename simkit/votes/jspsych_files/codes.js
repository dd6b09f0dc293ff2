/* simkit: resume codes in the browser, for `simkit serve` and the jsPsych export alike.
 * simkitCodes(config) takes the alphabet, length, look-alikes and separators from Python
 * (simkit.votes.codes.client_config), so both questionnaires draw, show and read back codes
 * exactly as simkit.votes.codes does: no second copy of the alphabet here. */
function simkitCodes(config) {
  "use strict";
  var A = config.alphabet, N = config.length, SAME = config.lookalikes, DROP = config.separators;

  // N characters of A, each uniform (bytes past the last whole multiple of |A| are drawn again)
  function draw() {
    var code = "", limit = 256 - (256 % A.length), byte = new Uint8Array(1);
    while (code.length < N) {
      if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(byte);
      else byte[0] = Math.floor(Math.random() * 256);
      if (byte[0] < limit) code += A[byte[0] % A.length];
    }
    return code;
  }
  // what a person typed, as a code: NFKC, upper case, look-alikes replaced, spaces and
  // separators dropped (simkit.votes.codes.clean_code)
  function clean(text) {
    var out = "";
    Array.from(String(text).normalize("NFKC").toUpperCase()).forEach(function (c) {
      if (!/\s/.test(c) && DROP.indexOf(c) < 0) out += Object.prototype.hasOwnProperty.call(SAME, c) ? SAME[c] : c;
    });
    return out;
  }
  function valid(code) {
    return code.length === N && Array.from(code).every(function (c) { return A.indexOf(c) >= 0; });
  }
  function show(code) { var half = Math.ceil(code.length / 2); return code.slice(0, half) + "-" + code.slice(half); }
  return { draw: draw, clean: clean, valid: valid, show: show, example: config.example };
}
