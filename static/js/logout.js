// Front-Channel Logout 1.0: the signed-out page frames each portal's logout URI
// (templates/_frontchannel.html). Go on to the post-logout redirect once every frame
// has loaded (the window's load event waits for them), or after a few seconds if a
// portal is slow. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var box = document.getElementById("frontchannel");
  if (!box) { return; }
  var next = box.getAttribute("data-next");
  var finished = false;

  function finish() {
    if (finished) { return; }
    finished = true;
    document.getElementById("frontchannel-status").textContent = box.getAttribute("data-done");
    if (next) { window.location.replace(next); }
  }

  if (document.readyState === "complete") {
    finish();
  } else {
    window.addEventListener("load", finish);
  }
  window.setTimeout(finish, 3000);
})();
