// Live updates for every dashboard page.
// The server pushes, for each event, a hidden #live-marker (out-of-band swap) naming the event
// kinds and the newest event id. Regions with data-live-kinds="agent. lease." refresh themselves
// (their own hx-get, trigger "swarm:refresh") when a matching kind arrives, at most every 200 ms,
// always with a trailing refresh so the last state is shown. A region may also name its subjects
// (data-live-subjects="identity:planner-1 session:<uuid>", ids URL-encoded): it then refreshes only
// for events about one of them. On every (re)connect the page sends {"resume_after": <last seen id>}
// and the server replays what it missed from the event log.
(function () {
  "use strict";
  var paused = false;
  var pending = [];
  var timers = new WeakMap();

  function lastEventId() { return parseInt(document.body.dataset.lastEventId || "0", 10) || 0; }

  function setStatus(state, text) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".label").textContent = text;
  }

  function refreshFor(events) {
    document.querySelectorAll("[data-live-kinds]").forEach(function (region) {
      var prefixes = region.dataset.liveKinds.split(" ").filter(Boolean);
      var subjects = (region.dataset.liveSubjects || "").split(" ").filter(Boolean);
      var hit = events.some(function (e) {
        return prefixes.some(function (p) { return e.kind.indexOf(p) === 0; }) &&
          (!subjects.length || subjects.indexOf(e.subject) >= 0);
      });
      if (!hit || timers.get(region)) return;
      timers.set(region, setTimeout(function () {
        timers.delete(region);
        if (document.body.contains(region)) htmx.trigger(region, "swarm:refresh");
      }, 200));
    });
  }

  document.addEventListener("htmx:wsOpen", function (e) {
    setStatus("open", "live");
    e.detail.socketWrapper.send(JSON.stringify({ resume_after: lastEventId() }));
  });
  document.addEventListener("htmx:wsClose", function () { setStatus("closed", "reconnecting…"); });
  document.addEventListener("htmx:wsError", function () { setStatus("closed", "reconnecting…"); });

  document.addEventListener("htmx:wsAfterMessage", function () {
    var marker = document.getElementById("live-marker");
    if (!marker) return;
    var id = parseInt(marker.dataset.lastEventId || "0", 10);
    if (id > lastEventId()) document.body.dataset.lastEventId = String(id);
    var kinds = (marker.dataset.kinds || "").split(" ").filter(Boolean);
    var subjects = (marker.dataset.subjects || "").split(" ").filter(Boolean);
    var events = kinds.map(function (k, i) { return { kind: k, subject: subjects[i] || "" }; });
    var empty = document.getElementById("feed-empty");
    if (empty && kinds.length) empty.remove();
    var now = new Date();
    if (paused) {
      pending = pending.concat(events);
      setStatus("paused", "paused · " + pending.length + " update" + (pending.length === 1 ? "" : "s") + " waiting");
      return;
    }
    setStatus("open", "live · updated " + now.toLocaleTimeString());
    refreshFor(events);
  });

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("#live-pause");
    if (!button) return;
    paused = !paused;
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume" : "Pause";
    setStatus(paused ? "paused" : "open", paused ? "paused" : "live");
    if (!paused && pending.length) { refreshFor(pending); pending = []; }
  });

  // Confirmation panels answer a refused form (wrong typed name: 422; the filter's matches changed:
  // 409) with the panel and its message: swap it in instead of dropping it as an error.
  document.addEventListener("htmx:beforeSwap", function (e) {
    var status = e.detail.xhr.status;
    if ((status === 409 || status === 422) && e.detail.requestConfig.elt.closest("[data-swap-refusals]")) {
      e.detail.shouldSwap = true;
      e.detail.isError = false;
    }
  });

  // Relative times ("12s ago", "in 25s") tick every second without a round trip.
  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
    return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
  }
  setInterval(function () {
    var now = Date.now();
    document.querySelectorAll("[data-since]").forEach(function (el) {
      var t = parseInt(el.dataset.since, 10);
      if (t) el.textContent = span(now - t) + " ago";
    });
    document.querySelectorAll("[data-until]").forEach(function (el) {
      var t = parseInt(el.dataset.until, 10);
      if (!t) return;
      el.textContent = t >= now ? "in " + span(t - now) : "expired " + span(now - t) + " ago";
      el.classList.toggle("overdue", t < now);
    });
  }, 1000);
})();
