"""``idp clients update`` is all or nothing: every option is checked before anything is
written, and the change and its one ``client.update`` audit record are committed
together. A bad option anywhere on the command line changes nothing (exit 2, naming the
field and the option); a good update writes every option and one record with the
registration before and after."""

from __future__ import annotations

import json
from typing import Any

import pytest
from oidc_helpers import register
from sqlalchemy import select

from idp import audit
from idp.extensions import db
from idp.models import AuditEvent
from idp.oauth.clients import CIBA_GRANT_TYPE
from idp.oauth.clients import describe
from idp.oauth.clients import get_client

HIGH = "substantial"


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["clients", "update", *args])


def _records() -> list[AuditEvent]:
    audit.seal()
    db.session.rollback()
    query = select(AuditEvent).where(AuditEvent.event == "client.update")
    return list(db.session.scalars(query.order_by(AuditEvent.seq)))


def _registration(client_id: str) -> dict[str, Any]:
    db.session.expire_all()
    return describe(get_client(client_id))


@pytest.fixture
def portal(app: Any) -> Any:
    return register(name="Tax portal", redirect_uris=["https://tax.example.gov/cb"])


@pytest.mark.parametrize(
    ("bad", "field", "option"),
    [
        # Each of these was refused only after --default-acr had been committed.
        (
            ["--ciba-delivery-mode", "ping"],
            "backchannel_token_delivery_mode",
            "--ciba-delivery-mode",
        ),
        (
            ["--grant-type", "client_credentials"],
            "scope",
            None,
        ),
        (
            ["--backchannel-logout-session-required"],
            "backchannel_logout_session_required",
            "--backchannel-logout-session-required",
        ),
    ],
)
def test_one_bad_option_changes_nothing(app, portal, bad, field, option):
    before = _registration(portal.client_id)
    result = invoke(app, portal.client_id, "--default-acr", HIGH, *bad)
    assert result.exit_code == 2, result.output
    named = f"error: {field} ({option}):" if option else f"error: {field}:"
    assert named in result.output
    assert "Nothing was changed." in result.output
    after = _registration(portal.client_id)
    assert after == before
    assert after["default_acr"] is None  # the good option was not kept either
    assert _records() == []


def test_a_good_update_writes_every_option_and_one_record(app, portal, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"profile": {"required": True, "purpose": "Your name"}}))
    result = invoke(
        app,
        portal.client_id,
        "--default-acr",
        HIGH,
        "--minimum-acr",
        "low",
        "--scope-policy",
        str(policy),
        "--grant-type",
        "authorization_code",
        "--grant-type",
        CIBA_GRANT_TYPE,
        "--ciba-delivery-mode",
        "ping",
        "--ciba-notification-endpoint",
        "https://tax.example.gov/ciba",
        "--backchannel-logout-uri",
        "https://tax.example.gov/bc",
        "--backchannel-logout-session-required",
        "--json",
    )
    assert result.exit_code == 0, result.output
    after = _registration(portal.client_id)
    assert after["default_acr"].endswith(HIGH) and after["minimum_acr"].endswith("low")
    assert after["scope_policy"]["profile"]["required"] is True
    assert after["grant_types"] == ["authorization_code", CIBA_GRANT_TYPE]
    assert after["backchannel_token_delivery_mode"] == "ping"
    assert after["backchannel_client_notification_endpoint"] == "https://tax.example.gov/ciba"
    assert after["backchannel_logout_uri"] == "https://tax.example.gov/bc"
    assert after["backchannel_logout_session_required"] is True
    assert json.loads(result.output) == after
    (record,) = _records()
    assert record.client_id == portal.client_id and record.actor_type == "operator"
    assert record.details["before"]["default_acr"] is None
    assert record.details["before"]["backchannel_logout_uri"] is None
    assert record.details["after"]["default_acr"] == after["default_acr"]
    assert record.details["after"]["backchannel_logout_uri"] == "https://tax.example.gov/bc"


def test_clearing_the_logout_uri_clears_the_session_flag_with_it(app, portal):
    set_ = invoke(
        app,
        portal.client_id,
        "--backchannel-logout-uri",
        "https://tax.example.gov/bc",
        "--backchannel-logout-session-required",
    )
    assert set_.exit_code == 0, set_.output
    cleared = invoke(app, portal.client_id, "--backchannel-logout-uri", "none")
    assert cleared.exit_code == 0, cleared.output
    after = _registration(portal.client_id)
    assert after["backchannel_logout_uri"] is None
    assert after["backchannel_logout_session_required"] is False
    assert len(_records()) == 2


def test_a_scope_policy_that_is_not_an_object_changes_nothing(app, portal, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text("null")
    result = invoke(app, portal.client_id, "--default-acr", HIGH, "--scope-policy", str(policy))
    assert result.exit_code == 2
    assert "error: scope_policy (--scope-policy):" in result.output
    assert _registration(portal.client_id)["default_acr"] is None


def test_an_unknown_client_exits_1(app):
    result = invoke(app, "NoSuchClient", "--default-acr", HIGH)
    assert result.exit_code == 1
    assert "no client NoSuchClient" in result.output
    assert _records() == []


def test_an_empty_scope_policy_file_clears_the_policy(app, tmp_path):
    portal = register(
        name="Tax portal",
        redirect_uris=["https://tax.example.gov/cb"],
        scope="openid profile",
        scope_policy={"profile": {"required": False, "purpose": "Greeting"}},
    )
    empty = tmp_path / "policy.json"
    empty.write_text("{}", encoding="utf-8")
    result = invoke(app, portal.client_id, "--scope-policy", str(empty))
    assert result.exit_code == 0, result.output
    assert _registration(portal.client_id)["scope_policy"] is None
    (record,) = _records()
    assert record.details["before"]["scope_policy"]["profile"]["required"] is False
    assert record.details["after"]["scope_policy"] is None
