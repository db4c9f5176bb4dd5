"""Signed checkpoints of the chain head.

A hash chain shows that records were changed, removed or reordered only relative to a
head the verifier trusts: someone able to rewrite the table could rewrite the whole
chain from the first changed record on and recompute every hash. A checkpoint is the
head (``seq``, ``hash``, time) signed as a JWS (RFC 7515, compact serialisation) with the
provider's own token-signing key, whose private half is sealed under the master key
and never in the database in clear; rewriting history before a checkpoint then needs
that key as well.

Each checkpoint is also announced in the chain itself (an ``audit.checkpoint`` record
naming it), so removing a checkpoint row is a detectable gap too.

The signer is injected (``CheckpointSigner``): the audit layer sits below the protocol
layer that owns the keys, so ``idp.oauth.audit_signer`` registers the implementation in
``app.extensions["idp.audit.signer"]`` at start-up.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import Any
from typing import Protocol

from flask import current_app
from sqlalchemy import insert
from sqlalchemy import update
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import AuditChainHead
from ..models import AuditCheckpoint
from . import context
from .canonical import timestamp
from .events import ActorType
from .events import EventType
from .events import Outcome

EXTENSION = "idp.audit.signer"
TYP = "idp-audit-checkpoint+jwt"
_HEAD = AuditChainHead.__table__
_CHECKPOINTS = AuditCheckpoint.__table__


class CheckpointSignatureError(Exception):
    """The JWS does not verify; ``reason`` says why (for the verify report)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeyUnavailable(CheckpointSignatureError):
    """The signing key is no longer held (purged after its grace period)."""


class CheckpointSigner(Protocol):
    def prepare(self) -> None:
        """Make sure a signing key exists, before the chain lock is taken (creating the
        first key writes to the database: on SQLite that would wait on the lock)."""
        ...

    def sign(self, claims: dict[str, Any]) -> tuple[str, str]:
        """Sign ``claims``; returns (compact JWS, kid)."""
        ...

    def verify(self, jws: str) -> dict[str, Any]:
        """The claims of a JWS this provider signed; raises CheckpointSignatureError."""
        ...


def configured_signer() -> CheckpointSigner | None:
    signer: CheckpointSigner | None = current_app.extensions.get(EXTENSION)
    return signer


def sign_head(
    session: Session,
    signer: CheckpointSigner,
    *,
    seq: int,
    head_hash: str,
    operator: str | None = None,
) -> int:
    """Sign (seq, head_hash) and store the checkpoint, in the caller's transaction,
    which must hold the chain lock (the sealer, or ``create``), and announce it in the
    chain right after that head. Returns the checkpoint's id."""
    from .chain import Appended
    from .chain import append_raw

    at = datetime.now(UTC)
    alg = current_app.extensions["idp.keyring"].suite.hash_name
    claims = {
        "iss": current_app.config["IDP_ISSUER"],
        "seq": seq,
        "hash": head_hash,
        "hash_alg": alg,
        "at": timestamp(at),
        "iat": int(at.timestamp()),
    }
    jws, kid = signer.sign(claims)
    checkpoint_id = session.execute(
        insert(_CHECKPOINTS)
        .values(seq=seq, head_hash=head_hash, created_at=at, kid=kid, jws=jws)
        .returning(_CHECKPOINTS.c.id)
    ).scalar_one()
    append_raw(
        session,
        Appended(seq, head_hash),
        event=str(EventType.CHECKPOINT),
        outcome=str(Outcome.SUCCESS),
        actor_type=str(ActorType.OPERATOR if operator else ActorType.SYSTEM),
        actor_id=operator,
        citizen_id=None,
        client_id=None,
        ip=None,
        channel=None,
        details={"checkpoint": int(checkpoint_id), "seq": seq, "hash": head_hash, "kid": kid},
    )
    session.execute(
        update(_HEAD).where(_HEAD.c.id == 1).values(checkpoint_seq=seq, checkpoint_at=at)
    )
    return int(checkpoint_id)


def create(signer: CheckpointSigner | None = None) -> AuditCheckpoint | None:
    """`idp audit checkpoint`: seal what is pending, sign the head now and commit. None
    when the chain is empty or no signer is configured."""
    signer = signer or configured_signer()
    if signer is None:
        return None
    from .chain import lock_head
    from .sealer import seal

    session = db.session
    signer.prepare()
    seal(session=session)  # the checkpoint covers every record committed so far
    head = lock_head(session)
    if int(head.seq) == 0:
        session.rollback()
        return None
    checkpoint_id = sign_head(
        session,
        signer,
        seq=int(head.seq),
        head_hash=str(head.hash),
        operator=context.current().operator,
    )
    session.commit()
    return session.get(AuditCheckpoint, checkpoint_id)
