"""The SMS gateway interface: the HTTP implementation against a real HTTP server on
127.0.0.1 (no mocked ``requests``), the background sender, the outbox, and the
production checks."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import TEST_MASTER_KEY
from webforms import open_login
from webforms import post_form
from webforms import prepare

from idp.authn.sms.gateway import BackgroundSmsGateway
from idp.authn.sms.gateway import HttpSmsGateway
from idp.authn.sms.gateway import OutboxSmsGateway
from idp.authn.sms.gateway import SmsDeliveryFailed
from idp.authn.sms.gateway import current_gateway
from idp.errors import ConfigurationError
from idp.store.memory_store import MemoryStore

PHONE = "+8613800138000"
TOKEN = "gateway-token-0123456789"


class Gateway:
    """A stand-in SMS gateway: a real HTTP server that records what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 202
        self.delay = 0.0
        self.location: str | None = None
        self.arrived = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                gateway.received.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length) or b"null"),
                    }
                )
                if gateway.delay:
                    time.sleep(gateway.delay)
                self.send_response(gateway.status)
                if gateway.location:
                    self.send_header("Location", gateway.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                gateway.arrived.set()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with Gateway() as running:
        yield running


# --- HttpSmsGateway ------------------------------------------------------------------------


def test_posts_json_with_the_bearer_token(gateway: Gateway) -> None:
    HttpSmsGateway(url=gateway.url, token=TOKEN).send(phone=PHONE, text="您的验证码 123456")
    (request,) = gateway.received
    assert request["path"] == "/v1/sms"
    assert request["authorization"] == f"Bearer {TOKEN}"
    assert request["content_type"] == "application/json"
    assert request["body"] == {"phone": PHONE, "text": "您的验证码 123456"}


@pytest.mark.parametrize("status", [400, 401, 429, 500, 503])
def test_a_refusal_raises_our_own_error_without_the_message(gateway: Gateway, status: int) -> None:
    gateway.status = status
    with pytest.raises(SmsDeliveryFailed) as failed:
        HttpSmsGateway(url=gateway.url, token=TOKEN).send(phone=PHONE, text="code 123456")
    assert str(status) in failed.value.detail
    for secret in (PHONE, "123456", TOKEN):
        assert secret not in failed.value.detail and secret not in str(failed.value)


def test_a_redirect_is_not_followed(gateway: Gateway) -> None:
    """The bearer token must not travel to wherever a redirect points."""
    with Gateway() as elsewhere:
        gateway.status = 307
        gateway.location = elsewhere.url
        with pytest.raises(SmsDeliveryFailed):
            HttpSmsGateway(url=gateway.url, token=TOKEN).send(phone=PHONE, text="x")
        assert elsewhere.received == []


def test_a_slow_gateway_times_out(gateway: Gateway) -> None:
    gateway.delay = 2.0
    started = time.monotonic()
    with pytest.raises(SmsDeliveryFailed) as failed:
        HttpSmsGateway(url=gateway.url, token=TOKEN, timeout=0.5).send(phone=PHONE, text="x")
    assert time.monotonic() - started < 1.8
    assert "Timeout" in failed.value.detail


def test_an_unreachable_gateway_raises_our_own_error() -> None:
    with Gateway() as closed:
        url = closed.url
    with pytest.raises(SmsDeliveryFailed) as failed:
        HttpSmsGateway(url=url, token=TOKEN, timeout=1).send(phone=PHONE, text="x")
    assert "ConnectionError" in failed.value.detail


def test_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(HttpSmsGateway(url="https://sms.example/v1", token=TOKEN))


# --- background sending and the outbox ------------------------------------------------------


def test_background_sending_answers_at_once_and_logs_failures_without_secrets(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway.delay = 0.5
    gateway.status = 503
    sender = BackgroundSmsGateway(HttpSmsGateway(url=gateway.url, token=TOKEN))
    started = time.monotonic()
    sender.send(phone=PHONE, text="code 654321")
    assert time.monotonic() - started < 0.3
    sender.flush()
    assert len(gateway.received) == 1
    assert "SMS not delivered" in caplog.text and "503" in caplog.text
    for secret in (PHONE, "654321", TOKEN):
        assert secret not in caplog.text


def test_the_outbox_keeps_messages_newest_first_for_a_while() -> None:
    box = OutboxSmsGateway(MemoryStore(), ttl=1)
    box.send(phone=PHONE, text="first")
    box.send(phone="+8613900139000", text="other")
    box.send(phone=PHONE, text="second")
    assert [m.text for m in box.messages(phone=PHONE)] == ["second", "first"]
    assert len(box.messages()) == 3
    time.sleep(1.2)
    assert box.messages() == []


# --- through the sign-in page, with the HTTP gateway ----------------------------------------


@pytest.fixture
def app_config(gateway: Gateway) -> dict[str, Any]:
    return {
        "IDP_SMS_GATEWAY": "http",
        "IDP_SMS_GATEWAY_URL": gateway.url,
        "IDP_SMS_GATEWAY_TOKEN": TOKEN,
    }


def test_sign_in_with_a_code_from_the_http_gateway(
    app: Any, http: Any, citizen: Any, gateway: Gateway
) -> None:
    prepare(app)
    assert isinstance(current_gateway(), BackgroundSmsGateway)
    path, _html = open_login(http)
    uid = path.split("/")[2]
    page = http.get(f"/login/{uid}/sms").get_data(as_text=True)
    assert (
        post_form(http, f"/login/{uid}/sms", page, id_number=CITIZEN_ID_NUMBER).status_code == 303
    )
    assert gateway.arrived.wait(10)
    (request,) = gateway.received
    assert request["body"]["phone"] == PHONE
    code = re.search(r"\b(\d{6})\b", request["body"]["text"]).group(1)  # type: ignore[union-attr]
    code_page = http.get(f"/login/{uid}/sms/code").get_data(as_text=True)
    response = post_form(http, f"/login/{uid}/sms/code", code_page, code=code)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/interaction/{uid}/resume")


def test_a_gateway_failure_is_not_shown_to_the_page(
    app: Any, http: Any, citizen: Any, gateway: Gateway
) -> None:
    """Saying "could not send" only for numbers with a phone would tell who has one."""
    prepare(app)
    gateway.status = 500
    path, _html = open_login(http)
    uid = path.split("/")[2]
    page = http.get(f"/login/{uid}/sms").get_data(as_text=True)
    response = post_form(http, f"/login/{uid}/sms", page, id_number=CITIZEN_ID_NUMBER)
    assert response.status_code == 303
    assert gateway.arrived.wait(10)


# --- production refuses the outbox -----------------------------------------------------------


def _production(**overrides: Any) -> None:
    from idp import create_app

    create_app(
        {
            "IDP_ENV": "production",
            "IDP_MASTER_KEY": TEST_MASTER_KEY,
            "SQLALCHEMY_DATABASE_URI": "postgresql://idp@db/idp",
            "IDP_REDIS_URL": "redis://127.0.0.1:6379/0",
            "IDP_ISSUER": "https://id.example.gov",
            "IDP_COOKIE_SECURE": True,
            **overrides,
        }
    )


def test_production_refuses_the_outbox() -> None:
    with pytest.raises(ConfigurationError, match='IDP_SMS_GATEWAY cannot be "outbox"'):
        _production(IDP_SMS_GATEWAY="outbox")


def test_production_needs_an_https_gateway_with_a_token() -> None:
    with pytest.raises(ConfigurationError) as refused:
        _production(IDP_SMS_GATEWAY="http", IDP_SMS_GATEWAY_URL="http://sms.example/v1")
    assert "IDP_SMS_GATEWAY_URL must be an https URL" in str(refused.value)
    assert "IDP_SMS_GATEWAY_TOKEN is not set" in str(refused.value)
    with pytest.raises(ConfigurationError, match="IDP_FEATURE_SMS_LOGIN"):
        _production(IDP_SMS_GATEWAY="none")


def test_production_accepts_an_https_gateway_or_no_sms() -> None:
    from idp import _check_production

    class App:
        config: dict[str, Any] = {
            "IDP_ENV": "production",
            "IDP_MASTER_KEY": TEST_MASTER_KEY,
            "SQLALCHEMY_DATABASE_URI": "postgresql://idp@db/idp",
            "IDP_REDIS_URL": "redis://cache:6379/0",
            "IDP_ISSUER": "https://id.example.gov",
            "IDP_COOKIE_SECURE": True,
            "IDP_FEATURE_SMS_LOGIN": True,
            "IDP_SMS_GATEWAY": "http",
            "IDP_SMS_GATEWAY_URL": "https://sms.example.gov/v1/send",
            "IDP_SMS_GATEWAY_TOKEN": TOKEN,
        }

    _check_production(App())  # type: ignore[arg-type]
    App.config.update(IDP_FEATURE_SMS_LOGIN=False, IDP_SMS_GATEWAY="none")
    _check_production(App())  # type: ignore[arg-type]
