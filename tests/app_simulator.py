"""A reference mobile app: plays the app's part of issue 5 over the real HTTP API.

It holds its own ES256 device key (joserfc), signs in through the OIDC code flow as a
native public client (PKCE, loopback redirect), binds the key with the access token,
then signs every call (``Authorization: Device <JWT>``, README "Mobile app"). It talks
either to a Flask test client (``FlaskTransport``) or to a live server
(``HttpTransport``, used by the browser test and ``scripts/app_simulator.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import ECKey


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class FlaskTransport:
    """Through a Flask test client (its cookie jar holds the SSO session, if any)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(
        self, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> Reply:
        response = self.client.open(path, method=method, headers=headers, data=body)
        try:
            data = response.get_json(silent=True)
        except Exception:  # noqa: BLE001 - not JSON
            data = None
        return Reply(response.status_code, data, dict(response.headers))


class HttpTransport:
    """Through ``requests`` to a live server (no cookies: the app has none)."""

    def __init__(self, base_url: str) -> None:
        import requests

        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    def __call__(
        self, method: str, path: str, *, headers: dict[str, str], body: bytes | None = None
    ) -> Reply:
        response = self.session.request(
            method, self.base_url + path, headers=headers, data=body, allow_redirects=False
        )
        try:
            data = response.json()
        except ValueError:
            data = None
        return Reply(response.status_code, data, dict(response.headers))


def _b64_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


class AppSimulator:
    def __init__(
        self,
        transport: Any,
        *,
        issuer: str = "http://localhost",
        name: str = "Test phone",
        platform: str = "android",
        key: ECKey | None = None,
    ) -> None:
        self.transport = transport
        self.issuer = issuer.rstrip("/")
        self.name = name
        self.platform = platform
        self.key = key or ECKey.generate_key("P-256")
        self.device_id: str | None = None
        self.access_token: str | None = None

    # --- signing in as a native client (RFC 8252) -------------------------------------------

    def sign_in(self, *, client_id: str, redirect_uri: str, **params: str) -> dict[str, Any]:
        """Code flow + PKCE through the transport's session (its browser, in a test);
        returns the token response and keeps the access token."""
        verifier = secrets.token_urlsafe(48)
        challenge = _b64_sha256(verifier.encode())
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid",
            "state": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **params,
        }
        reply = self.transport("GET", "/authorize?" + urlencode(query), headers={})
        location = reply.headers.get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if not code:
            raise AssertionError(f"no code: {reply.status} {location}")
        form = urlencode(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            }
        ).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        token = self.transport("POST", "/token", headers=headers, body=form)
        assert token.status == 200, token.body
        self.access_token = str(token.body["access_token"])
        return dict(token.body)

    # --- binding ------------------------------------------------------------------------------

    def binding_proof(self, access_token: str, **overrides: Any) -> str:
        claims = {
            "aud": self.issuer,
            "iat": int(time.time()),
            "jti": secrets.token_urlsafe(24),
            "ath": _b64_sha256(access_token.encode()),
            "name": self.name,
            "platform": self.platform,
            **overrides,
        }
        header = {"typ": "app-binding+jwt", "alg": "ES256", "jwk": self.key.as_dict(private=False)}
        return jwt.encode(header, claims, self.key)

    def bind(self, access_token: str | None = None, *, proof: str | None = None) -> Reply:
        token = access_token or self.access_token or ""
        body = json.dumps({"proof": proof or self.binding_proof(token)}).encode()
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        reply = self.transport("POST", "/mobile/v1/devices", headers=headers, body=body)
        if reply.status == 201:
            self.device_id = str(reply.body["id"])
        return reply

    # --- signed calls -------------------------------------------------------------------------

    def request_jwt(self, method: str, path: str, body: bytes, **overrides: Any) -> str:
        claims = {
            "aud": self.issuer,
            "htm": method,
            "htu": self.issuer + path,
            "iat": int(time.time()),
            "jti": secrets.token_urlsafe(24),
            "bdy": _b64_sha256(body),
            **overrides,
        }
        header = {"typ": "app-request+jwt", "alg": "ES256", "kid": self.device_id}
        return jwt.encode(header, claims, self.key)

    def call(
        self, method: str, path: str, payload: dict[str, Any] | None = None, **overrides: Any
    ) -> Reply:
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"Authorization": "Device " + self.request_jwt(method, path, body, **overrides)}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        return self.transport(method, path, headers=headers, body=body or None)

    def devices(self) -> Reply:
        return self.call("GET", "/mobile/v1/devices")

    def remove(self, device_id: str) -> Reply:
        return self.call("DELETE", f"/mobile/v1/devices/{device_id}")

    def scan(self, qr: str) -> Reply:
        return self.call("POST", "/mobile/v1/qr", {"qr": qr})

    def pending(self) -> Reply:
        return self.call("GET", "/mobile/v1/requests")

    def decide(
        self, request_id: str, decision: str = "approve", *, uv: bool = True, uvm: str = "fpt"
    ) -> Reply:
        payload: dict[str, Any] = {"decision": decision, "uv": uv}
        if uv:
            payload["uvm"] = uvm
        return self.call("POST", f"/mobile/v1/requests/{request_id}", payload)

    def approve_qr(self, qr: str, *, uv: bool = True, uvm: str = "fpt") -> Reply:
        """Scan, check, approve: what a citizen does in the app."""
        scanned = self.scan(qr)
        assert scanned.status == 200, scanned.body
        return self.decide(str(scanned.body["id"]), "approve", uv=uv, uvm=uvm)
