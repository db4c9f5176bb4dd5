"""Every error branch of the authorization endpoint (RFC 6749 4.1.2.1, OIDC Core
3.1.2.6, RFC 9207): what is redirected (with state and iss) and what never is."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from oidc_helpers import ISSUER
from oidc_helpers import authorize
from oidc_helpers import authorize_params
from oidc_helpers import csrf_token_for
from oidc_helpers import grant_consent
from oidc_helpers import redirected_to


def assert_error_page(response, error):
    """Never redirected: an HTML page with status 400 naming the error."""
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.mimetype == "text/html"
    assert error.encode() in response.data


def assert_redirected_error(response, rp, error, state="state-123"):
    params = redirected_to(response, rp.redirect_uri)
    assert params["error"] == error, params
    assert params["iss"] == ISSUER  # RFC 9207: errors too
    if state is None:
        assert "state" not in params
    else:
        assert params["state"] == state
    assert "code" not in params
    return params


# -- never redirected ------------------------------------------------------------------


def test_unknown_client_gets_an_error_page(http, rp):
    assert_error_page(authorize(http, rp, client_id="nobody"), "invalid_client")


def test_missing_client_id_gets_an_error_page(http, rp):
    assert_error_page(authorize(http, rp, client_id=None), "invalid_client")


def test_unregistered_redirect_uri_is_never_redirected_to(http, rp):
    response = authorize(http, rp, redirect_uri="https://evil.example/cb")
    assert_error_page(response, "invalid_request")


def test_redirect_uri_must_match_exactly(http, rp):
    for variant in (
        rp.redirect_uri + "/",
        rp.redirect_uri + "?x=1",
        rp.redirect_uri.upper(),
        "http://tax.example.gov/callback",
    ):
        assert_error_page(authorize(http, rp, redirect_uri=variant), "invalid_request")


def test_missing_redirect_uri_gets_an_error_page(http, rp):
    # OIDC Core 3.1.2.1: redirect_uri is REQUIRED; there is no default to fall back to.
    assert_error_page(authorize(http, rp, redirect_uri=None), "invalid_request")


def test_disabled_client_gets_an_error_page(http, rp):
    from idp.oauth.clients import disable_client

    disable_client(rp.client_id)
    assert_error_page(authorize(http, rp), "invalid_client")


def test_duplicate_redirect_uri_is_not_redirected(http, rp):
    query = urlencode(authorize_params(rp)) + "&" + urlencode({"redirect_uri": rp.redirect_uri})
    assert_error_page(http.get("/authorize?" + query), "invalid_request")


def test_unsupported_response_type_with_unknown_client_is_not_redirected(http, rp):
    assert_error_page(
        authorize(http, rp, client_id="nobody", response_type="token"), "unsupported_response_type"
    )


# -- redirected with state and iss -----------------------------------------------------


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "none"])
def test_other_response_types_are_unsupported(http, rp, response_type):
    assert_redirected_error(
        authorize(http, rp, response_type=response_type), rp, "unsupported_response_type"
    )


def test_missing_response_type_is_invalid_request(http, rp):
    assert_redirected_error(authorize(http, rp, response_type=None), rp, "invalid_request")


def test_scope_outside_the_clients_scopes_is_invalid_scope(http, rp):
    from idp.oauth.clients import register_client

    client, secret = register_client(
        name="Narrow", redirect_uris=["https://n.example.gov/cb"], scope="openid profile"
    )

    class Narrow:
        client_id = client.client_id
        redirect_uri = "https://n.example.gov/cb"

    assert_redirected_error(authorize(http, Narrow, scope="openid phone"), Narrow, "invalid_scope")


def test_unknown_scope_is_invalid_scope(http, rp):
    assert_redirected_error(authorize(http, rp, scope="openid email"), rp, "invalid_scope")


def test_openid_scope_is_required(http, rp):
    assert_redirected_error(authorize(http, rp, scope="profile"), rp, "invalid_scope")
    assert_redirected_error(authorize(http, rp, scope=None), rp, "invalid_scope")


def test_state_is_omitted_when_not_sent(http, rp):
    assert_redirected_error(
        authorize(http, rp, scope="email", state=None), rp, "invalid_scope", state=None
    )


def test_prompt_none_with_other_values_is_invalid_request(http, rp):
    assert_redirected_error(authorize(http, rp, prompt="none login"), rp, "invalid_request")


def test_unknown_prompt_value_is_invalid_request(http, rp):
    assert_redirected_error(authorize(http, rp, prompt="select_account"), rp, "invalid_request")


@pytest.mark.parametrize("max_age", ["-1", "abc", "1.5", "9999999999"])
def test_malformed_max_age_is_invalid_request(http, rp, max_age):
    assert_redirected_error(authorize(http, rp, max_age=max_age), rp, "invalid_request")


def test_request_object_is_request_not_supported(http, rp):
    assert_redirected_error(
        authorize(http, rp, request="eyJhbGciOiJub25lIn0.e30."), rp, "request_not_supported"
    )


def test_request_uri_is_request_uri_not_supported(http, rp):
    assert_redirected_error(
        authorize(http, rp, request_uri="https://rp.example/r"), rp, "request_uri_not_supported"
    )


def test_response_mode_other_than_query_is_invalid_request(http, rp):
    assert_redirected_error(authorize(http, rp, response_mode="form_post"), rp, "invalid_request")


def test_duplicate_parameter_is_invalid_request(http, rp):
    query = urlencode(authorize_params(rp)) + "&nonce=again"
    assert_redirected_error(http.get("/authorize?" + query), rp, "invalid_request")


def test_oversized_state_is_invalid_request(http, rp):
    response = authorize(http, rp, state="s" * 3000)
    params = redirected_to(response, rp.redirect_uri)
    assert params["error"] == "invalid_request"


def test_authorize_accepts_post(http, rp, citizen, login):
    grant_consent(citizen, rp)
    login()
    response = http.post("/authorize", data=authorize_params(rp))
    assert "code" in redirected_to(response, rp.redirect_uri)


# -- prompt=none (OIDC Core 3.1.2.6) ---------------------------------------------------


def test_prompt_none_without_session_is_login_required(http, rp, citizen):
    assert_redirected_error(authorize(http, rp, prompt="none"), rp, "login_required")


def test_prompt_none_without_consent_is_consent_required(http, rp, login):
    login()
    assert_redirected_error(authorize(http, rp, prompt="none"), rp, "consent_required")


def test_prompt_none_with_session_and_consent_issues_a_code(http, rp, citizen, login):
    grant_consent(citizen, rp)
    login()
    params = redirected_to(authorize(http, rp, prompt="none"), rp.redirect_uri)
    assert "code" in params and params["iss"] == ISSUER


def test_prompt_none_with_too_old_session_is_login_required(http, rp, citizen, login):
    grant_consent(citizen, rp)
    login(auth_time=datetime.now(UTC) - timedelta(hours=1))
    assert_redirected_error(authorize(http, rp, prompt="none", max_age="60"), rp, "login_required")


# -- when the user is needed -----------------------------------------------------------


def _parks(response):
    assert response.status_code == 303, response.data[:300]
    assert response.headers["Location"].startswith(
        ("/interaction/", "http://localhost/interaction/")
    )


def test_prompt_login_parks_even_with_a_session(http, rp, citizen, login):
    grant_consent(citizen, rp)
    login()
    _parks(authorize(http, rp, prompt="login"))


def test_max_age_zero_forces_login(http, rp, citizen, login):
    """OIDC Core 3.1.2.1: max_age=0 is equivalent to prompt=login."""
    grant_consent(citizen, rp)
    login()
    _parks(authorize(http, rp, max_age="0"))


def test_old_session_beyond_max_age_forces_login(http, rp, citizen, login):
    grant_consent(citizen, rp)
    login(auth_time=datetime.now(UTC) - timedelta(minutes=10))
    _parks(authorize(http, rp, max_age="300"))
    # A fresh enough sign-in is reused.
    params = redirected_to(authorize(http, rp, max_age="3600"), rp.redirect_uri)
    assert "code" in params


def test_abort_returns_access_denied_with_state_and_iss(http, rp, citizen):
    response = authorize(http, rp)
    uid = response.headers["Location"].rstrip("/").split("/")[-1]
    aborted = http.post(f"/interaction/{uid}/abort", data={"csrf_token": csrf_token_for(http)})
    assert_redirected_error(aborted, rp, "access_denied")


def test_abort_without_csrf_token_is_refused(http, rp, citizen):
    response = authorize(http, rp)
    uid = response.headers["Location"].rstrip("/").split("/")[-1]
    assert http.post(f"/interaction/{uid}/abort").status_code == 400


def test_ui_locales_choose_the_page_language(http, rp, citizen):
    assert authorize(http, rp, ui_locales="en-US zh-CN").status_code == 303
    with http.session_transaction() as ui:
        assert ui["locale"] == "en"
