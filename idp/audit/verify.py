"""``verify``: walk the whole chain and every checkpoint, and say exactly what is wrong.

It seals first (idp.audit.sealer), so every committed record is in the chain it walks;
records that could not be sealed are counted (``pending``), and those older than
``IDP_AUDIT_SEAL_MAX_AGE`` are a problem (``unsealed``: no sealer is running).

For each record in ``seq`` order:

- a version-2 record's content is hashed again and compared with the content hash taken
  when it was written: a mismatch means it was **edited** (before or after sealing);
- its hash is recomputed over its canonical body (idp.audit.canonical). A mismatch means
  the record was **edited**, unless the body hashes correctly at another position
  (searched within ``MOVE_WINDOW``): then it was **moved** (reordered) from there;
- a ``seq`` that skips numbers means records were **removed**;
- its ``prev_hash`` must be the stored hash of the record before it. A record whose own
  hash holds but whose link does not shows that its predecessor was rewritten with a
  recomputed hash.

The end of the chain is checked against the head row and the checkpoints (records cut
from the end leave a head and checkpoints past it). Each checkpoint's JWS must verify
with a key this provider holds, agree with its row, and match the stored chain at its
``seq``; each ``audit.checkpoint`` record must still have its checkpoint row.
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..cryptosuite import same
from ..extensions import db
from ..models import AuditChainHead
from ..models import AuditCheckpoint
from ..models import AuditEvent
from .canonical import GENESIS
from .canonical import content_intact
from .canonical import row_hash
from .checkpoints import CheckpointSignatureError
from .checkpoints import CheckpointSigner
from .checkpoints import KeyUnavailable
from .checkpoints import configured_signer
from .events import EventType

MOVE_WINDOW = 256  # positions searched either side for a moved record
_EVENTS = AuditEvent.__table__


@dataclass(frozen=True)
class Problem:
    kind: str  # edited | moved | removed | relinked | checkpoint | unsealed
    seq: int | None  # the record concerned (first of a removed range)
    message: str


@dataclass(frozen=True)
class CheckpointStatus:
    id: int
    seq: int
    kid: str
    status: str  # valid | invalid_signature | key_unavailable | mismatch | chain_differs
    message: str


@dataclass
class Report:
    records: int = 0
    last_seq: int = 0
    pending: int = 0  # written, not yet sealed into the chain
    problems: list[Problem] = field(default_factory=list)
    checkpoints: list[CheckpointStatus] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def anchored_seq(self) -> int:
        """The highest seq covered by a checkpoint that verified (0: none)."""
        valid = [c.seq for c in self.checkpoints if c.status == "valid"]
        return max(valid, default=0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "last_seq": self.last_seq,
            "pending": self.pending,
            "anchored_seq": self.anchored_seq,
            "problems": [asdict(p) for p in self.problems],
            "checkpoints": [asdict(c) for c in self.checkpoints],
        }


def verify(
    *,
    signer: CheckpointSigner | None = None,
    session: Session | None = None,
    seal_first: bool = True,
) -> Report:
    """The report on the whole trail (module docstring). ``seal_first`` commits the
    session (sealing is the only write)."""
    from .sealer import pending
    from .sealer import seal
    from .sealer import stale_before

    session = session or db.session
    signer = signer or configured_signer()
    report = Report()
    if seal_first:
        seal(session=session)
    report.pending, oldest = pending(session)
    if oldest is not None and oldest < stale_before():
        report.problems.append(
            Problem(
                "unsealed",
                None,
                f"{report.pending} record(s) not yet sealed into the chain, the oldest "
                f"written at {oldest.isoformat()}: is a sealer running?",
            )
        )
    checkpoints = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id)).all()
    wanted = {c.seq for c in checkpoints}
    chain_at: dict[int, tuple[str, bool]] = {}  # seq -> (stored hash, intact)
    announced: dict[int, int] = {}  # checkpoint id -> seq of its audit.checkpoint record

    prev: Any = None
    prev_intact = True
    shift = 0  # records renumbered after a removal: stored seq + shift = original seq
    rows = session.execute(select(_EVENTS).order_by(_EVENTS.c.seq)).yield_per(1000)
    for row in rows:
        report.records += 1
        expected = (prev.seq if prev is not None else 0) + 1
        if row.seq > expected:
            report.problems.append(_removed(expected, row.seq - 1))
        content_ok = content_intact(row)
        intact = content_ok and same(row_hash(row), row.hash)
        if not intact:
            # Edited content is an edit wherever it sits; only an intact one may have moved.
            origin = _origin(row) if content_ok else None
            if origin is not None and shift and origin - row.seq == shift:
                pass  # one more record of a renumbered run, reported at its start
            elif (
                origin is not None
                and origin > row.seq
                and not same(row.prev_hash, GENESIS)
                and not _stored(session, row.prev_hash)
            ):
                # The record it follows is gone and it was renumbered to close the gap.
                shift = origin - row.seq
                report.problems.append(
                    Problem(
                        "removed",
                        row.seq,
                        f"{_range(row.seq, origin - 1)} removed and the later records "
                        f"renumbered to close the gap (record #{origin} is now #{row.seq})",
                    )
                )
            elif origin is not None:
                report.problems.append(
                    Problem(
                        "moved",
                        row.seq,
                        f"record #{origin} was moved to position #{row.seq} (records reordered)",
                    )
                )
            else:
                report.problems.append(
                    Problem(
                        "edited",
                        row.seq,
                        f"record #{row.seq} was edited: its content no longer matches its hash",
                    )
                )
        elif row.seq == 1 and not same(row.prev_hash, GENESIS):
            report.problems.append(
                Problem("relinked", 1, "record #1 does not start the chain (prev_hash altered)")
            )
        elif prev is not None and prev.seq == row.seq - 1 and not same(row.prev_hash, prev.hash):
            # Both records hash correctly but no longer link: the one before was replaced
            # by a record with a recomputed hash (or this one by a re-chained copy).
            if prev_intact:
                report.problems.append(
                    Problem(
                        "relinked",
                        prev.seq,
                        f"record #{prev.seq} was rewritten with a recomputed hash: "
                        f"record #{row.seq} no longer links to it",
                    )
                )
        if row.seq in wanted:
            chain_at[row.seq] = (row.hash, intact)
        if row.event == EventType.CHECKPOINT and isinstance(row.details, dict):
            cid = row.details.get("checkpoint")
            if isinstance(cid, int):
                announced[cid] = row.seq
        prev, prev_intact = row, intact
    report.last_seq = prev.seq if prev is not None else 0

    head = session.get(AuditChainHead, 1)
    if head is not None and int(head.seq) > report.last_seq + shift:
        report.problems.append(_removed(report.last_seq + 1, int(head.seq), at_end=True))

    present = {c.id for c in checkpoints}
    for cid, seq in sorted(announced.items()):
        if cid not in present:
            report.problems.append(
                Problem(
                    "checkpoint",
                    seq,
                    f"checkpoint {cid} (announced by record #{seq}) was removed",
                )
            )
    for checkpoint in checkpoints:
        status = _check(checkpoint, signer, chain_at)
        report.checkpoints.append(status)
        if status.status not in ("valid", "key_unavailable"):
            report.problems.append(
                Problem(
                    "checkpoint", checkpoint.seq, f"checkpoint {checkpoint.id}: {status.message}"
                )
            )
    return report


def _range(first: int, last: int) -> str:
    return f"record #{first} was" if first == last else f"records #{first} to #{last} were"


def _removed(first: int, last: int, *, at_end: bool = False) -> Problem:
    where = " from the end of the chain" if at_end else ""
    return Problem("removed", first, f"{_range(first, last)} removed{where}")


def _origin(row: Any) -> int | None:
    """The position at which a record that no longer hashes at its own still hashes
    correctly (it was moved from there), nearest first; None: its content was edited."""
    for distance in range(1, MOVE_WINDOW + 1):
        for origin in (row.seq - distance, row.seq + distance):
            if origin >= 1 and same(row_hash(row, seq=origin), row.hash):
                return origin
    return None


def _stored(session: Session, digest: str) -> bool:
    """A record with this hash is in the table (one indexed look-up, on anomalies only)."""
    found = session.execute(select(_EVENTS.c.seq).where(_EVENTS.c.hash == digest)).first()
    return found is not None


def _check(
    checkpoint: AuditCheckpoint,
    signer: CheckpointSigner | None,
    chain_at: dict[int, tuple[str, bool]],
) -> CheckpointStatus:
    def status(kind: str, message: str) -> CheckpointStatus:
        return CheckpointStatus(checkpoint.id, checkpoint.seq, checkpoint.kid, kind, message)

    if signer is None:
        return status("key_unavailable", "no checkpoint signer is configured")
    try:
        claims = signer.verify(checkpoint.jws)
    except KeyUnavailable as exc:
        return status("key_unavailable", f"cannot be checked: {exc.reason}")
    except CheckpointSignatureError as exc:
        return status("invalid_signature", f"signature does not verify: {exc.reason}")
    if claims.get("seq") != checkpoint.seq or claims.get("hash") != checkpoint.head_hash:
        return status("mismatch", "the stored seq or hash differs from what was signed")
    stored = chain_at.get(checkpoint.seq)
    if stored is None:
        return status(
            "chain_differs", f"signed head #{checkpoint.seq} is no longer in the chain (removed)"
        )
    if not same(stored[0], str(claims["hash"])) or not stored[1]:
        return status(
            "chain_differs", f"record #{checkpoint.seq} differs from the signed head (rewritten)"
        )
    return status("valid", f"signed head #{checkpoint.seq} matches the chain")
