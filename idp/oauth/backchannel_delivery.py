"""The back-channel outbox: delivering logout tokens (OpenID Connect Back-Channel Logout
1.0 section 2.5 and 2.8) and CIBA pings (``idp.oauth.ciba_ping``, CIBA Core 1.0 10.2).

https://openid.net/specs/openid-connect-backchannel-1_0.html#BCRequest

Section 2.5: "The OP sends an HTTP POST request to the RP's back-channel logout URI"
with the form parameter ``logout_token``. Section 2.8: "If the logout succeeded, the RP
MUST respond with HTTP 200 OK" and OPs "should be prepared to also process an HTTP 204
No Content response as a successful response". Anything else (a 400 included: a portal
whose JWKS cache is stale refuses a valid token until it refreshes) is retried with
exponential backoff, ``IDP_BACKCHANNEL_RETRY_BASE`` doubling up to
``IDP_BACKCHANNEL_RETRY_MAX``, until ``IDP_BACKCHANNEL_MAX_ATTEMPTS`` attempts; then the
notice is abandoned (kept, with its last error). Each attempt signs a fresh token, so a
retry never carries an expired one.

Section 3 notes that "the RP's back-channel logout URI must be reachable from all the OPs
used"; for the provider that is a server-side request to a URL a portal chose, so
``post_logout_token`` resolves the host, refuses any address that is not global
(loopback, private, link-local, shared, reserved, multicast) unless local delivery is
allowed (outside production), and connects to the address it checked (no second DNS
answer can swap in an internal one), with TLS verified against the host name, short
timeouts and no redirects.

Claiming is safe with several processes: ``deliver_due`` selects due rows with
``FOR UPDATE SKIP LOCKED`` on PostgreSQL (two workers never wait on or take the same
row) and claims each with a compare-and-set on ``attempts`` that also moves
``next_attempt_at`` past the attempt (a lease: a worker that dies mid-attempt leaves
the row to be retried after it). SQLite has no row locks; the compare-and-set alone
keeps one process and the ``idp backchannel deliver`` command apart.

The worker (``Worker``) runs in each serving process: a daemon thread woken by new
notices and otherwise polling every ``IDP_BACKCHANNEL_POLL`` seconds (or sooner, when
the next row falls due: a CIBA ping owed at a request's expiry). The request that ended
a session only writes the outbox row; it never waits on a portal.

Each row has a ``kind`` (``logout``, ``ciba_ping``); ``attempt`` asks the kind's
``prepare`` for the HTTP call to make, and everything else (claiming, leases, backoff,
abandoning, listing, purging) is shared. A kind's ``prepare`` raises ``Undeliverable``
when the notice can never be sent (abandoned at once) or ``DeliveryRefused`` to retry.
"""

from __future__ import annotations

import json
import logging
import math
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

import certifi
import urllib3
from flask import Flask
from flask import current_app
from sqlalchemy import select
from sqlalchemy import update

from ..extensions import db
from ..models import BackchannelDelivery
from ..models import OAuthClient
from . import backchannel
from .fetch_guard import is_public_address

log = logging.getLogger(__name__)

SUCCESS = (200, 204)
USER_AGENT = "idp-backchannel-logout/1"
WORKER_KEY = "idp.backchannel.worker"
JITTER = 0.1  # a retry waits up to 10 % longer than its backoff


class DeliveryRefused(Exception):
    """The notice cannot be sent (an address not allowed, a name that does not resolve,
    a connection failure, a status other than 200/204). ``str()`` is for the outbox
    row and logs: it never holds the token."""


class Undeliverable(Exception):
    """The notice can never be sent (the client is gone, disabled or no longer listens):
    abandoned without retrying. ``str()`` is for the outbox row."""


# -- one HTTP attempt ------------------------------------------------------------------------


def _address_allowed(address: str) -> bool:
    # The same rule registration applies to literal hosts (fetch_guard).
    return is_public_address(address)


def resolve(host: str, port: int, *, local_ok: bool) -> str:
    """The address to connect to: every address the name resolves to must be allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryRefused(f"cannot resolve the host: {exc.__class__.__name__}") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise DeliveryRefused("the host has no address")
    if not local_ok:
        refused = [a for a in addresses if not _address_allowed(a)]
        if refused:
            raise DeliveryRefused("the host resolves to a non-public address")
    return addresses[0]


def post_logout_token(
    url: str, token: str, *, timeout: float, local_ok: bool, ca_certs: str | None = None
) -> int:
    """POST ``logout_token`` to ``url``; the status, or ``DeliveryRefused``.
    ``ca_certs``: the trusted roots (default: certifi's, as ``requests`` uses)."""
    return _post(
        url,
        body=urlencode({"logout_token": token}),
        content_type="application/x-www-form-urlencoded",
        timeout=timeout,
        local_ok=local_ok,
        ca_certs=ca_certs,
    )


def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    bearer: str,
    timeout: float,
    local_ok: bool,
    ca_certs: str | None = None,
) -> int:
    """POST a JSON body with ``Authorization: Bearer`` (the CIBA ping, ``idp.oauth.ciba``)
    under the same rules; the status, or ``DeliveryRefused``."""
    return _post(
        url,
        body=json.dumps(payload),
        content_type="application/json",
        timeout=timeout,
        local_ok=local_ok,
        ca_certs=ca_certs,
        authorization=f"Bearer {bearer}",
    )


def _post(
    url: str,
    *,
    body: str,
    content_type: str,
    timeout: float,
    local_ok: bool,
    ca_certs: str | None = None,
    authorization: str | None = None,
) -> int:
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    if not https and not (local_ok and host in backchannel.LOOPBACK_HOSTS):
        raise DeliveryRefused("http is allowed only on a loopback host outside production")
    port = parts.port or (443 if https else 80)
    address = resolve(host, port, local_ok=local_ok)
    pool_args: dict[str, Any] = {
        "timeout": urllib3.Timeout(connect=timeout, read=timeout),
        "retries": False,
        "maxsize": 1,
    }
    if https:
        pool_args.update(
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_certs or certifi.where(),
        )
    pool_cls = urllib3.HTTPSConnectionPool if https else urllib3.HTTPConnectionPool
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    headers = {
        "Host": parts.netloc.rsplit("@", 1)[-1],
        "Content-Type": content_type,
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if authorization:
        headers["Authorization"] = authorization
    pool = pool_cls(address, port, **pool_args)
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers=headers,
            redirect=False,
            preload_content=False,
        )
        status = int(response.status)
        response.read(4096, decode_content=False)  # the body is only for humans
        response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise DeliveryRefused(f"connection failed: {exc.__class__.__name__}") from None
    finally:
        pool.close()
    if status not in SUCCESS:
        raise DeliveryRefused(f"the portal answered HTTP {status}")
    return status


# -- the outbox ------------------------------------------------------------------------------


KIND_LOGOUT = "logout"


@dataclass(frozen=True)
class Claimed:
    id: str
    client_id: str
    subject: str | None
    sid: str | None
    attempts: int
    kind: str = KIND_LOGOUT


Send = Callable[[], object]  # one HTTP attempt; raises DeliveryRefused


@dataclass
class Summary:
    delivered: int = 0
    retrying: int = 0
    abandoned: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"delivered": self.delivered, "retrying": self.retrying, "abandoned": self.abandoned}


def _cfg(name: str) -> Any:
    return current_app.config[f"IDP_BACKCHANNEL_{name}"]


def _now() -> datetime:
    return datetime.now(UTC)


def _delay(attempts: int) -> float:
    base = float(_cfg("RETRY_BASE"))
    return min(float(_cfg("RETRY_MAX")), base * (2 ** max(0, attempts - 1)))


def _lease() -> float:
    # An attempt's claim: past its connect and read timeouts, with room to record it.
    return 2 * float(_cfg("TIMEOUT")) + 5


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: the base doubled per failure, capped,
    with up to 10 % jitter so notices failed together do not retry together."""
    return _delay(attempts) * (1 + random.random() * JITTER)


def retry_horizon() -> int:
    """The longest a notice may still be delivered after it first falls due, in whole
    seconds (rounded up): every wait between its attempts at the longest (the backoff's
    cap and jitter) and, per attempt, a lease that ran out and a worker's poll."""
    attempts = max(1, int(_cfg("MAX_ATTEMPTS")))
    waits = sum(_delay(n) * (1 + JITTER) for n in range(1, attempts))
    per_attempt = _lease() + float(_cfg("POLL"))
    return math.ceil(waits + attempts * per_attempt)


def claim(limit: int, *, exclude: frozenset[str] = frozenset()) -> list[Claimed]:
    """Claim up to ``limit`` due notices for this worker (see the module docstring),
    leaving out ``exclude`` (the ones this pass already attempted)."""
    now = _now()
    lease = now + timedelta(seconds=_lease())
    query = (
        select(BackchannelDelivery)
        .where(
            BackchannelDelivery.delivered_at.is_(None),
            BackchannelDelivery.abandoned_at.is_(None),
            BackchannelDelivery.next_attempt_at <= now,
        )
        .order_by(BackchannelDelivery.next_attempt_at)
        .limit(limit)
    )
    if exclude:
        query = query.where(BackchannelDelivery.id.not_in(exclude))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row in db.session.scalars(query).all():
        seen = int(row.attempts or 0)
        result = db.session.execute(
            update(BackchannelDelivery)
            .where(
                BackchannelDelivery.id == row.id,
                BackchannelDelivery.attempts == seen,
                BackchannelDelivery.delivered_at.is_(None),
                BackchannelDelivery.abandoned_at.is_(None),
            )
            .values(attempts=seen + 1, next_attempt_at=lease)
            .execution_options(synchronize_session=False)
        )
        if int(getattr(result, "rowcount", 0) or 0) == 1:
            claimed.append(Claimed(row.id, row.client_id, row.subject, row.sid, seen + 1, row.kind))
    db.session.commit()
    return claimed


def _finish(item: Claimed, *, error: str | None, give_up: bool = False) -> str:
    row = db.session.get(BackchannelDelivery, item.id)
    if row is None:  # the portal was deleted meanwhile
        return "abandoned"
    now = _now()
    if error is None:
        row.delivered_at, row.last_error, row.next_attempt_at = now, None, None
        row.secret_enc = None  # a kept secret (a CIBA ping's token) has done its job
        outcome = "delivered"
    elif give_up or item.attempts >= int(_cfg("MAX_ATTEMPTS")):
        row.abandoned_at, row.last_error, row.next_attempt_at = now, error[:200], None
        row.secret_enc = None
        outcome = "abandoned"
        log.warning(
            "back-channel %s to client %s abandoned after %d attempts: %s",
            item.kind,
            item.client_id,
            item.attempts,
            error,
        )
    else:
        row.last_error = error[:200]
        row.next_attempt_at = now + timedelta(seconds=backoff(item.attempts))
        outcome = "retrying"
        log.info(
            "back-channel %s to client %s failed (attempt %d), retrying: %s",
            item.kind,
            item.client_id,
            item.attempts,
            error,
        )
    db.session.commit()
    return outcome


def _prepare_logout(item: Claimed) -> Send:
    """Sign a fresh logout token for the portal (section 2.4)."""
    client = db.session.get(OAuthClient, item.client_id)
    if client is None or client.disabled_at is not None or not client.backchannel_logout_uri:
        raise Undeliverable("the portal no longer takes back-channel logout")
    url = client.backchannel_logout_uri
    try:
        token = backchannel.logout_token(client=client, subject=item.subject, sid=item.sid)
    except (LookupError, ValueError) as exc:  # no signing key for the portal's algorithm
        log.error("cannot sign a logout token for client %s: %s", item.client_id, exc)
        raise DeliveryRefused("the logout token could not be signed") from None
    timeout, local_ok = float(_cfg("TIMEOUT")), backchannel.allow_local()
    return lambda: post_logout_token(url, token, timeout=timeout, local_ok=local_ok)


def _preparer(kind: str) -> Callable[[Claimed], Send]:
    if kind == KIND_LOGOUT:
        return _prepare_logout
    from . import ciba_ping  # it builds on this module

    if kind == ciba_ping.KIND:
        return ciba_ping.prepare
    raise Undeliverable(f"unknown kind of notice {kind!r}")


def attempt(item: Claimed) -> str:
    """Prepare and send one claimed notice; "delivered", "retrying" or "abandoned"."""
    try:
        send = _preparer(item.kind)(item)
    except Undeliverable as exc:
        return _finish(item, error=str(exc), give_up=True)
    except DeliveryRefused as exc:
        return _finish(item, error=str(exc))
    db.session.commit()  # no transaction stays open while the client answers
    try:
        send()
    except DeliveryRefused as exc:
        return _finish(item, error=str(exc))
    return _finish(item, error=None)


def deliver_due(*, limit: int | None = None) -> Summary:
    """One pass: claim what is due and attempt each (in an app context)."""
    summary = Summary()
    size = int(limit or _cfg("BATCH"))
    done: set[str] = set()
    while True:
        # A notice is attempted at most once per pass, however short the backoff.
        batch = claim(size, exclude=frozenset(done))
        for item in batch:
            done.add(item.id)
            outcome = attempt(item)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
        if len(batch) < size or limit is not None:
            return summary


def seconds_until_due() -> float | None:
    """Seconds until the next pending notice is due (0 if one is), None if none."""
    when = db.session.scalar(
        select(BackchannelDelivery.next_attempt_at)
        .where(
            BackchannelDelivery.delivered_at.is_(None),
            BackchannelDelivery.abandoned_at.is_(None),
        )
        .order_by(BackchannelDelivery.next_attempt_at)
        .limit(1)
    )
    db.session.commit()
    if when is None:
        return None
    return max(0.0, (when - _now()).total_seconds())


# -- the in-process worker -------------------------------------------------------------------


class Worker:
    """A daemon thread delivering this app's due notices; ``wake`` after queueing."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._event = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="backchannel", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._event.set()

    def stop(self, timeout: float = 10) -> None:
        self._stopping = True
        self._event.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        poll = float(self.app.config["IDP_BACKCHANNEL_POLL"])
        while not self._stopping:
            wait = poll
            try:
                with self.app.app_context():
                    try:
                        deliver_due()
                        due = seconds_until_due()
                        if due is not None:
                            wait = min(poll, max(0.05, due))
                    finally:
                        db.session.remove()
            except Exception:  # the worker must outlive a database hiccup
                log.exception("back-channel worker pass failed")
            self._event.wait(wait)
            self._event.clear()


def worker_enabled(app: Flask) -> bool:
    setting = app.config.get("IDP_BACKCHANNEL_WORKER")
    if setting is None:
        return not app.testing
    return bool(setting)


def _needed(app: Flask) -> bool:
    """Something may be queued: logout notices, or CIBA pings."""
    return backchannel.enabled(app.config) or bool(app.config.get("IDP_FEATURE_CIBA"))


def ensure_worker(app: Flask) -> Worker | None:
    """Start this process's worker once (first request served, or tests)."""
    worker: Worker | None = app.extensions.get(WORKER_KEY)
    if worker is not None or not worker_enabled(app) or not _needed(app):
        return worker
    with _start_lock:
        worker = app.extensions.get(WORKER_KEY)
        if worker is None:
            worker = Worker(app)
            app.extensions[WORKER_KEY] = worker
            worker.start()
    return worker


_start_lock = threading.Lock()


def wake() -> None:
    worker: Worker | None = current_app.extensions.get(WORKER_KEY)
    if worker is not None:
        worker.wake()


def stop_worker(app: Flask) -> None:
    worker: Worker | None = app.extensions.pop(WORKER_KEY, None)
    if worker is not None:
        worker.stop()


def init_app(app: Flask) -> None:
    """Start the worker with the first request this process serves: every serving
    process (werkzeug or each gunicorn worker, after the fork) gets one; operator
    commands, which serve no requests, do not."""
    if not worker_enabled(app) or not _needed(app):
        return

    def _start_worker() -> None:
        if WORKER_KEY not in app.extensions:
            ensure_worker(app)

    app.before_request(_start_worker)
