// The kiosk screen (adapters/kiosk.py, adapters/kiosk_app.py). No inline script: the CSP
// forbids it.
// - Signed out: reload before the page's nonce (and QR code) expires, so the kiosk
//   software always signs a fresh one.
// - "Sign in with the app": poll the request's status and finish once it is decided.
// - Signed in: poll whether the session still exists (it ends on the phone's hand-off,
//   card removal, timeout) and show "ended" when it is gone.
(function () {
  "use strict";
  var screen = document.getElementById("kiosk-screen");
  if (!screen) { return; }

  function follow(url, every, decide) {
    var stopped = false;
    window.setInterval(function () {
      if (stopped) { return; }
      fetch(url, { credentials: "same-origin", cache: "no-store" })
        .then(function (response) { return response.json(); })
        .then(function (body) {
          var next = decide(body);
          if (next) { stopped = true; window.location.assign(next); }
        })
        .catch(function () { /* a network blip: the next poll tries again */ });
    }, every);
  }

  var reload = screen.getAttribute("data-reload-url");
  var after = parseInt(screen.getAttribute("data-reload-after") || "0", 10);
  if (reload && after > 0) {
    window.setTimeout(function () { window.location.assign(reload); }, after * 1000);
  }

  var appStatus = screen.getAttribute("data-app-status-url");
  if (appStatus) {
    var line = document.getElementById("kiosk-app-status");
    follow(appStatus, 2000, function (body) {
      screen.setAttribute("data-app", body.status);
      if (body.status === "pending") { return null; }
      if (body.status === "scanned") {
        if (line) { line.textContent = line.getAttribute("data-msg-scanned") || line.textContent; }
        return null;
      }
      return screen.getAttribute("data-app-done-url");
    });
  }

  var status = screen.getAttribute("data-status-url");
  if (status) {
    follow(status, 3000, function (body) {
      return body.signed_in ? null : screen.getAttribute("data-ended-url");
    });
  }
})();
