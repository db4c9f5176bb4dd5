"""A test portal that records front-channel logout requests on a real loopback port.

It answers ``GET /frontchannel-logout`` as OpenID Connect Front-Channel Logout 1.0
section 2 tells a relying party to (a page for the frame, ``Cache-Control: no-cache,
no-store``, ``Pragma: no-cache``) and keeps the query parameters of each request, and
records what reaches its redirect URI (``/callback``) and its post-logout redirect URI
(``/bye``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

_PAGE = "<!doctype html><html><body><p id='{id}'>{text}</p></body></html>"


@dataclass
class FrontchannelPortal:
    logouts: list[dict[str, str]] = field(default_factory=list)
    callbacks: list[dict[str, str]] = field(default_factory=list)
    byes: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self.logout_uri = f"{self.base}/frontchannel-logout?tenant=city"
        self.callback_url = f"{self.base}/callback"
        self.bye_url = f"{self.base}/bye"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for_logout(self, timeout: float = 10) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.logouts:
                    return dict(self.logouts[0])
            time.sleep(0.05)
        raise AssertionError("the browser never requested the front-channel logout URI")

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        args = {k: request.args.get(k, "") for k in request.args}
        if request.path == "/frontchannel-logout":
            with self._lock:
                self.logouts.append(args)
            body = _PAGE.format(id="portal-logged-out", text="signed out of the portal")
            headers = {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"}
            return Response(body, content_type="text/html", headers=headers)(
                environ, start_response
            )
        if request.path in ("/callback", "/bye"):
            with self._lock:
                (self.callbacks if request.path == "/callback" else self.byes).append(args)
            body = _PAGE.format(id=f"portal-{request.path[1:]}", text="back at the portal")
            return Response(body, content_type="text/html")(environ, start_response)
        return Response(status=404)(environ, start_response)
