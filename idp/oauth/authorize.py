"""The authorization endpoint's flow (OIDC Core 3.1.2): validate, decide, park, resume.

1. ``begin``: Authlib validates the request (client, exact redirect URI, response type,
   scope, PKCE, OIDC rules). An error that cannot be trusted to a redirect URI (unknown
   client, unregistered redirect URI) becomes an error page; every other error is
   redirected with ``state`` and ``iss``. ``acr_request.resolve`` names the levels the
   request accepts. Then ``prompts.evaluate`` decides: issue the code now, fail
   (``unmet_authentication_requirements`` when no acceptable level can be reached;
   ``login_required`` / ``consent_required`` for ``prompt=none``), or park the
   validated request in an ``Interaction`` (with the level to reach and the time
   before which earlier proofs do not count) and send the browser to
   ``/interaction/<uid>``.
2. ``resume``: after the login page (or directly, for consent), the parked request is
   replayed through the same validation; a session still below the level continues as
   a step-up interaction (``acr_too_low``), or fails as unmet; consent is asked if
   still missing; the interaction is finished (single use) and the code issued with the
   ``acr``, ``amr`` and ``auth_time`` of the level the session stands at.
3. ``decide_consent`` and ``abort``: the citizen's answer; a refusal is
   ``access_denied`` (RFC 6749 section 4.1.2.1) sent to the portal, with a description
   when the citizen cancelled a step-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import current_app

from ..authn import hall
from ..authn import interaction as interactions
from ..authn import service
from ..authn import sessions
from ..authn.citizens import is_active
from ..authn.interaction import Interaction
from ..authn.interaction import Prompt
from ..authn.interaction import Reason
from ..authn.interaction import State
from ..authn.result import Acr
from ..authn.service import Verdict
from ..authn.sessions import SsoSession
from ..consent import policy as consent_policy
from ..consent import service as consent_service
from ..consent.categories import is_sensitive
from ..errors import InteractionExpired
from ..models import Consent
from ..store import current_store
from . import acr_request
from . import prompts
from .claims import pairwise_sub
from .clients import Client
from .errors import AccessDeniedError
from .errors import ConsentRequiredError
from .errors import LoginRequiredError
from .errors import UnmetAuthenticationRequirementsError
from .requests import ProtocolRequest
from .requests import ProtocolResponse
from .server import AuthorizationServer
from .server import current_server
from .tokens import AuthorizedUser

PATH = "/authorize"
# Kept in the interaction record itself, never in the replayable parameters.
_NOT_STORED = ("login_hint",)
# Public descriptions (RFC 6749 5.2: ASCII).
UNMET_DESCRIPTION = "The requested authentication level cannot be reached for this user."
STEP_UP_CANCELLED = "The user cancelled the step-up to the requested authentication level."
REQUIRED_DECLINED = "The user declined a scope the client marked as required."


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
    items: tuple[consent_policy.ScopeItem, ...] = ()


@dataclass(frozen=True)
class GoTo:
    """A local path (direct visits to the account pages)."""

    location: str


Outcome = ProtocolResponse | ErrorPage | GoToInteraction | ShowConsent | GoTo


def endpoint_uri() -> str:
    return str(current_app.config["IDP_ISSUER"]).rstrip("/") + PATH


def begin(
    request: ProtocolRequest, *, session: SsoSession | None, browser: Callable[[], str]
) -> Outcome:
    """The authorization endpoint. ``browser`` gives the browser's id, asked for only
    when a sign-in is parked (a signed-in citizen's request never needs it)."""
    server = current_server()
    try:
        grant = server.get_consent_grant(request, end_user=None)
    except OAuth2Error as error:
        return _error(server, request, error)
    client: Client = request.client
    data = request.payload.data
    try:
        wanted = acr_request.resolve(data, client)
    except OAuth2Error as error:
        error.redirect_uri = grant.redirect_uri
        return server.authorization_error(request, error)
    now = int(time.time())
    prompt_values = frozenset((data.get("prompt") or "").split())
    max_age = int(data["max_age"]) if data.get("max_age") is not None else None
    # Earlier proofs that still count: none with prompt=login (OIDC Core 3.1.2.1 "the
    # Authorization Server SHOULD prompt the End-User for reauthentication"), those
    # within max_age, else all that have not lapsed.
    if "login" in prompt_values or max_age == 0:
        fresh_after = now
    elif max_age is not None:
        fresh_after = now - max_age
    else:
        fresh_after = 0
    ctx = _context(client, session, data, request.scope, wanted, fresh_after=fresh_after)
    decision = prompts.evaluate(ctx)
    if decision.prompt is None:
        assert session is not None
        return _issue(
            server,
            request,
            grant,
            session,
            fresh_after=fresh_after,
            wanted=wanted,
            consent=ctx.consent,
            citizen_active=ctx.citizen_active,
        )
    if "acr_unmet" in decision.reasons:
        return _unmet(server, request, grant)
    if "none" in ctx.prompt:
        # OIDC Core 3.1.2.6: prompt=none and the user is needed ("login_required: The
        # Authorization Server requires End-User authentication. This error MAY be
        # returned when the prompt parameter value in the Authentication Request is
        # none, but the Authentication Request cannot be completed without displaying a
        # user interface for End-User authentication"): a step-up is such an interface.
        needed: OAuth2Error = (
            LoginRequiredError() if decision.prompt == "login" else ConsentRequiredError()
        )
        needed.redirect_uri = grant.redirect_uri
        return server.authorization_error(request, needed)
    required = _required_level(session, wanted, ctx, fresh_after=fresh_after)
    if decision.prompt == "login" and session is not None and wanted.levels and required is None:
        return _unmet(server, request, grant)
    store = current_store()
    ttl = int(current_app.config["IDP_TTL_INTERACTION"])
    parked = interactions.create(
        store,
        browser=browser(),
        prompt=Prompt(decision.prompt),
        reasons=list(decision.reasons),
        ttl=ttl,
        client_id=client.client_id,
        params={k: v for k, v in data.items() if k not in _NOT_STORED},
        login_hint=data.get("login_hint") or None,
        required_acr=str(required) if required else None,
        fresh_after=fresh_after,
    )
    if decision.prompt == "consent" and session is not None:
        parked = parked.advance(State.AUTHENTICATED, sid=session.sid)
        interactions.save(store, parked, ttl=ttl)
    return GoToInteraction(parked.uid)


def _required_level(
    session: SsoSession | None,
    wanted: acr_request.AcrRequest,
    ctx: prompts.Context,
    *,
    fresh_after: int,
) -> Acr | None:
    """The level the parked sign-in aims at: without a session the most preferred one;
    with a session the one ``assess`` picks (None when none can be reached)."""
    if not wanted.levels:
        return None
    if session is None:
        return wanted.levels[0]
    assessment = ctx.assessment or service.assess(session, wanted.levels, fresh_after=fresh_after)
    if assessment.verdict == Verdict.UNMET:
        return None
    return assessment.level


def resume(uid: str, *, session: SsoSession | None, browser: str) -> Outcome:
    store = current_store()
    parked = interactions.load(store, uid, browser=browser)
    if parked.state == State.PENDING:
        return GoToInteraction(parked.uid)
    _check_session(parked, session)
    assert session is not None
    if parked.client_id is None:
        # Our own pages: a required level the citizen can still reach is a step-up; one
        # they cannot reach sends them back, and the page says what is missing.
        if parked.required_acr:
            required = (Acr(parked.required_acr),)
            verdict = service.assess(session, required, fresh_after=parked.fresh_after)
            if verdict.verdict == Verdict.STEP_UP and verdict.level is not None:
                return GoToInteraction(service.step_up(parked, level=verdict.level).uid)
        interactions.finish(store, parked)
        return GoTo(safe_return_to(parked.return_to))
    server = current_server()
    request = ProtocolRequest.from_params(uri=endpoint_uri(), params=parked.params)
    try:
        grant = server.get_consent_grant(request, end_user=None)
        wanted = acr_request.resolve(request.payload.data, request.client)
    except OAuth2Error as error:
        interactions.finish(store, parked)
        return _error(server, request, error)
    client: Client = request.client
    # The login part is done: it happened in this very interaction. What is left is
    # the level (a step-up may follow a sign-in) and consent.
    if wanted.levels:
        verdict = service.assess(session, wanted.levels, fresh_after=parked.fresh_after)
        if verdict.verdict == Verdict.STEP_UP and verdict.level is not None:
            return GoToInteraction(service.step_up(parked, level=verdict.level).uid)
        if verdict.verdict == Verdict.UNMET:
            interactions.finish(store, parked)
            return _unmet(server, request, grant)
    ctx = _context(
        client, session, request.payload.data, request.scope, wanted, fresh_after=parked.fresh_after
    )
    if prompts.evaluate(ctx, login=False).prompt == "consent":
        lines = consent_policy.items(client.model.scope_policy, ctx.scopes)
        return ShowConsent(interaction=parked, client=client, scopes=ctx.scopes, items=tuple(lines))
    interactions.finish(store, parked)
    return _issue(
        server,
        request,
        grant,
        session,
        fresh_after=parked.fresh_after,
        wanted=wanted,
        consent=ctx.consent,
    )


def decide_consent(
    uid: str,
    *,
    session: SsoSession | None,
    browser: str,
    approve: bool,
    ticked: tuple[str, ...] = (),
    agreed_sensitive: tuple[str, ...] = (),
) -> Outcome:
    """The citizen's answer. Optional scopes count only if ``ticked``; sensitive ones
    only if in ``agreed_sensitive`` (PIPL art. 29: separate consent). A required scope
    left out is ``access_denied``; optional ones left out are simply not granted, and
    the code (and every token from it) carries exactly the granted scopes."""
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
        wanted = acr_request.resolve(request.payload.data, request.client)
    except OAuth2Error as error:
        return _error(server, request, error)
    if not approve:
        return _deny(server, request, grant)
    client: Client = request.client
    lines = consent_policy.items(client.model.scope_policy, (request.scope or "").split())
    choice = consent_policy.choose(lines, ticked=ticked, agreed_sensitive=agreed_sensitive)
    if choice.refused_required:
        return _deny(server, request, grant, description=REQUIRED_DECLINED)
    default_ttl = int(current_app.config["IDP_CONSENT_TTL_DAYS"])
    consent = consent_service.grant(
        citizen_id=session.citizen_id,
        client_id=client.client_id,
        scopes=choice.granted,
        shown=[line.scope for line in lines],
        ttl_days=consent_policy.ttl_days(client.model.scope_policy, default_ttl),
        declined=[line.scope for line in lines if line.scope not in choice.granted],
    )
    return _issue(
        server,
        request,
        grant,
        session,
        fresh_after=parked.fresh_after,
        wanted=wanted,
        granted=choice.granted,
        consent_id=consent.id,
    )


def abort(uid: str, *, browser: str) -> Outcome:
    """The citizen gave up (OIDC Core 3.1.2.6 / RFC 6749 4.1.2.1 ``access_denied``).

    Cancelling a step-up says so in the description: the portal learns that the level
    was refused, not that the citizen signed out."""
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
    description = STEP_UP_CANCELLED if Reason.ACR_TOO_LOW in parked.reasons else None
    return _deny(server, request, grant, description=description)


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
    client: Client,
    session: SsoSession | None,
    data: dict[str, str],
    scope: str | None,
    wanted: acr_request.AcrRequest,
    *,
    fresh_after: int,
) -> prompts.Context:
    scopes = tuple((scope or "").split())
    consent = None
    citizen_active = None
    if session is not None:
        # One statement for the consent and the citizen's lock (read again by _issue
        # when it runs in another request).
        citizen_active, consent = consent_service.find_active_and_standing(
            citizen_id=session.citizen_id, client_id=client.client_id
        )
    max_age = data.get("max_age")
    assessment = None
    if session is not None and wanted.levels:
        assessment = service.assess(session, wanted.levels, fresh_after=fresh_after)
    return prompts.Context(
        client=client,
        session=session,
        prompt=frozenset((data.get("prompt") or "").split()),
        max_age=int(max_age) if max_age is not None else None,
        scopes=scopes,
        consent=consent,
        now=int(time.time()),
        policy=service.level_policy(),
        acceptable=wanted.levels,
        assessment=assessment,
        citizen_active=citizen_active,
    )


def _check_session(parked: Interaction, session: SsoSession | None) -> None:
    if session is None or session.sid != parked.sid:
        raise InteractionExpired(detail="the sign-in behind the interaction has changed")


def _issue(
    server: AuthorizationServer,
    request: ProtocolRequest,
    grant: Any,
    session: SsoSession,
    *,
    fresh_after: int,
    wanted: acr_request.AcrRequest,
    granted: tuple[str, ...] | None = None,
    consent_id: str | None = None,
    consent: Consent | None = None,
    citizen_active: bool | None = None,
) -> Outcome:
    """Issue the code for the highest level the session stands at (counting proofs
    from ``fresh_after`` on): its ``acr``, ``amr`` and ``auth_time`` go in the ID token.
    OIDC Core 2 ``acr``: "the Authentication Context Class that the authentication
    performed satisfied"; it is never below what the request needs.

    ``consent`` is the citizen's active consent as this request already read it (the
    prompt decision), so it is not read twice; so is ``citizen_active``, read with it
    in this request (None: ask now)."""
    client: Client = request.client
    citizen_id = session.citizen_id
    if citizen_active is None:
        citizen_active = is_active(citizen_id)
    if not citizen_active:
        return _deny(server, request, grant)
    standing = session.standing(
        service.level_policy(), int(time.time()), fresh_after=fresh_after, at_least=wanted.lowest
    )
    if standing is None:
        # The level lapsed while the citizen was on the consent page: never a lower acr.
        error = LoginRequiredError(redirect_uri=grant.redirect_uri)
        return server.authorization_error(request, error)
    # The code, and every token from it, carries only what the consent grants.
    if granted is None:
        granted, consent_id = _granted(client, consent, tuple((request.scope or "").split()))
    # Issue 5: a session assisted at a service-hall counter gives a portal at most the
    # scopes registered for that counter.
    if (cap := hall.scope_cap(session)) is not None:
        granted = tuple(s for s in granted if s in cap)
    user = AuthorizedUser(
        citizen_id=citizen_id,
        subject=pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen_id),
        sid=session.sid,
        acr=str(standing.acr),
        amr=standing.amr,
        auth_time=standing.reached_at,
        granted_scope=" ".join(granted),
        consent_id=consent_id,
        channel=standing.channel or None,
        act=standing.act,
    )
    response: ProtocolResponse = server.create_authorization_response(
        request, grant_user=user, grant=grant
    )
    if response.status != 302:
        return _as_page(response)
    # The level was relied on (its idle clock restarts) and the SSO session remembers
    # the portals it signed in to (logout fan-out).
    idle = int(current_app.config["IDP_TTL_SSO_IDLE"])
    sessions.record_use(
        current_store(), session, client_id=client.client_id, level=standing.acr, idle=idle
    )
    return response


def _granted(
    client: Client, consent: Consent | None, requested: tuple[str, ...]
) -> tuple[tuple[str, ...], str | None]:
    """The requested scopes the citizen's active ``consent`` covers, and that consent's
    id. First-party portals have administrative consent, except for sensitive scopes
    (PIPL art. 29)."""
    agreed = set(consent.scopes or []) if consent is not None else set()
    granted = tuple(
        s
        for s in requested
        if s in agreed or (client.first_party and not is_sensitive(s)) or s == "openid"
    )
    return granted, consent.id if consent is not None else None


def _deny(
    server: AuthorizationServer,
    request: ProtocolRequest,
    grant: Any,
    *,
    description: str | None = None,
) -> Outcome:
    error = AccessDeniedError(description=description, redirect_uri=grant.redirect_uri)
    return server.authorization_error(request, error)


def _unmet(server: AuthorizationServer, request: ProtocolRequest, grant: Any) -> Outcome:
    """OpenID Connect Core Unmet Authentication Requirements 1.0, section 2: the level
    cannot be reached (nothing the citizen has enrolled reaches it)."""
    error = UnmetAuthenticationRequirementsError(UNMET_DESCRIPTION, redirect_uri=grant.redirect_uri)
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
