"""A service-hall counter terminal simulator: its own ES256 key, speaking the provider's
real HTTP endpoints from the counter's browser (``http``, a Flask test client).

It signs what a real counter terminal signs (``idp.authn.methods.terminal``: ``typ``
``counter-card+jwt``, ``aud`` ``<issuer>/hall/card``, the chip reading, the server nonce
of the counter page its browser shows (``data-nonce`` on ``#hall-state``) and no face
claims: the staff member confirms the face in person), and drives the staff sign-in
with a software authenticator (real WebAuthn cryptography).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey
from webforms import csrf_from

ORIGIN = "http://localhost"  # conftest's issuer: RP ID "localhost"
_NONCE = re.compile(r'id="hall-state"[^>]*data-nonce="([^"]*)"')


def nonce_in(page: str) -> str:
    """The server nonce a counter page carries."""
    found = _NONCE.search(page)
    assert found and found.group(1), "no nonce on the counter page"
    return found.group(1)


class CounterSimulator:
    def __init__(self, http: Any, *, issuer: str = "http://localhost") -> None:
        self.http = http
        self.issuer = issuer.rstrip("/")
        self.key = ECKey.generate_key(
            "P-256", parameters={"kid": secrets.token_hex(8), "alg": "ES256", "use": "sig"}
        )
        self.client_id: str | None = None

    def register(
        self,
        *,
        name: str = "Counter 3",
        place: str = "Futian service hall",
        window: str = "Window 3",
        scope: str = "openid profile",
    ) -> str:
        """Register through the operators' API (what ``idp kiosks create --kind counter``
        calls)."""
        from idp.oauth.kiosks import register_kiosk

        client = register_kiosk(
            name=name,
            place=place,
            jwks={"keys": [self.key.as_dict(private=False)]},
            scope=scope,
            kind="counter",
            window=window,
        )
        self.client_id = client.client_id
        return self.client_id

    def card_reading(
        self,
        id_number: str,
        *,
        nonce: str | None = None,
        chip_verified: bool = True,
        typ: str = "counter-card+jwt",
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed reading; ``nonce`` is the counter page's (none: signed without one)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "aud": self.issuer + "/hall/card",
            "iat": now,
            "exp": now + 30,
            "jti": secrets.token_urlsafe(16),
            "id_number": id_number,
            "card": {"chip_verified": chip_verified, "serial": "CHIP-0303"},
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra or {})
        header = {"alg": "ES256", "typ": typ, "kid": self.key.kid}
        return jwt.encode(header, claims, self.key, algorithms=["ES256"])

    # --- what the counter's browser does --------------------------------------------------

    def staff_sign_in(self, authenticator: Any, *, counter: str | None = None) -> Any:
        """The staff member signs in on the counter page with their security key."""
        counter = counter if counter is not None else self.client_id
        page = self.http.get(f"/hall?counter={counter}")
        html = page.get_data(as_text=True)
        options = self.http.post(
            "/hall/sign-in/options",
            data="{}",
            content_type="application/json",
            headers={"X-CSRFToken": csrf_from(html)},
        )
        assert options.status_code == 200, options.get_data(as_text=True)
        asserted = authenticator.get(dict(options.get_json()), origin=ORIGIN)
        return self.http.post(
            "/hall/sign-in",
            data={
                "csrf_token": csrf_from(html),
                "credential": json.dumps(asserted),
                "counter": counter or "",
            },
        )

    def page_nonce(self) -> str:
        """Open the counter page in the counter's browser and read its nonce."""
        page = self.http.get("/hall")
        assert page.status_code == 200, page.status_code
        return nonce_in(page.get_data(as_text=True))

    def read_card(self, id_number: str, *, read_nonce: bool = True, **kwargs: Any) -> Any:
        """The reader software reads the counter page's nonce, then posts the signed
        reading from the counter's browser (``read_nonce=False``: sign without one; with
        no staff session there is no page to read, so none is signed in)."""
        if read_nonce and "nonce" not in kwargs:
            page = self.http.get("/hall")
            if _NONCE.search(page.get_data(as_text=True)):
                kwargs["nonce"] = nonce_in(page.get_data(as_text=True))
        return self.post_reading(self.card_reading(id_number, **kwargs))

    def post_reading(self, reading: str) -> Any:
        return self.http.post("/hall/card", data={"assertion": reading})

    def case_action(self, case_path: str, action: str, **form: str) -> Any:
        page = self.http.get(case_path)
        data = {"csrf_token": csrf_from(page.get_data(as_text=True)), **form}
        return self.http.post(f"{case_path}/{action}", data=data)
