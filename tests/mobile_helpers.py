"""Shared set-up for the mobile-app tests: the native app client, a bound phone, and a
portal sign-in waiting at the website's "sign in with the app" page."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any
from urllib.parse import urlencode

from app_simulator import AppSimulator
from app_simulator import FlaskTransport
from oidc_helpers import authorize_params
from oidc_helpers import decode_id_token
from oidc_helpers import exchange
from oidc_helpers import path_of
from oidc_helpers import pkce
from oidc_helpers import redirected_to

APP_REDIRECT = "http://127.0.0.1/callback"
_OPEN = re.compile(r'href="([^"]+)" id="app-open"')
_MATCH = re.compile(r'id="app-match">(\d+)<')


def native_app() -> Any:
    from idp.oauth.clients import register_client

    client, secret = register_client(
        name="Government app",
        redirect_uris=[APP_REDIRECT],
        auth_method="none",
        scope="openid",
        first_party=True,
        native=True,
    )
    assert secret is None
    return client


def plant_session(app: Any, http: Any, citizen: Any, amr: tuple[str, ...]) -> Any:
    """An SSO session at ``amr`` in ``http``'s cookie jar (as conftest's ``login``)."""
    from datetime import UTC
    from datetime import datetime

    from idp.authn import sessions
    from idp.authn.assurance import level_for
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    methods = tuple(Amr(m) for m in amr)
    result = AuthResult(
        citizen_id=citizen.id,
        methods=methods,
        acr=level_for(methods),
        channel=Channel.WEBSITE,
        auth_time=datetime.now(UTC),
    )
    session, cookie = sessions.start(
        app.extensions["idp.store"],
        result=result,
        lifetime=app.config["IDP_TTL_SSO_SESSION"],
        idle=app.config["IDP_TTL_SSO_IDLE"],
    )
    http.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    return session


def bound_phone(
    app: Any, citizen: Any, *, amr: tuple[str, ...] = ("hwk", "mfa"), **kw: Any
) -> AppSimulator:
    """A phone whose app signed in (on a session at ``amr``, in the phone's own
    browser) through the native client and bound its device key."""
    phone_http = app.test_client()
    plant_session(app, phone_http, citizen, amr)
    client = native_app()
    sim = AppSimulator(FlaskTransport(phone_http), **kw)
    sim.sign_in(client_id=client.client_id, redirect_uri="http://127.0.0.1:53682/callback")
    reply = sim.bind()
    assert reply.status == 201, reply.body
    phone_http._cookies.clear()  # the app has no cookies: only its key from now on
    return sim


class WaitingBrowser:
    """A browser that asked a portal sign-in and opened "sign in with the app"."""

    def __init__(self, http: Any, rp: Any, **params: str) -> None:
        self.http = http
        self.rp = rp
        self.verifier, challenge = pkce()
        query = authorize_params(
            rp, code_challenge=challenge, code_challenge_method="S256", **params
        )
        response = http.get("/authorize?" + urlencode(query))
        assert response.status_code in (302, 303), response.data[:300]
        interaction = path_of(response)  # /interaction/<uid>
        self.uid = interaction.rstrip("/").split("/")[-1]
        self.page = self.open()

    def open(self) -> str:
        response = self.http.get(f"/login/{self.uid}/app")
        assert response.status_code == 200, response.data[:300]
        self.page = response.get_data(as_text=True)
        return self.page

    @property
    def qr(self) -> str:
        match = _OPEN.search(self.page)
        assert match, "no QR link on the page"
        return html_lib.unescape(match.group(1))

    @property
    def match(self) -> str:
        found = _MATCH.search(self.page)
        assert found, "no matching code"
        return found.group(1)

    def status(self) -> Any:
        return self.http.get(f"/login/{self.uid}/app/status")

    def done(self) -> Any:
        return self.http.get(f"/login/{self.uid}/app/done")

    def finish(self) -> tuple[dict, dict]:
        """Follow the approval through to the portal: (token response, ID-token claims)."""
        response = self.done()
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        response = self.http.get(path_of(response))  # interaction.resume
        params = redirected_to(response, self.rp.redirect_uri)
        assert "code" in params, params
        tokens = exchange(self.http, self.rp, params["code"], verifier=self.verifier)
        assert tokens.status_code == 200, tokens.get_json()
        body = tokens.get_json()
        _, claims = decode_id_token(self.http, body["id_token"], client_id=self.rp.client_id)
        return body, claims
