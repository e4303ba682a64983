// Progressive enhancements; every page works without them.
// Print buttons: shown only where a script may run, they open the browser's print dialog.
document.querySelectorAll("button[data-print]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () { window.print(); });
});

// Live regions: an element with data-live names an event stream and data-target the id of
// the part of the page to fetch again when it says something changed. Without a stream
// (or when it keeps failing) the part is fetched every 30 seconds; without scripts the
// page refreshes itself (a <noscript> refresh).
document.querySelectorAll("[data-live]").forEach(function (el) {
  var target = document.getElementById(el.getAttribute("data-target"));
  if (!target) { return; }
  var busy = false;
  function reload() {
    if (busy) { return; }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(target.id);
        if (fresh) { target.replaceChildren.apply(target, Array.from(fresh.childNodes)); }
      })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  var timer = null;
  function poll() { if (!timer) { timer = window.setInterval(reload, 30000); } }
  if (!window.EventSource) { poll(); return; }
  var last = null;
  var failures = 0;
  var source = new EventSource(el.getAttribute("data-live"));
  source.addEventListener("alarms", function (e) {
    failures = 0;
    if (last !== null && e.data !== last) { reload(); }
    last = e.data;
  });
  source.onerror = function () {
    failures += 1;
    if (failures > 3) { source.close(); poll(); }
  };
});
