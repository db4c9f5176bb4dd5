// "Sign in with the app": poll the request's status and move on once it is decided
// (adapters/website_app.py). No inline script: the CSP forbids it.
(function () {
  "use strict";
  var box = document.getElementById("app-wait");
  if (!box) { return; }
  var statusUrl = box.getAttribute("data-status-url");
  var doneUrl = box.getAttribute("data-done-url");
  var line = document.getElementById("app-status");
  var stopped = false;

  function poll() {
    if (stopped) { return; }
    fetch(statusUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        box.setAttribute("data-status", body.status);
        if (body.status === "pending") { return; }
        if (body.status === "scanned") {
          line.textContent = box.getAttribute("data-msg-scanned");
          return;
        }
        stopped = true;
        window.location.assign(doneUrl);
      })
      .catch(function () { /* a network blip: the next poll tries again */ });
  }

  window.setInterval(poll, 2000);
})();
