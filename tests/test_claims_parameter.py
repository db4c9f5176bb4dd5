"""The claims request parameter (OIDC Core 5.5), for an essential acr (5.5.1.1)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from assurance_helpers import UNMET
from assurance_helpers import Flow
from assurance_helpers import enrol_totp
from assurance_helpers import next_code
from assurance_helpers import post_page
from oidc_helpers import ISSUER
from oidc_helpers import grant_consent
from webforms import prepare

from idp.authn.interaction import Reason
from idp.authn.result import Acr
from idp.oauth.claims import ClaimsParameterError
from idp.oauth.claims import parse_claims_parameter
from idp.store import current_store

LOW = Acr.LOW.value
SUBSTANTIAL = Acr.SUBSTANTIAL.value
HIGH = Acr.HIGH.value


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def portal(citizen: Any, rp: Any) -> Any:
    grant_consent(citizen, rp)
    return rp


def essential(**spec: Any) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, **spec}}})


def test_discovery_says_the_claims_parameter_is_supported(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert meta["claims_parameter_supported"] is True


def test_essential_acr_value_steps_up_and_is_met(app, http, citizen, portal, login):
    secret = enrol_totp(citizen)
    login(amr=("pwd",))
    flow = Flow(http, portal, claims=essential(value=SUBSTANTIAL))
    uid, _, page = flow.page()
    stored = current_store().get("interaction", uid)
    assert stored["required_acr"] == SUBSTANTIAL and stored["reasons"] == [Reason.ACR_TOO_LOW]
    done = post_page(http, f"/login/{uid}/step-up", page, step="totp", code=next_code(secret))
    claims = flow.id_token(flow.follow(done))
    assert claims["acr"] == SUBSTANTIAL


def test_essential_acr_values_in_order_of_preference(app, http, citizen, portal, login):
    enrol_totp(citizen)
    login(amr=("pwd",))
    uid = Flow(http, portal, claims=essential(values=[HIGH, SUBSTANTIAL])).parked()
    assert current_store().get("interaction", uid)["required_acr"] == SUBSTANTIAL


def test_essential_acr_that_cannot_be_reached_is_unmet(app, http, citizen, portal, login):
    login(amr=("pwd",))
    flow = Flow(http, portal, claims=essential(value=HIGH))
    params = flow.redirected(flow.response)
    assert params["error"] == UNMET
    assert params["state"] == "state-123" and params["iss"] == ISSUER
    assert "code" not in params


def test_essential_acr_with_no_value_of_ours_is_unmet(app, http, citizen, portal, login):
    """5.5.1.1: an essential acr the OP cannot satisfy; Unmet Authentication
    Requirements 1.0 section 2 names the error."""
    login(amr=("pwd", "otp"))
    flow = Flow(http, portal, claims=essential(values=["urn:other:loa:4"]))
    params = flow.redirected(flow.response)
    assert params["error"] == UNMET and params["iss"] == ISSUER


def test_essential_acr_wins_over_acr_values(app, http, citizen, portal, login):
    login(amr=("pwd",))
    flow = Flow(http, portal, acr_values=LOW, claims=essential(value=SUBSTANTIAL))
    assert flow.redirected(flow.response)["error"] == UNMET


def test_voluntary_acr_claim_is_a_request_too(app, http, citizen, portal, login):
    enrol_totp(citizen)
    login(amr=("pwd",))
    voluntary = json.dumps({"id_token": {"acr": {"values": [SUBSTANTIAL]}}})
    uid = Flow(http, portal, claims=voluntary).parked()
    assert current_store().get("interaction", uid)["required_acr"] == SUBSTANTIAL


def test_acr_requested_only_to_be_returned_adds_no_level(app, http, citizen, portal, login):
    login(amr=("pwd",))
    flow = Flow(http, portal, claims=json.dumps({"id_token": {"acr": {"essential": True}}}))
    claims = flow.id_token(flow.redirected(flow.response))
    assert claims["acr"] == LOW


def test_other_requested_claims_are_ignored(app, http, citizen, portal, login):
    """5.5: the parameter asks; what is released stays decided by scope and consent."""
    login(amr=("pwd",))
    flow = Flow(
        http,
        portal,
        claims=json.dumps({"id_token": {"name": {"essential": True}}, "userinfo": {"x": None}}),
    )
    claims = flow.id_token(flow.redirected(flow.response))
    assert "name" not in claims


@pytest.mark.parametrize(
    "raw",
    [
        "{not json",
        "[]",
        '"acr"',
        '{"id_token": []}',
        '{"id_token": {"acr": "urn:idp:acr:high"}}',
        '{"id_token": {"acr": {"essential": "yes"}}}',
        '{"id_token": {"acr": {"values": "urn:idp:acr:high"}}}',
        '{"userinfo": 5}',
        "[" * 5000,
        json.dumps({"id_token": {"acr": {"values": ["x" * 5000]}}}),
    ],
)
def test_malformed_claims_is_invalid_request_on_the_redirect_uri(
    app, http, citizen, portal, login, raw
):
    login()
    flow = Flow(http, portal, claims=raw)
    params = flow.redirected(flow.response)
    assert params["error"] == "invalid_request", params
    assert params["state"] == "state-123" and params["iss"] == ISSUER


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        (None, {}),
        ("", {}),
        ("{}", {}),
        ('{"id_token": null, "other": 1}', {}),
        ('{"id_token": {"acr": null}}', {"id_token": {"acr": None}}),
        (
            '{"id_token": {"acr": {"essential": true, "values": ["a"]}}, "userinfo": {}}',
            {"id_token": {"acr": {"essential": True, "values": ["a"]}}, "userinfo": {}},
        ),
    ],
)
def test_parse_claims_parameter(raw, parsed):
    assert parse_claims_parameter(raw) == parsed


def test_parse_claims_parameter_refuses_deep_nesting():
    with pytest.raises(ClaimsParameterError):
        parse_claims_parameter("[" * 2000 + "]" * 2000)  # under the length cap
