"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from oidc_helpers import csrf_token_for
from oidc_helpers import grant_consent
from oidc_helpers import redirected_to
from oidc_helpers import register
from oidc_helpers import sign_in

BYE = "https://tax.example.gov/bye"


@pytest.fixture
def session_and_token(http, citizen, rp, login):
    grant_consent(citizen, rp)
    session = login()
    return session, sign_in(http, rp)


def sso_alive(app, store, session):
    from idp.authn import sessions

    return sessions.get_by_sid(store, session.sid) is not None


def cookie_cleared(response, app):
    name = app.config["IDP_SESSION_COOKIE"]
    return any(h.startswith(f"{name}=;") for h in response.headers.getlist("Set-Cookie"))


def logout(http, **params):
    return http.get("/logout?" + urlencode({k: v for k, v in params.items() if v is not None}))


def test_hint_and_registered_uri_logs_out_and_redirects_with_state(
    app, http, rp, store, session_and_token
):
    session, token = session_and_token
    response = logout(
        http, id_token_hint=token["id_token"], post_logout_redirect_uri=BYE, state="bye-state"
    )
    assert redirected_to(response, BYE) == {"state": "bye-state"}
    assert not sso_alive(app, store, session)
    assert cookie_cleared(response, app)


def test_hint_with_matching_client_id(app, http, rp, store, session_and_token):
    session, token = session_and_token
    response = logout(
        http, id_token_hint=token["id_token"], client_id=rp.client_id, post_logout_redirect_uri=BYE
    )
    assert redirected_to(response, BYE) == {}
    assert not sso_alive(app, store, session)


def test_unregistered_post_logout_uri_is_never_redirected_to(
    app, http, rp, store, session_and_token
):
    session, token = session_and_token
    response = logout(
        http,
        id_token_hint=token["id_token"],
        post_logout_redirect_uri="https://evil.example/bye",
        state="s",
    )
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert b'id="signed-out"' in response.data
    assert not sso_alive(app, store, session)


def test_uri_registered_for_another_client_is_not_used(app, http, rp, session_and_token):
    other = register(
        name="Other",
        redirect_uris=["https://other.example.gov/cb"],
        post_logout_redirect_uris=["https://other.example.gov/bye"],
    )
    _, token = session_and_token
    response = logout(
        http,
        id_token_hint=token["id_token"],
        post_logout_redirect_uri="https://other.example.gov/bye",
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert other  # registered, but not for the hint's audience


def test_expired_hint_is_accepted(app, http, rp, store, session_and_token, monkeypatch):
    """Section 2: the OP SHOULD accept ID tokens even when exp has passed."""
    import time

    session, token = session_and_token
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 7200)
    response = logout(http, id_token_hint=token["id_token"], post_logout_redirect_uri=BYE)
    monkeypatch.setattr(time, "time", real)
    assert redirected_to(response, BYE) == {}


def test_forged_hint_is_an_error_page(app, http, rp, store, session_and_token):
    session, token = session_and_token
    header, payload, _ = token["id_token"].split(".")
    response = logout(http, id_token_hint=f"{header}.{payload}.AAAA", post_logout_redirect_uri=BYE)
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert sso_alive(app, store, session)


def test_hint_from_another_issuer_is_refused(app, http, rp, store, session_and_token):
    from joserfc import jwt

    from idp.oauth import keys

    session, _ = session_and_token
    info = keys.signing_key_info("ES256")
    forged = jwt.encode(
        {"alg": "ES256", "kid": info.kid},
        {"iss": "https://elsewhere.example", "aud": rp.client_id, "sub": "x", "sid": session.sid},
        keys.private_keyset("ES256"),
    )
    response = logout(http, id_token_hint=forged, post_logout_redirect_uri=BYE)
    assert response.status_code == 400 and sso_alive(app, store, session)


def test_a_jwt_of_ours_that_is_not_an_id_token_is_refused(app, http, rp, store, session_and_token):
    """RFC 8725 3.11: our keys also sign access tokens (at+jwt), logout tokens and
    licences; only the ID token's typ (JWT) is a hint."""
    from joserfc import jwt

    from idp.oauth import keys

    session, token = session_and_token
    claims = jwt.decode(token["id_token"], keys.public_keyset()).claims
    info = keys.signing_key_info("ES256")
    for typ in ("at+jwt", "logout+jwt"):
        header = {"alg": "ES256", "kid": info.kid, "typ": typ}
        other = jwt.encode(header, claims, keys.private_keyset("ES256"))
        response = logout(http, id_token_hint=other, post_logout_redirect_uri=BYE)
        assert response.status_code == 400 and sso_alive(app, store, session), typ


def test_client_id_not_matching_hint_audience_is_refused(app, http, rp, store, session_and_token):
    other = register(name="Other", redirect_uris=["https://other.example.gov/cb"])
    session, token = session_and_token
    response = logout(http, id_token_hint=token["id_token"], client_id=other.client_id)
    assert response.status_code == 400
    assert sso_alive(app, store, session)


def test_without_hint_the_citizen_confirms_first(app, http, rp, store, session_and_token):
    """Section 6: a cross-site GET without a valid hint cannot sign anyone out."""
    session, _ = session_and_token
    page = logout(http, client_id=rp.client_id, post_logout_redirect_uri=BYE, state="s1")
    assert page.status_code == 200
    assert b'name="confirm"' in page.data and b"csrf_token" in page.data
    assert sso_alive(app, store, session)
    # A forged POST without our CSRF token changes nothing.
    forged = http.post(
        "/logout",
        data={"client_id": rp.client_id, "confirm": "yes", "post_logout_redirect_uri": BYE},
    )
    assert forged.status_code == 200 and sso_alive(app, store, session)
    # The citizen confirms on our page.
    confirmed = http.post(
        "/logout",
        data={
            "csrf_token": csrf_token_for(http),
            "confirm": "yes",
            "client_id": rp.client_id,
            "post_logout_redirect_uri": BYE,
            "state": "s1",
        },
    )
    assert redirected_to(confirmed, BYE) == {"state": "s1"}
    assert not sso_alive(app, store, session)
    assert cookie_cleared(confirmed, app)


def test_confirmation_without_client_shows_signed_out_page(app, http, store, session_and_token):
    session, _ = session_and_token
    assert logout(http).status_code == 200 and sso_alive(app, store, session)
    done = http.post("/logout", data={"csrf_token": csrf_token_for(http), "confirm": "yes"})
    assert done.status_code == 200 and b'id="signed-out"' in done.data
    assert not sso_alive(app, store, session)


def test_hint_for_another_session_asks_for_confirmation(app, http, rp, citizen, store, login):
    grant_consent(citizen, rp)
    login()
    old = sign_in(http, rp)
    current = login()  # a new sign-in: the old token's sid is not this session's
    page = logout(http, id_token_hint=old["id_token"], post_logout_redirect_uri=BYE)
    assert page.status_code == 200 and b'name="confirm"' in page.data
    assert sso_alive(app, store, current)


def test_no_session_redirects_without_confirmation(app, http, rp, session_and_token):
    _, token = session_and_token
    http.delete_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
    response = logout(http, client_id=rp.client_id, post_logout_redirect_uri=BYE, state="z")
    assert redirected_to(response, BYE) == {"state": "z"}


def test_unknown_client_without_hint_is_not_redirected(app, http, rp):
    response = logout(http, client_id="nobody", post_logout_redirect_uri=BYE)
    assert response.status_code == 200 and "Location" not in response.headers
