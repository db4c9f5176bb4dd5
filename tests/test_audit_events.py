"""What lands on the audit trail when citizens, portals and operators act (issue 6):
one record per event, with who, channel, level and ID numbers masked; and the chain
still verifies afterwards."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from oidc_helpers import basic
from oidc_helpers import bearer
from oidc_helpers import exchange
from oidc_helpers import get_code
from oidc_helpers import grant_consent
from oidc_helpers import pkce
from oidc_helpers import refresh
from oidc_helpers import sign_in
from sqlalchemy import select
from webforms import prepare
from webforms import resident
from webforms import sign_in as website_sign_in

from idp import audit
from idp.extensions import db
from idp.models import AuditEvent


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _events(**filters: Any) -> list[AuditEvent]:
    db.session.rollback()
    query = select(AuditEvent).order_by(AuditEvent.seq)
    for key, value in filters.items():
        query = query.where(getattr(AuditEvent, key) == value)
    return list(db.session.scalars(query))


def test_website_sign_in_success_and_failures(app, http, citizen):
    response = website_sign_in(http, CITIZEN_ID_NUMBER, "wrong password")
    assert response.status_code == 401
    stranger = resident("44030419900101001")
    assert website_sign_in(http, stranger, "whatever").status_code == 401
    response = website_sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    assert response.status_code == 303

    failure, unknown, success = _events()
    assert (failure.event, failure.outcome) == ("login.failure", "failure")
    assert failure.citizen_id == citizen.id and failure.actor_type == "citizen"
    assert failure.channel == "website" and failure.ip == "127.0.0.1"
    assert failure.details == {"method": "pwd", "reason": "invalid_credentials"}
    assert unknown.citizen_id is None and unknown.actor_type == "anonymous"
    assert unknown.details["reason"] == "unknown_number"
    assert unknown.details["id_number"] == stranger[:2] + "*" * 14 + stranger[-2:]
    assert (success.event, success.outcome, success.channel) == (
        "login.success",
        "success",
        "website",
    )
    assert success.details["acr"] == "urn:idp:acr:low" and success.details["amr"] == ["pwd"]
    everything = json.dumps([e.details for e in _events()])
    assert CITIZEN_ID_NUMBER not in everything and stranger not in everything
    assert audit.verify().ok


def test_code_flow_records_consent_token_issue_release_refresh_and_revocation(
    app, http, citizen, rp, login
):
    login()
    grant_consent(citizen, rp)
    tokens = sign_in(http, rp, scope="openid profile offline_access")
    issued = _events(event="token.issue")
    # Per flow: exactly one record for the token issue (the hot path stays lean).
    assert len(issued) == 1
    assert issued[0].citizen_id == citizen.id and issued[0].client_id == rp.client_id
    assert issued[0].actor_type == "client" and issued[0].actor_id == rp.client_id
    assert issued[0].details["scope"] == "openid profile offline_access"
    assert issued[0].details["refresh_token"] is True
    assert [e.details["scopes"] for e in _events(event="consent.grant")] == [
        ["openid", "profile", "phone", "offline_access"]
    ]

    info = http.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert info.status_code == 200
    # One release record per disclosure: the ID token at the code exchange, then UserInfo.
    id_token, release = _events(event="data.release")
    assert id_token.details["via"] == "id_token"
    assert release.details["via"] == "userinfo" and "name" in release.details["items"]
    assert release.details["categories"] == ["openid", "profile"]
    assert "张三" not in json.dumps(release.details, ensure_ascii=False)

    assert refresh(http, rp, tokens["refresh_token"]).status_code == 200
    assert len(_events(event="token.refresh")) == 1

    revoked = http.post(
        "/revoke",
        data={"token": tokens["access_token"]},
        headers=basic(rp.client_id, rp.secret),
    )
    assert revoked.status_code == 200
    (revocation,) = _events(event="token.revoke")
    assert revocation.details["via"] == "rfc7009"
    assert audit.verify().ok


def test_code_replay_is_recorded(app, http, citizen, rp, login):
    login()
    grant_consent(citizen, rp)
    verifier, challenge = pkce()
    code, _ = get_code(http, rp, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(http, rp, code, verifier=verifier).status_code == 200
    assert exchange(http, rp, code, verifier=verifier).status_code == 400
    (replay,) = _events(event="token.code_replay")
    assert replay.outcome == "failure" and replay.client_id == rp.client_id
    assert replay.citizen_id == citizen.id and replay.details["tokens_revoked"] is True


def test_withdrawing_consent_and_signing_out_are_recorded(app, http, citizen, rp, login):
    from idp.consent import service

    grant_consent(citizen, rp)
    service.revoke(citizen_id=citizen.id, client_id=rp.client_id, by="citizen")
    (withdrawn,) = _events(event="consent.revoke")
    assert withdrawn.actor_type == "citizen" and withdrawn.client_id == rp.client_id

    from idp.authn.service import logout

    session = login()
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost").value
    assert logout(cookie) is not None
    (ended,) = _events(event="logout")
    assert ended.citizen_id == citizen.id and ended.details == {"how": "sign_out", "sessions": 1}
    assert session.citizen_id == citizen.id


def test_cli_client_changes_and_key_rotation_are_recorded_with_before_and_after(app):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "Housing",
            "--redirect-uri",
            "https://housing.example.gov/cb",
            "--json",
        ]
    )
    assert created.exit_code == 0, created.output
    client_id = json.loads(created.output)["client_id"]
    updated = runner.invoke(args=["clients", "update", client_id, "--minimum-acr", "substantial"])
    assert updated.exit_code == 0, updated.output
    assert runner.invoke(args=["clients", "disable", client_id]).exit_code == 0
    assert runner.invoke(args=["keys", "rotate", "--propagation-delay", "0"]).exit_code == 0

    create, update, disable = _events(client_id=client_id)
    assert create.event == "client.create" and create.details["before"] is None
    assert create.actor_type == "operator" and create.actor_id
    secret = json.loads(created.output)["client_secret"]
    assert secret not in json.dumps(create.details)
    assert "client_secret" not in create.details["after"]
    assert update.event == "client.update"
    assert update.details["before"]["minimum_acr"] is None
    assert update.details["after"]["minimum_acr"] == "urn:idp:acr:substantial"
    assert disable.event == "client.disable"
    assert (disable.details["before"]["disabled"], disable.details["after"]["disabled"]) == (
        False,
        True,
    )
    (rotation,) = _events(event="key.rotate")
    assert {k["alg"] for k in rotation.details["keys"]} == {"ES256", "RS256"}
    assert rotation.actor_type == "operator"
    assert audit.verify().ok


def test_a_step_up_and_a_wrong_code_are_recorded(app, http, citizen, rp, login):
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    from assurance_helpers import Flow
    from assurance_helpers import enrol_totp
    from assurance_helpers import next_code
    from assurance_helpers import post_page

    grant_consent(citizen, rp)
    secret = enrol_totp(citizen)
    login(amr=("pwd",), auth_time=datetime.now(UTC) - timedelta(minutes=5))
    flow = Flow(http, rp, acr_values="urn:idp:acr:substantial")
    uid, _path, page = flow.page()
    wrong = post_page(http, f"/login/{uid}/step-up", page, step="totp", code="000000")
    assert wrong.status_code == 401
    done = post_page(http, f"/login/{uid}/step-up", wrong, step="totp", code=next_code(secret))
    assert done.status_code == 303

    failure, step_up = _events(citizen_id=citizen.id)[-2:]
    assert failure.event == "login.failure" and failure.details["method"] == "otp"
    assert failure.channel == "website"
    assert step_up.event == "login.step_up" and step_up.client_id == rp.client_id
    assert step_up.details["acr"] == "urn:idp:acr:substantial"
    assert step_up.details["required_acr"] == "urn:idp:acr:substantial"
    assert step_up.details["amr"] == ["pwd", "otp"]  # the proofs; "mfa" is the claim's
