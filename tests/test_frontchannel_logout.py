"""OpenID Connect Front-Channel Logout 1.0 (idp.oauth.frontchannel, idp.web.logout_frames).

When the citizen's browser session ends here, the signed-out page frames the
``frontchannel_logout_uri`` of every portal that received an ID token in that session,
with ``iss`` and ``sid`` (the ID token's) when the portal registered
``frontchannel_logout_session_required``; its Content-Security-Policy lets exactly
those origins be framed. A post-logout redirect (with ``state``) follows the frames.
"""

from __future__ import annotations

import html
import re
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import pytest
from oidc_helpers import ISSUER
from oidc_helpers import csrf_token_for
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import redirected_to
from oidc_helpers import register
from oidc_helpers import sign_in
from webforms import prepare

from idp.authn import sessions

BYE = "https://tax.example.gov/bye"
TAX_FC = "https://tax.example.gov/fc-logout"
HEALTH_FC = "https://health.example.gov:8443/oidc/fc?tenant=city"
HOUSING_FC = "https://housing.example.gov/fc"
IFRAME = re.compile(r"<iframe [^>]*>")


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def portal(name: str, host: str, **kwargs: Any) -> Any:
    return register(name=name, redirect_uris=[f"https://{host}/cb"], **kwargs)


def frames(page: str) -> list[str]:
    """The ``src`` of every iframe on the page, as the browser reads it."""
    found = []
    for tag in IFRAME.findall(page):
        src = re.search(r'src="([^"]*)"', tag)
        assert src, tag
        assert " hidden" in tag and 'sandbox="allow-same-origin allow-scripts"' in tag
        found.append(html.unescape(src.group(1)))
    return found


def query(uri: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(uri).query)


def frame_src(response: Any) -> set[str]:
    """The CSP's frame-src sources (an empty set when the page frames nothing)."""
    csp = response.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ") if d}
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    return set(directives.get("frame-src", []))


@pytest.fixture
def tax(rp: Any) -> Any:
    """The tax portal: a front-channel URI that wants iss and sid."""
    from idp.oauth.clients import update_client

    update_client(
        rp.client_id,
        {"frontchannel_logout_uri": TAX_FC, "frontchannel_logout_session_required": True},
    )
    return rp


@pytest.fixture
def signed_in(app: Any, http: Any, citizen: Any, tax: Any, login: Any) -> dict[str, Any]:
    """A citizen signed in to four portals in this browser, and to a fifth in another
    session: tax (URI + iss/sid), health (URI with a query, no iss/sid), records (no
    URI), housing (URI, but signed in through the other session)."""
    health = portal("Health", "health.example.gov", frontchannel_logout_uri=HEALTH_FC)
    records = portal("Records", "records.example.gov")
    housing = portal("Housing", "housing.example.gov", frontchannel_logout_uri=HOUSING_FC)
    for rp in (tax, health, records, housing):
        grant_consent(citizen, rp, "openid profile")
    elsewhere = login()
    sign_in(http, housing)
    session = login()
    tokens = {rp.client_id: sign_in(http, rp) for rp in (tax, health, records)}
    return {
        "session": session,
        "elsewhere": elsewhere,
        "tokens": tokens,
        "tax": tax,
        "health": health,
        "records": records,
        "housing": housing,
    }


def logout(http: Any, **params: Any) -> Any:
    return http.get("/logout?" + urlencode({k: v for k, v in params.items() if v is not None}))


# -- discovery -------------------------------------------------------------------------------


def test_discovery_says_front_channel_logout_with_sessions_is_supported(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert meta["frontchannel_logout_supported"] is True
    assert meta["frontchannel_logout_session_supported"] is True


def test_discovery_without_the_feature(app, http, monkeypatch):
    from idp.oauth import discovery

    monkeypatch.setitem(app.config, "IDP_FEATURE_FRONTCHANNEL_LOGOUT", False)
    meta = discovery.metadata(app.config)
    assert meta["frontchannel_logout_supported"] is False
    assert "frontchannel_logout_session_supported" not in meta


# -- RP-initiated logout ---------------------------------------------------------------------


def test_rp_initiated_logout_frames_this_sessions_portals_then_redirects_with_state(
    app, http, store, signed_in
):
    tax = signed_in["tax"]
    token = signed_in["tokens"][tax.client_id]
    response = logout(
        http, id_token_hint=token["id_token"], post_logout_redirect_uri=BYE, state="bye-1"
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)

    # Tax asked for iss and sid: the sid is its ID token's.
    _, claims = decode_id_token(http, token["id_token"], client_id=tax.client_id)
    tax_frame, health_frame = frames(page)
    assert tax_frame.startswith(TAX_FC + "?")
    assert query(tax_frame) == {"iss": [ISSUER], "sid": [claims["sid"]]}
    assert claims["sid"] == signed_in["session"].sid
    # Health did not: its URI as registered, its own query kept.
    assert health_frame == HEALTH_FC
    # Records registered no URI, housing was signed in through another session.
    assert "records.example.gov" not in page and "housing.example.gov" not in page

    assert frame_src(response) == {"https://tax.example.gov", "https://health.example.gov:8443"}
    # The post-logout redirect, with state, once the frames had their chance.
    link = re.search(r'id="frontchannel-continue" href="([^"]+)"', page)
    assert link and html.unescape(link.group(1)) == BYE + "?state=bye-1"
    assert re.search(r'data-next="([^"]+)"', page).group(1) == html.escape(BYE + "?state=bye-1")
    assert '<script src="/static/js/logout.js"></script>' in page
    assert "Location" not in response.headers
    # The session ended; the other one did not.
    assert sessions.get_by_sid(store, signed_in["session"].sid) is None
    assert sessions.get_by_sid(store, signed_in["elsewhere"].sid) is not None


def test_a_health_frame_with_iss_and_sid_keeps_its_registered_query(app, http, signed_in):
    from idp.oauth.clients import update_client

    health = signed_in["health"]
    update_client(health.client_id, {"frontchannel_logout_session_required": True})
    token = signed_in["tokens"][health.client_id]
    response = logout(http, id_token_hint=token["id_token"])
    framed = frames(response.get_data(as_text=True))[1]
    assert framed.startswith(HEALTH_FC + "&")
    assert query(framed) == {
        "tenant": ["city"],
        "iss": [ISSUER],
        "sid": [signed_in["session"].sid],
    }


def test_logout_without_redirect_shows_the_frames_on_the_signed_out_page(app, http, signed_in):
    token = signed_in["tokens"][signed_in["tax"].client_id]
    response = logout(http, id_token_hint=token["id_token"])
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="signed-out"' in page
    assert len(frames(page)) == 2
    assert 'data-next=""' in page and 'id="frontchannel-continue"' not in page


def test_the_frame_names_the_sid_of_the_token_issued_before_a_step_up(
    app, http, citizen, tax, store, login
):
    """The session's id is renewed at a step-up; the portal's ID token still names the
    one it had, and so does its frame."""
    from idp.authn.assurance import level_for
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    grant_consent(citizen, tax, "openid profile")
    first = login()
    token = sign_in(http, tax)
    stepped, cookie = sessions.start(
        store,
        result=AuthResult(
            citizen_id=citizen.id,
            methods=(Amr.PWD, Amr.OTP),
            acr=Acr(level_for((Amr.PWD, Amr.OTP))),
            channel=Channel.WEBSITE,
            auth_time=datetime.now(UTC),
        ),
        lifetime=app.config["IDP_TTL_SSO_SESSION"],
        idle=app.config["IDP_TTL_SSO_IDLE"],
        previous=sessions.get_by_sid(store, first.sid),  # as the portal left it
    )
    http.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    assert stepped.sid != first.sid and first.sid in stepped.previous_sids
    response = logout(http, id_token_hint=token["id_token"], post_logout_redirect_uri=BYE)
    (framed,) = frames(response.get_data(as_text=True))
    assert query(framed)["sid"] == [first.sid]


def test_no_frames_no_change_the_redirect_and_csp_are_as_before(app, http, citizen, rp, login):
    grant_consent(citizen, rp, "openid profile")
    login()
    token = sign_in(http, rp)
    response = logout(
        http, id_token_hint=token["id_token"], post_logout_redirect_uri=BYE, state="s"
    )
    assert redirected_to(response, BYE) == {"state": "s"}
    assert frame_src(response) == set()


def test_a_portal_that_got_only_a_code_is_not_framed(app, http, citizen, tax, login):
    """No ID token reached it in this session: there is nothing to end there."""
    from oidc_helpers import get_code

    grant_consent(citizen, tax, "openid profile")
    login()
    get_code(http, tax, scope="openid profile")
    response = logout(http, client_id=tax.client_id, post_logout_redirect_uri=BYE)
    confirmed = http.post(
        "/logout",
        data={
            "csrf_token": csrf_token_for(http),
            "confirm": "yes",
            "client_id": tax.client_id,
            "post_logout_redirect_uri": BYE,
        },
    )
    assert response.status_code == 200
    assert redirected_to(confirmed, BYE) == {}


def test_a_disabled_portal_or_feature_is_not_framed(app, http, signed_in, monkeypatch):
    from idp.oauth.clients import disable_client

    disable_client(signed_in["health"].client_id)
    token = signed_in["tokens"][signed_in["tax"].client_id]
    monkeypatch.setitem(app.config, "IDP_FEATURE_FRONTCHANNEL_LOGOUT", False)
    response = logout(http, id_token_hint=token["id_token"], post_logout_redirect_uri=BYE)
    assert redirected_to(response, BYE) == {}
    assert frame_src(response) == set()


def test_confirmed_logout_without_a_hint_frames_the_portals_too(app, http, signed_in):
    tax = signed_in["tax"]
    confirmed = http.post(
        "/logout",
        data={
            "csrf_token": csrf_token_for(http),
            "confirm": "yes",
            "client_id": tax.client_id,
            "post_logout_redirect_uri": BYE,
            "state": "s2",
        },
    )
    assert confirmed.status_code == 200
    page = confirmed.get_data(as_text=True)
    assert len(frames(page)) == 2
    assert html.escape(BYE + "?state=s2") in page


# -- the account pages -----------------------------------------------------------------------


def _post(http: Any, path: str, **fields: str) -> Any:
    return http.post(path, data={"csrf_token": csrf_token_for(http), **fields})


def test_signing_out_on_the_account_page_frames_the_portals(app, http, store, signed_in):
    response = _post(http, "/account/logout")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert len(frames(page)) == 2 and "housing.example.gov" not in page
    assert frame_src(response) == {"https://tax.example.gov", "https://health.example.gov:8443"}
    assert 'id="frontchannel-continue"' not in page
    assert sessions.get_by_sid(store, signed_in["session"].sid) is None


def test_ending_the_current_session_from_the_list_frames_its_portals(app, http, signed_in):
    response = _post(http, "/account/sessions/end", sid=signed_in["session"].sid)
    assert len(frames(response.get_data(as_text=True))) == 2


def test_ending_another_session_frames_nothing(app, http, store, signed_in):
    response = _post(http, "/account/sessions/end", sid=signed_in["elsewhere"].sid)
    assert response.status_code == 303
    assert sessions.get_by_sid(store, signed_in["elsewhere"].sid) is None
    assert sessions.get_by_sid(store, signed_in["session"].sid) is not None


def test_ending_every_session_frames_this_browsers_portals(app, http, store, signed_in):
    """The other session's portal (housing) is in another browser: back-channel logout
    tells it, a frame here could not."""
    response = _post(http, "/account/sessions/end-all")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    srcs = frames(page)
    assert len(srcs) == 2 and not any("housing" in s for s in srcs)
    assert frame_src(response) == {"https://tax.example.gov", "https://health.example.gov:8443"}
    assert sessions.get_by_sid(store, signed_in["elsewhere"].sid) is None
