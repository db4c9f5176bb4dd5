"""The client credentials grant (RFC 6749 section 4.4): a department's own token.

Only confidential clients an administrator allowed it get one; the token carries no
citizen, no refresh token and no ID token, only service scopes the client may ask for;
it is opaque or an RFC 9068 JWT (``sub`` = client_id) and introspection answers it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from joserfc import jwt
from oidc_helpers import ISSUER
from oidc_helpers import authorize
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import jwks
from oidc_helpers import redirected_to

from idp.errors import InvalidInput
from idp.extensions import db
from idp.oauth.clients import register_client


def _loader(**kwargs: Any) -> Any:
    kwargs.setdefault("name", "Transport department loader")
    kwargs.setdefault("department", "Transport Bureau")
    kwargs.setdefault("redirect_uris", [])
    kwargs.setdefault("scope", "licences:load")
    kwargs.setdefault("grant_types", ["client_credentials"])
    return register_client(**kwargs)


def _token(http: Any, client_id: str, secret: str | None, **data: str) -> Any:
    form = {"grant_type": "client_credentials", **data}
    headers = basic(client_id, secret) if secret else {}
    if secret is None:
        form["client_id"] = client_id
    return http.post("/token", data=form, headers=headers)


def test_client_gets_its_own_token_without_citizen(http: Any) -> None:
    client, secret = _loader()
    response = _token(http, client.client_id, secret, scope="licences:load")
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["scope"] == "licences:load"
    assert body["expires_in"] > 0
    # RFC 6749 4.4.3: "A refresh token SHOULD NOT be included"; no citizen, no ID token.
    assert "refresh_token" not in body and "id_token" not in body

    introspected = http.post(
        "/introspect", data={"token": body["access_token"]}, headers=basic(client.client_id, secret)
    ).get_json()
    assert introspected["active"] is True
    assert introspected["sub"] == client.client_id
    assert introspected["client_id"] == client.client_id
    assert introspected["scope"] == "licences:load"
    # A client token opens no citizen's data.
    userinfo = http.get("/userinfo", headers=bearer(body["access_token"]))
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]


def test_no_scope_means_every_service_scope_of_the_client(http: Any) -> None:
    client, secret = _loader()
    body = _token(http, client.client_id, secret).get_json()
    assert body["scope"] == "licences:load"


def test_jwt_client_token_has_the_client_as_subject(http: Any) -> None:
    client, secret = _loader()
    client.access_token_format = "jwt"
    db.session.commit()
    body = _token(http, client.client_id, secret, scope="licences:load").get_json()
    token = jwt.decode(body["access_token"], jwks(http), algorithms=["RS256"])
    assert token.header["typ"] == "at+jwt"
    jwt.JWTClaimsRegistry(
        now=int(time.time()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": client.client_id},
        exp={"essential": True},
    ).validate(token.claims)
    # RFC 9068 2.2: sub is the client for a client credentials token.
    assert token.claims["sub"] == client.client_id == token.claims["client_id"]
    assert token.claims["scope"] == "licences:load"
    assert "auth_time" not in token.claims and "acr" not in token.claims
    introspected = http.post(
        "/introspect", data={"token": body["access_token"]}, headers=basic(client.client_id, secret)
    ).get_json()
    assert introspected["active"] is True and introspected["sub"] == client.client_id


def test_public_client_is_refused(http: Any) -> None:
    from oidc_helpers import register

    public = register(auth_method="none", redirect_uris=["http://127.0.0.1:8000/cb"])
    response = _token(http, public.client_id, None)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_a_public_client_cannot_be_allowed_the_grant(app: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        _loader(auth_method="none")
    assert caught.value.field == "grant_types"


def test_portal_not_allowed_the_grant_is_refused(http: Any, rp: Any) -> None:
    response = _token(http, rp.client_id, rp.secret)
    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"


def test_scope_beyond_what_the_client_may_ask_is_invalid_scope(http: Any) -> None:
    client, secret = _loader()
    for scope in ("licences:load profile", "openid", "no-such-scope"):
        response = _token(http, client.client_id, secret, scope=scope)
        assert response.status_code == 400, scope
        assert response.get_json()["error"] == "invalid_scope", scope


def test_disabled_client_is_refused(http: Any, app: Any) -> None:
    client, secret = _loader()
    issued = _token(http, client.client_id, secret).get_json()["access_token"]
    result = app.test_cli_runner().invoke(args=["clients", "disable", client.client_id])
    assert result.exit_code == 0, result.output
    response = _token(http, client.client_id, secret)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    # Its earlier token is dead too.
    other, other_secret = _loader(name="Other")
    introspected = http.post(
        "/introspect", data={"token": issued}, headers=basic(other.client_id, other_secret)
    ).get_json()
    assert introspected == {"active": False}


def test_wrong_secret_is_invalid_client(http: Any) -> None:
    client, secret = _loader()
    response = _token(http, client.client_id, secret + "x")
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_service_scope_never_in_a_citizen_sign_in(http: Any, app: Any) -> None:
    client, _ = register_client(
        name="Both",
        redirect_uris=["https://both.example.gov/cb"],
        scope="openid profile licences:load",
        grant_types=["authorization_code", "client_credentials"],
    )

    class Rp:
        client_id = client.client_id
        redirect_uri = "https://both.example.gov/cb"

    params = redirected_to(authorize(http, Rp, scope="openid licences:load"), Rp.redirect_uri)
    assert params["error"] == "invalid_scope"


def test_service_only_client_cannot_sign_citizens_in(http: Any) -> None:
    client, _ = _loader()

    class Rp:
        client_id = client.client_id
        redirect_uri = "https://x.example.gov/cb"

    response = authorize(http, Rp, scope="openid")
    assert response.status_code == 400  # no registered redirect URI: never redirected


def test_registration_rules(app: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        register_client(
            name="X", redirect_uris=["https://x.example.gov/cb"], scope="openid licences:load"
        )
    assert caught.value.field == "scope"  # service scope without client_credentials
    with pytest.raises(InvalidInput) as caught:
        _loader(scope="openid profile")
    assert caught.value.field == "scope"  # citizen scopes on a service-only client
    with pytest.raises(InvalidInput) as caught:
        _loader(grant_types=["password"])
    assert caught.value.field == "grant_types"


def test_cli_create_and_update_grant_types(app: Any) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "Loader",
            "--department",
            "Transport Bureau",
            "--scope",
            "licences:load",
            "--grant-type",
            "client_credentials",
            "--json",
        ]
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["grant_types"] == ["client_credentials"] and data["client_secret"]

    portal = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "Portal",
            "--redirect-uri",
            "https://p.example.gov/cb",
            "--scope",
            "openid licences:load",
            "--json",
        ]
    )
    assert portal.exit_code == 2 and "client_credentials" in portal.output
    portal = runner.invoke(
        args=["clients", "create", "--name", "Portal", "--redirect-uri", "https://p.example.gov/cb"]
    )
    assert portal.exit_code == 0, portal.output
    client_id = portal.output.split()[1]
    updated = runner.invoke(
        args=[
            "clients",
            "update",
            client_id,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--json",
        ]
    )
    assert updated.exit_code == 0, updated.output
    assert json.loads(updated.output)["grant_types"] == [
        "authorization_code",
        "client_credentials",
    ]
    missing = runner.invoke(args=["clients", "create", "--name", "No redirect"])
    assert missing.exit_code == 2 and "redirect" in missing.output
