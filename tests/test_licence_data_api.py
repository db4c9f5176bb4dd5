"""``GET /api/licences``: a portal receives only the licence types the citizen agreed
to, each as a ``licence+jwt`` it verifies offline against the JWKS; errors as RFC 6750
says; a withdrawn or lapsed consent releases nothing; every release is recorded."""

from __future__ import annotations

import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from licence_helpers import load_all
from oidc_helpers import ISSUER
from oidc_helpers import authorize
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import exchange
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from oidc_helpers import register
from oidc_helpers import sign_in
from sqlalchemy import select

from idp.consent import service as consent_service
from idp.extensions import db
from idp.licences import store
from idp.models import DataRelease

SCOPES = "openid licence:driving_licence licence:household_register"
POLICY = {
    "openid": {"required": True, "purpose": ""},
    "licence:driving_licence": {"required": True, "purpose": "To renew your vehicle tax"},
    "licence:household_register": {"required": False, "purpose": "To check your address"},
}


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


@pytest.fixture
def portal(app: Any) -> Any:
    return register(
        name="Vehicle portal",
        department="Transport Bureau",
        redirect_uris=["https://cars.example.gov/cb"],
        scope=SCOPES + " licence profile",
        scope_policy=POLICY,
    )


@pytest.fixture
def licences(app: Any, citizen: Any) -> None:
    load_all()


def _consent_decision(http: Any, portal: Any, **fields: list[str]) -> tuple[Any, str]:
    """The real consent page: the citizen ticks what ``fields`` says and approves."""
    verifier, challenge = pkce()
    parked = authorize(
        http, portal, scope=SCOPES, code_challenge=challenge, code_challenge_method="S256"
    )
    shown = http.get(parked.headers["Location"])
    page = http.get(shown.headers["Location"])
    assert page.status_code == 200
    uid = parked.headers["Location"].rstrip("/").split("/")[-1]
    data = [("csrf_token", csrf_from(page.get_data(as_text=True))), ("decision", "approve")]
    data += [(name, v) for name, values in fields.items() for v in values]
    decided = http.post(
        f"/interaction/{uid}/consent",
        data=urlencode(data),
        content_type="application/x-www-form-urlencoded",
    )
    return decided, verifier


def _through_consent_page(http: Any, portal: Any, **fields: list[str]) -> dict[str, Any]:
    """Approve, agreeing separately to the required driving licence (its number is the
    ID number: sensitive), plus what ``fields`` says."""
    agreed = ["licence:driving_licence", *fields.pop("agree_sensitive", [])]
    decided, verifier = _consent_decision(http, portal, agree_sensitive=agreed, **fields)
    params = redirected_to(decided, portal.redirect_uri)
    response = exchange(http, portal, params["code"], verifier=verifier)
    assert response.status_code == 200, response.get_json()
    return dict(response.get_json())


def test_driving_licence_needs_its_own_explicit_agreement(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    """Its number is the holder's ID number: approving the page without the separate
    agreement releases nothing (DESIGN.md: an ID number only under explicit consent)."""
    login(amr=("pwd", "otp"))
    decided, _ = _consent_decision(http, portal)
    params = redirected_to(decided, portal.redirect_uri)
    assert params["error"] == "access_denied"
    assert "code" not in params


def _verify(http: Any, token: str, audience: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """As a portal would, offline: joserfc and the published JWKS only."""
    keyset = KeySet.import_key_set(http.get("/jwks.json").get_json())
    decoded = jwt.decode(token, keyset, algorithms=["ES256", "RS256"])
    jwt.JWTClaimsRegistry(
        now=int(time.time()),
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": audience},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(decoded.claims)
    return dict(decoded.header), dict(decoded.claims)


def test_only_the_agreed_licence_types_signed_and_verifiable_offline(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    login(amr=("pwd", "otp"))
    # The optional, sensitive household register is left unticked.
    tokens = _through_consent_page(http, portal)
    assert tokens["scope"] == "openid licence:driving_licence"
    _, id_claims = decode_id_token(http, tokens["id_token"], client_id=portal.client_id)

    response = http.get("/api/licences", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200, response.get_json()
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["sub"] == id_claims["sub"]
    assert [item["type"] for item in body["licences"]] == ["driving_licence"]

    header, claims = _verify(http, body["licences"][0]["jws"], portal.client_id)
    assert header["typ"] == "licence+jwt" and header["alg"] == "ES256"
    kids = {k["kid"] for k in http.get("/jwks.json").get_json()["keys"]}
    assert header["kid"] in kids
    assert claims["sub"] == id_claims["sub"]  # pairwise, as in the ID token
    assert claims["licence"] == {
        "type": "driving_licence",
        "number": "DRI-0001",
        "issuer_department": "Transport Bureau",
        "issued_on": "2020-05-01",
        "expires_on": "2030-05-01",
        "status": "valid",
        "fields": {"name": "张三", "vehicle_classes": "C1"},
    }
    assert claims["jti"] and claims["exp"] > claims["iat"]

    # The household register was not agreed: asking for it is insufficient_scope.
    refused = http.get(
        "/api/licences?type=household_register", headers=bearer(tokens["access_token"])
    )
    assert refused.status_code == 403
    challenge = refused.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="licence:household_register"' in challenge


def test_agreed_sensitive_type_is_released_too(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    login(amr=("pwd", "otp"))
    tokens = _through_consent_page(
        http,
        portal,
        scope=["licence:household_register"],
        agree_sensitive=["licence:household_register"],
    )
    assert tokens["scope"] == SCOPES
    body = http.get("/api/licences", headers=bearer(tokens["access_token"])).get_json()
    assert [i["type"] for i in body["licences"]] == ["driving_licence", "household_register"]
    only = http.get(
        "/api/licences?type=household_register", headers=bearer(tokens["access_token"])
    ).get_json()
    assert [i["type"] for i in only["licences"]] == ["household_register"]
    _, claims = _verify(http, only["licences"][0]["jws"], portal.client_id)
    assert claims["licence"]["fields"]["household_head"] == "张三"


def _token(http: Any, citizen: Any, portal: Any, login: Any, scope: str) -> str:
    grant_consent(citizen, portal, scope)
    login(amr=("pwd", "otp"))
    return str(sign_in(http, portal, scope=scope)["access_token"])


def test_licence_scope_covers_every_type_with_its_status(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    store.set_status(
        type="business_licence",
        number="BUS-0001",
        status="suspended",
        reason=None,
        department=None,
    )
    token = _token(http, citizen, portal, login, "openid licence")
    body = http.get("/api/licences", headers=bearer(token)).get_json()
    statuses = {}
    for item in body["licences"]:
        _, claims = _verify(http, item["jws"], portal.client_id)
        statuses[claims["licence"]["type"]] = claims["licence"]["status"]
    assert statuses == {
        "driving_licence": "valid",
        "business_licence": "suspended",
        "household_register": "valid",
        "marriage_certificate": "valid",
    }


def test_withdrawn_consent_makes_the_token_invalid(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    token = _token(http, citizen, portal, login, "openid licence:driving_licence")
    assert http.get("/api/licences", headers=bearer(token)).status_code == 200
    consent_service.revoke(citizen_id=citizen.id, client_id=portal.client_id, by="citizen")
    response = http.get("/api/licences", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_lapsed_consent_releases_nothing(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    token = _token(http, citizen, portal, login, "openid licence:driving_licence")
    consent = consent_service.find_active(citizen_id=citizen.id, client_id=portal.client_id)
    consent.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    response = http.get("/api/licences", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_token_without_licence_scope(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    token = _token(http, citizen, portal, login, "openid profile")
    response = http.get("/api/licences", headers=bearer(token))
    assert response.status_code == 403
    assert 'scope="licence"' in response.headers["WWW-Authenticate"]


def test_bad_requests(http: Any, portal: Any, citizen: Any, login: Any, licences: None) -> None:
    none = http.get("/api/licences")
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == "Bearer"
    forged = http.get("/api/licences", headers=bearer("x" * 43))
    assert forged.status_code == 401
    token = _token(http, citizen, portal, login, "openid licence")
    for query in (
        "type=pilot_licence",
        "colour=red",
        "type=driving_licence&type=marriage_certificate",
    ):
        response = http.get(f"/api/licences?{query}", headers=bearer(token))
        assert response.status_code == 400, query
        assert response.get_json()["error"] == "invalid_request"


def test_a_client_token_gets_no_licence(http: Any, app: Any, licences: None) -> None:
    from idp.oauth.clients import register_client

    client, secret = register_client(
        name="Loader",
        department="Transport Bureau",
        redirect_uris=[],
        scope="licences:load",
        grant_types=["client_credentials"],
    )
    token = http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client.client_id, secret),
    ).get_json()["access_token"]
    response = http.get("/api/licences", headers=bearer(token))
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_every_release_is_recorded(
    http: Any, portal: Any, citizen: Any, login: Any, licences: None
) -> None:
    grant_consent(citizen, portal, "openid profile licence:driving_licence")
    consent = consent_service.find_active(citizen_id=citizen.id, client_id=portal.client_id)
    login(amr=("pwd", "otp"))
    tokens = sign_in(http, portal, scope="openid profile licence:driving_licence")
    assert http.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
    assert http.get("/api/licences", headers=bearer(tokens["access_token"])).status_code == 200
    rows = db.session.scalars(select(DataRelease).order_by(DataRelease.released_at)).all()
    assert [(r.via, r.categories) for r in rows] == [
        ("id_token", ["openid"]),
        ("userinfo", ["openid", "profile"]),
        ("data_api", ["licence:driving_licence"]),
    ]
    assert {r.consent_id for r in rows} == {consent.id}
    assert {r.client_id for r in rows} == {portal.client_id}
    assert {r.citizen_id for r in rows} == {citizen.id}
    assert rows[1].items == ["sub", "name", "birthdate", "gender"]
    assert rows[2].items == ["driving_licence"]


def test_refreshed_id_token_is_a_release_under_the_same_consent(
    http: Any, portal: Any, citizen: Any, login: Any
) -> None:
    from oidc_helpers import refresh

    portal.client.scope += " offline_access"
    db.session.commit()
    grant_consent(citizen, portal, "openid offline_access")
    consent = consent_service.find_active(citizen_id=citizen.id, client_id=portal.client_id)
    login()
    tokens = sign_in(http, portal, scope="openid offline_access")
    refreshed = refresh(http, portal, tokens["refresh_token"])
    assert refreshed.status_code == 200 and "id_token" in refreshed.get_json()
    rows = db.session.scalars(select(DataRelease).order_by(DataRelease.released_at)).all()
    assert [(r.via, r.consent_id) for r in rows] == [
        ("id_token", consent.id),
        ("id_token", consent.id),
    ]
