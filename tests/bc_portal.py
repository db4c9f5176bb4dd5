"""A test portal that receives back-channel logout requests on a real loopback port.

It validates each logout token as OpenID Connect Back-Channel Logout 1.0 section 2.6
tells a relying party to (signature against the provider's published JWKS, ``typ``,
``iss``, ``aud``, ``iat``/``exp``, the ``events`` member, ``sub`` or ``sid``, no
``nonce``) with joserfc, never with the provider's code, and answers 200 or 400 (2.8).
``answers`` scripts the statuses it gives first (e.g. ``[503]``: fail once, then work).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

EVENT = "http://schemas.openid.net/event/backchannel-logout"


@dataclass
class Received:
    header: dict[str, Any]
    claims: dict[str, Any]
    content_type: str


@dataclass
class Portal:
    issuer: str
    client_id: str = ""
    keyset: KeySet | None = None
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    requests: int = 0
    # Authorization responses that reached GET /callback (the portal's redirect URI).
    callbacks: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        base = f"http://127.0.0.1:{self._server.server_port}"
        self.url = f"{base}/backchannel-logout"
        self.callback_url = f"{base}/callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} logout tokens, got {len(self.received)}")

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.method == "GET" and request.path == "/callback":
            with self._lock:
                self.callbacks.append(dict(request.args))
            page = '<html><body><p id="portal-callback">back at the portal</p></body></html>'
            return Response(page, content_type="text/html")(environ, start_response)
        with self._lock:
            self.requests += 1
            scripted = self.answers.pop(0) if self.answers else None
        if scripted is not None:
            return Response("scripted failure", status=scripted)(environ, start_response)
        if request.method != "POST" or request.path != "/backchannel-logout":
            return Response(status=404)(environ, start_response)
        try:
            received = self.validate(request.form.get("logout_token", ""))
        except Exception as exc:  # noqa: BLE001 - any failure is a 400, as section 2.6 says
            with self._lock:
                self.refused.append(f"{type(exc).__name__}: {exc}")
            return Response(
                '{"error":"invalid_request"}', status=400, content_type="application/json"
            )(environ, start_response)
        received.content_type = request.content_type or ""
        with self._lock:
            self.received.append(received)
        response = Response(status=200, headers={"Cache-Control": "no-store"})
        return response(environ, start_response)

    def validate(self, token: str) -> Received:
        """OpenID Connect Back-Channel Logout 1.0 section 2.6, steps 1 to 7."""
        assert self.keyset is not None, "the portal needs the provider's JWKS"
        decoded = jwt.decode(token, self.keyset, algorithms=["ES256", "RS256"])
        header, claims = dict(decoded.header), dict(decoded.claims)
        if header.get("typ") != "logout+jwt":
            raise ValueError("typ")
        jwt.JWTClaimsRegistry(
            now=int(time.time()),
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            iat={"essential": True},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(claims)
        if not isinstance(claims.get("events"), dict) or claims["events"].get(EVENT) != {}:
            raise ValueError("events")
        if not (claims.get("sub") or claims.get("sid")):
            raise ValueError("neither sub nor sid")
        if "nonce" in claims:
            raise ValueError("nonce")
        return Received(header=header, claims=claims, content_type="")
