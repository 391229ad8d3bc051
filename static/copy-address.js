// "Copy address" beside a read-only address field (templates/feeds/macros.html): shown only here,
// where it can work; without it the field's text can still be selected and copied by hand.
(function () {
  "use strict";

  function say(status, message) {
    if (!status) return;
    // Emptied first, so the same words said twice are announced twice.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function copy(button) {
    var field = document.getElementById(button.dataset.copyFrom);
    var status = document.getElementById(button.dataset.copyStatus);
    if (!field) return;
    field.select();
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      say(status, "Copying is not available here: the address is selected, copy it with your keyboard.");
      return;
    }
    navigator.clipboard.writeText(field.value).then(
      function () { say(status, "Address copied"); },
      function () { say(status, "Could not copy: the address is selected, copy it with your keyboard."); }
    );
  }

  function enhance(root) {
    if (!root.querySelectorAll) return;
    root.querySelectorAll("button[data-copy-from]").forEach(function (button) {
      if (button.dataset.copyReady) return;
      button.dataset.copyReady = "true";
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  }

  enhance(document);
  // The block htmx swaps in after a reset has a button of its own.
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
})();
