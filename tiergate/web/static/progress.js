/* A form marked data-progress="ID" shows the element ID (a <progress> and an elapsed-time counter) while the
   server works on it, and its submit buttons are disabled so the work is not started twice. */
(function () {
  "use strict";
  function watch(form) {
    var shown = document.getElementById(form.dataset.progress);
    if (!shown) return;
    form.addEventListener("submit", function () {
      var started = Date.now();
      var elapsed = shown.querySelector(".elapsed");
      shown.hidden = false;
      Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
        setTimeout(function () { b.disabled = true; }, 0);  // after the submission has taken the button's value
      });
      setInterval(function () {
        if (elapsed) elapsed.textContent = Math.round((Date.now() - started) / 1000) + " s";
      }, 500);
    });
  }
  function all() { Array.prototype.forEach.call(document.querySelectorAll("form[data-progress]"), watch); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all);
  else all();
})();
