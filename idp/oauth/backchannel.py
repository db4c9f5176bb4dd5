"""OpenID Connect Back-Channel Logout 1.0: registration rules, the logout token, fan-out.

https://openid.net/specs/openid-connect-backchannel-1_0.html

- Section 2.2, client metadata: ``backchannel_logout_uri`` ("This URL SHOULD use the
  https scheme ... however, it MAY use the http scheme, provided that the Client Type
  is confidential ... and provided the OP allows the use of http RP URIs"; "The URI MUST
  NOT include a fragment component") and ``backchannel_logout_session_required``. We
  allow http only on a loopback host, and only outside production (or with
  ``IDP_BACKCHANNEL_ALLOW_LOCAL``, for tests); without that, an https URI whose host is
  literally private, loopback or link-local is refused too (``fetch_guard``).
- Section 2.3: the SSO session remembers the portals signed in through it
  (``idp.authn.sessions.record_use``); when it ends, each portal with a logout URI is
  told (``on_session_ended``, subscribed in ``idp.oauth.server.build_server``).
- Section 2.4, the logout token: a JWT signed like the portal's ID tokens (its
  ``id_token_signed_response_alg``, ``kid`` in the header), ``typ`` ``logout+jwt``
  ("explicitly typed" against cross-JWT confusion, section 4.1), claims ``iss``, ``aud``,
  ``iat``, ``exp`` (``IDP_BACKCHANNEL_TOKEN_TTL``, two minutes), ``jti``, ``events``
  with the back-channel-logout member, the portal's pairwise ``sub`` and the ``sid``
  it saw in its ID token; never ``nonce`` ("A nonce Claim MUST NOT be present").
- Withdrawn consent (``notify_consent_revoked``): the portal is told for every session
  it was used in; a portal that requires ``sid`` gets nothing when there is none
  (section 2.2: with session_required "the sid Claim MUST be included").

Nothing here waits on a portal: notices go to the durable outbox
(``backchannel_delivery``) in the caller's transaction and are sent by
``idp.oauth.backchannel_delivery`` (section 2.5).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from joserfc import jwt
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from ..authn import sessions
from ..authn.sessions import SsoSession
from ..errors import InvalidInput
from ..extensions import db
from ..models import BackchannelDelivery
from ..models import OAuthClient
from ..models import OAuthToken
from ..store import current_store
from . import keys
from .claims import pairwise_sub
from .fetch_guard import refuse_private_literal

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
MAX_URI_LENGTH = 2000

REASON_LOGOUT = "logout"
REASON_CONSENT_REVOKED = "consent_revoked"

log = logging.getLogger(__name__)


# -- configuration ------------------------------------------------------------------------


def enabled(config: Mapping[str, Any] | None = None) -> bool:
    return bool((config or current_app.config)["IDP_FEATURE_BACKCHANNEL_LOGOUT"])


def allow_local(config: Mapping[str, Any] | None = None) -> bool:
    """http on loopback and private addresses: outside production by default, or when
    ``IDP_BACKCHANNEL_ALLOW_LOCAL`` says so (refused in production)."""
    config = config or current_app.config
    explicit = config.get("IDP_BACKCHANNEL_ALLOW_LOCAL")
    if explicit is not None:
        return bool(explicit)
    return config.get("IDP_ENV") != "production"


# -- registration (section 2.2) --------------------------------------------------------------


def validate_logout_uri(
    uri: str | None,
    *,
    local_ok: bool,
    field: str = "backchannel_logout_uri",
    what: str = "back-channel logout URI",
) -> str | None:
    """A clean logout URI ("" or None clears it) or ``InvalidInput``. The one rule for
    every logout URI a portal registers: ``backchannel_logout_uri`` here, and
    ``frontchannel_logout_uri`` (``idp.oauth.frontchannel``) with its own ``field`` and
    ``what`` (both specs: absolute, https, "MUST NOT include a fragment component")."""
    if uri is None or uri.strip() == "":
        return None
    if len(uri) > MAX_URI_LENGTH or any(ord(c) < 0x21 for c in uri):
        raise InvalidInput(f"The {what} is not a valid URL.", field=field)
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise InvalidInput(f"The {what} is not a valid URL.", field=field) from None
    if not host or parts.scheme not in ("https", "http"):
        raise InvalidInput(f"The {what} must be an absolute URL.", field=field)
    # Section 2.2: "The URI MUST NOT include a fragment component."
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"The {what} must not have a fragment.", field=field)
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"The {what} must not contain user information.", field=field)
    if parts.scheme == "https":
        if not local_ok:
            # An address the send-time guard would refuse, refused now with a clear
            # message (literal hosts only: see refuse_private_literal).
            refuse_private_literal(uri, field=field, what=what)
        return uri
    if local_ok and host in LOOPBACK_HOSTS:
        return uri
    raise InvalidInput(
        f"The {what} must use https"
        + (" (http is allowed only on localhost)." if local_ok else "."),
        field=field,
    )


# -- the logout token (section 2.4) ----------------------------------------------------------


def logout_token(*, client: OAuthClient, subject: str | None, sid: str | None) -> str:
    """A signed logout token for ``client`` about ``subject`` and/or ``sid``."""
    if not subject and not sid:
        raise ValueError("a logout token names a sub, a sid, or both")  # section 2.4
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": current_app.config["IDP_ISSUER"],
        "aud": client.client_id,
        "iat": now,
        "exp": now + int(current_app.config["IDP_BACKCHANNEL_TOKEN_TTL"]),
        "jti": secrets.token_urlsafe(18),
        "events": {EVENT: {}},
    }
    if subject:
        claims["sub"] = subject
    if sid:
        claims["sid"] = sid
    # Section 2.4: "The same keys are used to sign and encrypt Logout Tokens as are used
    # for ID Tokens"; the portal's ID-token algorithm, so its verifier already accepts it.
    alg = client.id_token_signed_response_alg or "ES256"
    header = {"typ": TYP, "alg": alg, "kid": keys.signing_key_info(alg).kid}
    return jwt.encode(header, claims, keys.private_keyset(alg), algorithms=[alg])


# -- the outbox ------------------------------------------------------------------------------


def _listening(client: OAuthClient | None) -> bool:
    return bool(client is not None and client.backchannel_logout_uri and not client.disabled_at)


def _queue(client: OAuthClient, *, citizen_id: str, sids: Iterable[str | None], reason: str) -> int:
    """Add one notice per sid to the session (the caller commits). With no sid, one
    notice naming only ``sub``, unless the portal requires a sid."""
    subject = pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen_id)
    wanted = sorted({s for s in sids if s}) or [None]
    now = datetime.now(UTC)
    added = 0
    for sid in wanted:
        if sid is None and client.backchannel_logout_session_required:
            log.info("client %s requires sid; no session to name, no notice", client.client_id)
            continue
        db.session.add(
            BackchannelDelivery(
                client_id=client.client_id,
                subject=subject,
                sid=sid,
                reason=reason,
                created_at=now,
                attempts=0,
                next_attempt_at=now,
            )
        )
        added += 1
    return added


def sids_given(client_id: str, citizen_id: str, candidates: Iterable[str]) -> list[str]:
    """Which of ``candidates`` (a session's ids, now and before step-ups) the portal
    received in an ID token (the ones its tokens were issued under), newest first."""
    wanted = [c for c in candidates if c]
    if not wanted:
        return []
    rows = db.session.scalars(
        select(OAuthToken.sid)
        .where(
            OAuthToken.client_id == client_id,
            OAuthToken.citizen_id == citizen_id,
            OAuthToken.sid.in_(wanted),
        )
        .group_by(OAuthToken.sid)
        .order_by(func.max(OAuthToken.issued_at).desc())
    ).all()
    return [r for r in rows if r]


def on_session_ended(session: SsoSession) -> None:
    """Section 2.3: every portal signed in through ``session`` is told (listener of
    ``idp.authn.session_events``). The notices are committed before the worker is woken."""
    if not enabled() or not session.clients:
        return
    queued = 0
    for client_id in session.clients:
        client = db.session.get(OAuthClient, client_id)
        if not _listening(client):
            continue
        assert client is not None
        # The portal's ID token names the id the session had then: the current one, or
        # one before a step-up renewed it.
        given = set(
            sids_given(client_id, session.citizen_id, [session.sid, *session.previous_sids])
        )
        queued += _queue(
            client,
            citizen_id=session.citizen_id,
            sids=given or {session.sid},
            reason=REASON_LOGOUT,
        )
    if queued:
        db.session.commit()
        _wake()


def sids_for_portal(*, citizen_id: str, client_id: str) -> set[str]:
    """The sessions a portal may hold for the citizen: live SSO sessions it was signed
    in through, and the sids of its tokens that are still usable."""
    store = current_store()
    live = {s.sid for s in sessions.list_for(store, citizen_id) if client_id in s.clients}
    now = datetime.now(UTC)
    rows = db.session.scalars(
        select(OAuthToken.sid).where(
            OAuthToken.client_id == client_id,
            OAuthToken.citizen_id == citizen_id,
            OAuthToken.revoked_at.is_(None),
            OAuthToken.sid.is_not(None),
            or_(OAuthToken.access_expires_at > now, OAuthToken.refresh_expires_at > now),
        )
    ).all()
    return live | {r for r in rows if r}


def queue_consent_revoked(*, citizen_id: str, client_id: str, sids: Iterable[str]) -> int:
    """Add the notices for withdrawn consent to the session (the caller commits and
    then calls ``wake``)."""
    if not enabled():
        return 0
    client = db.session.get(OAuthClient, client_id)
    if not _listening(client):
        return 0
    assert client is not None
    return _queue(client, citizen_id=citizen_id, sids=sids, reason=REASON_CONSENT_REVOKED)


def _wake() -> None:
    from .backchannel_delivery import wake

    wake()


def wake() -> None:
    """Tell this process's delivery worker that notices are waiting."""
    _wake()
