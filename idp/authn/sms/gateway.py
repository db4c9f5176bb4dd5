"""Sending text messages: the ``SmsGateway`` interface and its implementations.

- ``HttpSmsGateway`` (``IDP_SMS_GATEWAY = "http"``): production. One HTTPS ``POST`` of
  JSON to ``IDP_SMS_GATEWAY_URL`` with ``Authorization: Bearer IDP_SMS_GATEWAY_TOKEN``::

      POST /send HTTP/1.1
      Authorization: Bearer <token>
      Content-Type: application/json

      {"phone": "+8613800138000", "text": "..."}

  Any 2xx answer means the gateway accepted the message; anything else, a timeout
  (``IDP_SMS_GATEWAY_TIMEOUT``) or a refused connection raises ``SmsDeliveryFailed``.
  Redirects are not followed (the bearer token must not travel to another host).
  The provider sends through it on a background thread (``BackgroundSmsGateway``): a
  sign-in page answers in the same time whether or not a text was sent, so timing does
  not tell who has an account, and a slow gateway never holds a web worker.
- ``OutboxSmsGateway`` (``"outbox"``): development and tests. Messages are kept in the
  ephemeral store for ``IDP_TTL_SMS_CODE`` seconds, where tests and the demo's outbox
  page read them. Production refuses it (``idp._check_production``).
- ``NullSmsGateway`` (``"none"``): sends nothing, for deployments without SMS.

No phone number, text or code is ever logged: errors carry the gateway's status or the
exception's class only.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any
from typing import Protocol

import requests
from flask import Flask
from flask import current_app

from ...errors import IdpError
from ...store.base import EphemeralStore

log = logging.getLogger(__name__)

EXTENSION_KEY = "idp.sms_gateway"
OUTBOX = "sms-outbox"
OUTBOX_INDEX = "sms-outbox-index"
OUTBOX_SEQ = "sms-outbox-seq"
OUTBOX_LIMIT = 200  # messages the outbox page lists


class SmsDeliveryFailed(IdpError):
    public = "The text message could not be sent. Try again later."


class SmsGateway(Protocol):
    def send(self, *, phone: str, text: str) -> None:
        """Hand one message to the carrier; raises SmsDeliveryFailed."""


class HttpSmsGateway:
    def __init__(
        self,
        *,
        url: str,
        token: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        if not url:
            raise ValueError("IDP_SMS_GATEWAY_URL is not set")
        self.url = url
        self._token = token
        self.timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:  # never the token
        return f"<HttpSmsGateway {self.url}>"

    def send(self, *, phone: str, text: str) -> None:
        try:
            response = self._session.post(
                self.url,
                json={"phone": phone, "text": text},
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            reason = type(exc).__name__  # never the URL with its query, nor the body
            raise SmsDeliveryFailed(detail=f"SMS gateway unreachable: {reason}") from None
        if not 200 <= response.status_code < 300:
            raise SmsDeliveryFailed(detail=f"SMS gateway answered {response.status_code}")


@dataclass(frozen=True)
class OutboxMessage:
    id: str
    phone: str
    text: str
    sent_at: int
    seq: int = 0  # order of sending (several texts may share a second)


class OutboxSmsGateway:
    """Keeps messages in the ephemeral store (never for production: they hold codes)."""

    def __init__(self, store: EphemeralStore, *, ttl: int) -> None:
        self._store = store
        self._ttl = ttl

    def send(self, *, phone: str, text: str) -> None:
        message_id = secrets.token_urlsafe(12)
        seq = self._store.incr(OUTBOX_SEQ, "all", self._ttl)
        value = {
            "id": message_id,
            "phone": phone,
            "text": text,
            "sent_at": int(time.time()),
            "seq": seq,
        }
        self._store.put(OUTBOX, message_id, value, self._ttl)
        self._store.index_add(OUTBOX_INDEX, "all", message_id, self._ttl)

    def messages(self, *, phone: str | None = None) -> list[OutboxMessage]:
        """Messages still kept, newest first (optionally for one phone)."""
        found = []
        for message_id in self._store.index_members(OUTBOX_INDEX, "all"):
            data = self._store.get(OUTBOX, message_id)
            if data is None:
                self._store.index_remove(OUTBOX_INDEX, "all", message_id)
                continue
            if phone is None or data["phone"] == phone:
                found.append(OutboxMessage(**data))
        found.sort(key=lambda m: (m.sent_at, m.seq), reverse=True)
        return found[:OUTBOX_LIMIT]


class BackgroundSmsGateway:
    """Sends through ``inner`` on worker threads; failures are logged (without the
    phone or the text), never raised to the page that asked for the code."""

    def __init__(self, inner: SmsGateway, *, workers: int = 4) -> None:
        self.inner = inner
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sms")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def send(self, *, phone: str, text: str) -> None:
        future = self._executor.submit(self._deliver, phone, text)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(self, phone: str, text: str) -> None:
        try:
            self.inner.send(phone=phone, text=text)
        except SmsDeliveryFailed as exc:
            log.warning("SMS not delivered: %s", exc.detail)
        except Exception as exc:  # a worker thread has nobody else to tell
            log.error("SMS not delivered: unexpected %s", type(exc).__name__)

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the messages handed over so far (tests, shutdown)."""
        with self._lock:
            pending = set(self._pending)
        wait(pending, timeout=timeout)


class NullSmsGateway:
    def send(self, *, phone: str, text: str) -> None:
        raise SmsDeliveryFailed(detail="no SMS gateway is configured")


def build_gateway(app: Flask) -> SmsGateway:
    cfg = app.config
    kind = cfg["IDP_SMS_GATEWAY"]
    if kind == "http":
        http = HttpSmsGateway(
            url=str(cfg["IDP_SMS_GATEWAY_URL"] or ""),
            token=str(cfg["IDP_SMS_GATEWAY_TOKEN"] or ""),
            timeout=float(cfg["IDP_SMS_GATEWAY_TIMEOUT"]),
        )
        return BackgroundSmsGateway(http)
    if kind == "outbox":
        store: EphemeralStore = app.extensions["idp.store"]
        return OutboxSmsGateway(store, ttl=int(cfg["IDP_TTL_SMS_CODE"]))
    if kind == "none":
        return NullSmsGateway()
    raise ValueError(f"unknown IDP_SMS_GATEWAY {kind!r}: use http, outbox or none")


def current_gateway() -> SmsGateway:
    """The application's gateway, built on first use (tests may replace it)."""
    app: Any = current_app._get_current_object()  # type: ignore[attr-defined]
    gateway: SmsGateway | None = app.extensions.get(EXTENSION_KEY)
    if gateway is None:
        gateway = app.extensions.setdefault(EXTENSION_KEY, build_gateway(app))
    return gateway


def outbox() -> OutboxSmsGateway | None:
    """The outbox, when it is the gateway in use (development and tests)."""
    gateway = current_gateway()
    return gateway if isinstance(gateway, OutboxSmsGateway) else None


__all__ = [
    "BackgroundSmsGateway",
    "HttpSmsGateway",
    "NullSmsGateway",
    "OutboxMessage",
    "OutboxSmsGateway",
    "SmsDeliveryFailed",
    "SmsGateway",
    "current_gateway",
    "outbox",
]
