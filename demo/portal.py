"""The demo portal: a relying party written the way a portal developer would write one.

It knows the provider only through discovery and signs in with Authlib's Flask client,
a library this project did not write: authorization code flow with PKCE (S256), a nonce,
and the code exchanged with client_secret_basic. ``authorize_access_token`` verifies the
ID token itself (signature against the provider's JWKS, ``iss``, ``aud``, ``exp``,
``nonce``, ``at_hash``); the portal then calls UserInfo with the access token, and signs
out through the provider's ``end_session_endpoint`` (OIDC RP-Initiated Logout 1.0).
When the citizen signs out at the provider (or withdraws consent), the provider POSTs a
logout token to ``/backchannel-logout`` (OIDC Back-Channel Logout 1.0): the portal
validates it as section 2.6 says and drops the matching sign-ins.

It is a separate Flask app with its own cookie, so it can share ``localhost`` with the
provider without the two reading each other's cookies. Nothing personal is kept in the
cookie: the signed-in record stays in this process's memory.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask
from flask import redirect
from flask import render_template_string
from flask import request
from flask import session
from flask import url_for
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from werkzeug.wrappers import Response

COOKIE_NAME = "demo_portal"
SCOPE = "openid profile phone address"

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Demo portal · 示例政务门户</title>
<style>
 body { font-family: system-ui, "PingFang SC", "Noto Sans CJK SC", sans-serif; max-width: 52rem;
        margin: 2rem auto; padding: 0 1rem; color: #1d1d1f; }
 header { border-bottom: 3px solid #b00; margin-bottom: 1.5rem; }
 pre { background: #f4f4f6; padding: .75rem; overflow-x: auto; font-size: .85rem; }
 .button { display: inline-block; background: #b00; color: #fff; padding: .6rem 1.2rem;
           border: 0; border-radius: 4px; font-size: 1rem; text-decoration: none; cursor: pointer; }
 .note { color: #555; font-size: .9rem; }
 .error { border-left: 4px solid #b00; padding-left: 1rem; }
 table { border-collapse: collapse; } td, th { text-align: left; padding: .2rem .8rem .2rem 0; }
</style>
</head>
<body>
<header><h1>Demo portal <small>示例政务门户</small></h1></header>
{% if error %}
  <section class="error" id="error">
    <h2>Sign-in did not complete</h2>
    <p><code>{{ error.error }}</code>
      {% if error.description %}: {{ error.description }}{% endif %}</p>
  </section>
  <p><a href="{{ url_for('home') }}">Back</a></p>
{% elif record %}
  <p id="welcome">Signed in as
    <strong>{{ record.userinfo.get('name') or record.claims.sub }}</strong>.</p>
  <table>
    <tr><th>sub</th><td id="sub">{{ record.claims.sub }}</td></tr>
    <tr><th>acr</th><td id="acr">{{ record.claims.acr }}</td></tr>
    <tr><th>amr</th><td id="amr">{{ record.claims.amr | join(' ') }}</td></tr>
  </table>
  <h2>Verified ID token claims</h2>
  <p class="note">Authlib checked the signature against the provider's JWKS and the
    iss, aud, exp, nonce and at_hash claims before this page was shown.</p>
  <pre id="id-token-claims">{{ record.claims_json }}</pre>
  <h2>UserInfo response</h2>
  <pre id="userinfo">{{ record.userinfo_json }}</pre>
  <form method="post" action="{{ url_for('logout') }}">
    <button class="button" id="sign-out" type="submit">Sign out everywhere · 退出登录</button>
  </form>
{% else %}
  {% if signed_out %}<p id="signed-out">You are signed out.</p>{% endif %}
  {% if ended_by_provider %}<p id="signed-out-by-provider">The identity provider ended
    your sign-in (back-channel logout).</p>{% endif %}
  <p>This portal signs citizens in through the identity provider at
    <code>{{ issuer }}</code> with standard OpenID Connect.</p>
  <p><a class="button" id="sign-in" href="{{ url_for('login') }}">Sign in with your ID number
    · 统一身份认证登录</a></p>
{% endif %}
</body>
</html>
"""


def create_portal(
    *,
    issuer: str,
    client_id: str,
    client_secret: str,
    base_url: str,
    secret_key: bytes | None = None,
) -> Flask:
    """The demo portal app. ``base_url`` is where it is reached (its redirect URI is
    ``<base_url>/callback``, its post-logout redirect URI ``<base_url>/``)."""
    base_url = base_url.rstrip("/")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=base_url.startswith("https://"),
    )
    oauth = OAuth(app)
    provider = oauth.register(
        "idp",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": SCOPE, "code_challenge_method": "S256"},
    )
    signed_in: dict[str, dict[str, Any]] = {}  # portal session id -> record
    lock = threading.Lock()

    def page(status: int = 200, **context: Any) -> tuple[str, int]:
        return render_template_string(_PAGE, issuer=issuer, **context), status

    def failed(error: str, description: str | None = None, status: int = 400) -> Any:
        return page(status, error={"error": error, "description": description})

    @app.get("/")
    def home() -> Any:
        with lock:
            record = signed_in.get(session.get("sid", ""))
        returned = request.args.get("state")
        signed_out = bool(returned) and returned == session.pop("logout_state", None)
        ended = record is None and session.pop("sid", None) is not None
        return page(record=record, signed_out=signed_out, ended_by_provider=ended)

    @app.post("/backchannel-logout")
    def backchannel_logout() -> Any:
        """OIDC Back-Channel Logout 1.0 section 2.6: validate, then log out; 2.8: 200
        on success, 400 otherwise, never cached."""
        try:
            claims = _validate_logout_token(
                str(request.form.get("logout_token") or ""),
                keyset=KeySet.import_key_set(provider.fetch_jwk_set()),
                issuer=provider.load_server_metadata()["issuer"],
                client_id=client_id,
            )
        except (JoseError, ValueError, TypeError, KeyError, requests.RequestException):
            body = {"error": "invalid_request", "error_description": "invalid logout token"}
            return app.response_class(
                json.dumps(body), 400, {"Cache-Control": "no-store"}, "application/json"
            )
        with lock:
            for key, record in list(signed_in.items()):
                named = record["claims"]
                if claims.get("sid") and named.get("sid") != claims["sid"]:
                    continue
                if claims.get("sub") and named.get("sub") != claims["sub"]:
                    continue
                del signed_in[key]
        return app.response_class("", 200, {"Cache-Control": "no-store"})

    @app.get("/login")
    def login() -> Any:
        try:
            return provider.authorize_redirect(f"{base_url}/callback")
        except requests.RequestException:
            return failed(
                "provider_unreachable",
                "The provider's discovery document could not be fetched.",
                502,
            )

    @app.get("/callback")
    def callback() -> Any:
        metadata = provider.load_server_metadata()
        # RFC 9207: when the provider says it sends `iss`, it must be this provider's
        # (defends against mix-up attacks; Authlib leaves this check to the app).
        if metadata.get("authorization_response_iss_parameter_supported") and (
            request.args.get("iss") != metadata["issuer"]
        ):
            return failed("invalid_issuer", "The response came from another issuer.")
        try:
            token = provider.authorize_access_token()
        except OAuthError as exc:
            return failed(exc.error or "error", exc.description)
        if "userinfo" not in token:
            return failed("invalid_response", "No ID token in the token response.")
        claims = dict(token["userinfo"])  # the ID token claims, validated by Authlib
        userinfo = dict(provider.userinfo(token=token))
        sid = secrets.token_urlsafe(24)
        record = {
            "claims": claims,
            "userinfo": userinfo,
            "claims_json": json.dumps(claims, indent=2, ensure_ascii=False, sort_keys=True),
            "userinfo_json": json.dumps(userinfo, indent=2, ensure_ascii=False, sort_keys=True),
            "id_token": token["id_token"],
        }
        with lock:
            signed_in[sid] = record
        session.clear()
        session["sid"] = sid
        return redirect(url_for("home"))

    @app.post("/logout")
    def logout() -> Response:
        with lock:
            record = signed_in.pop(session.get("sid", ""), None)
        session.clear()
        try:
            logout_url = provider.create_logout_url(
                post_logout_redirect_uri=f"{base_url}/",
                id_token_hint=record["id_token"] if record else None,
                client_id=client_id,
            )
        except RuntimeError:  # the provider has no end_session_endpoint
            return redirect(url_for("home"))
        session["logout_state"] = logout_url["state"]
        return redirect(logout_url["url"])

    return app


LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def _validate_logout_token(
    token: str, *, keyset: KeySet, issuer: str, client_id: str
) -> dict[str, Any]:
    """Section 2.6 steps 3 to 7 (no encryption here): the signature, ``typ``
    ``logout+jwt``, ``iss``, ``aud``, ``iat``/``exp``, the ``events`` member, ``sub`` or
    ``sid``, and no ``nonce``."""
    decoded = jwt.decode(token, keyset, algorithms=["ES256", "RS256"])
    if decoded.header.get("typ") != "logout+jwt":
        raise ValueError("typ")
    claims = dict(decoded.claims)
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": client_id},
        iat={"essential": True},
        exp={"essential": True},
    ).validate(claims)
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise ValueError("events")
    if "nonce" in claims or not (claims.get("sub") or claims.get("sid")):
        raise ValueError("sub, sid or nonce")
    return claims
