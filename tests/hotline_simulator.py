"""A reference hotline system (IVR + agent desk): a CIBA client over the real HTTP API.

It authenticates with its client secret (``client_secret_basic``), starts sign-ins at
``/bc-authorize`` naming the caller's ID number and the agent, polls ``/token`` (poll
mode) or waits for the provider's ping on a real loopback HTTP server (ping mode,
``PingReceiver``), and submits SMS codes the caller reads out
(``/bc-authorize/read-back``).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

CIBA_GRANT_TYPE = "urn:openid:params:grant-type:ciba"


@dataclass
class HotlineSimulator:
    http: Any  # a Flask test client
    client_id: str
    secret: str

    def _auth(self) -> dict[str, str]:
        raw = f"{self.client_id}:{self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    def start(
        self,
        login_hint: str,
        agent_id: str,
        *,
        scope: str = "openid profile",
        binding_message: str | None = "Call 4821",
        **extra: str,
    ) -> Any:
        data = {"scope": scope, "login_hint": login_hint, "agent_id": agent_id, **extra}
        if binding_message is not None:
            data["binding_message"] = binding_message
        return self.http.post("/bc-authorize", data=data, headers=self._auth())

    def token(self, auth_req_id: str) -> Any:
        data = {"grant_type": CIBA_GRANT_TYPE, "auth_req_id": auth_req_id}
        return self.http.post("/token", data=data, headers=self._auth())

    def read_back(self, auth_req_id: str, code: str) -> Any:
        data = {"auth_req_id": auth_req_id, "code": code}
        return self.http.post("/bc-authorize/read-back", data=data, headers=self._auth())


@dataclass
class Ping:
    authorization: str
    body: dict[str, Any]
    content_type: str


@dataclass
class PingReceiver:
    """The hotline's client notification endpoint on a real loopback port (CIBA 10.2).
    ``answers`` scripts the statuses it gives first (e.g. ``[503]``: fail once, then
    204); every request is kept in ``received``, failed ones too."""

    received: list[Ping] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/ciba-ping"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, timeout: float = 10) -> list[Ping]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} pings, got {len(self.received)}")

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method != "POST" or request.path != "/ciba-ping":
            return Response(status=404)(environ, start_response)
        with self._lock:
            self.received.append(
                Ping(
                    authorization=request.headers.get("Authorization", ""),
                    body=json.loads(request.get_data(as_text=True) or "{}"),
                    content_type=request.content_type or "",
                )
            )
            status = self.answers.pop(0) if self.answers else 204
        # CIBA 10.2: "the Client ... should respond with HTTP 204 No Content".
        return Response(status=status)(environ, start_response)
