"""The hotline's CIBA hints (CIBA Core 1.0 section 7.1): exactly one of ``login_hint``
(the ID number), ``id_token_hint`` (an ID token this provider issued to the hotline
before) and ``login_hint_token`` (not supported). A returning caller is named by the ID
token the hotline got when they last signed in; it chooses whom to ask and proves
nothing: the citizen still approves in the bound app.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from hotline_simulator import HotlineSimulator
from joserfc import jwt
from joserfc.jwk import ECKey
from mobile_helpers import bound_phone
from oidc_helpers import decode_id_token
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import sign_in
from sqlalchemy import delete
from webforms import resident

from idp.extensions import db
from idp.models import OAuthToken
from idp.oauth import keys
from idp.oauth.clients import CIBA_GRANT_TYPE
from idp.oauth.clients import register_client

UNKNOWN_NUMBER = resident("44030519900307123")


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


def _hotline(http: Any, name: str = "12345 Citizen Hotline") -> HotlineSimulator:
    client, secret = register_client(
        name=name,
        redirect_uris=[],
        auth_method="client_secret_basic",
        scope="openid profile",
        grant_types=[CIBA_GRANT_TYPE],
        first_party=True,
    )
    assert secret is not None
    return HotlineSimulator(http, client.client_id, secret)


@pytest.fixture
def hotline(app, http) -> HotlineSimulator:
    return _hotline(http)


@pytest.fixture
def agent(app) -> Any:
    from idp.authn.staff.accounts import create_staff

    staff, _ = create_staff(username="agent.li", display_name="Agent Li", roles=["hotline_agent"])
    return staff


def _by_token(hotline: HotlineSimulator, hint: str, agent_id: str, **extra: str) -> Any:
    """A request naming the caller by ``id_token_hint`` alone."""
    data = {"scope": "openid profile", "id_token_hint": hint, "agent_id": agent_id, **extra}
    return hotline.http.post("/bc-authorize", data=data, headers=hotline._auth())


def _started(response: Any) -> str:
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"auth_req_id", "expires_in", "interval"}
    return str(body["auth_req_id"])


def _hotline_requests(phone: Any) -> list[dict[str, Any]]:
    pending = phone.pending()
    assert pending.status == 200, pending.body
    return [r for r in pending.body["requests"] if r["channel"] == "hotline"]


def _approve(phone: Any) -> None:
    (shown,) = _hotline_requests(phone)
    assert phone.decide(shown["id"], "approve", uv=True, uvm="fpt").status == 200


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def _refused(response: Any) -> str:
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert body["error"] == "invalid_request"
    return str(body["error_description"])


def _first_call(app: Any, http: Any, citizen: Any, hotline: Any, agent: Any) -> tuple[Any, str]:
    """The caller signs in once by ID number; the hotline keeps the ID token."""
    phone = bound_phone(app, citizen)
    auth_req_id = _started(hotline.start(CITIZEN_ID_NUMBER, agent.id))
    _approve(phone)
    response = hotline.token(auth_req_id)
    assert response.status_code == 200, response.get_json()
    return phone, str(response.get_json()["id_token"])


def test_a_returning_caller_is_named_by_the_id_token(app, http, citizen, hotline, agent):
    phone, id_token = _first_call(app, http, citizen, hotline, agent)
    _, first = decode_id_token(http, id_token, client_id=hotline.client_id)

    auth_req_id = _started(_by_token(hotline, id_token, agent.id, binding_message="Call 77"))
    assert hotline.token(auth_req_id).get_json()["error"] == "authorization_pending"
    # The hint chose whom to ask; the citizen still approves on their phone.
    (shown,) = _hotline_requests(phone)
    assert shown["binding_message"] == "Call 77"
    assert shown["agent"] == "Agent Li"
    assert phone.decide(shown["id"], "approve", uv=True, uvm="fpt").status == 200

    response = hotline.token(auth_req_id)
    assert response.status_code == 200, response.get_json()
    _, claims = decode_id_token(http, response.get_json()["id_token"], client_id=hotline.client_id)
    assert claims["sub"] == first["sub"]
    assert claims["sid"] != first["sid"]  # a new sign-in, on the hotline
    assert claims["channel"] == "hotline"
    assert claims["act"]["sub"] == f"staff:{agent.id}"

    from idp.authn import sessions

    signed_in = [
        s
        for s in sessions.list_for(app.extensions["idp.store"], citizen.id)
        if s.channel == "hotline"
    ]
    assert claims["sid"] in {s.sid for s in signed_in}


@pytest.mark.parametrize("app_config", [{"IDP_TTL_ID_TOKEN": 1}])
def test_an_expired_id_token_still_names_the_caller(app, http, citizen, hotline, agent):
    phone, id_token = _first_call(app, http, citizen, hotline, agent)
    time.sleep(1.2)
    with pytest.raises(Exception, match="expired"):
        decode_id_token(http, id_token, client_id=hotline.client_id)
    auth_req_id = _started(_by_token(hotline, id_token, agent.id))
    _approve(phone)
    assert hotline.token(auth_req_id).status_code == 200


def test_a_hint_signed_by_a_retired_key_counts_while_published(app, http, citizen, hotline, agent):
    phone, id_token = _first_call(app, http, citizen, hotline, agent)
    old_kid = _segment(id_token, 0)["kid"]
    keys.rotate(propagation_delay=0, retire_grace=3600)
    # Retired (no longer signing) but still in the JWKS: the hint verifies.
    assert keys.signing_key_info("ES256").kid != old_kid
    auth_req_id = _started(_by_token(hotline, id_token, agent.id))
    _approve(phone)
    assert hotline.token(auth_req_id).status_code == 200
    # Gone from the JWKS (an emergency retirement): it no longer does.
    keys.retire(old_kid, retire_grace=0, immediate=True)
    assert "not a valid ID token" in _refused(_by_token(hotline, id_token, agent.id))


def test_an_id_token_issued_to_another_client_is_refused(
    app, http, citizen, rp, login, hotline, agent
):
    bound_phone(app, citizen)
    # The tax portal's ID token for the same citizen (its own pairwise sub).
    grant_consent(citizen, rp)
    login()
    portal_token = sign_in(http, rp)["id_token"]
    http._cookies.clear()
    assert "not issued to this client" in _refused(_by_token(hotline, portal_token, agent.id))
    # Another hotline's ID token for the citizen, likewise.
    other = _hotline(http, name="12348 Social Security Line")
    _, other_token = _first_call(app, http, citizen, other, agent)
    assert "not issued to this client" in _refused(_by_token(hotline, other_token, agent.id))


def test_tampered_and_forged_hints_are_refused(app, http, citizen, hotline, agent):
    _, id_token = _first_call(app, http, citizen, hotline, agent)
    _, claims = decode_id_token(http, id_token, client_id=hotline.client_id)
    header, _payload, signature = id_token.split(".")

    # The payload changed (another sub), the signature kept.
    changed = f"{header}.{_b64({**claims, 'sub': 'someone-else'})}.{signature}"
    # Signed by a key of the caller's own, with our kid.
    kid = keys.signing_key_info("ES256").kid
    alien = jwt.encode({"alg": "ES256", "kid": kid, "typ": "JWT"}, claims, ECKey.generate_key())
    # Unsigned.
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    # Our key, but another issuer.
    ours = keys.private_keyset("ES256")
    elsewhere = jwt.encode(
        {"alg": "ES256", "kid": kid, "typ": "JWT"},
        {**claims, "iss": "https://elsewhere.example"},
        ours,
    )
    # Our key and issuer, but not an ID token: an access token's typ (RFC 9068).
    access_typed = jwt.encode({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, claims, ours)
    for hint in (changed, alien, unsigned, elsewhere, access_typed, "eyJ", "not a token"):
        assert "not a valid ID token" in _refused(_by_token(hotline, hint, agent.id)), hint
    # The very same claims signed as an ID token pass: the checks above are what failed.
    genuine = jwt.encode({"alg": "ES256", "kid": kid, "typ": "JWT"}, claims, ours)
    _started(_by_token(hotline, genuine, agent.id))


def test_exactly_one_hint(app, http, citizen, hotline, agent):
    _, id_token = _first_call(app, http, citizen, hotline, agent)
    both = hotline.start(CITIZEN_ID_NUMBER, agent.id, id_token_hint=id_token)
    assert "exactly one" in _refused(both)
    with_token = hotline.start(CITIZEN_ID_NUMBER, agent.id, login_hint_token="eyJhbGciOi")
    assert "exactly one" in _refused(with_token)
    none = hotline.http.post(
        "/bc-authorize",
        data={"scope": "openid", "agent_id": agent.id},
        headers=hotline._auth(),
    )
    assert "Missing" in _refused(none)


def test_login_hint_token_is_not_supported(app, http, hotline, agent):
    response = hotline.http.post(
        "/bc-authorize",
        data={"scope": "openid", "login_hint_token": "eyJhbGciOi.e30.sig", "agent_id": agent.id},
        headers=hotline._auth(),
    )
    assert "login_hint_token is not supported" in _refused(response)
    # Discovery claims no such support (CIBA defines no metadata for the hints).
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert "login_hint_token" not in json.dumps(meta)


def test_a_locked_or_closed_account_looks_like_an_unknown_number(
    app, http, citizen, hotline, agent
):
    phone, id_token = _first_call(app, http, citizen, hotline, agent)
    unknown = hotline.start(UNKNOWN_NUMBER, agent.id).get_json()

    citizen.locked_at = datetime.now(UTC)
    db.session.commit()
    locked = _by_token(hotline, id_token, agent.id)
    assert locked.status_code == 200
    assert set(locked.get_json()) == set(unknown)
    assert len(locked.get_json()["auth_req_id"]) == len(unknown["auth_req_id"])
    assert hotline.token(locked.get_json()["auth_req_id"]).get_json()["error"] == (
        "authorization_pending"
    )
    assert _hotline_requests(phone) == []  # nobody was asked

    # Nothing left to map the pairwise sub back (as when the account is closed: its
    # tokens go with it): the same answer again, and the request never completes.
    citizen.locked_at = None
    db.session.execute(delete(OAuthToken).where(OAuthToken.client_id == hotline.client_id))
    db.session.commit()
    gone = _by_token(hotline, id_token, agent.id)
    assert gone.status_code == 200 and set(gone.get_json()) == set(unknown)
    assert _hotline_requests(phone) == []


@pytest.mark.parametrize("app_config", [{"IDP_HOTLINE_PER_CITIZEN_HOUR": 3}])
def test_an_id_token_counts_on_the_citizens_quota(app, http, citizen, hotline, agent):
    _, id_token = _first_call(app, http, citizen, hotline, agent)  # one
    assert _by_token(hotline, id_token, agent.id).status_code == 200  # two
    assert hotline.start(CITIZEN_ID_NUMBER, agent.id).status_code == 200  # three
    refused = _by_token(hotline, id_token, agent.id)
    assert refused.status_code == 429 and refused.get_json()["error"] == "slow_down"
    assert hotline.start(CITIZEN_ID_NUMBER, agent.id).status_code == 429


@pytest.mark.parametrize("app_config", [{"IDP_SMS_RESEND_SECONDS": 0}])
def test_without_an_app_the_code_goes_to_the_phone_on_record(app, http, citizen, hotline, agent):
    """The hint names the citizen for the SMS read-back as the ID number does."""
    from idp.authn.sms.gateway import outbox

    box = outbox()
    assert box is not None

    def read_back(auth_req_id: str) -> dict[str, Any]:
        text = box.messages(phone=citizen.phone)[0].text  # newest first
        code = re.search(r"#(\d{6})\b", text)
        assert code, text
        assert hotline.read_back(auth_req_id, code.group(1)).status_code == 200
        response = hotline.token(auth_req_id)
        assert response.status_code == 200, response.get_json()
        return dict(response.get_json())

    first = read_back(_started(hotline.start(CITIZEN_ID_NUMBER, agent.id)))
    sent = len(box.messages(phone=citizen.phone))
    again = read_back(_started(_by_token(hotline, first["id_token"], agent.id)))
    assert len(box.messages(phone=citizen.phone)) == sent + 1
    subs = [
        decode_id_token(http, t["id_token"], client_id=hotline.client_id)[1]["sub"]
        for t in (first, again)
    ]
    assert subs[0] == subs[1]
