"""A kiosk simulator: its own ES256 key, speaking the provider's real HTTP endpoints.

It signs what a real kiosk signs (``idp.authn.methods.terminal`` documents the format):
client assertions for ``private_key_jwt`` (RFC 7523), card + face assertions, QR-code
requests and the card-removed event. Like kiosk software, it reads the server nonce from
the kiosk page its browser shows (``data-nonce``) and signs it into the next card
assertion or QR request. ``http`` is anything with Flask's test-client ``post``/``get``
signature (the tests' ``http`` fixture, or ``scripts/kiosk_demo.py``'s urllib client).
Nothing here imports the provider: it is a device, not part of the server.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_NONCE = re.compile(r'data-nonce="([^"]*)"')


def nonce_in(page: str) -> str:
    """The server nonce a kiosk page carries."""
    found = _NONCE.search(page)
    assert found and found.group(1), "no nonce on the kiosk page"
    return html.unescape(found.group(1))


class KioskSimulator:
    def __init__(self, http: Any, *, issuer: str = "http://localhost", key: Any = None) -> None:
        self.http = http
        self.issuer = issuer.rstrip("/")
        self.key = key or ECKey.generate_key(
            "P-256", parameters={"kid": secrets.token_hex(8), "alg": "ES256", "use": "sig"}
        )
        self.client_id: str | None = None

    # --- keys and registration ------------------------------------------------------------

    def public_jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    def register(self, *, name: str = "Kiosk 7", place: str = "Futian service hall") -> str:
        """Register through the operators' API (what ``idp kiosks create`` calls)."""
        from idp.oauth.kiosks import register_kiosk

        self.client_id = register_kiosk(name=name, place=place, jwks=self.public_jwks()).client_id
        return self.client_id

    def _sign(self, claims: dict[str, Any], typ: str, key: Any = None) -> str:
        header = {"alg": "ES256", "typ": typ, "kid": self.key.kid}
        return jwt.encode(header, claims, key or self.key, algorithms=["ES256"])

    # --- what the kiosk signs -------------------------------------------------------------

    def client_assertion(self, *, aud: str | None = None, key: Any = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": aud or self.issuer + "/token",
            "iat": now,
            "exp": now + 60,
            "jti": secrets.token_urlsafe(16),
        }
        return self._sign(claims, "JWT", key)

    def card_assertion(
        self,
        id_number: str,
        *,
        matched: bool = True,
        liveness: bool = True,
        chip_verified: bool = True,
        iat: int | None = None,
        lifetime: int = 30,
        jti: str | None = None,
        extra: dict[str, Any] | None = None,
        key: Any = None,
        aud: str | None = None,
        nonce: str | None = None,
    ) -> str:
        issued = int(time.time()) if iat is None else iat
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "aud": aud or self.issuer + "/kiosk/card",
            "iat": issued,
            "exp": issued + lifetime,
            "jti": jti or secrets.token_urlsafe(16),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims |= {
            "id_number": id_number,
            "card": {"chip_verified": chip_verified, "serial": "CHIP-0042"},
            "face_match": {"matched": matched, "score": 0.97 if matched else 0.31},
            "liveness": {"passed": liveness},
        }
        claims.update(extra or {})
        return self._sign(claims, "kiosk-card+jwt", key)

    def qr_request(
        self,
        *,
        nonce: str | None,
        iat: int | None = None,
        lifetime: int = 30,
        jti: str | None = None,
        extra: dict[str, Any] | None = None,
        key: Any = None,
    ) -> str:
        """The kiosk screen asking for a "sign in with the app" code (``kiosk-qr+jwt``)."""
        issued = int(time.time()) if iat is None else iat
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "aud": self.issuer + "/kiosk/qr",
            "iat": issued,
            "exp": issued + lifetime,
            "jti": jti or secrets.token_urlsafe(16),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra or {})
        return self._sign(claims, "kiosk-qr+jwt", key)

    def card_removed(self, *, jti: str | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "aud": self.issuer + "/kiosk/event",
            "iat": now,
            "exp": now + 30,
            "jti": jti or secrets.token_urlsafe(16),
            "event": "card_removed",
            "card": {"serial": "CHIP-0042"},
        }
        return self._sign(claims, "kiosk-event+jwt")

    # --- the HTTP calls a kiosk makes -----------------------------------------------------

    def _auth(self, aud: str, key: Any = None) -> dict[str, str]:
        return {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(aud=aud, key=key),
        }

    def device_authorization(self, *, scope: str | None = None, key: Any = None) -> Any:
        data = self._auth(self.issuer + "/device_authorization", key)
        if scope is not None:
            data["scope"] = scope
        return self.http.post("/device_authorization", data=data)

    def poll(self, device_code: str, *, key: Any = None) -> Any:
        data = {"grant_type": DEVICE_GRANT, "device_code": device_code}
        data.update(self._auth(self.issuer + "/token", key))
        return self.http.post("/token", data=data)

    def page_nonce(self, *, uid: str | None = None) -> str:
        """Open the kiosk screen in the kiosk's browser and read its nonce."""
        page = self.http.get("/kiosk" + (f"?uid={uid}" if uid else ""))
        assert page.status_code == 200, page.status_code
        return nonce_in(page.get_data(as_text=True))

    def insert_card(
        self, id_number: str, *, uid: str | None = None, read_nonce: bool = True, **kwargs: Any
    ) -> Any:
        """The reader software reads the kiosk page's nonce, then posts the signed
        reading from the kiosk's browser (``read_nonce=False``: sign without one)."""
        if read_nonce and "nonce" not in kwargs:
            kwargs["nonce"] = self.page_nonce(uid=uid)
        data = {"assertion": self.card_assertion(id_number, **kwargs)}
        if uid:
            data["uid"] = uid
        return self.http.post("/kiosk/card", data=data)

    def show_qr(self, *, uid: str | None = None, **kwargs: Any) -> Any:
        """The kiosk software asks for the app's QR code from the kiosk's browser."""
        if "nonce" not in kwargs:
            kwargs["nonce"] = self.page_nonce(uid=uid)
        data = {"assertion": self.qr_request(**kwargs)}
        if uid:
            data["uid"] = uid
        return self.http.post("/kiosk/qr", data=data)

    def post_card(self, assertion: str) -> Any:
        return self.http.post("/kiosk/card", data={"assertion": assertion})

    def remove_card(self, *, http: Any = None) -> Any:
        """The reader reports the card gone (an API call; any connection will do)."""
        return (http or self.http).post("/kiosk/event", json={"assertion": self.card_removed()})
