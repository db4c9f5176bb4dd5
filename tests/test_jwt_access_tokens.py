"""JWT access tokens (RFC 9068) for clients registered for them: header, claims with the
sign-in's acr and auth_time, validated as a resource server would with the published
JWKS; revocation, introspection and UserInfo treat them like opaque tokens."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from oidc_helpers import ISSUER
from oidc_helpers import at_hash
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import jwks
from oidc_helpers import refresh
from oidc_helpers import sign_in

from idp.extensions import db


@pytest.fixture
def jwt_rp(rp: Any) -> Any:
    rp.client.access_token_format = "jwt"
    db.session.commit()
    return rp


@pytest.fixture
def tokens(http: Any, citizen: Any, jwt_rp: Any, login: Any) -> dict[str, Any]:
    grant_consent(citizen, jwt_rp)
    login(amr=("pwd", "otp"))
    return sign_in(http, jwt_rp, scope="openid profile offline_access")


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))))


def _validate_as_a_resource_server(http: Any, token: str, audience: str) -> dict[str, Any]:
    """RFC 9068 section 4, with joserfc and the JWKS document only (not our code)."""
    keyset = KeySet.import_key_set(http.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keyset, algorithms=["RS256"])
    assert decoded.header["typ"] in ("at+jwt", "application/at+jwt")
    jwt.JWTClaimsRegistry(
        now=int(time.time()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": audience},
        exp={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.claims)


def introspect(http: Any, rp: Any, token: str) -> dict[str, Any]:
    response = http.post(
        "/introspect", data={"token": token}, headers=basic(rp.client_id, rp.secret)
    )
    assert response.status_code == 200
    return dict(response.get_json())


def test_a_jwt_client_gets_an_rfc9068_access_token(http: Any, jwt_rp: Any, tokens: Any) -> None:
    access = tokens["access_token"]
    header = _header(access)
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "RS256"  # RFC 9068 2.1: the algorithm every RS supports
    assert header["kid"] in {k["kid"] for k in http.get("/jwks.json").get_json()["keys"]}
    claims = _validate_as_a_resource_server(http, access, jwt_rp.client_id)
    _, id_claims = decode_id_token(http, tokens["id_token"], client_id=jwt_rp.client_id)
    assert claims["sub"] == id_claims["sub"]  # the pairwise subject the portal knows
    assert claims["client_id"] == jwt_rp.client_id
    assert claims["aud"] == jwt_rp.client_id  # no resource indicators: the client's own API
    assert claims["scope"] == "openid profile offline_access"
    assert claims["acr"] == "urn:idp:acr:substantial"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["auth_time"] == id_claims["auth_time"]
    assert len(claims["jti"]) >= 16
    assert claims["exp"] - claims["iat"] == 600
    assert tokens["expires_in"] == 600
    # Nothing personal beyond the pairwise subject.
    assert set(claims) == {
        "iss", "exp", "aud", "sub", "client_id", "iat", "jti", "scope", "acr", "amr",
        "auth_time",
    }  # fmt: skip


def test_the_id_token_at_hash_covers_the_jwt(http: Any, jwt_rp: Any, tokens: Any) -> None:
    _, id_claims = decode_id_token(http, tokens["id_token"], client_id=jwt_rp.client_id)
    assert id_claims["at_hash"] == at_hash(tokens["access_token"])


def test_an_opaque_client_still_gets_opaque_tokens(
    http: Any, citizen: Any, rp: Any, login: Any
) -> None:
    grant_consent(citizen, rp)
    login()
    access = sign_in(http, rp)["access_token"]
    assert "." not in access and len(access) == 43


def test_userinfo_accepts_a_jwt_access_token(http: Any, tokens: Any) -> None:
    response = http.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.get_json()["name"] == "张三"


def test_introspection_of_a_jwt_carries_acr_and_auth_time(
    http: Any, jwt_rp: Any, tokens: Any
) -> None:
    body = introspect(http, jwt_rp, tokens["access_token"])
    claims = _validate_as_a_resource_server(http, tokens["access_token"], jwt_rp.client_id)
    assert body["active"] is True
    assert body["token_type"] == "Bearer"
    assert body["acr"] == claims["acr"] == "urn:idp:acr:substantial"
    assert body["auth_time"] == claims["auth_time"]
    assert body["sub"] == claims["sub"]
    assert body["exp"] == claims["exp"]
    assert body["iat"] == claims["iat"]


def test_a_revoked_jwt_is_inactive_and_refused_though_its_signature_is_good(
    http: Any, jwt_rp: Any, tokens: Any
) -> None:
    access = tokens["access_token"]
    revoked = http.post(
        "/revoke", data={"token": access}, headers=basic(jwt_rp.client_id, jwt_rp.secret)
    )
    assert revoked.status_code == 200
    assert introspect(http, jwt_rp, access) == {"active": False}
    response = http.get("/userinfo", headers=bearer(access))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    _validate_as_a_resource_server(http, access, jwt_rp.client_id)  # still a valid JWS


def test_a_refreshed_jwt_keeps_the_sign_in_context(http: Any, jwt_rp: Any, tokens: Any) -> None:
    first = _validate_as_a_resource_server(http, tokens["access_token"], jwt_rp.client_id)
    response = refresh(http, jwt_rp, tokens["refresh_token"])
    assert response.status_code == 200
    second = _validate_as_a_resource_server(
        http, response.get_json()["access_token"], jwt_rp.client_id
    )
    assert second["jti"] != first["jti"]
    assert second["auth_time"] == first["auth_time"]
    assert second["acr"] == first["acr"]
    assert second["sub"] == first["sub"]


def test_a_forged_or_altered_jwt_is_refused(http: Any, tokens: Any) -> None:
    access = tokens["access_token"]
    head, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["acr"] = "urn:idp:acr:high"
    altered_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for forged in (f"{head}.{altered_payload}.{signature}", f"{head}.{payload}.", "eyJ.x.y"):
        assert http.get("/userinfo", headers=bearer(forged)).status_code == 401


def test_an_id_token_is_no_access_token(http: Any, tokens: Any) -> None:
    assert http.get("/userinfo", headers=bearer(tokens["id_token"])).status_code == 401


@pytest.mark.parametrize("app_config", [{"IDP_ACCESS_TOKEN_ALG": "ES256"}])
def test_the_signing_algorithm_is_configurable(http: Any, jwt_rp: Any, tokens: Any) -> None:
    assert _header(tokens["access_token"])["alg"] == "ES256"
    decoded = jwt.decode(tokens["access_token"], jwks(http), algorithms=["ES256"])
    assert decoded.claims["client_id"] == jwt_rp.client_id


def test_clients_cli_registers_a_jwt_client(app: Any) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "clients", "create", "--name", "Pension API portal",
            "--redirect-uri", "https://pension.example.gov/cb",
            "--access-token-format", "jwt", "--json",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["access_token_format"] == "jwt"
    from idp.models import OAuthClient

    assert db.session.get(OAuthClient, data["client_id"]).access_token_format == "jwt"
    bad = app.test_cli_runner().invoke(
        args=["clients", "create", "--name", "X", "--redirect-uri", "https://x.example/cb",
              "--access-token-format", "jws"]
    )  # fmt: skip
    assert bad.exit_code == 2
