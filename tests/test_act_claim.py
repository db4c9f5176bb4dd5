"""The RFC 8693 ``act`` claim of a staff-assisted sign-in, through the code flow.

A session made with a member of staff acting (``AuthResult.acting_staff_id``, as the
hall counter and the hotline do) gives tokens whose ``act`` names that staff member:
in the ID token, a refreshed ID token, an RFC 9068 access token and introspection.
A sign-in nobody assisted carries no ``act``.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any

from joserfc import jwt
from oidc_helpers import basic
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import jwks
from oidc_helpers import refresh
from oidc_helpers import sign_in


def _assisted_session(app: Any, http: Any, citizen: Any, staff_id: str) -> Any:
    from idp.authn import sessions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    result = AuthResult(
        citizen_id=citizen.id,
        methods=(Amr.SC, Amr.FACE),
        acr=Acr.HIGH,
        channel=Channel.HOTLINE,
        auth_time=datetime.now(UTC),
        device_id="counter-7",
        acting_staff_id=staff_id,
        acting_device_id="counter-7",
    )
    session, cookie = sessions.start(
        app.extensions["idp.store"],
        result=result,
        lifetime=app.config["IDP_TTL_SSO_SESSION"],
        idle=app.config["IDP_TTL_SSO_IDLE"],
    )
    http.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    return session


def _staff() -> Any:
    from idp.authn.staff.accounts import create_staff

    staff, _ = create_staff(username="clerk1", display_name="Clerk", roles=["counter_staff"])
    return staff


def test_assisted_sign_in_names_the_staff_member_everywhere(app, http, citizen, rp):
    rp.client.access_token_format = "jwt"
    from idp.extensions import db

    db.session.commit()
    grant_consent(citizen, rp)
    staff = _staff()
    _assisted_session(app, http, citizen, staff.id)
    expected = {"sub": f"staff:{staff.id}", "device": "counter-7"}

    tokens = sign_in(http, rp, scope="openid profile offline_access")
    _, claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert claims["act"] == expected
    assert claims["channel"] == "hotline"

    access = jwt.decode(tokens["access_token"], jwks(http), algorithms=["RS256", "ES256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["act"] == expected

    seen = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    ).get_json()
    assert seen["active"] is True
    assert seen["act"] == expected

    refreshed = refresh(http, rp, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.get_json()
    body = refreshed.get_json()
    _, again = decode_id_token(http, body["id_token"], client_id=rp.client_id)
    assert again["act"] == expected
    seen = http.post(
        "/introspect",
        data={"token": body["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic(rp.client_id, rp.secret),
    ).get_json()
    assert seen["act"] == expected


def test_unassisted_sign_in_has_no_act(app, http, citizen, rp, login):
    grant_consent(citizen, rp)
    login(amr=("pwd",))
    tokens = sign_in(http, rp)
    _, claims = decode_id_token(http, tokens["id_token"], client_id=rp.client_id)
    assert "act" not in claims
    seen = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    ).get_json()
    assert seen["active"] is True
    assert "act" not in seen
