"""Client authentication at the token endpoint (RFC 6749 2.3, OIDC Core 9, RFC 7523)."""

from __future__ import annotations

import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from joserfc.jwk import RSAKey
from oidc_helpers import ISSUER
from oidc_helpers import basic
from oidc_helpers import get_code
from oidc_helpers import grant_consent
from oidc_helpers import register

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def consented(citizen, login):
    login()

    def consent(client):
        grant_consent(citizen, client)
        return client

    return consent


def code_request(rp, code):
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri}


# -- client_secret_basic ---------------------------------------------------------------


def test_wrong_secret_is_401_with_basic_challenge(http, rp):
    response = http.post("/token", data=code_request(rp, "x"), headers=basic(rp.client_id, "wrong"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_unknown_client_is_401(http, rp):
    response = http.post("/token", data=code_request(rp, "x"), headers=basic("nobody", "x"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_no_authentication_is_invalid_client(http, rp):
    response = http.post("/token", data={**code_request(rp, "x"), "client_id": rp.client_id})
    assert response.get_json()["error"] == "invalid_client"


def test_basic_client_cannot_use_post(http, rp, consented):
    consented(rp)
    code, _ = get_code(http, rp)
    response = http.post(
        "/token",
        data={**code_request(rp, code), "client_id": rp.client_id, "client_secret": rp.secret},
    )
    assert response.get_json()["error"] == "invalid_client"


# Authlib's own parser raised on these (a 500 at /token, /revoke, /introspect,
# /device_authorization and /bc-authorize): undecodable credentials, a value ending in a
# space (a proxy may pass it on), base64 that is not UTF-8, a header without credentials.
MALFORMED_BASIC = ["Basic /w==", "Basic /zr/", "Bearer ", "Basic ", "Basic", "Basic ###"]


@pytest.mark.parametrize("value", MALFORMED_BASIC)
@pytest.mark.parametrize("path", ["/token", "/revoke", "/introspect"])
def test_malformed_basic_credentials_are_invalid_client(http, rp, path, value):
    data = {"grant_type": "client_credentials", "token": "x"}
    response = http.post(path, data=data, headers={"Authorization": value})
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_basic_credentials_with_surrounding_whitespace_still_authenticate(http, rp):
    # RFC 9110 5.5: a field value excludes leading and trailing whitespace.
    header = basic(rp.client_id, rp.secret)["Authorization"]
    response = http.post(
        "/introspect", data={"token": "unknown"}, headers={"Authorization": f" {header}  "}
    )
    assert response.status_code == 200
    assert response.get_json() == {"active": False}


def test_disabled_client_cannot_authenticate(http, rp):
    from idp.oauth.clients import disable_client

    disable_client(rp.client_id)
    response = http.post(
        "/token", data=code_request(rp, "x"), headers=basic(rp.client_id, rp.secret)
    )
    assert response.status_code == 401


def test_secret_is_stored_only_as_a_keyed_hash(app, rp):
    assert rp.client.client_secret_hash != rp.secret
    assert rp.secret not in rp.client.client_secret_hash
    assert len(rp.client.client_secret_hash) == 64


# -- client_secret_post ----------------------------------------------------------------


def test_client_secret_post(http, consented):
    poster = consented(
        register(
            name="Poster",
            redirect_uris=["https://p.example.gov/cb"],
            auth_method="client_secret_post",
        )
    )
    code, _ = get_code(http, poster)
    ok = http.post(
        "/token",
        data={
            **code_request(poster, code),
            "client_id": poster.client_id,
            "client_secret": poster.secret,
        },
    )
    assert ok.status_code == 200 and "id_token" in ok.get_json()
    wrong = http.post(
        "/token",
        data={**code_request(poster, "x"), "client_id": poster.client_id, "client_secret": "wrong"},
    )
    assert wrong.get_json()["error"] == "invalid_client"
    via_basic = http.post(
        "/token", data=code_request(poster, "x"), headers=basic(poster.client_id, poster.secret)
    )
    assert via_basic.get_json()["error"] == "invalid_client"


# -- private_key_jwt -------------------------------------------------------------------


@pytest.fixture
def signer():
    return ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"}, private=True)


@pytest.fixture
def jwt_client(consented, signer):
    return consented(
        register(
            name="JWT portal",
            redirect_uris=["https://jwt.example.gov/cb"],
            auth_method="private_key_jwt",
            jwks={"keys": [signer.as_dict(private=False)]},
        )
    )


def assertion(client, key, **overrides):
    now = int(time.time())
    claims = {
        "iss": client.client_id,
        "sub": client.client_id,
        "aud": ISSUER + "/token",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + 120,
    }
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    alg = "ES256" if isinstance(key, ECKey) else "RS256"
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


def jwt_token(http, client, code, client_assertion, **extra):
    return http.post(
        "/token",
        data={
            **code_request(client, code),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion,
            **extra,
        },
    )


def test_private_key_jwt_authenticates(http, jwt_client, signer):
    code, _ = get_code(http, jwt_client)
    response = jwt_token(http, jwt_client, code, assertion(jwt_client, signer))
    assert response.status_code == 200, response.get_json()
    assert "id_token" in response.get_json()


def test_issuer_is_an_accepted_audience(http, jwt_client, signer):
    code, _ = get_code(http, jwt_client)
    response = jwt_token(http, jwt_client, code, assertion(jwt_client, signer, aud=ISSUER))
    assert response.status_code == 200


def test_jti_replay_is_refused(http, jwt_client, signer):
    once = assertion(jwt_client, signer)
    code, _ = get_code(http, jwt_client)
    assert jwt_token(http, jwt_client, code, once).status_code == 200
    code, _ = get_code(http, jwt_client)
    replay = jwt_token(http, jwt_client, code, once)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "https://elsewhere.example/token"},
        {"exp": int(time.time()) - 300},
        {"exp": None},
        {"exp": int(time.time()) + 3600},  # outlives the replay cache
        {"jti": None},
        {"iss": "someone-else"},
        {"sub": "someone-else"},
    ],
)
def test_bad_assertion_claims_are_invalid_client(http, jwt_client, signer, overrides):
    response = jwt_token(http, jwt_client, "x", assertion(jwt_client, signer, **overrides))
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"


def test_assertion_signed_by_another_key_is_invalid_client(http, jwt_client):
    stranger = ECKey.generate_key("P-256", parameters={"kid": "rp-key-1"}, private=True)
    response = jwt_token(http, jwt_client, "x", assertion(jwt_client, stranger))
    assert response.get_json()["error"] == "invalid_client"


def test_unsigned_or_hmac_assertions_are_refused(http, jwt_client):
    from joserfc.jwk import OctKey

    key = OctKey.generate_key(256, parameters={"kid": "rp-key-1"})
    now = int(time.time())
    claims = {
        "iss": jwt_client.client_id,
        "sub": jwt_client.client_id,
        "aud": ISSUER,
        "jti": "j",
        "exp": now + 60,
    }
    hmac_jwt = jwt.encode({"alg": "HS256", "kid": "rp-key-1"}, claims, key)
    assert jwt_token(http, jwt_client, "x", hmac_jwt).get_json()["error"] == "invalid_client"
    import base64
    import json

    def b64(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    none_jwt = f"{b64({'alg': 'none'})}.{b64(claims)}."
    assert jwt_token(http, jwt_client, "x", none_jwt).get_json()["error"] == "invalid_client"


def test_garbage_assertion_is_invalid_client(http, jwt_client):
    for garbage in ("not-a-jwt", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.bm90LWpzb24.AAAA"):
        response = jwt_token(http, jwt_client, "x", garbage)
        assert response.get_json()["error"] == "invalid_client", garbage


def test_jwt_client_cannot_use_a_secret_method(http, jwt_client):
    response = http.post(
        "/token", data={**code_request(jwt_client, "x"), "client_id": jwt_client.client_id}
    )
    assert response.get_json()["error"] == "invalid_client"


def test_rsa_client_keys(http, consented):
    key = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)
    client = consented(
        register(
            name="RSA portal",
            redirect_uris=["https://rsa.example.gov/cb"],
            auth_method="private_key_jwt",
            jwks={"keys": [key.as_dict(private=False)]},
        )
    )
    code, _ = get_code(http, client)
    assert jwt_token(http, client, code, assertion(client, key)).status_code == 200
