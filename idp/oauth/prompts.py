"""The interaction policy: which prompt an authorization request needs, and why.

Modelled on node-oidc-provider's interaction policy: a prompt is a list of small named
checks, each returning a reason or None. ``/authorize`` runs LOGIN then CONSENT; when
the citizen comes back from the login page only CONSENT runs again.

OIDC Core 3.1.2.1 for ``prompt``, ``max_age`` and ``acr_values``; OIDC Core 3.1.2.4
for consent. ``max_age`` and the requested level are judged per level: ``max_age``
applies to the ``auth_time`` of the level asked for, and a level that has lapsed
(``idp.authn.assurance.LevelPolicy``) does not count.

Reasons of the LOGIN prompt: ``no_session``, ``login_prompt``, ``max_age``,
``acr_too_low`` (the citizen can step up) and ``acr_unmet`` (they cannot: the portal
gets ``unmet_authentication_requirements``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..authn.assurance import LevelPolicy
from ..authn.result import Acr
from ..authn.service import Assessment
from ..authn.service import Verdict
from ..authn.sessions import SsoSession
from ..consent import policy as consent_policy
from ..consent import service as consent_service
from ..consent.categories import is_sensitive
from ..models import Consent
from .clients import Client


@dataclass(frozen=True)
class Context:
    client: Client
    session: SsoSession | None
    prompt: frozenset[str]
    max_age: int | None
    scopes: tuple[str, ...]
    consent: Consent | None
    now: int
    policy: LevelPolicy
    acceptable: tuple[Acr, ...] = ()  # requested levels, most preferred first
    # The session against ``acceptable`` (None without a session or a request).
    assessment: Assessment | None = None
    # The session's citizen exists and is not locked (None: not read, no session).
    citizen_active: bool | None = None


Check = Callable[[Context], str | None]


def no_session(ctx: Context) -> str | None:
    return "no_session" if ctx.session is None else None


def login_prompt(ctx: Context) -> str | None:
    # OIDC Core 3.1.2.1: prompt=login "SHOULD prompt the End-User for reauthentication".
    return "login_prompt" if "login" in ctx.prompt else None


def max_age(ctx: Context) -> str | None:
    # OIDC Core 3.1.2.1: "If the elapsed time is greater than this value, the OP MUST
    # attempt to actively re-authenticate the End-User"; max_age=0 is prompt=login.
    # The elapsed time is that of the level asked for (the lowest acceptable one), or of
    # any level when none is asked.
    if ctx.max_age is None or ctx.session is None:
        return None
    if ctx.max_age == 0:
        return "max_age"
    lowest = min(ctx.acceptable, key=lambda a: a.rank) if ctx.acceptable else None
    fresh = ctx.session.standing(
        ctx.policy, ctx.now, fresh_after=ctx.now - ctx.max_age, at_least=lowest
    )
    return "max_age" if fresh is None else None


def acr_too_low(ctx: Context) -> str | None:
    # OIDC Core 3.1.2.1 acr_values / 5.5.1.1 essential acr: the session must stand at a
    # requested level; when it does not, step up or, if impossible, fail.
    if ctx.session is None or ctx.assessment is None:
        return None
    if ctx.assessment.verdict == Verdict.STEP_UP:
        return "acr_too_low"
    if ctx.assessment.verdict == Verdict.UNMET:
        return "acr_unmet"
    return None


def consent_prompt(ctx: Context) -> str | None:
    # OIDC Core 3.1.2.1: prompt=consent "SHOULD prompt the End-User for consent before
    # returning information to the Client", first-party portals included.
    return "consent_prompt" if "consent" in ctx.prompt else None


def consent_missing(ctx: Context) -> str | None:
    # First-party portals (run by the operator) are covered by administrative consent,
    # except for sensitive data (PIPL art. 29: the individual's separate consent).
    if ctx.client.first_party and not any(is_sensitive(s) for s in ctx.scopes):
        return None
    # An optional scope the citizen declined is not asked again while the consent lasts
    # (prompt=consent asks again); one the portal now requires is.
    optional = [
        i.scope
        for i in consent_policy.items(ctx.client.model.scope_policy, ctx.scopes)
        if not i.required
    ]
    if not consent_service.covers(ctx.consent, ctx.scopes, optional=optional):
        return "consent_missing"
    return None


LOGIN: tuple[Check, ...] = (no_session, login_prompt, max_age, acr_too_low)
CONSENT: tuple[Check, ...] = (consent_prompt, consent_missing)


@dataclass(frozen=True)
class Decision:
    prompt: str | None  # "login" | "consent" | None (nothing to ask)
    reasons: tuple[str, ...]


def evaluate(ctx: Context, *, login: bool = True) -> Decision:
    """The first prompt with a failing check, with every reason it failed for."""
    policies = (("login", LOGIN), ("consent", CONSENT)) if login else (("consent", CONSENT),)
    for name, checks in policies:
        reasons = tuple(r for r in (check(ctx) for check in checks) if r)
        if reasons:
            return Decision(prompt=name, reasons=reasons)
    return Decision(prompt=None, reasons=())
