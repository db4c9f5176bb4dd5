"""Token-signing keys: ES256 by default, RS256 for older portals; JWKS; rotation.

Lifecycle of a ``SigningKey`` row (times in UTC):

- ``created_at``: generated and published in the JWKS (RFC 7517) from now on.
- ``active_from``: signs from then on. ``rotate`` sets it in the future by the
  propagation delay (``IDP_KEY_PROPAGATION_DELAY``, default one hour), so every portal
  that caches the JWKS for less than that has the new public key before the first token
  signed with it arrives.
- ``retired_at``: stops signing (the successor's ``active_from``).
- ``expires_at``: leaves the JWKS, ``IDP_KEY_RETIRE_GRACE`` after retirement: longer
  than any token it signed can live, and long enough that an expired ID token still
  works as a logout ``id_token_hint``.

Private keys are stored as JWK JSON sealed with AES-256-GCM under ``keyring.key_wrap``
(SM4-GCM under the national suite: ``idp.ids.protect.wrap``, whose first byte names the
algorithm; keys written before that format, nonce | AES-GCM ciphertext, still open).
The kid is the associated data, so a sealed key cannot be moved to another row.
Decrypted keys are cached per process by kid (a kid's key never changes); so is the
list of keys, checked on every use against the store (below).
On first use with no keys (a fresh install) one key per algorithm is created.

Every change to the key list (create, rotate, retire, purge) also replaces a
*generation* value in the ephemeral store (Redis in production: shared by every
process; ``idp.oauth.generations``). Every use of the key list (signing ID tokens, JWT
access tokens, licence JWS, logout tokens, audit checkpoints; verifying our own tokens;
the published JWKS) checks it first and re-reads the list when it moved, so a rotation
or an emergency retirement in one process applies in every process on its next
request: no process signs with a retired key or trusts one that left the JWKS. Within
a request the generation is read once, in the same store round trip as the client
generation (``idp.oauth.client_cache``); outside requests (CLI, background threads)
each use reads it. It is read before the key list, so a list loaded across a change
carries the old generation and is re-read on the next use. Should the store lose the
generation, the list is still re-read every ``CACHE_SECONDS``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask
from flask import current_app
from joserfc.jwk import ECKey
from joserfc.jwk import KeySet
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..audit import EventType
from ..extensions import db
from ..ids.protect import UnsealError
from ..ids.protect import unwrap
from ..ids.protect import wrap
from ..models import SigningKey
from . import generations

ALGORITHMS = ("ES256", "RS256")
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # RFC 7638 thumbprints, base64url
CACHE_SECONDS = 60
# Default for IDP_KEY_PROPAGATION_DELAY (seconds between publishing and signing).
DEFAULT_PROPAGATION_DELAY = 3600
RSA_BITS = 2048


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    active_from: datetime
    retired_at: datetime | None
    expires_at: datetime | None

    def published(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def signing(self, now: datetime) -> bool:
        return self.active_from <= now and (self.retired_at is None or self.retired_at > now)


class KeyCache:
    """Per-application cache of key metadata and decrypted private keys."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (store generation it was loaded under, loaded at (monotonic), key list): one
        # attribute, so a thread sees the old or the new whole.
        self.loaded: tuple[str | None, float, list[KeyInfo]] | None = None
        self.private: dict[str, ECKey | RSAKey] = {}
        # The published JWKS, serialised once per key list (and per expiry within it):
        # (key list it was made from, valid until, JSON bytes, parsed KeySet).
        self.published: tuple[list[KeyInfo], datetime | None, bytes, KeySet] | None = None

    def invalidate(self) -> None:
        self.loaded = None

    def current(self, generation: str | None) -> list[KeyInfo] | None:
        """The key list if it was loaded under ``generation`` and recently enough."""
        loaded = self.loaded
        if loaded is None or loaded[0] != generation or not loaded[2]:
            return None
        return loaded[2] if time.monotonic() - loaded[1] < CACHE_SECONDS else None


def _changed() -> None:
    """After a committed change to the key list: this process re-reads it now, every
    other process on its next use of a key."""
    _cache().invalidate()
    generations.replace(generations.KEYS)


def _cache(app: Flask | None = None) -> KeyCache:
    app = app or current_app
    cache: KeyCache | None = app.extensions.get("idp.keys")
    if cache is None:
        cache = app.extensions.setdefault("idp.keys", KeyCache())
    return cache


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- storage ---------------------------------------------------------------------------


def _wrap_key() -> AESGCM:
    return AESGCM(current_app.extensions["idp.keyring"].key_wrap)


def _seal(kid: str, private_jwk: dict[str, Any]) -> bytes:
    keyring = current_app.extensions["idp.keyring"]
    return wrap(keyring, json.dumps(private_jwk).encode(), context=f"signing-key:{kid}")


def _unseal(kid: str, sealed: bytes) -> dict[str, Any]:
    keyring = current_app.extensions["idp.keyring"]
    try:
        plain = unwrap(keyring, bytes(sealed), context=f"signing-key:{kid}")
    except UnsealError:
        # The first format (nonce | AES-256-GCM, kid as associated data); authenticated,
        # so trying it on a blob of the new format fails instead of misreading it.
        plain = _wrap_key().decrypt(bytes(sealed[:12]), bytes(sealed[12:]), kid.encode())
    data: dict[str, Any] = json.loads(plain)
    return data


def _generate(alg: str) -> ECKey | RSAKey:
    params = {"use": "sig", "alg": alg}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=params, private=True)  # type: ignore[arg-type]
    if alg == "RS256":
        return RSAKey.generate_key(RSA_BITS, parameters=params, private=True)  # type: ignore[arg-type]
    raise ValueError(f"unsupported signing algorithm {alg}")


def create_key(session: Session, *, alg: str, active_from: datetime) -> SigningKey:
    key = _generate(alg)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": alg}
    private = {**key.as_dict(private=True), "kid": kid, "use": "sig", "alg": alg}
    row = SigningKey(
        kid=kid,
        alg=alg,
        private_jwk_enc=_seal(kid, private),
        public_jwk=public,
        created_at=_now(),
        active_from=active_from,
    )
    session.add(row)
    return row


def _load(session: Session) -> list[KeyInfo]:
    rows = session.scalars(select(SigningKey).order_by(SigningKey.active_from)).all()
    return [
        KeyInfo(
            kid=r.kid,
            alg=r.alg,
            public_jwk=dict(r.public_jwk),
            active_from=_aware(r.active_from) or _now(),
            retired_at=_aware(r.retired_at),
            expires_at=_aware(r.expires_at),
        )
        for r in rows
    ]


def _ensure(session: Session, keys: list[KeyInfo], now: datetime) -> bool:
    """First start: one signing key per algorithm that has none. True if any created."""
    created = False
    for alg in ALGORITHMS:
        if not any(k.alg == alg and k.signing(now) for k in keys):
            create_key(session, alg=alg, active_from=now)
            created = True
    return created


def _keys(now: datetime) -> list[KeyInfo]:
    cache = _cache()
    generation = generations.current(generations.KEYS)  # before the list: module docstring
    keys = cache.current(generation)
    if keys is not None:
        return keys
    with cache.lock:
        keys = cache.current(generation)
        if keys is not None:
            return keys
        # A session of its own: key bookkeeping never commits the caller's unit of work.
        with Session(db.engine) as session:
            keys = _load(session)
            if _ensure(session, keys, now):
                session.commit()
                keys = _load(session)
                _changed()  # stamped with the old generation below: re-read once more
        cache.loaded = (generation, time.monotonic(), keys)
        return keys


def ensure_keys() -> None:
    """Every algorithm has a signing key (made on first use). Once made, keys never run
    out (``retire`` refuses the last signing key of an algorithm, ``rotate`` makes a
    successor first, ``purge_expired`` takes only expired ones): any key list loaded
    answers, without a store or database read."""
    if _cache().loaded is None:
        _keys(_now())


# -- use -------------------------------------------------------------------------------


def signing_key_info(alg: str, now: datetime | None = None) -> KeyInfo:
    """The key that signs with ``alg`` now: the most recently activated live one."""
    now = now or _now()
    candidates = [k for k in _keys(now) if k.alg == alg and k.signing(now)]
    if not candidates:
        _cache().invalidate()
        candidates = [k for k in _keys(now) if k.alg == alg and k.signing(now)]
    if not candidates:
        raise LookupError(f"no signing key for {alg}")
    return max(candidates, key=lambda k: k.active_from)


def private_keyset(alg: str, now: datetime | None = None) -> KeySet:
    """Every published private key for ``alg``; joserfc picks one by the header's kid,
    so the header and the signature can never disagree across a rotation boundary."""
    now = now or _now()
    cache = _cache()
    wanted = [k for k in _keys(now) if k.alg == alg and k.published(now)]
    missing = [k.kid for k in wanted if k.kid not in cache.private]
    if missing:
        with Session(db.engine) as session:
            rows = session.scalars(select(SigningKey).where(SigningKey.kid.in_(missing))).all()
            for row in rows:
                cache.private[row.kid] = _import_private(
                    row.alg, _unseal(row.kid, row.private_jwk_enc)
                )
    return KeySet([cache.private[k.kid] for k in wanted if k.kid in cache.private])


def held_key(kid: str) -> ECKey | RSAKey | None:
    """The key ``kid`` if this provider holds it: its sealed private half opens under the
    master key and its RFC 7638 thumbprint is the kid. None for a purged key. Raises
    ValueError for a row that was not written by this provider (audit checkpoints)."""
    with Session(db.engine) as session:
        row = session.get(SigningKey, kid)
        if row is None:
            return None
        try:
            key = _import_private(row.alg, _unseal(row.kid, row.private_jwk_enc))
        except Exception as exc:  # noqa: BLE001 - cannot open: not sealed by us
            raise ValueError(f"key {kid[:16]} was not sealed by this provider") from exc
    if key.thumbprint() != kid:
        raise ValueError(f"key {kid[:16]} does not match its kid")
    return key


def _import_private(alg: str, data: dict[str, Any]) -> ECKey | RSAKey:
    if alg == "ES256":
        return ECKey.import_key(data)
    return RSAKey.import_key(data)


def published_jwks(now: datetime | None = None) -> dict[str, Any]:
    """The JWKS document: every key not yet past its grace period, pending ones too."""
    now = now or _now()
    return {"keys": [dict(k.public_jwk) for k in _keys(now) if k.published(now)]}


def _published(now: datetime) -> tuple[bytes, KeySet]:
    """The JWKS as JSON bytes and as a KeySet, built once per key change: again only
    when the key list is re-read or a published key reaches its expiry."""
    keys = _keys(now)
    cache = _cache()
    cached = cache.published
    if cached is not None and cached[0] is keys and (cached[1] is None or now < cached[1]):
        return cached[2], cached[3]
    document = {"keys": [dict(k.public_jwk) for k in keys if k.published(now)]}
    expiries = [k.expires_at for k in keys if k.expires_at is not None and k.expires_at > now]
    body = json.dumps(document, separators=(",", ":")).encode()
    keyset = KeySet.import_key_set(document)  # type: ignore[arg-type]
    cache.published = (keys, min(expiries) if expiries else None, body, keyset)
    return body, keyset


def current_jwks_json(now: datetime | None = None) -> bytes:
    """``published_jwks`` serialised (RFC 7517 section 5), cached per key change: what
    the JWKS endpoint serves, current in every process at once."""
    return _published(now or _now())[0]


def public_keyset(now: datetime | None = None) -> KeySet:
    """The published keys, parsed once per key change (JWT access-token checks)."""
    return _published(now or _now())[1]


def rotate(
    *,
    algs: tuple[str, ...] = ALGORITHMS,
    propagation_delay: int,
    retire_grace: int,
    now: datetime | None = None,
) -> list[SigningKey]:
    """Publish a successor for each algorithm, signing after ``propagation_delay``
    seconds; its predecessors stop signing then and leave the JWKS ``retire_grace``
    seconds later."""
    now = now or _now()
    active_from = now + timedelta(seconds=max(0, propagation_delay))
    created = []
    with Session(db.engine, expire_on_commit=False) as session:
        for alg in algs:
            if alg not in ALGORITHMS:
                raise ValueError(f"unsupported signing algorithm {alg}")
            live = session.scalars(
                select(SigningKey).where(SigningKey.alg == alg, SigningKey.retired_at.is_(None))
            ).all()
            for row in live:
                row.retired_at = active_from
                row.expires_at = active_from + timedelta(seconds=retire_grace)
            created.append(create_key(session, alg=alg, active_from=active_from))
        session.commit()
    _changed()
    # Recorded once the keys are committed (a separate short transaction: on SQLite the
    # rotation's own session still held the write lock until its commit).
    audit.record(
        EventType.KEY_ROTATE,
        details={
            "keys": [
                {"kid": k.kid, "alg": k.alg, "active_from": k.active_from.isoformat()}
                for k in created
            ],
            "propagation_delay": propagation_delay,
            "retire_grace": retire_grace,
        },
        commit=True,
    )
    return created


def purge_expired(now: datetime | None = None) -> int:
    """Delete keys past their grace period (they are no longer published)."""
    now = now or _now()
    with Session(db.engine) as session:
        rows = session.scalars(select(SigningKey).where(SigningKey.expires_at.is_not(None))).all()
        gone = [r for r in rows if (_aware(r.expires_at) or now) <= now]
        kids = [row.kid for row in gone]
        for row in gone:
            session.delete(row)
        session.commit()
    if kids:
        _changed()
        audit.record(EventType.KEY_PURGE, details={"kids": kids}, commit=True)
    return len(gone)


def list_keys(now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or _now()
    _cache().invalidate()
    return [
        {
            "kid": k.kid,
            "alg": k.alg,
            "active_from": k.active_from.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
            "state": (
                "signing"
                if k.signing(now)
                else "pending"
                if k.active_from > now
                else "published"
                if k.published(now)
                else "expired"
            ),
        }
        for k in _keys(now)
    ]


class KeyRetirementRefused(ValueError):
    """Retiring this key would leave its algorithm with no key that signs."""


def retire(
    kid: str, *, retire_grace: int, immediate: bool = False, now: datetime | None = None
) -> KeyInfo:
    """Retire one key before its time: it stops signing now and leaves the JWKS after
    ``retire_grace`` seconds (tokens it signed keep verifying until they expire), or at
    once with ``immediate`` (a compromised key: portals refuse its tokens as soon as
    they refetch the JWKS). Another key of the same algorithm must already sign (rotate
    with no propagation delay first, in an emergency). Raises LookupError for an
    unknown kid, ``KeyRetirementRefused`` otherwise."""
    now = now or _now()
    with Session(db.engine, expire_on_commit=False) as session:
        row = session.get(SigningKey, kid) if _KID.match(str(kid)) else None
        if row is None:
            raise LookupError(kid)
        others = session.scalars(
            select(SigningKey).where(SigningKey.alg == row.alg, SigningKey.kid != kid)
        ).all()
        if not any(_info(o).signing(now) for o in others):
            raise KeyRetirementRefused(f"no other {row.alg} key signs now")
        retired = _aware(row.retired_at)
        if retired is None or retired > now:
            row.retired_at = now
        end = now if immediate else now + timedelta(seconds=retire_grace)
        expires = _aware(row.expires_at)
        if expires is None or expires > end:
            row.expires_at = end
        session.commit()
        info = _info(row)
    _changed()
    return info


def _info(row: SigningKey) -> KeyInfo:
    return KeyInfo(
        kid=row.kid,
        alg=row.alg,
        public_jwk=dict(row.public_jwk),
        active_from=_aware(row.active_from) or _now(),
        retired_at=_aware(row.retired_at),
        expires_at=_aware(row.expires_at),
    )
