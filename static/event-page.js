// Event pages and event cards, enhanced; everything here also works without it.
// 1. An online event's New York time gets the same time in the visitor's own zone beside it, when
//    that zone's clock differs (members join from abroad): <time datetime data-ends-at data-site-zone>.
// 2. The share button: the system's share sheet where there is one, else copy the link and say so.
(function () {
  "use strict";

  function visitorZone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (error) {
      return null;
    }
  }

  function format(zone, options, date) {
    return new Intl.DateTimeFormat("en-US", Object.assign({ timeZone: zone }, options)).format(date);
  }

  var CLOCK = { hour: "numeric", minute: "2-digit" };
  var DAY_AND_CLOCK = { weekday: "long", hour: "numeric", minute: "2-digit" };

  function clockRange(zone, start, end) {
    var clock = new Intl.DateTimeFormat("en-US", Object.assign({ timeZone: zone }, CLOCK));
    var text = clock.formatRange ? clock.formatRange(start, end)
      : clock.format(start) + " – " + clock.format(end);
    // "12:00 – 1:30 AM" as the site writes ranges: "12:00–1:30 AM".
    return text.replace(/\s*[–-]\s*/, "–");
  }

  function showLocalTimes(root) {
    var zone = visitorZone();
    if (!zone || !root.querySelectorAll) return;
    root.querySelectorAll("time[data-ends-at][data-site-zone]").forEach(function (element) {
      if (element.dataset.localTimeShown) return;
      var start = new Date(element.getAttribute("datetime"));
      var end = new Date(element.dataset.endsAt);
      var site = element.dataset.siteZone;
      if (isNaN(start) || isNaN(end)) return;
      try {
        // The same clock in both zones (another name for New York's offset): nothing to add.
        if (format(zone, DAY_AND_CLOCK, start) === format(site, DAY_AND_CLOCK, start)
            && format(zone, DAY_AND_CLOCK, end) === format(site, DAY_AND_CLOCK, end)) return;
        var note = document.createElement("span");
        note.className = "local-time";
        note.textContent = clockRange(zone, start, end) + " in your time zone (" + zone.replace(/_/g, " ") + "), "
          + format(zone, { weekday: "long" }, start);
        element.after(note);
        element.dataset.localTimeShown = "true";
      } catch (error) {
        // An unknown zone name: New York time alone is still right.
      }
    });
  }

  function say(status, message) {
    // Emptied first, so the same words said twice are announced twice.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 50);
  }

  function copyLink(url, status) {
    if (!navigator.clipboard || !navigator.clipboard.writeText) {
      say(status, "Copying is not available here: select the link above and copy it.");
      return;
    }
    navigator.clipboard.writeText(url).then(
      function () { say(status, "Link copied"); },
      function () { say(status, "Could not copy: select the link above and copy it."); }
    );
  }

  function enableShareButton(button) {
    if (button.dataset.shareReady) return;
    button.dataset.shareReady = "true";
    var status = document.getElementById("share-status");
    var canShare = typeof navigator.share === "function";
    button.textContent = canShare ? "Share" : "Copy link";
    button.hidden = false;
    button.addEventListener("click", function () {
      var url = button.dataset.shareUrl;
      if (!canShare) {
        copyLink(url, status);
        return;
      }
      navigator.share({ title: button.dataset.shareTitle, url: url }).catch(function (error) {
        // Closing the share sheet is a choice, not a failure; anything else falls back to copying.
        if (!error || error.name !== "AbortError") copyLink(url, status);
      });
    });
  }

  function enhance(root) {
    showLocalTimes(root);
    if (root.querySelectorAll) root.querySelectorAll("#share-button[data-share-url]").forEach(enableShareButton);
  }

  enhance(document);
  // Cards that htmx brings in (filtering, "Load more") get the same treatment.
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
})();
