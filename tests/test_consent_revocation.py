"""Withdrawing consent (issue 4), by the citizen or an administrator, and its cascade:
tokens dead at once (refresh, introspection, UserInfo), the next sign-in asks again, and
the portal is told by a back-channel logout token it verifies against the JWKS. Also
the consent edge cases: a declined optional scope, and narrowing a consent."""

from __future__ import annotations

import json

import pytest
from bc_portal import EVENT
from bc_portal import Portal
from conftest import CITIZEN_ID_NUMBER
from oidc_helpers import ISSUER
from oidc_helpers import authorize
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import jwks
from oidc_helpers import redirected_to
from oidc_helpers import refresh
from oidc_helpers import register
from oidc_helpers import sign_in
from test_consent_scopes import consent_page
from test_consent_scopes import decide
from test_consent_scopes import tokens_for

from idp.oauth import backchannel_delivery as delivery

POLICY = {
    "profile": {"required": True, "purpose": "To fill in your tax return"},
    "phone": {"required": False, "purpose": "To text you when the refund is paid"},
}
OTHER = "110101199003074530"  # a valid number nobody here holds
ME = CITIZEN_ID_NUMBER
MASKED = CITIZEN_ID_NUMBER[:2] + "*" * 14 + CITIZEN_ID_NUMBER[-2:]


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


@pytest.fixture
def portal(app, http):
    served = Portal(issuer=ISSUER)
    yield served
    served.close()


@pytest.fixture
def tax(http, portal):
    rp = register(
        name="Tax portal",
        department="Tax Bureau",
        redirect_uris=["https://tax.example.gov/callback"],
        scope="openid profile phone offline_access",
        scope_policy=POLICY,
        backchannel_logout_uri=portal.url,
    )
    portal.client_id, portal.keyset = rp.client_id, jwks(http)
    return rp


@pytest.fixture
def signed_in(http, citizen, tax, login):
    """Signed in to the portal with a refresh token: (session, tokens, ID-token claims)."""
    grant_consent(citizen, tax, "openid profile phone offline_access")
    session = login()
    tokens = sign_in(http, tax, scope="openid profile phone offline_access")
    assert "refresh_token" in tokens
    _, claims = decode_id_token(http, tokens["id_token"], client_id=tax.client_id)
    return session, tokens, claims


def assert_tokens_dead(http, rp, tokens):
    """RFC 7009 / 7662 / 6750 after revocation: nothing the portal holds works."""
    refused = refresh(http, rp, tokens["refresh_token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "invalid_grant"
    inspected = http.post(
        "/introspect",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    )
    assert inspected.get_json() == {"active": False}
    info = http.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 401
    assert 'error="invalid_token"' in info.headers["WWW-Authenticate"]


def assert_asked_again(http, rp):
    silent = authorize(http, rp, prompt="none")
    assert redirected_to(silent, rp.redirect_uri)["error"] == "consent_required"
    assert authorize(http, rp).status_code == 303  # parked for the consent page


def assert_told(portal, rp, session, claims, *, count=1):
    received = portal.received
    assert len(received) == count and portal.refused == []
    got = received[0]
    assert got.header["typ"] == "logout+jwt"
    assert got.claims["aud"] == rp.client_id and got.claims["iss"] == ISSUER
    assert got.claims["sub"] == claims["sub"]
    assert got.claims["sid"] == session.sid == claims["sid"]
    assert got.claims["events"] == {EVENT: {}} and "nonce" not in got.claims


def _consent_row(rp, by):
    from idp.extensions import db
    from idp.models import Consent

    db.session.expire_all()
    return db.session.scalars(
        db.select(Consent).where(Consent.client_id == rp.client_id, Consent.revoked_by == by)
    ).first()


# -- the citizen withdraws -------------------------------------------------------------------


def test_citizen_withdrawal_cascades_to_tokens_and_the_portal(http, portal, tax, signed_in):
    session, tokens, claims = signed_in
    page = http.get("/account/portals").get_data(as_text=True)
    done = http.post(
        "/account/portals/revoke", data={"csrf_token": csrf_from(page), "client_id": tax.client_id}
    )
    assert done.status_code == 303
    assert portal.requests == 0  # the citizen's request never waits on the portal
    assert _consent_row(tax, "citizen").revoked_at is not None
    assert_tokens_dead(http, tax, tokens)
    assert_asked_again(http, tax)

    assert delivery.deliver_due().delivered == 1
    assert_told(portal, tax, session, claims)


def test_a_portal_failing_the_first_delivery_gets_it_on_retry(
    app, http, portal, tax, signed_in, citizen
):
    from idp.oauth.withdrawal import withdraw_consent

    session, _, claims = signed_in
    app.config["IDP_BACKCHANNEL_RETRY_BASE"] = 0
    portal.answers = [502]
    assert withdraw_consent(citizen_id=citizen.id, client_id=tax.client_id, by="citizen")
    assert delivery.deliver_due().retrying == 1
    assert portal.received == []
    assert delivery.deliver_due().delivered == 1
    assert_told(portal, tax, session, claims)


def test_revocation_names_only_sessions_the_portal_was_used_in(http, portal, tax, citizen, login):
    from idp.oauth.withdrawal import withdraw_consent

    grant_consent(citizen, tax, "openid profile phone offline_access")
    used = login()
    sign_in(http, tax)
    login()  # another session, never used with the portal
    withdraw_consent(citizen_id=citizen.id, client_id=tax.client_id, by="citizen")
    delivery.deliver_due()
    assert [r.claims["sid"] for r in portal.received] == [used.sid]


def test_revocation_with_no_session_names_the_sub_only(http, portal, tax, citizen):
    from idp.oauth.withdrawal import withdraw_consent

    grant_consent(citizen, tax)
    withdraw_consent(citizen_id=citizen.id, client_id=tax.client_id, by="citizen")
    delivery.deliver_due()
    (got,) = portal.received
    assert got.claims["sub"] and "sid" not in got.claims


def test_a_portal_requiring_sid_gets_no_sub_only_token(http, portal, citizen):
    from idp.extensions import db
    from idp.models import BackchannelDelivery
    from idp.oauth.withdrawal import withdraw_consent

    strict = register(
        redirect_uris=["https://strict.example.gov/cb"],
        backchannel_logout_uri=portal.url,
        backchannel_logout_session_required=True,
    )
    grant_consent(citizen, strict, "openid profile")
    assert withdraw_consent(citizen_id=citizen.id, client_id=strict.client_id, by="citizen")
    assert db.session.scalars(db.select(BackchannelDelivery)).all() == []


# -- an administrator withdraws --------------------------------------------------------------


def cli(app, *args, input=None):
    return app.test_cli_runner().invoke(args=["consents", *args], input=input)


def test_admin_revocation_has_the_same_cascade(app, http, portal, tax, signed_in):
    session, tokens, claims = signed_in
    result = cli(
        app, "revoke", "--citizen", CITIZEN_ID_NUMBER, "--client", tax.client_id, "--by", "alice"
    )
    assert result.exit_code == 0, result.output
    assert CITIZEN_ID_NUMBER not in result.output
    assert "admin:alice" in result.output and "delivered 1" in result.output
    row = _consent_row(tax, "admin:alice")
    assert row is not None and row.revoked_at is not None
    assert_tokens_dead(http, tax, tokens)
    assert_asked_again(http, tax)
    assert_told(portal, tax, session, claims)


def test_admin_lists_by_citizen_and_by_client_without_the_id_number(app, citizen, tax, signed_in):
    by_citizen = cli(app, "list", "--citizen", "-", "--json", input=CITIZEN_ID_NUMBER + "\n")
    assert by_citizen.exit_code == 0, by_citizen.output
    (row,) = json.loads(by_citizen.output)
    assert row["citizen_id"] == citizen.id and row["id_number"] == MASKED
    assert row["client_id"] == tax.client_id and "phone" in row["scopes"]
    assert CITIZEN_ID_NUMBER not in by_citizen.output

    by_client = cli(app, "list", "--client", tax.client_id)
    assert by_client.exit_code == 0 and MASKED in by_client.output
    assert CITIZEN_ID_NUMBER not in by_client.output and "active" in by_client.output

    cli(app, "revoke", "--citizen", CITIZEN_ID_NUMBER, "--client", tax.client_id, "--by", "bob")
    assert json.loads(cli(app, "list", "--client", tax.client_id, "--json").output) == []
    history = json.loads(cli(app, "list", "--client", tax.client_id, "--all", "--json").output)
    assert [h["revoked_by"] for h in history] == ["admin:bob"]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("revoke", "--citizen", OTHER, "--client", "X", "--by", "a"), 1, "no citizen"),
        (("revoke", "--citizen", "not-a-number", "--client", "X", "--by", "a"), 1, "no citizen"),
        (("revoke", "--citizen", ME, "--client", "nope", "--by", "a"), 1, "no client"),
        (("revoke", "--citizen", ME, "--client", "x", "--by", "a b"), 2, "--by"),
        (("revoke", "--citizen", ME, "--client", "x", "--by", ""), 2, "--by"),
        (("list",), 2, "exactly one"),
        (("list", "--citizen", ME, "--client", "x"), 2, "exactly one"),
    ],
)  # fmt: skip
def test_admin_commands_refuse_bad_input(app, citizen, args, code, says):
    result = cli(app, *args)
    assert result.exit_code == code, result.output
    assert says in result.output
    assert OTHER not in result.output and ME not in result.output


def test_admin_revoke_without_an_active_consent(app, citizen, tax):
    result = cli(
        app, "revoke", "--citizen", CITIZEN_ID_NUMBER, "--client", tax.client_id, "--by", "a"
    )
    assert result.exit_code == 1 and "no active consent" in result.output


# -- edge cases: declining and narrowing -----------------------------------------------------


def test_a_declined_optional_scope_is_not_asked_again(http, citizen, tax, login):
    from idp.consent import service

    login()
    uid, page, verifier = consent_page(http, tax, scope="openid profile phone")
    params = redirected_to(decide(http, uid, page), tax.redirect_uri)  # phone unticked
    first = tokens_for(http, tax, params, verifier)
    assert set(first["scope"].split()) == {"openid", "profile"}
    record = service.find_active(citizen_id=citizen.id, client_id=tax.client_id)
    assert record.declined_scopes == ["phone"]

    # The next sign-in asking for the same scopes: no page, and still no phone.
    tokens = sign_in(http, tax, scope="openid profile phone")
    assert set(tokens["scope"].split()) == {"openid", "profile"}
    info = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert "phone_number" not in info

    # prompt=consent asks again, and a yes then grants it.
    uid, page, verifier = consent_page(http, tax, scope="openid profile phone", prompt="consent")
    params = redirected_to(decide(http, uid, page, scope=["phone"]), tax.redirect_uri)
    again = tokens_for(http, tax, params, verifier)
    assert "phone" in again["scope"].split()
    record = service.find_active(citizen_id=citizen.id, client_id=tax.client_id)
    assert "phone" in record.scopes and not record.declined_scopes


def test_a_declined_scope_the_portal_now_requires_is_asked_again(http, citizen, tax, login):
    from idp.oauth.clients import set_scope_policy

    login()
    uid, page, _ = consent_page(http, tax, scope="openid profile phone")
    redirected_to(decide(http, uid, page), tax.redirect_uri)
    set_scope_policy(tax.client_id, {**POLICY, "phone": {"required": True, "purpose": "SMS"}})
    silent = authorize(http, tax, prompt="none", scope="openid profile phone")
    assert redirected_to(silent, tax.redirect_uri)["error"] == "consent_required"


def test_narrowing_a_consent_ends_the_wider_tokens(http, citizen, tax, login):
    login()
    uid, page, verifier = consent_page(http, tax, scope="openid profile phone offline_access")
    params = redirected_to(decide(http, uid, page, scope=["phone"]), tax.redirect_uri)
    wide = tokens_for(http, tax, params, verifier)
    assert "phone" in wide["scope"].split() and "refresh_token" in wide
    info = http.get("/userinfo", headers=bearer(wide["access_token"])).get_json()
    assert info["phone_number"]

    # The citizen comes back (prompt=consent) and unticks phone.
    uid, page, verifier = consent_page(
        http, tax, scope="openid profile phone offline_access", prompt="consent"
    )
    params = redirected_to(decide(http, uid, page), tax.redirect_uri)
    narrow = tokens_for(http, tax, params, verifier)
    assert set(narrow["scope"].split()) == {"openid", "profile", "offline_access"}

    assert_tokens_dead(http, tax, wide)
    info = http.get("/userinfo", headers=bearer(narrow["access_token"])).get_json()
    assert info["name"] and "phone_number" not in info


def test_widening_a_consent_keeps_the_earlier_tokens(http, citizen, tax, login):
    login()
    uid, page, verifier = consent_page(http, tax, scope="openid profile")
    params = redirected_to(decide(http, uid, page), tax.redirect_uri)
    first = tokens_for(http, tax, params, verifier)
    uid, page, verifier = consent_page(http, tax, scope="openid profile phone")
    redirected_to(decide(http, uid, page, scope=["phone"]), tax.redirect_uri)
    assert http.get("/userinfo", headers=bearer(first["access_token"])).status_code == 200
