// After htmx swaps a fragment: keep the keyboard user's place, and have the news read out.
// Progressive enhancement only: without JavaScript the forms post and the page reloads.
//
// Focus: htmx already puts focus back on an element of the same id (the check-in toggle, a
// search box), and focus left outside the new content stays where it is (typing in a search).
// Only when the focused element went away with the old content does focus move, to the new
// content's [data-focus-after-swap], else its first alert or status message, else its heading.
//
// Announcing: a message arrives inside new content, and a live region that appears together with
// its text is not reliably read. So a moment later each live region in the new content
// (role=status, role=alert, aria-live) has its content taken out and put back, which screen
// readers announce; the one that received focus is read out for having it.
// (No copy in a separate announcer: the same sentence twice on the page confuses people and tests.)
(function () {
  "use strict";

  var ANNOUNCE_DELAY_MS = 150;
  var handled = new WeakSet();

  var focusedBefore = new WeakMap(); // request -> the element that had focus when its answer came

  // Lost to this swap: something had focus, it went away with the old content, and htmx found no
  // element of the same id to give it to. (Focus that was on nothing stays on nothing: a search
  // answered after the person clicked elsewhere must not pull them back.)
  function focusLostBySwap(request) {
    var before = focusedBefore.get(request);
    var active = document.activeElement;
    var nowhere = !active || active === document.body || !active.isConnected;
    return nowhere && !!before && before !== document.body && !before.isConnected;
  }

  function focusTarget(region) {
    var selectors = ["[data-focus-after-swap]", "[role=alert]", "[role=status]", "h1, h2, h3, h4"];
    for (var i = 0; i < selectors.length; i++) {
      if (region.matches(selectors[i])) return region;
      var found = region.querySelector(selectors[i]);
      if (found) return found;
    }
    return region;
  }

  function moveFocus(element) {
    if (!element.matches("a[href], button, input, select, textarea, [tabindex]")) {
      element.setAttribute("tabindex", "-1");
    }
    element.classList.add("swap-focus"); // app.css: a ring even on tabindex=-1 (see "focus after swaps")
    element.focus();
  }

  // Not the focused element, nor one holding it: moving focus reads it already, and taking its
  // content out would lose the focus. Not one inside another: that one gives it back with its content.
  function announce(region) {
    var LIVE = "[role=status], [role=alert], [aria-live]";
    var live = Array.prototype.slice.call(region.querySelectorAll(LIVE));
    if (region.matches(LIVE)) live.unshift(region);
    live.forEach(function (element) {
      if (element.getAttribute("aria-live") === "off" || !element.textContent.trim()) return;
      if (element.contains(document.activeElement)) return;
      var outer = element.parentElement && element.parentElement.closest(LIVE);
      if (outer && live.indexOf(outer) !== -1) return;
      // Once the region is in the accessibility tree, its content goes out and back in one step:
      // new nodes in a live region are what is read, and the page is never seen without the text.
      window.setTimeout(function () {
        if (!element.isConnected || element.contains(document.activeElement)) return;
        element.replaceChildren.apply(element, Array.prototype.slice.call(element.childNodes));
      }, ANNOUNCE_DELAY_MS);
    });
  }

  // The swapped region: the target if it is still in the page (innerHTML and the like), else
  // the element that replaced it (outerHTML): htmx fires afterSettle on each new element first.
  function swappedRegion(evt) {
    var target = evt.detail && evt.detail.target;
    if (target && target.isConnected && target !== document.body) return target;
    if (target && target.id) {
      var replacement = document.getElementById(target.id);
      if (replacement) return replacement;
    }
    return evt.target instanceof Element && evt.target !== document.body ? evt.target : null;
  }

  document.addEventListener("htmx:beforeSwap", function (evt) {
    if (evt.detail && evt.detail.xhr) focusedBefore.set(evt.detail.xhr, document.activeElement);
  });

  document.addEventListener("htmx:afterSettle", function (evt) {
    var request = evt.detail && evt.detail.xhr;
    if (!request || handled.has(request)) return; // one settle per request, however many elements
    handled.add(request);
    var region = swappedRegion(evt);
    if (!region) return;
    if (focusLostBySwap(request)) moveFocus(focusTarget(region));
    announce(region);
  });
})();
