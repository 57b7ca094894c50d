/* The error summary (GOV.UK pattern): after a refused submit, focus moves to the summary so
   a screen reader reads it first; each link in it moves focus to its field (a plain link to
   an input only scrolls) and opens a folded section around it. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (!summary) { return; }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    event.preventDefault();
    var folded = field.closest("details");
    if (folded) { folded.open = true; }
    var label = document.querySelector("label[for='" + field.id + "']");
    (label || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
})();
