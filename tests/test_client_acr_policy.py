"""A portal's default and minimum level, set by administrators (``idp clients create
--default-acr/--minimum-acr``, ``idp clients update``), and enforced on every request."""

from __future__ import annotations

import json
from typing import Any

import pytest
from assurance_helpers import UNMET
from assurance_helpers import Flow
from assurance_helpers import enrol_totp
from oidc_helpers import grant_consent
from oidc_helpers import register
from sqlalchemy import inspect
from webforms import prepare

from idp.authn.result import Acr
from idp.errors import InvalidInput
from idp.extensions import db
from idp.oauth.clients import query_client
from idp.oauth.clients import update_acr_policy
from idp.store import current_store

LOW = Acr.LOW.value
SUBSTANTIAL = Acr.SUBSTANTIAL.value
HIGH = Acr.HIGH.value


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["clients", *args])


def _portal(citizen: Any, **policy: str) -> Any:
    portal = register(
        name="Property register",
        redirect_uris=["https://property.example.gov/cb"],
        **policy,
    )
    grant_consent(citizen, portal)
    return portal


def _required(flow: Flow) -> str | None:
    return current_store().get("interaction", flow.parked())["required_acr"]


# --- registration -----------------------------------------------------------------------------


def test_the_migration_added_the_columns(app):
    columns = {c["name"] for c in inspect(db.engine).get_columns("oauth_client")}
    assert {"default_acr", "minimum_acr"} <= columns


def test_register_accepts_short_names_and_uris(app, citizen):
    portal = _portal(citizen, default_acr="substantial", minimum_acr=LOW)
    client = query_client(portal.client_id)
    assert client.default_acr == Acr.SUBSTANTIAL and client.minimum_acr == Acr.LOW
    assert portal.client.default_acr == SUBSTANTIAL  # stored as the URI


@pytest.mark.parametrize(
    ("policy", "field"),
    [
        ({"default_acr": "medium"}, "default_acr"),
        ({"minimum_acr": "urn:idp:acr:top"}, "minimum_acr"),
        ({"default_acr": "low", "minimum_acr": "high"}, "default_acr"),
    ],
)
def test_register_refuses_bad_levels(app, policy, field):
    with pytest.raises(InvalidInput) as refused:
        register(redirect_uris=["https://x.example.gov/cb"], **policy)
    assert refused.value.field == field


def test_cli_create_and_update_the_policy(app):
    created = invoke(
        app,
        "create",
        "--name",
        "Pensions",
        "--redirect-uri",
        "https://pensions.example.gov/cb",
        "--default-acr",
        "substantial",
        "--minimum-acr",
        "low",
        "--json",
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["default_acr"] == SUBSTANTIAL and data["minimum_acr"] == LOW
    client_id = data["client_id"]

    updated = invoke(app, "update", client_id, "--minimum-acr", "high", "--default-acr", "high")
    assert updated.exit_code == 0, updated.output
    shown = json.loads(invoke(app, "show", client_id, "--json").output)
    assert shown["minimum_acr"] == HIGH and shown["default_acr"] == HIGH

    # An option left out keeps its value; "none" clears.
    cleared = invoke(app, "update", client_id, "--default-acr", "none", "--json")
    assert cleared.exit_code == 0
    assert json.loads(cleared.output)["default_acr"] is None
    assert json.loads(cleared.output)["minimum_acr"] == HIGH


def test_cli_update_refusals(app, rp):
    assert invoke(app, "update", "nobody", "--minimum-acr", "high").exit_code == 1
    bad = invoke(app, "update", rp.client_id, "--minimum-acr", "medium")
    assert bad.exit_code == 2 and "minimum_acr" in bad.output
    below = invoke(app, "update", rp.client_id, "--default-acr", "low", "--minimum-acr", "high")
    assert below.exit_code == 2
    assert invoke(app, "update", rp.client_id).exit_code == 2  # nothing to change
    assert query_client(rp.client_id).minimum_acr is None


def test_update_acr_policy_service(app, rp):
    assert update_acr_policy("nobody", minimum_acr="high") is None
    assert update_acr_policy("bad id\x00", minimum_acr="high") is None
    update_acr_policy(rp.client_id, minimum_acr="substantial")
    assert query_client(rp.client_id).minimum_acr == Acr.SUBSTANTIAL


# --- enforcement ------------------------------------------------------------------------------


def test_minimum_is_enforced_even_when_the_request_asks_lower(app, http, citizen, login):
    portal = _portal(citizen, minimum_acr="substantial")
    enrol_totp(citizen)
    login(amr=("pwd",))
    assert _required(Flow(http, portal, acr_values=LOW)) == SUBSTANTIAL
    # Nothing asked: the floor still applies.
    assert _required(Flow(http, portal)) == SUBSTANTIAL


def test_minimum_that_cannot_be_reached_is_unmet(app, http, citizen, login):
    portal = _portal(citizen, minimum_acr="substantial")
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=LOW)
    params = flow.redirected(flow.response)
    assert params["error"] == UNMET and params["state"] == "state-123"


def test_minimum_raises_each_preference_not_above_it(app, http, citizen, login):
    """acr_values ``low high`` under a substantial floor is ``substantial high``."""
    portal = _portal(citizen, minimum_acr="substantial")
    login(amr=("pwd", "otp"))
    flow = Flow(http, portal, acr_values=f"{LOW} {HIGH}")
    assert flow.id_token(flow.redirected(flow.response))["acr"] == SUBSTANTIAL


def test_minimum_is_enforced_against_an_essential_claims_request(app, http, citizen, login):
    portal = _portal(citizen, minimum_acr="high")
    login(amr=("pwd", "otp"))
    claims = json.dumps({"id_token": {"acr": {"essential": True, "value": LOW}}})
    flow = Flow(http, portal, claims=claims)
    assert flow.redirected(flow.response)["error"] == UNMET


def test_default_is_used_when_the_request_names_no_level(app, http, citizen, login):
    portal = _portal(citizen, default_acr="substantial")
    enrol_totp(citizen)
    login(amr=("pwd",))
    assert _required(Flow(http, portal)) == SUBSTANTIAL


def test_default_yields_to_a_level_the_request_names(app, http, citizen, login):
    portal = _portal(citizen, default_acr="substantial")
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=LOW)
    assert flow.id_token(flow.redirected(flow.response))["acr"] == LOW


def test_default_is_met_by_the_session(app, http, citizen, login):
    portal = _portal(citizen, default_acr="substantial")
    login(amr=("pwd", "otp"))
    flow = Flow(http, portal)
    assert flow.id_token(flow.redirected(flow.response))["acr"] == SUBSTANTIAL
