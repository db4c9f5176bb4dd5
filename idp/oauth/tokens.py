"""Access and refresh tokens (RFC 6749 sections 1.4, 1.5 and 6; RFC 6750).

Access tokens are opaque random strings, or RFC 9068 JWTs for clients registered with
``access_token_format = "jwt"`` (``jwt_access``). Either way only a keyed hash of the
token's value is stored, in ``OAuthToken`` rows, so revocation, introspection and
UserInfo treat both alike: one row per issuance, holding the access token and, with
``offline_access``, its refresh token. Every row descended from one
authorization code shares a ``grant_id``: revoking a grant (code replay, refresh-token
reuse, revocation of a refresh token) revokes them all.

The authentication context of the sign-in (``sid``, ``acr``, ``amr``, ``auth_time``)
is copied from the code into the row and from row to row on refresh, so a refreshed
ID token still states when and how the citizen authenticated (OIDC Core 12.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from flask import current_app
from sqlalchemy import bindparam
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from ..authn.citizens import is_active
from ..extensions import db
from ..models import Citizen
from ..models import OAuthToken
from ..models._types import new_id
from . import hashing
from . import jwt_access
from .claims import CITIZEN_CLAIM_COLUMNS
from .claims import CitizenClaims
from .clients import Client
from .clients import query_client
from .errors import InvalidGrantError
from .errors import InvalidScopeError

ACCESS = "access-token"
REFRESH = "refresh-token"
TOKEN_TYPES = ("access_token", "refresh_token")
_TABLE = OAuthToken.__table__
_INSERT = insert(_TABLE)
_CITIZENS = Citizen.__table__


def _readonly_lookup(column: str, *extra: Any) -> Any:
    """The token row by one of its hashes, with its citizen's standing (exists, not
    locked) in the same statement: introspection and UserInfo need both. Built once.
    ``extra``: more columns to read with them."""
    return (
        select(
            _TABLE,
            *extra,
            _CITIZENS.c.id.label("standing_citizen_id"),
            _CITIZENS.c.locked_at.label("standing_locked_at"),
        )
        .select_from(_TABLE.outerjoin(_CITIZENS, _CITIZENS.c.id == _TABLE.c.citizen_id))
        .where(_TABLE.c[column] == bindparam("value"))
    )


_READONLY_LOOKUP = {
    column: _readonly_lookup(column) for column in ("access_token_hash", "refresh_token_hash")
}
# UserInfo's lookup, one statement: the access token's row, its citizen's standing, and
# the citizen's claim columns (``claims.CitizenClaims``, as ``claims_<column>``; ``id``
# and ``locked_at`` are the standing's).
_CLAIMS_PREFIX = "claims_"
_CLAIMS_FROM_STANDING = {"id": "standing_citizen_id", "locked_at": "standing_locked_at"}
_CLAIMS_KEYS = tuple(
    _CLAIMS_FROM_STANDING.get(name, _CLAIMS_PREFIX + name) for name in CITIZEN_CLAIM_COLUMNS
)
_CLAIMS_LOOKUP = _readonly_lookup(
    "access_token_hash",
    *(
        _CITIZENS.c[name].label(_CLAIMS_PREFIX + name)
        for name in CITIZEN_CLAIM_COLUMNS
        if name not in _CLAIMS_FROM_STANDING
    ),
)
# Longest token string looked up: opaque tokens are 43 characters, JWTs about 1 kB.
MAX_TOKEN_LENGTH = jwt_access.MAX_LENGTH
_ABSENT = object()


@dataclass(frozen=True)
class AuthorizedUser:
    """The citizen a grant is for, with the sign-in behind it. Authlib's ``user``."""

    citizen_id: str
    subject: str  # pairwise ``sub`` for the client at hand
    sid: str | None = None
    acr: str | None = None
    amr: list[str] = field(default_factory=list)
    auth_time: int | None = None
    # At the authorization endpoint: the scopes the citizen's consent grants (issue 4).
    granted_scope: str | None = None
    # The consent record behind the grant (None: a first-party portal's administrative
    # consent); carried by the code and the tokens for data-release records.
    consent_id: str | None = None
    channel: str | None = None  # where the sign-in happened (``channel`` claim)
    # RFC 8693 4.1: the staff member who assisted the sign-in (``idp.authn.acting``).
    act: dict[str, str] | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _ttl(name: str) -> int:
    return int(current_app.config[name])


def generate_bearer(
    grant_type: str,
    client: Client,
    user: AuthorizedUser | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Authlib's token generator: RFC 6749 section 5.1 response members.

    A refresh token is issued only when ``offline_access`` was granted and the grant
    allows one. OIDC Core 11: "the prompt parameter MUST contain consent unless other
    conditions for processing the request permitting offline access to the requested
    resources are in place". Our condition: a code is only issued when the citizen's
    durable consent covers every requested scope, ``offline_access`` included (the
    consent page names it: "continued access while you are signed out"), or the portal
    is first-party (administrative consent). So ``prompt=consent`` is not required, and
    ``prompt=none`` with a remembered consent to ``offline_access`` gets a refresh token.
    """
    allowed = client.get_allowed_scope(scope)
    if allowed is None:
        raise InvalidScopeError()
    lifetime = expires_in or client.model.access_token_ttl or _ttl("IDP_TTL_ACCESS_TOKEN")
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": _access_token(client, user, allowed, lifetime),
        "expires_in": lifetime,
        "scope": allowed,
    }
    if include_refresh_token and "offline_access" in allowed.split():
        token["refresh_token"] = hashing.new_secret()
    return token


def _access_token(client: Client, user: AuthorizedUser | None, scope: str, lifetime: int) -> str:
    """Opaque by default; an RFC 9068 JWT for clients registered for one."""
    if client.model.access_token_format != "jwt":
        return hashing.new_secret()
    if user is None:
        # RFC 9068 section 2.2: "In cases of access tokens obtained through grants where
        # no resource owner is involved, such as the client credentials grant, the value
        # of sub SHOULD correspond to an identifier the authorization server uses to
        # indicate the client application."
        return jwt_access.encode(
            client_id=client.client_id, subject=client.client_id, scope=scope, expires_in=lifetime
        )
    return jwt_access.encode(
        client_id=client.client_id,
        subject=user.subject,
        scope=scope,
        expires_in=lifetime,
        auth_time=user.auth_time,
        acr=user.acr,
        amr=user.amr,
        act=user.act,
    )


def _refresh_ttl(client_id: str) -> int:
    """The client's own refresh-token lifetime, else the deployment's (from the client
    cache the request already filled: no query)."""
    client = query_client(client_id)
    ttl = client.model.refresh_token_ttl if client is not None else None
    return int(ttl or _ttl("IDP_TTL_REFRESH_TOKEN"))


def persist(
    token: dict[str, Any],
    *,
    client_id: str,
    user: AuthorizedUser | None,
    grant_id: str,
    guard_citizen: bool = False,
) -> None:
    """Insert the row for a freshly generated token in the session's transaction (the
    caller commits). ``user`` None: a client's own token (client credentials grant).

    ``guard_citizen``: the insert itself checks that the citizen exists and is not
    locked (for a caller that did not check before); ``InvalidGrantError`` if not."""
    now = _now()
    access_expires = now + timedelta(seconds=int(token["expires_in"]))
    if jwt_access.looks_like_jwt(token["access_token"]):
        # The row says what the JWT says (introspection's iat/exp match the token's).
        iat, exp = jwt_access.issued_times(token["access_token"])
        now, access_expires = datetime.fromtimestamp(iat, UTC), datetime.fromtimestamp(exp, UTC)
    refresh = token.get("refresh_token")
    # The column values as a plain dict (no ORM object: its instrumentation cost more
    # than the INSERT's parameters); columns left out take their defaults.
    values: dict[str, Any] = {
        "id": new_id(),
        "grant_id": grant_id,
        "client_id": client_id,
        "scope": token["scope"],
        "access_token_hash": hashing.keyed_hash(ACCESS, token["access_token"]),
        "issued_at": now,
        "access_expires_at": access_expires,
        "amr": list(user.amr) if user else [],
    }
    if refresh:
        values["refresh_token_hash"] = hashing.keyed_hash(REFRESH, refresh)
        values["refresh_expires_at"] = now + timedelta(seconds=_refresh_ttl(client_id))
    if user is not None:
        context = {
            "citizen_id": user.citizen_id,
            "sid": user.sid,
            "acr": user.acr,
            "auth_time": datetime.fromtimestamp(user.auth_time, UTC) if user.auth_time else None,
            "consent_id": user.consent_id,
            "channel": user.channel,
            "act": user.act,
        }
        values.update((k, v) for k, v in context.items() if v is not None)
    if not _insert(values, guard_citizen=guard_citizen and user is not None):
        raise InvalidGrantError("The citizen's account is locked or closed.")


def _insert(values: dict[str, Any], *, guard_citizen: bool = False) -> bool:
    """One Core INSERT on the session's connection, without the ORM unit of work (its
    flush was a third of a client-credentials request's CPU, issue 7 profile).

    ``guard_citizen``: insert only if the row's citizen exists and is not locked, in the
    same statement (``INSERT ... SELECT ... WHERE EXISTS``), and return whether it did:
    the code exchange's check of the citizen without a round trip of its own."""
    # Parameters apart from the statement: compiled once, cached by SQLAlchemy.
    if not guard_citizen:
        db.session.connection().execute(_INSERT, values)
        return True
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT ... SELECT here.
    result = db.session.connection().execute(_guarded_insert(tuple(sorted(values))), values)
    return result.first() is not None


# Guarded INSERTs by the columns they set (a handful of combinations), built once.
_GUARDED: dict[tuple[str, ...], Any] = {}


def _guarded_insert(keys: tuple[str, ...]) -> Any:
    statement = _GUARDED.get(keys)
    if statement is None:
        standing = select(_CITIZENS.c.id).where(
            _CITIZENS.c.id == bindparam("citizen_id", type_=_CITIZENS.c.id.type),
            _CITIZENS.c.locked_at.is_(None),
        )
        rows = select(*(bindparam(k, type_=_TABLE.c[k].type) for k in keys)).where(
            standing.exists()
        )
        statement = _GUARDED[keys] = (
            insert(_TABLE).from_select(list(keys), rows).returning(_TABLE.c.id)
        )
    return statement


class IssuedToken(TokenMixin):  # type: ignore[misc]
    """Authlib's TokenMixin over a row, seen as the access or the refresh token. The
    row is an ``OAuthToken`` or, from a read-only lookup, a plain row with the same
    attribute names (UserInfo's also carries the citizen's claim columns)."""

    def __init__(self, row: Any, kind: str) -> None:
        self.row = row
        self.kind = kind  # "access_token" | "refresh_token"
        self._citizen: Citizen | CitizenClaims | None = None

    @property
    def grant_id(self) -> str:
        return self.row.grant_id

    @property
    def client_id(self) -> str:
        return self.row.client_id

    @property
    def scope(self) -> str:
        return self.row.scope

    @property
    def expires_at(self) -> datetime:
        when = (
            self.row.access_expires_at
            if self.kind == "access_token"
            else (self.row.refresh_expires_at)
        )
        return when or self.row.issued_at

    def check_client(self, client: Client) -> bool:
        return bool(client is not None and self.row.client_id == client.client_id)

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - _now()).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= _now()

    def is_revoked(self) -> bool:
        if self.row.revoked_at is not None:
            return True
        return self.kind == "refresh_token" and self.row.rotated_at is not None

    @property
    def client_only(self) -> bool:
        """A client's own token (client credentials grant): no citizen behind it."""
        return self.row.citizen_id is None

    def get_user(self) -> Citizen | CitizenClaims | None:
        """The citizen, loaded once per request: the session's identity map holds
        objects weakly, so a second ``get`` after the first was dropped would query
        again. From UserInfo's lookup (``find_access(..., with_claims=True)``), the
        read-only ``CitizenClaims`` the row brought along: no query, no ORM object."""
        if self.row.citizen_id is None:
            return None
        if self._citizen is None:
            if hasattr(self.row, _CLAIMS_PREFIX + "name"):
                self._citizen = _citizen_claims(self.row)
            else:
                self._citizen = db.session.get(Citizen, self.row.citizen_id)
        return self._citizen

    def is_usable(self) -> bool:
        """Its citizen (if any) exists and is not locked, and its client is enabled
        (the citizen checked by one narrow select, no ORM object)."""
        if self.get_client() is None:
            return False
        if self.client_only:
            return True
        # A read-only lookup brought the citizen's standing along (``_READONLY_LOOKUP``).
        if (standing := getattr(self.row, "standing_citizen_id", _ABSENT)) is not _ABSENT:
            return standing is not None and self.row.standing_locked_at is None
        return is_active(self.row.citizen_id)

    def get_client(self) -> Client | None:
        return query_client(self.row.client_id)

    # Authentication context, as an authorization code exposes it (OIDC Core 2).
    def get_auth_time(self) -> int | None:
        return int(self.row.auth_time.timestamp()) if self.row.auth_time else None

    def get_acr(self) -> str | None:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr or [])

    def get_sid(self) -> str | None:
        return self.row.sid

    def get_consent_id(self) -> str | None:
        return self.row.consent_id

    def get_channel(self) -> str | None:
        return self.row.channel

    def get_act(self) -> dict[str, str] | None:
        return self.row.act or None

    def get_nonce(self) -> None:
        # OIDC Core 12.2: a refreshed ID token "SHOULD NOT have a nonce Claim Value".
        return None


def find(
    token_string: str | None, hint: str | None = None, *, readonly: bool = False
) -> IssuedToken | None:
    """RFC 7009 / 7662: look the token up by the hinted type first, then the other.

    ``readonly``: the row as a plain read-only row (one Core select, no ORM object),
    for callers that only read it (introspection); revocation and refresh, which
    change the row, get the ORM object."""
    if not _well_formed(token_string):
        return None
    assert token_string is not None
    order = ["refresh_token", "access_token"] if hint == "refresh_token" else list(TOKEN_TYPES)
    for kind in order:
        found = _lookup(token_string, kind, readonly=readonly)
        if found is not None:
            return found
    return None


def find_access(token_string: str | None, *, with_claims: bool = False) -> IssuedToken | None:
    """An access token presented to a protected resource (UserInfo, RFC 6750): looked
    up as an access token only, read-only.

    ``with_claims``: for UserInfo, one SQL round trip for token and citizen: the same
    statement reads the citizen's claim columns, and ``get_user`` answers from them."""
    if not _well_formed(token_string):
        return None
    assert token_string is not None
    if not with_claims:
        return _lookup(token_string, "access_token", readonly=True)
    value = hashing.keyed_hash(ACCESS, token_string)
    row = db.session.connection().execute(_CLAIMS_LOOKUP, {"value": value}).first()
    return IssuedToken(row, "access_token") if row is not None else None


def _citizen_claims(row: Any) -> CitizenClaims | None:
    """The citizen UserInfo's lookup joined in; None if there is none (outer join)."""
    if row.standing_citizen_id is None:
        return None
    mapping = row._mapping
    return CitizenClaims(*(mapping[key] for key in _CLAIMS_KEYS))


def _well_formed(token_string: str | None) -> bool:
    return (
        bool(token_string)
        and isinstance(token_string, str)
        and len(token_string) <= MAX_TOKEN_LENGTH
    )


def _lookup(token_string: str, kind: str, *, readonly: bool) -> IssuedToken | None:
    if kind == "access_token":
        column, value = "access_token_hash", hashing.keyed_hash(ACCESS, token_string)
    else:
        column, value = "refresh_token_hash", hashing.keyed_hash(REFRESH, token_string)
    row: Any
    if readonly:
        row = db.session.connection().execute(_READONLY_LOOKUP[column], {"value": value}).first()
    else:
        row = db.session.scalars(
            select(OAuthToken).where(getattr(OAuthToken, column) == value)
        ).first()
    return IssuedToken(row, kind) if row is not None else None


def revoke_grant(grant_id: str) -> int:
    """Revoke every token descended from one authorization code (the caller commits)."""
    result = db.session.execute(
        update(OAuthToken)
        .where(OAuthToken.grant_id == grant_id, OAuthToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def revoke_client_tokens(client_id: str, *, citizen_id: str | None = None) -> int:
    query = update(OAuthToken).where(
        OAuthToken.client_id == client_id, OAuthToken.revoked_at.is_(None)
    )
    if citizen_id is not None:
        query = query.where(OAuthToken.citizen_id == citizen_id)
    result = db.session.execute(query.values(revoked_at=_now()))
    return int(getattr(result, "rowcount", 0) or 0)


def claim_rotation(row_id: str) -> bool:
    """Atomically mark a refresh token as exchanged. False means somebody else already
    did: the token is being reused (RFC 9700 section 4.14.2)."""
    result = db.session.execute(
        update(OAuthToken)
        .where(
            OAuthToken.id == row_id,
            OAuthToken.rotated_at.is_(None),
            OAuthToken.revoked_at.is_(None),
        )
        .values(rotated_at=_now())
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def expire_access_token(row: OAuthToken) -> None:
    """Revoke only the access token of a row (RFC 7009 section 2.1): it expires now."""
    now = _now()
    if row.access_expires_at > now:
        row.access_expires_at = now
