"""Helpers for the OpenID Connect tests: a tiny relying party driving the test client.

The ID token is decoded and validated with joserfc against the published JWKS, as a
portal would, never with the provider's own code.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet

ISSUER = "http://localhost"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def fresh_requests(app: Any) -> None:
    """conftest keeps one app context open per test and Flask reuses it for test-client
    requests; clear the per-request caches in ``g`` (CSRF token, locale) each time."""
    from flask import g

    def fresh_g() -> None:
        for name in ("_flask_babel", "csrf_token"):
            g.pop(name, None)

    app.before_request_funcs.setdefault(None, []).insert(0, fresh_g)


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def authorize_params(rp: Any, **overrides: Any) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": "state-123",
        "nonce": "nonce-456",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def authorize(http: Any, rp: Any, **overrides: Any) -> Any:
    return http.get("/authorize?" + urlencode(authorize_params(rp, **overrides)))


def query_of(response: Any) -> dict[str, str]:
    location = response.headers["Location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def redirected_to(response: Any, uri: str) -> dict[str, str]:
    """Assert a redirect to ``uri`` and return its query parameters."""
    assert response.status_code in (302, 303), (response.status_code, response.data[:500])
    location = response.headers["Location"]
    assert location.split("?", 1)[0] == uri, location
    return query_of(response)


def path_of(response: Any) -> str:
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def csrf_from(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def csrf_token_for(http: Any) -> str:
    """A CSRF token for the test client's UI session, as one of our pages would embed."""
    from flask import g
    from flask import session
    from flask_wtf.csrf import generate_csrf

    with http.session_transaction() as ui:
        stored = dict(ui)
    with http.application.test_request_context():
        session.update(stored)
        g.pop("csrf_token", None)
        token = generate_csrf()
        secret = session["csrf_token"]
    with http.session_transaction() as ui:
        ui["csrf_token"] = secret
    return str(token)


def grant_consent(
    citizen: Any, rp: Any, scopes: str = "openid profile phone offline_access"
) -> None:
    from idp.consent import service

    service.grant(citizen_id=citizen.id, client_id=rp.client_id, scopes=scopes.split())


def get_code(http: Any, rp: Any, **overrides: Any) -> tuple[str, dict[str, str]]:
    response = authorize(http, rp, **overrides)
    params = redirected_to(response, rp.redirect_uri)
    assert "code" in params, params
    return params["code"], params


def exchange(http: Any, rp: Any, code: str, *, verifier: str | None = None, **extra: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}
    if verifier:
        data["code_verifier"] = verifier
    data.update(extra)
    headers = basic(rp.client_id, rp.secret) if getattr(rp, "secret", None) else {}
    if not headers:
        data.setdefault("client_id", rp.client_id)
    return http.post("/token", data=data, headers=headers)


def sign_in(http: Any, rp: Any, *, scope: str = "openid profile", **overrides: Any) -> dict:
    """Code + PKCE flow with a session and consent already in place; the token response."""
    verifier, challenge = pkce()
    code, _ = get_code(
        http, rp, scope=scope, code_challenge=challenge, code_challenge_method="S256", **overrides
    )
    response = exchange(http, rp, code, verifier=verifier)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def refresh(http: Any, rp: Any, refresh_token: str, **extra: str) -> Any:
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return http.post("/token", data=data, headers=basic(rp.client_id, rp.secret))


def jwks(http: Any) -> KeySet:
    return KeySet.import_key_set(http.get("/jwks.json").get_json())


def decode_id_token(
    http: Any,
    id_token: str,
    *,
    client_id: str,
    nonce: str | None = None,
    algorithms: list[str] | None = None,
) -> tuple[dict, dict]:
    """Verify signature, iss, aud, exp, iat (and nonce) as an RP must (OIDC Core 3.1.3.7)."""
    token = jwt.decode(id_token, jwks(http), algorithms=algorithms or ["ES256", "RS256"])
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(now=int(time.time()), **options).validate(token.claims)
    return dict(token.header), dict(token.claims)


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def register(**kwargs: Any) -> Any:
    """Register another portal; returns an object like conftest's ``rp``."""
    from idp.oauth.clients import register_client

    kwargs.setdefault("name", "Another portal")
    kwargs.setdefault("redirect_uris", ["https://other.example.gov/cb"])
    client, secret = register_client(**kwargs)

    class Rp:
        pass

    rp = Rp()
    rp.client = client
    rp.client_id = client.client_id
    rp.secret = secret
    rp.redirect_uri = kwargs["redirect_uris"][0]
    return rp
