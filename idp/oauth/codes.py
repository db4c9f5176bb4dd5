"""Authorization codes (RFC 6749 section 4.1.2), held in the ephemeral store.

RFC 6749 section 4.1.2: "The client MUST NOT use the authorization code more than
once. If an authorization code is used more than once, the authorization server MUST
deny the request and SHOULD revoke (when possible) all tokens previously issued based
on that authorization code."

- Stored under its keyed hash, for ``IDP_TTL_AUTHORIZATION_CODE`` seconds (at most 60).
- Redeemed once: the first redeemer consumes the code and leaves a "used" marker holding
  the grant id in the same atomic store call (``EphemeralStore.take``, one round trip).
  Anyone presenting the code again finds only the marker: the request fails with
  ``invalid_grant`` and every token of the grant is revoked. The marker is flagged as
  replayed, so a redemption still in flight revokes its own tokens when it sees the flag
  (``check_not_replayed``).
- The marker lives as long as the longest token the code can yield.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import Any

from authlib.oidc.core import AuthorizationCodeMixin
from flask import current_app

from .. import audit
from ..audit import ActorType
from ..audit import EventType
from ..audit import Outcome
from ..extensions import db
from ..store import current_store
from ..store.base import TOMBSTONE
from ..store.base import TOMBSTONE_TTL
from . import hashing
from .errors import InvalidGrantError
from .sign_in_context import SignInContext
from .tokens import AuthorizedUser
from .tokens import revoke_grant

log = logging.getLogger(__name__)

KIND = "code"
USED = "code-used"
PURPOSE = "authorization-code"
# RFC 9700 section 4.5 / RFC 6749 section 4.1.2 want codes short-lived; this provider
# promises at most a minute, whatever the configuration says.
MAX_TTL = 60


@dataclass(frozen=True)
class AuthorizationCode(SignInContext, AuthorizationCodeMixin):  # type: ignore[misc]
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    scope: str
    citizen_id: str
    expires_at: int
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    sid: str | None = None
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    auth_time: int | None = None
    consent_id: str | None = None
    channel: str | None = None
    act: dict[str, str] | None = None  # RFC 8693 4.1, see idp.authn.acting

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce


_FIELDS = frozenset(f.name for f in fields(AuthorizationCode))


def _now() -> int:
    return int(time.time())


def save(
    code: str,
    *,
    client_id: str,
    redirect_uri: str,
    scope: str,
    user: AuthorizedUser,
    nonce: str | None,
    code_challenge: str | None,
    code_challenge_method: str | None,
) -> AuthorizationCode:
    ttl = min(int(current_app.config["IDP_TTL_AUTHORIZATION_CODE"]), MAX_TTL)
    record = AuthorizationCode(
        code_hash=hashing.keyed_hash(PURPOSE, code),
        grant_id=secrets.token_urlsafe(24),
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=scope,
        citizen_id=user.citizen_id,
        expires_at=_now() + ttl,
        nonce=nonce,
        code_challenge=code_challenge,
        code_challenge_method=code_challenge_method if code_challenge else None,
        sid=user.sid,
        acr=user.acr,
        amr=list(user.amr),
        auth_time=user.auth_time,
        consent_id=user.consent_id,
        channel=user.channel,
        act=user.act,
    )
    # The "used" marker the redemption leaves behind travels with the code, so that
    # redeeming is one atomic store call (``EphemeralStore.take``).
    marker = {
        "grant_id": record.grant_id,
        "client_id": client_id,
        "citizen_id": record.citizen_id,
        "replayed": False,
    }
    value = {**asdict(record), TOMBSTONE: json.dumps(marker), TOMBSTONE_TTL: _marker_ttl(scope)}
    current_store().put(KIND, record.code_hash, value, ttl)
    return record


def redeem(code: str, *, client_id: str) -> AuthorizationCode:
    """Take the code out of the store, once. Raises ``InvalidGrantError``."""
    if not isinstance(code, str) or not code or len(code) > 256:
        raise InvalidGrantError("Invalid 'code' in request.")
    code_hash = hashing.keyed_hash(PURPOSE, code)
    # One round trip: the code is consumed and its "used" marker left at once, or
    # (another client's code) left alone, or found gone with its marker if it was used.
    outcome, data = current_store().take(
        KIND, code_hash, owner_field="client_id", owner=client_id, tombstone_kind=USED
    )
    if outcome == "gone":
        _replayed(code_hash, data)
        raise InvalidGrantError("Invalid 'code' in request.")
    # RFC 6749 section 4.1.3: ensure the code was issued to the authenticated client.
    if outcome != "taken" or data is None:
        raise InvalidGrantError("Invalid 'code' in request.")
    record = AuthorizationCode(**{k: v for k, v in data.items() if k in _FIELDS})
    if record.expires_at < _now():
        raise InvalidGrantError("The 'code' has expired.")
    return record


def check_not_replayed(record: AuthorizationCode) -> None:
    """After the tokens are saved: if the code was replayed meanwhile, revoke them."""
    marker = current_store().get(USED, record.code_hash)
    if marker and marker.get("replayed"):
        revoke_grant(record.grant_id)
        db.session.commit()
        raise InvalidGrantError("Invalid 'code' in request.")


def _replayed(code_hash: str, marker: dict[str, Any] | None) -> None:
    """A code presented again (``marker``: what its first redemption left, if any)."""
    store = current_store()
    if not marker:
        return
    log.warning("authorization code replayed; revoking grant of client %s", marker["client_id"])
    revoke_grant(marker["grant_id"])
    # RFC 6749 4.1.2: "If an authorization code is used more than once, the
    # authorization server MUST deny the request and SHOULD revoke ... all tokens
    # previously issued based on that authorization code."
    audit.record(
        EventType.CODE_REPLAY,
        outcome=Outcome.FAILURE,
        actor_type=ActorType.CLIENT,
        actor_id=marker["client_id"],
        citizen_id=marker.get("citizen_id"),
        client_id=marker["client_id"],
        details={"grant": marker["grant_id"], "tokens_revoked": True},
    )
    db.session.commit()
    remaining = store.ttl(USED, code_hash)
    if remaining > 0:
        store.put(USED, code_hash, {**marker, "replayed": True}, remaining)


def _marker_ttl(scope: str) -> int:
    cfg: dict[str, Any] = current_app.config
    ttl = max(int(cfg["IDP_TTL_ACCESS_TOKEN"]), int(cfg["IDP_TTL_AUTHORIZATION_CODE"]))
    if "offline_access" in scope.split():
        ttl = max(ttl, int(cfg["IDP_TTL_REFRESH_TOKEN"]))
    return ttl
