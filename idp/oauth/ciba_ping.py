"""CIBA ping notifications (CIBA Core 1.0 section 10.2) through the back-channel outbox.

https://openid.net/specs/openid-client-initiated-backchannel-authentication-core-1_0.html#rfc.section.10.2

In ping mode the OP POSTs ``{"auth_req_id": ...}`` to the client's
``backchannel_client_notification_endpoint`` with ``Authorization: Bearer
<client_notification_token>`` "after a successful or failed end-user authentication"
(the spec's words for ping mode); the client then calls ``/token``. A request that
simply expires is not named there; the OpenID certification tests allow (not require)
a ping then, and we send one, so a ping-mode client never has to poll to learn it: it
hears ``expired_token`` (section 11).

A ping-mode request owes its client exactly one ping, so ``queue`` writes one outbox row
(``BackchannelDelivery``, kind ``ciba_ping``) when the request is made, due at its
expiry. Expiry needs no sweep: the row simply falls due, and the delivery worker (whose
wait shortens to the next due row) or ``idp backchannel deliver`` sends it. When the
citizen decides first, ``due_now`` moves the same row to now (reason ``decision``);
when the client already had a final answer from ``/token`` (it may poll in ping mode
too), ``cancel`` drops a row not yet tried. Retries, backoff, abandonment, listing and
purging are the logout notices' (``idp.oauth.backchannel_delivery``). A ping may so
arrive long after the request expired (``retry_horizon``: about 76 minutes with the
default backoff); the request is kept that long past its expiry, so the client's
``/token`` call on it hears ``expired_token`` (or, refused, ``access_denied``), not
``invalid_grant``.

The notification token is a bearer credential the client gave us, and the
``auth_req_id`` one half of what redeems the grant: both are kept only sealed
(``idp.ids.protect.seal``, AES-256-GCM or SM4-GCM bound to the row id) and the blob is
dropped when the ping is delivered or abandoned.
"""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import update
from sqlalchemy.sql import ColumnElement

from ..extensions import db
from ..ids.protect import UnsealError
from ..ids.protect import seal
from ..ids.protect import unseal
from ..keyring import Keyring
from ..models import BackchannelDelivery
from ..models import OAuthClient
from ..models._types import new_id
from . import backchannel
from . import backchannel_delivery as delivery

KIND = "ciba_ping"
REASON_EXPIRY = "expiry"  # due when the auth_req_id expires
REASON_DECISION = "decision"  # the citizen approved or refused: due at once


def _keyring() -> Keyring:
    keyring: Keyring = current_app.extensions["idp.keyring"]
    return keyring


def _context(row_id: str) -> str:
    # Associated data: a blob copied into another row does not open.
    return f"ciba-ping/{row_id}"


def queue(*, client_id: str, auth_req_id: str, token: str, expires_at: int) -> str:
    """Record the ping owed for a new ping-mode request, due when it expires; the row
    id, kept with the request. The worker is woken so its wait ends at that expiry."""
    row_id = new_id()
    secret = json.dumps({"auth_req_id": auth_req_id, "token": token})
    db.session.add(
        BackchannelDelivery(
            id=row_id,
            kind=KIND,
            client_id=client_id,
            reason=REASON_EXPIRY,
            created_at=datetime.now(UTC),
            attempts=0,
            next_attempt_at=datetime.fromtimestamp(expires_at, UTC),
            secret_enc=seal(_keyring(), secret, context=_context(row_id)),
        )
    )
    db.session.commit()
    delivery.wake()
    return row_id


def retry_horizon() -> int:
    """How long after it falls due a ping may still be delivered (the outbox's retries):
    the request it names keeps its ``expired_token`` answer at least that long."""
    return delivery.retry_horizon()


def _untried(row_id: str) -> list[ColumnElement[bool]]:
    # Never attempted (so not in flight either: claiming counts the attempt first).
    return [
        BackchannelDelivery.id == row_id,
        BackchannelDelivery.kind == KIND,
        BackchannelDelivery.attempts == 0,
        BackchannelDelivery.delivered_at.is_(None),
        BackchannelDelivery.abandoned_at.is_(None),
    ]


def due_now(row_id: str) -> bool:
    """The citizen decided: the ping is due now (and the worker woken). A ping already
    tried (the request expired first) is left to its retries: it says the same."""
    result = db.session.execute(
        update(BackchannelDelivery)
        .where(*_untried(row_id))
        .values(next_attempt_at=datetime.now(UTC), reason=REASON_DECISION)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    moved = int(getattr(result, "rowcount", 0) or 0) == 1
    if moved:
        delivery.wake()
    return moved


def cancel(row_id: str) -> None:
    """The client already has its final answer from ``/token``: a ping not yet tried is
    no longer owed (it would only lead to ``invalid_grant``)."""
    db.session.execute(
        delete(BackchannelDelivery)
        .where(*_untried(row_id))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def prepare(item: delivery.Claimed) -> delivery.Send:
    """The POST for a claimed ping (``backchannel_delivery.attempt``)."""
    client = db.session.get(OAuthClient, item.client_id)
    url = client.backchannel_client_notification_endpoint if client else None
    if (
        client is None
        or client.disabled_at is not None
        or client.backchannel_token_delivery_mode != "ping"
        or not url
        or not current_app.config["IDP_FEATURE_CIBA"]
    ):
        raise delivery.Undeliverable("the client no longer takes CIBA pings")
    row = db.session.get(BackchannelDelivery, item.id)
    try:
        if row is None or row.secret_enc is None:
            raise UnsealError("no sealed ping")
        secret = json.loads(unseal(_keyring(), row.secret_enc, context=_context(item.id)))
    except UnsealError:
        raise delivery.Undeliverable("the ping's token cannot be opened") from None
    payload = {"auth_req_id": str(secret["auth_req_id"])}
    bearer = str(secret["token"])
    timeout = float(current_app.config["IDP_BACKCHANNEL_TIMEOUT"])
    local_ok = backchannel.allow_local()
    return lambda: delivery.post_json(
        url, payload, bearer=bearer, timeout=timeout, local_ok=local_ok
    )
