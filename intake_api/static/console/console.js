/* The staff console's only script: the queue refreshes itself and sounds a P1 arrival, a ticket
   page follows the delivery of its replies, and the session warns before its idle time-out.
   Every word shown comes from the page (templates); nothing here is fetched from elsewhere. */
(function () {
  "use strict";
  var body = document.body;
  var prefix = body.getAttribute("data-prefix") || "/console";
  var pollMs = Math.max(1, Number(body.getAttribute("data-poll-seconds") || 4)) * 1000;
  var idleMs = Number(body.getAttribute("data-idle-seconds") || 0) * 1000;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";
  var baseTitle = document.title;
  var stopped = false;

  function byId(id) { return document.getElementById(id); }

  /* --- session: warn before the idle time-out, say clearly when it has passed --- */
  var warnTimer = null;
  var expireTimer = null;
  function expired() {
    stopped = true;
    var warning = byId("session-warning");
    var gone = byId("session-expired");
    if (warning) { warning.hidden = true; }
    if (gone) { gone.hidden = false; }
    document.title = "⚠ " + baseTitle;
  }
  function armIdle() {
    if (!idleMs) { return; }
    clearTimeout(warnTimer);
    clearTimeout(expireTimer);
    var warning = byId("session-warning");
    if (warning) { warning.hidden = true; }
    warnTimer = setTimeout(function () {
      if (warning) { warning.hidden = false; }
    }, Math.max(idleMs - 120000, idleMs * 0.8));
    expireTimer = setTimeout(expired, idleMs);
  }
  var extend = byId("session-extend");
  if (extend) {
    extend.addEventListener("click", function () {
      fetch(prefix + "/session", {
        method: "POST",
        credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}
      }).then(function (r) {
        if (r.status === 204) { armIdle(); } else { expired(); }
      }).catch(function () {});
    });
  }
  armIdle();

  function getJSON(url) {
    return fetch(url, {credentials: "same-origin", cache: "no-store", headers: {"Accept": "application/json"}})
      .then(function (r) {
        if (r.status === 401) { expired(); throw new Error("signed out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      });
  }

  /* --- the P1 sound, which the person may turn off (remembered in this browser) --- */
  var SOUND_KEY = "hotline.console.sound";
  var toggle = byId("sound-toggle");
  var audio = null;
  function soundOn() {
    try { return window.localStorage.getItem(SOUND_KEY) !== "off"; } catch (e) { return true; }
  }
  function showToggle() {
    if (!toggle) { return; }
    var on = soundOn();
    toggle.setAttribute("aria-pressed", on ? "true" : "false");
    var label = toggle.querySelector("span");
    if (label) { label.textContent = toggle.getAttribute(on ? "data-on" : "data-off"); }
  }
  if (toggle) {
    toggle.addEventListener("click", function () {
      try { window.localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on"); } catch (e) {}
      showToggle();
    });
    showToggle();
  }
  function alarm() {
    if (!soundOn()) { body.setAttribute("data-sound", "muted"); return; }
    audio = audio || new Audio(prefix + "/static/alert.wav");
    audio.currentTime = 0;
    var played = audio.play();
    var blocked = byId("sound-blocked");
    if (played && played.then) {
      played.then(function () {
        body.setAttribute("data-sound", "played");
        if (blocked) { blocked.hidden = true; }
      }).catch(function () {
        // The browser wants a click on the page before it plays sound.
        body.setAttribute("data-sound", "blocked");
        if (blocked) { blocked.hidden = false; }
      });
    } else {
      body.setAttribute("data-sound", "played");
    }
  }

  /* On a phone the rows matter more than the filters: fold them unless a filter is on. */
  var filters = byId("filters");
  if (filters && window.matchMedia && window.matchMedia("(max-width: 820px)").matches &&
      filters.getAttribute("data-filtering") !== "1") {
    filters.open = false;
  }

  /* --- the queue: refresh, mark what arrived, never let a P1 pass unseen --- */
  var rows = byId("queue-rows");
  if (rows) {
    var known = {};
    var highlighted = {};
    Array.prototype.forEach.call(rows.querySelectorAll("tr[data-id]"), function (tr) {
      known[tr.getAttribute("data-id")] = true;
    });
    var banner = byId("arrivals");
    var live = byId("live");
    var total = byId("queue-total");
    var urgentCodes = [];
    var lastHtml = null;

    var mark = function () {
      Object.keys(highlighted).forEach(function (id) {
        var tr = byId("t-" + id);
        if (tr) { tr.classList.add("arrived"); }
      });
    };
    var clearArrivals = function () {
      highlighted = {};
      urgentCodes = [];
      Array.prototype.forEach.call(rows.querySelectorAll("tr.arrived"), function (tr) {
        tr.classList.remove("arrived");
      });
      if (banner) { banner.hidden = true; }
      document.title = baseTitle;
    };
    var seen = byId("arrivals-seen");
    if (seen) { seen.addEventListener("click", clearArrivals); }

    var refresh = function () {
      if (stopped) { return; }
      getJSON(rows.getAttribute("data-rows-url")).then(function (data) {
        var fresh = data.ids.filter(function (id) { return !known[id]; });
        if (data.html !== lastHtml) {
          // Keep the keyboard where it was: a re-drawn row must not steal the focus.
          var focused = document.activeElement;
          var row = focused && focused.closest ? focused.closest("tr[data-id]") : null;
          var focusedId = row && rows.contains(row) ? row.getAttribute("data-id") : null;
          rows.innerHTML = data.html;
          lastHtml = data.html;
          if (focusedId) {
            var again = rows.querySelector("#t-" + focusedId + " a.code");
            if (again) { again.focus(); }
          }
        }
        if (total) { total.textContent = String(data.total); }
        fresh.forEach(function (id) { known[id] = true; highlighted[id] = true; });
        mark();
        var urgent = fresh.filter(function (id) { return data.urgent.indexOf(id) >= 0; });
        if (fresh.length && live) {
          live.textContent = fresh.length + " " + (live.getAttribute("data-text") || "");
        }
        if (urgent.length) {
          urgent.forEach(function (id) {
            var link = rows.querySelector("#t-" + id + " a.code");
            if (link) { urgentCodes.push(link.textContent); }
          });
          if (banner) {
            var text = byId("arrivals-text");
            if (text) { text.textContent = (text.getAttribute("data-text") || "") + " " + urgentCodes.join(", "); }
            banner.hidden = false;
          }
          document.title = "(P1) " + baseTitle;
          alarm();
        }
      }).catch(function () {});
    };
    setInterval(refresh, pollMs);
  }

  /* --- a ticket: follow the delivery state of staff replies --- */
  var chat = document.querySelector(".chat[data-replies-url]");
  if (chat) {
    var pending = function () {
      return chat.querySelectorAll(".delivery-queued, .delivery-sending").length > 0;
    };
    var follow = function () {
      if (stopped || !pending()) { return; }
      getJSON(chat.getAttribute("data-replies-url")).then(function (data) {
        Array.prototype.forEach.call(chat.querySelectorAll("[data-reply-id]"), function (el) {
          var html = data.replies[el.getAttribute("data-reply-id")];
          if (html) { el.innerHTML = html; }
        });
      }).catch(function () {});
    };
    setInterval(follow, pollMs);
  }
})();
