// Escape answers "Keep my seat" to an open cancel question (templates/registrations/macros.html):
// the question's [data-escape-action] link is clicked, so htmx puts the Cancel button back.
// Without JavaScript the question is a page of its own, and its link goes back.
(function () {
  if (window.cancelConfirmReady) return; // loaded again by a boosted page: one listener is enough
  window.cancelConfirmReady = true;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !(event.target instanceof Element)) return;
    var question = event.target.closest("[data-escape-closes]");
    var keep = question && question.querySelector("[data-escape-action]");
    if (keep) {
      event.preventDefault();
      keep.click();
    }
  });
})();
