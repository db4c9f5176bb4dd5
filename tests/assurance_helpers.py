"""Helpers for the assurance and step-up flow tests: follow /authorize through the
interaction to the website's page, enrol TOTP, finish with a validated ID token."""

from __future__ import annotations

import time
from typing import Any

from oidc_helpers import authorize
from oidc_helpers import decode_id_token
from oidc_helpers import exchange
from oidc_helpers import path_of
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from webforms import csrf_from

from idp.authn import sessions
from idp.authn.methods import totp

UNMET = "unmet_authentication_requirements"


def enrol_totp(citizen: Any) -> str:
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    assert totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    return enrolment.secret


def next_code(secret: str) -> str:
    """A code of the next step: inside the valid window, never used yet."""
    return totp.code_at(secret=secret, when=time.time() + totp.INTERVAL)


def sso_cookie(app: Any, http: Any) -> str | None:
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"])
    return cookie.value if cookie else None


def sso(app: Any, http: Any) -> sessions.SsoSession | None:
    return sessions.load(app.extensions["idp.store"], sso_cookie(app, http), idle=3600)


class Flow:
    """One authorization request with PKCE, followed through the browser."""

    def __init__(self, http: Any, rp: Any, **params: str) -> None:
        self.http = http
        self.rp = rp
        self.verifier, challenge = pkce()
        self.nonce = params.pop("nonce", "n-" + str(time.time_ns()))
        self.response = authorize(
            http,
            rp,
            code_challenge=challenge,
            code_challenge_method="S256",
            nonce=self.nonce,
            **params,
        )

    def parked(self) -> str:
        """The uid of the interaction /authorize parked (and checks it did)."""
        assert self.response.status_code == 303, self.response.data[:300]
        path = path_of(self.response)
        assert path.startswith("/interaction/"), path
        return path.split("/")[2]

    def page(self) -> tuple[str, str, Any]:
        """Follow /interaction/<uid> to the website: (uid, page path, page response)."""
        uid = self.parked()
        shown = self.http.get(f"/interaction/{uid}")
        assert shown.status_code == 303
        path = path_of(shown)
        return uid, path, self.http.get(path)

    def redirected(self, response: Any) -> dict[str, str]:
        return redirected_to(response, self.rp.redirect_uri)

    def follow(self, response: Any) -> dict[str, str]:
        """Follow our own redirects (resume) to the portal's redirect URI."""
        for _ in range(5):
            location = response.headers.get("Location", "")
            if location.startswith(self.rp.redirect_uri):
                return self.redirected(response)
            assert response.status_code in (302, 303), (response.status_code, response.data[:500])
            response = self.http.get(path_of(response))
        raise AssertionError("no redirect to the portal")

    def id_token(self, params: dict[str, str]) -> dict[str, Any]:
        assert "code" in params, params
        token = exchange(self.http, self.rp, params["code"], verifier=self.verifier)
        assert token.status_code == 200, token.get_json()
        _, claims = decode_id_token(
            self.http, token.get_json()["id_token"], client_id=self.rp.client_id, nonce=self.nonce
        )
        return claims


def post_page(http: Any, path: str, page: Any, **fields: str) -> Any:
    return http.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), **fields})


def plant(
    app: Any, http: Any, citizen: Any, *proofs: tuple[tuple[str, ...], str | None, int]
) -> Any:
    """Plant one SSO session built from several proofs in turn, each
    ``(methods, acr or None, seconds ago)``, as successive sign-ins of one browser."""
    from datetime import UTC
    from datetime import datetime

    from idp.authn.assurance import level_for
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    store = app.extensions["idp.store"]
    session = None
    cookie = ""
    for methods, acr, ago in proofs:
        amrs = tuple(Amr(m) for m in methods)
        result = AuthResult(
            citizen_id=citizen.id,
            methods=amrs,
            acr=Acr(acr) if acr else level_for(amrs),
            channel=Channel.WEBSITE,
            auth_time=datetime.fromtimestamp(time.time() - ago, UTC),
        )
        session, cookie = sessions.start(
            store, result=result, lifetime=12 * 3600, idle=7200, previous=session
        )
    http.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
    return session


def age_level(app: Any, session: Any, level: str, **seconds_ago: int) -> None:
    """Move a stored level's times back: ``age_level(app, s, HIGH, used=900)``."""
    store = app.extensions["idp.store"]
    data = store.get(sessions.KIND, session.sid)
    for key, ago in seconds_ago.items():
        data["levels"][level][key] = int(time.time()) - ago
    store.put(sessions.KIND, session.sid, data, 3600)
