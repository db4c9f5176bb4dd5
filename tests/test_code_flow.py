"""Authorization code flow + PKCE end to end (OIDC Core 3.1), ID token validated as an RP
would (OIDC Core 3.1.3.7), against the published JWKS."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from oidc_helpers import ISSUER
from oidc_helpers import at_hash
from oidc_helpers import authorize
from oidc_helpers import basic
from oidc_helpers import decode_id_token
from oidc_helpers import exchange
from oidc_helpers import get_code
from oidc_helpers import grant_consent
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from oidc_helpers import register
from oidc_helpers import sign_in


@pytest.fixture
def signed_in(login, citizen, rp):
    grant_consent(citizen, rp)
    return login(amr=("pwd", "otp"))


def test_code_pkce_flow_issues_validated_id_token(http, rp, signed_in):
    """OIDC Core 3.1.3.7: iss, aud, nonce, at_hash, acr, amr, sid, auth_time, kid."""
    verifier, challenge = pkce()
    code, params = get_code(
        http, rp, code_challenge=challenge, code_challenge_method="S256", nonce="n-0S6_WzA2Mj"
    )
    # RFC 9207: iss in the authorization response; state echoed.
    assert params["iss"] == ISSUER
    assert params["state"] == "state-123"

    response = exchange(http, rp, code, verifier=verifier)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = response.get_json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 600
    assert token["scope"] == "openid profile"
    assert "refresh_token" not in token  # no offline_access asked

    header, claims = decode_id_token(
        http, token["id_token"], client_id=rp.client_id, nonce="n-0S6_WzA2Mj"
    )
    assert header["alg"] == "ES256"
    assert header["kid"] in {k["kid"] for k in http.get("/jwks.json").get_json()["keys"]}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == rp.client_id
    assert claims["at_hash"] == at_hash(token["access_token"])
    assert claims["acr"] == "urn:idp:acr:substantial"
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["sid"] == signed_in.sid
    assert claims["auth_time"] == signed_in.auth_time
    assert claims["exp"] - claims["iat"] == 600
    # Profile data goes through UserInfo, never into the ID token.
    assert "name" not in claims and "birthdate" not in claims


def test_code_issue_records_portal_in_sso_session(http, rp, signed_in, store):
    from idp.authn import sessions

    get_code(http, rp)
    assert rp.client_id in sessions.get_by_sid(store, signed_in.sid).clients


def test_pairwise_sub_differs_between_sectors_and_is_stable_within_one(
    http, citizen, rp, signed_in
):
    """OIDC Core 8.1: two sectors never see the same sub; one sector always does."""
    same_sector = register(name="Tax app", redirect_uris=["https://tax.example.gov/app/cb"])
    other_sector = register(name="Housing", redirect_uris=["https://housing.example.gov/cb"])
    subs = {}
    for name, client in (("rp", rp), ("same", same_sector), ("other", other_sector)):
        grant_consent(citizen, client)
        token = sign_in(http, client)
        _, claims = decode_id_token(http, token["id_token"], client_id=client.client_id)
        subs[name] = claims["sub"]
    assert subs["rp"] == subs["same"]
    assert subs["rp"] != subs["other"]
    assert len(subs["rp"]) == 43  # base64url of an HMAC-SHA256, no padding
    # Stable across sign-ins.
    token = sign_in(http, rp)
    assert decode_id_token(http, token["id_token"], client_id=rp.client_id)[1]["sub"] == subs["rp"]


def test_rs256_client_gets_rs256_id_token(http, citizen, signed_in):
    legacy = register(
        name="Old portal", redirect_uris=["https://old.example.gov/cb"], id_token_alg="RS256"
    )
    grant_consent(citizen, legacy)
    token = sign_in(http, legacy)
    header, _ = decode_id_token(
        http, token["id_token"], client_id=legacy.client_id, algorithms=["RS256"]
    )
    assert header["alg"] == "RS256"


def test_code_is_single_use_and_replay_revokes_its_tokens(http, rp, signed_in):
    """RFC 6749 4.1.2: a reused code is refused and the tokens it produced revoked."""
    code, _ = get_code(http, rp, scope="openid profile offline_access")
    first = exchange(http, rp, code)
    assert first.status_code == 200
    tokens = first.get_json()

    replay = exchange(http, rp, code)
    assert replay.status_code == 400
    assert replay.get_json()["error"] == "invalid_grant"

    userinfo = http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    refreshed = http.post(
        "/token",
        headers=basic(rp.client_id, rp.secret),
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert refreshed.get_json()["error"] == "invalid_grant"


def test_expired_code_is_invalid_grant(http, rp, signed_in, monkeypatch):
    import idp.oauth.codes as codes

    code, _ = get_code(http, rp)
    later = codes._now() + 61
    monkeypatch.setattr(codes, "_now", lambda: later)
    response = exchange(http, rp, code)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_code_of_another_client_is_invalid_grant(http, citizen, rp, signed_in):
    """RFC 6749 4.1.3. The wrong client's attempt does not use the code up: the client it
    was issued to still redeems it, once."""
    other = register(name="Other", redirect_uris=["https://other.example.gov/cb"])
    code, _ = get_code(http, rp)
    response = http.post(
        "/token",
        headers=basic(other.client_id, other.secret),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": rp.redirect_uri},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert exchange(http, rp, code).status_code == 200
    assert exchange(http, rp, code).get_json()["error"] == "invalid_grant"


def test_a_code_raced_by_many_exchanges_yields_one_token(app, http, rp, signed_in):
    """Eight exchanges of one code at once (threads, one store): at most one gets tokens
    (the others are replays, which may also revoke the winner's tokens, RFC 6749 4.1.2)."""
    code, _ = get_code(http, rp)
    barrier = threading.Barrier(8)

    def attempt() -> int:
        client = app.test_client()
        barrier.wait()
        return int(exchange(client, rp, code).status_code)

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: attempt(), range(8)))
    assert statuses.count(200) <= 1
    assert statuses.count(400) >= 7


def test_redirect_uri_must_match_at_token_endpoint(http, rp, signed_in):
    code, _ = get_code(http, rp)
    response = exchange(http, rp, code, redirect_uri="https://tax.example.gov/other")
    assert response.get_json()["error"] == "invalid_grant"


def test_unknown_code_is_invalid_grant(http, rp):
    response = exchange(http, rp, "not-a-code")
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_token_endpoint_errors(http, rp):
    auth = basic(rp.client_id, rp.secret)
    missing = http.post("/token", headers=auth, data={})
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"
    unsupported = http.post("/token", headers=auth, data={"grant_type": "password"})
    assert unsupported.get_json()["error"] == "unsupported_grant_type"
    no_code = http.post("/token", headers=auth, data={"grant_type": "authorization_code"})
    assert no_code.get_json()["error"] == "invalid_request"
    twice = http.post("/token", headers=auth, data={"grant_type": ["authorization_code"] * 2})
    assert twice.get_json()["error"] == "invalid_request"
    get = http.get("/token")
    assert get.status_code == 405


def test_locked_citizen_gets_no_tokens(http, rp, citizen, signed_in):
    from idp.extensions import db

    code, _ = get_code(http, rp)
    citizen.locked_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    response = exchange(http, rp, code)
    assert response.get_json()["error"] == "invalid_grant"
    # Nothing was issued, nor released to the portal.
    from sqlalchemy import func
    from sqlalchemy import select

    from idp.models import DataRelease
    from idp.models import OAuthToken

    for model in (OAuthToken, DataRelease):
        count = select(func.count()).select_from(model).where(model.citizen_id == citizen.id)
        assert db.session.scalar(count) == 0


def test_no_session_parks_an_interaction_and_sends_to_login(http, rp, citizen):
    response = authorize(http, rp, login_hint="11010519491231002X")
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/interaction/") or "/interaction/" in location
    # The ID-number hint never appears in a URL we create.
    assert "11010519491231002X" not in location
    shown = http.get(location)
    assert shown.status_code == 303
    assert "/login/" in shown.headers["Location"]
    assert "11010519491231002X" not in shown.headers["Location"]


def test_login_then_resume_issues_code(app, http, rp, citizen):
    """The adapter contract: complete_login, SSO cookie, then interaction.resume."""
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel
    from idp.authn.service import complete_login

    grant_consent(citizen, rp)
    response = authorize(http, rp)
    uid = response.headers["Location"].rstrip("/").split("/")[-1]
    with http.session_transaction() as ui:
        browser = ui["browser"]
    with app.test_request_context():
        outcome = complete_login(
            uid,
            AuthResult(
                citizen_id=citizen.id,
                methods=(Amr.PWD,),
                acr=Acr.LOW,
                channel=Channel.WEBSITE,
                auth_time=datetime.now(UTC),
            ),
            browser=browser,
            current_cookie=None,
        )
    http.set_cookie(app.config["IDP_SESSION_COOKIE"], outcome.cookie_value, domain="localhost")
    resumed = http.get(f"/interaction/{uid}/resume")
    params = redirected_to(resumed, rp.redirect_uri)
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    token = exchange(http, rp, params["code"]).get_json()
    _, claims = decode_id_token(http, token["id_token"], client_id=rp.client_id, nonce="nonce-456")
    assert claims["sid"] == outcome.session.sid
    assert claims["amr"] == ["pwd"]
    # The interaction is single use.
    again = http.get(f"/interaction/{uid}/resume")
    assert again.status_code == 400
    assert "Location" not in again.headers


def test_resume_from_another_browser_is_refused(app, http, rp, citizen, login):
    response = authorize(http, rp, prompt="login")
    uid = response.headers["Location"].rstrip("/").split("/")[-1]
    stranger = app.test_client()
    assert stranger.get(f"/interaction/{uid}").status_code == 400
    assert stranger.get(f"/interaction/{uid}/resume").status_code == 400


def test_direct_visit_interaction_returns_to_local_path(app, http, citizen, login, store):
    from idp.authn import interaction as interactions
    from idp.authn.interaction import Prompt
    from idp.authn.interaction import State

    session = login()
    http.get("/healthz")
    with http.session_transaction() as ui:
        ui["browser"] = browser = "b" * 24
    for target, expected in (
        ("/account", "/account"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
    ):
        parked = interactions.create(
            store, browser=browser, prompt=Prompt.LOGIN, reasons=[], ttl=60, return_to=target
        )
        interactions.save(store, parked.advance(State.AUTHENTICATED, sid=session.sid), ttl=60)
        response = http.get(f"/interaction/{parked.uid}/resume")
        assert response.status_code == 303
        assert response.headers["Location"] == expected
