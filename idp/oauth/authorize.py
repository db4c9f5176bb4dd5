"""The authorization endpoint's flow (OIDC Core 3.1.2): validate, decide, park, resume.

1. ``begin``: Authlib validates the request (client, exact redirect URI, response type,
   scope, PKCE, OIDC rules). An error that cannot be trusted to a redirect URI (unknown
   client, unregistered redirect URI) becomes an error page; every other error is
   redirected with ``state`` and ``iss``. Then ``prompts.evaluate`` decides: issue the
   code now, fail a ``prompt=none`` request (``login_required`` /
   ``consent_required``), or park the validated request in an ``Interaction`` and send
   the browser to ``/interaction/<uid>``.
2. ``resume``: after the login page (or directly, for consent), the parked request is
   replayed through the same validation; consent is asked if still missing; the
   interaction is finished (single use) and the code issued.
3. ``decide_consent`` and ``abort``: the citizen's answer; a refusal is
   ``access_denied`` (RFC 6749 section 4.1.2.1) sent to the portal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import current_app

from ..authn import interaction as interactions
from ..authn import sessions
from ..authn.interaction import Interaction
from ..authn.interaction import Prompt
from ..authn.interaction import State
from ..authn.sessions import SsoSession
from ..consent import service as consent_service
from ..errors import InteractionExpired
from ..extensions import db
from ..models import Citizen
from ..store import current_store
from . import prompts
from .claims import pairwise_sub
from .clients import Client
from .errors import AccessDeniedError
from .errors import ConsentRequiredError
from .errors import LoginRequiredError
from .requests import ProtocolRequest
from .requests import ProtocolResponse
from .server import AuthorizationServer
from .server import current_server
from .tokens import AuthorizedUser

PATH = "/authorize"
# Kept in the interaction record itself, never in the replayable parameters.
_NOT_STORED = ("login_hint",)


@dataclass(frozen=True)
class ErrorPage:
    """An error shown to the citizen, never redirected (RFC 6749 section 4.1.2.1)."""

    error: str
    description: str
    status: int = 400


@dataclass(frozen=True)
class GoToInteraction:
    uid: str


@dataclass(frozen=True)
class ShowConsent:
    interaction: Interaction
    client: Client
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class GoTo:
    """A local path (direct visits to the account pages)."""

    location: str


Outcome = ProtocolResponse | ErrorPage | GoToInteraction | ShowConsent | GoTo


def endpoint_uri() -> str:
    return str(current_app.config["IDP_ISSUER"]).rstrip("/") + PATH


def begin(request: ProtocolRequest, *, session: SsoSession | None, browser: str) -> Outcome:
    server = current_server()
    try:
        grant = server.get_consent_grant(request, end_user=None)
    except OAuth2Error as error:
        return _error(server, request, error)
    client: Client = request.client
    data = request.payload.data
    ctx = _context(client, session, data, request.scope)
    decision = prompts.evaluate(ctx)
    if decision.prompt is None:
        assert session is not None
        return _issue(server, request, grant, session)
    if "none" in ctx.prompt:
        # OIDC Core 3.1.2.6: prompt=none and the user is needed.
        needed: OAuth2Error = (
            LoginRequiredError() if decision.prompt == "login" else ConsentRequiredError()
        )
        needed.redirect_uri = grant.redirect_uri
        return server.authorization_error(request, needed)
    store = current_store()
    ttl = int(current_app.config["IDP_TTL_INTERACTION"])
    parked = interactions.create(
        store,
        browser=browser,
        prompt=Prompt(decision.prompt),
        reasons=list(decision.reasons),
        ttl=ttl,
        client_id=client.client_id,
        params={k: v for k, v in data.items() if k not in _NOT_STORED},
        login_hint=data.get("login_hint") or None,
    )
    if decision.prompt == "consent" and session is not None:
        parked = parked.advance(State.AUTHENTICATED, sid=session.sid)
        interactions.save(store, parked, ttl=ttl)
    return GoToInteraction(parked.uid)


def resume(uid: str, *, session: SsoSession | None, browser: str) -> Outcome:
    store = current_store()
    parked = interactions.load(store, uid, browser=browser)
    if parked.state == State.PENDING:
        return GoToInteraction(parked.uid)
    _check_session(parked, session)
    assert session is not None
    if parked.client_id is None:
        interactions.finish(store, parked)
        return GoTo(safe_return_to(parked.return_to))
    server = current_server()
    request = ProtocolRequest.from_params(uri=endpoint_uri(), params=parked.params)
    try:
        grant = server.get_consent_grant(request, end_user=None)
    except OAuth2Error as error:
        interactions.finish(store, parked)
        return _error(server, request, error)
    client: Client = request.client
    ctx = _context(client, session, request.payload.data, request.scope)
    # The login part is done: it happened in this very interaction.
    if prompts.evaluate(ctx, login=False).prompt == "consent":
        return ShowConsent(interaction=parked, client=client, scopes=ctx.scopes)
    interactions.finish(store, parked)
    return _issue(server, request, grant, session)


def decide_consent(uid: str, *, session: SsoSession | None, browser: str, approve: bool) -> Outcome:
    store = current_store()
    parked = interactions.load(store, uid, browser=browser)
    if parked.state != State.AUTHENTICATED or parked.client_id is None:
        raise InteractionExpired(detail="consent posted outside the consent step")
    _check_session(parked, session)
    assert session is not None
    server = current_server()
    request = ProtocolRequest.from_params(uri=endpoint_uri(), params=parked.params)
    interactions.finish(store, parked)
    try:
        grant = server.get_consent_grant(request, end_user=None)
    except OAuth2Error as error:
        return _error(server, request, error)
    if not approve:
        return _deny(server, request, grant)
    consent_service.grant(
        citizen_id=session.citizen_id,
        client_id=request.client.client_id,
        scopes=(request.scope or "").split(),
    )
    return _issue(server, request, grant, session)


def abort(uid: str, *, browser: str) -> Outcome:
    """The citizen gave up (OIDC Core 3.1.2.6 / RFC 6749 4.1.2.1 ``access_denied``)."""
    store = current_store()
    parked = interactions.load(store, uid, browser=browser)
    interactions.finish(store, parked)
    if parked.client_id is None:
        return GoTo(safe_return_to(parked.return_to))
    server = current_server()
    request = ProtocolRequest.from_params(uri=endpoint_uri(), params=parked.params)
    try:
        grant = server.get_consent_grant(request, end_user=None)
    except OAuth2Error as error:
        return _error(server, request, error)
    return _deny(server, request, grant)


def safe_return_to(value: str | None) -> str:
    """Only local absolute paths: never another host (no open redirect)."""
    if (
        not value
        or not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x21 for c in value)
    ):
        return "/"
    return value


# -- helpers ---------------------------------------------------------------------------


def _context(
    client: Client, session: SsoSession | None, data: dict[str, str], scope: str | None
) -> prompts.Context:
    scopes = tuple((scope or "").split())
    consent = None
    if session is not None and not client.first_party:
        consent = consent_service.find_active(
            citizen_id=session.citizen_id, client_id=client.client_id
        )
    max_age = data.get("max_age")
    return prompts.Context(
        client=client,
        session=session,
        prompt=frozenset((data.get("prompt") or "").split()),
        max_age=int(max_age) if max_age is not None else None,
        scopes=scopes,
        consent=consent,
        now=int(time.time()),
    )


def _check_session(parked: Interaction, session: SsoSession | None) -> None:
    if session is None or session.sid != parked.sid:
        raise InteractionExpired(detail="the sign-in behind the interaction has changed")


def _issue(
    server: AuthorizationServer, request: ProtocolRequest, grant: Any, session: SsoSession
) -> Outcome:
    client: Client = request.client
    citizen = db.session.get(Citizen, session.citizen_id)
    if citizen is None or citizen.locked_at is not None:
        return _deny(server, request, grant)
    user = AuthorizedUser(
        citizen_id=citizen.id,
        subject=pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen.id),
        sid=session.sid,
        acr=session.acr,
        amr=list(session.amr),
        auth_time=session.auth_time,
    )
    response: ProtocolResponse = server.create_authorization_response(
        request, grant_user=user, grant=grant
    )
    if response.status != 302:
        return _as_page(response)
    # The SSO session remembers the portals it signed in to (logout fan-out).
    idle = int(current_app.config["IDP_TTL_SSO_IDLE"])
    sessions.add_client(current_store(), session, client.client_id, idle=idle)
    return response


def _deny(server: AuthorizationServer, request: ProtocolRequest, grant: Any) -> Outcome:
    error = AccessDeniedError(redirect_uri=grant.redirect_uri)
    return server.authorization_error(request, error)


def _error(server: AuthorizationServer, request: ProtocolRequest, error: OAuth2Error) -> Outcome:
    if error.redirect_uri:
        return server.authorization_error(request, error)
    return ErrorPage(error=str(error.error), description=str(error.get_error_description() or ""))


def _as_page(response: ProtocolResponse) -> ErrorPage:
    body = response.body if isinstance(response.body, dict) else {}
    return ErrorPage(
        error=str(body.get("error", "invalid_request")),
        description=str(body.get("error_description", "")),
        status=400,
    )
