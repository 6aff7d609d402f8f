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
  var held = [];  // websocket messages received while paused, applied in order on resume
  var timers = new WeakMap();
  var FEED_MAX = 200;

  function lastEventId() { return parseInt(document.body.dataset.lastEventId || "0", 10) || 0; }

  function setStatus(state, text, title) {
    var el = document.getElementById("live-status");
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".label").textContent = text;
    el.title = title || "Live updates";
  }

  // A region is busy while the pointer is on one of its controls, a field in it has the focus, or it
  // holds an open form (a <details open> or a form whose fields were typed in): its refresh waits.
  // The pointer counts while it moves or presses (a resting pointer does not hold a region forever).
  var pointerActiveAt = 0;
  ["pointermove", "pointerdown", "pointerup"].forEach(function (type) {
    document.addEventListener(type, function () { pointerActiveAt = Date.now(); }, { passive: true });
  });
  function busy(region) {
    if (Date.now() - pointerActiveAt < 1500 &&
        region.querySelector("a:hover, button:hover, input:hover, select:hover, textarea:hover, summary:hover, label:hover")) return true;
    var active = document.activeElement;
    if (active && active !== document.body && region.contains(active) && active.matches("input, select, textarea")) return true;
    if (region.querySelector("details[open] form, dialog[open]")) return true;
    return Array.prototype.some.call(region.querySelectorAll("input[type=text], input:not([type]), textarea"), function (f) {
      return f.value !== f.defaultValue;
    });
  }

  function schedule(region, delay) {
    timers.set(region, setTimeout(function () {
      timers.delete(region);
      if (!document.body.contains(region)) return;
      if (paused) { pending.push(region); return; }
      if (busy(region)) { schedule(region, 400); return; }
      htmx.trigger(region, "swarm:refresh");
    }, delay));
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
      schedule(region, 200);
    });
  }

  function eventsOf(marker) {
    if (!marker) return [];
    var id = parseInt(marker.dataset.lastEventId || "0", 10);
    if (id > lastEventId()) document.body.dataset.lastEventId = String(id);
    var kinds = (marker.dataset.kinds || "").split(" ").filter(Boolean);
    var subjects = (marker.dataset.subjects || "").split(" ").filter(Boolean);
    return kinds.map(function (k, i) { return { kind: k, subject: subjects[i] || "" }; });
  }

  function trimFeed() {
    var feed = document.getElementById("event-feed");
    while (feed && feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    var empty = document.getElementById("feed-empty");
    if (empty && feed && feed.children.length) empty.remove();
  }

  // A held message is applied as htmx would have: its feed items on top of the feed, its marker read.
  function applyHeld(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html;
    var items = tpl.content.getElementById("event-feed");
    var feed = document.getElementById("event-feed");
    if (items && feed) {
      var block = document.createDocumentFragment();
      while (items.firstChild) block.appendChild(items.firstChild);
      feed.insertBefore(block, feed.firstChild);
    }
    return eventsOf(tpl.content.getElementById("live-marker"));
  }

  function heldCount() {
    return held.reduce(function (n, html) {
      var m = /data-kinds="([^"]*)"/.exec(html);
      return n + (m ? m[1].split(" ").filter(Boolean).length : 0);
    }, 0);
  }

  document.addEventListener("htmx:wsOpen", function (e) {
    setStatus(paused ? "paused" : "open", paused ? "paused" : "live");
    e.detail.socketWrapper.send(JSON.stringify({ resume_after: lastEventId() }));
  });
  document.addEventListener("htmx:wsClose", function () { setStatus("closed", "reconnecting…"); });
  document.addEventListener("htmx:wsError", function () { setStatus("closed", "reconnecting…"); });

  // Pause holds everything: the message is kept (not swapped), so neither the feed nor any region moves.
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    if (!paused) return;
    e.preventDefault();
    held.push(e.detail.message);
    var n = heldCount();
    setStatus("paused", "paused · " + n + " waiting", "Paused: " + n + " update" + (n === 1 ? "" : "s") +
      " held; press Resume to apply them");
  });

  document.addEventListener("htmx:wsAfterMessage", function () {
    var events = eventsOf(document.getElementById("live-marker"));
    trimFeed();
    decorate(document.getElementById("event-feed"));
    // Short and of fixed width (tabular digits), so the header never reflows as updates arrive.
    var at = new Date();
    setStatus("open", "live · " + localText(at, false).split(" ")[0], "Live updates; last one at " + localText(at, true));
    refreshFor(events);
  });

  function resume() {
    var events = [];
    held.forEach(function (html) { events = events.concat(applyHeld(html)); });
    held = [];
    trimFeed();
    decorate(document.getElementById("event-feed"));
    var regions = pending;
    pending = [];
    regions.forEach(function (r) { if (document.body.contains(r) && !timers.get(r)) schedule(r, 0); });
    refreshFor(events);
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("#live-pause");
    if (!button) return;
    paused = !paused;
    window.swarmPaused = paused;
    button.setAttribute("aria-pressed", String(paused));
    button.textContent = paused ? "Resume" : "Pause";
    setStatus(paused ? "paused" : "open", paused ? "paused" : "live");
    if (!paused) resume();
  });

  // -- one timestamp format: local time with its zone; the full date, zone and UTC on hover --------
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function zone(d) {
    var part = new Intl.DateTimeFormat([], { timeZoneName: "short" }).formatToParts(d)
      .filter(function (p) { return p.type === "timeZoneName"; })[0];
    return part ? part.value : "";
  }
  function localText(d, withDate) {
    var day = d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
    var time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
    return (withDate ? day + " " : "") + time + " " + zone(d);
  }
  function localize(root) {
    (root || document).querySelectorAll("time[data-local]:not([data-localized])").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var today = new Date();
      var sameDay = d.toDateString() === today.toDateString();
      el.textContent = localText(d, !sameDay || el.dataset.local === "full");
      el.title = localText(d, true) + " · " + d.toISOString().replace(".000", "").replace("T", " ").replace("Z", " UTC");
      el.dataset.localized = "1";
    });
  }

  // -- the event feed's filter (kind prefix, subject text) also applies to items that arrive live --
  function feedFilter() {
    var form = document.getElementById("feed-filter");
    if (!form) return null;
    return { kind: form.elements.kind.value, subject: form.elements.subject.value.trim().toLowerCase() };
  }
  function filterFeed(root) {
    var f = feedFilter();
    if (!f || !root) return;
    root.querySelectorAll("li.event").forEach(function (li) {
      var kindOk = !f.kind || (li.dataset.kind || "").indexOf(f.kind) === 0;
      var subjectOk = !f.subject || (li.dataset.subject || "").toLowerCase().indexOf(f.subject) >= 0 ||
        li.textContent.toLowerCase().indexOf(f.subject) >= 0;
      li.hidden = !(kindOk && subjectOk);
    });
  }
  function decorate(root) {
    if (!root) return;
    localize(root);
    filterFeed(root.id === "event-feed" ? root : root.querySelector && root.querySelector("#event-feed"));
  }
  document.addEventListener("input", function (e) {
    var form = e.target.closest && e.target.closest("#feed-filter");
    if (!form) return;
    filterFeed(document.getElementById("event-feed"));
    var url = new URL(location.href);
    ["kind", "subject"].forEach(function (k) {
      var v = form.elements[k].value.trim();
      if (v) url.searchParams.set(k, v); else url.searchParams.delete(k);
    });
    history.replaceState(null, "", url);
  });
  document.addEventListener("DOMContentLoaded", function () { decorate(document.body); });
  document.addEventListener("htmx:load", function (e) { decorate(e.target); });

  // Feedback after every action: the server's messages arrive as a "swarm:toast" event and show at
  // the top of the page; a form marked data-clear-on-success is emptied (with a fresh idempotency key)
  // once its action succeeded, and the page's live regions refresh so the action shows everywhere.
  function toastBox() {
    var box = document.getElementById("toasts");
    if (!box) {
      box = document.createElement("ul");
      box.id = "toasts";
      box.className = "toasts";
      box.setAttribute("role", "status");
      box.setAttribute("aria-live", "polite");
      document.body.appendChild(box);
    }
    return box;
  }
  function showToast(text, level) {
    var li = document.createElement("li");
    li.className = "toast " + (level || "ok");
    li.textContent = text;
    toastBox().appendChild(li);
    setTimeout(function () { li.classList.add("leaving"); }, 5000);
    setTimeout(function () { li.remove(); }, 5600);
  }
  function freshKey() {
    var a = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }
  document.addEventListener("swarm:toast", function (e) {
    var list = (e.detail && e.detail.messages) || [];
    var ok = list.length && list.every(function (m) { return m.level !== "error"; });
    list.forEach(function (m) { showToast(m.text, m.level); });
    var form = e.target && e.target.closest && e.target.closest("form[data-clear-on-success]");
    if (ok && form) {
      form.reset();
      var key = form.querySelector("input[name=key]");
      if (key) key.value = freshKey();
    }
    if (ok) {
      document.querySelectorAll("[data-live-kinds]").forEach(function (r) {
        if (!timers.get(r)) schedule(r, 150);
      });
    }
  });

  // Date-time fields are in the browser's zone, like every time shown: the form sends the zone's name.
  function browserZones(root) {
    var name = "";
    try { name = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (err) { name = ""; }
    if (!name) return;
    (root || document).querySelectorAll("input[data-browser-zone]").forEach(function (input) {
      if (input.value) return;
      input.value = name;
      var label = input.form && input.form.querySelector("[data-zone-label]");
      if (label) label.textContent = name;
    });
  }
  document.addEventListener("DOMContentLoaded", function () { browserZones(); });

  // Pause holds everything, also a live refresh already on its way when Pause was pressed: its answer
  // is dropped and the region refreshed on resume. Answers to the user's own requests still swap.
  function hold(region) { if (region && pending.indexOf(region) < 0) pending.push(region); }
  window.swarmHold = hold;
  document.addEventListener("htmx:beforeSwap", function (e) {
    var config = e.detail.requestConfig || {};
    if (!paused || !config.triggeringEvent || config.triggeringEvent.type !== "swarm:refresh") return;
    e.detail.shouldSwap = false;
    hold(config.elt);
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
