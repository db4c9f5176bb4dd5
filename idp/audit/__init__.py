"""The tamper-evident audit trail (issue 6; DESIGN.md "audit").

Every security-relevant event is one append-only record (``record``): who, what, when,
from where, ID numbers masked, written in the action's transaction and linked into the
chain off the request path by the sealer (``sealer``). Records form a hash chain over
an RFC 8785 canonical serialisation (SHA-256, or SM3 under the national suite); the
provider signs
checkpoints of the chain head with its own key (``checkpoints``); ``verify`` says which
record was edited, removed or moved; ``search`` is the auditors' query.

Layer: below ``idp.authn`` and above ``idp.ids``, ``idp.store`` and ``idp.models``
(pyproject.toml). It reads no Flask request: the web layer binds the origin
(``context.bind``) and the protocol layer provides the checkpoint signer.
"""

from __future__ import annotations

from .chain import Appended
from .chain import mask
from .chain import record
from .checkpoints import CheckpointSignatureError
from .checkpoints import CheckpointSigner
from .checkpoints import KeyUnavailable
from .context import Origin
from .context import bind
from .events import ActorType
from .events import EventType
from .events import Outcome
from .sealer import seal
from .search import AuditRecord
from .search import UnknownCitizen
from .search import search
from .verify import Problem
from .verify import Report
from .verify import verify

__all__ = [
    "ActorType",
    "Appended",
    "AuditRecord",
    "CheckpointSignatureError",
    "CheckpointSigner",
    "EventType",
    "KeyUnavailable",
    "Origin",
    "Outcome",
    "Problem",
    "Report",
    "UnknownCitizen",
    "bind",
    "mask",
    "record",
    "seal",
    "search",
    "verify",
]
