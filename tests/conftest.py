"""Shared fixtures. Every test that uses ``app`` runs twice: on the embedded backend
(SQLite file + in-process store) and on the production backend (the machine's real
PostgreSQL + Redis). The schema comes from the Alembic migrations, never create_all.

Each test session gets its own PostgreSQL schema and Redis key prefix, so parallel runs
on one machine do not collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from collections.abc import Iterator
from datetime import UTC
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = uuid.uuid4().hex[:10]
# A fixed test master key: tests are reproducible and never touch instance/master.key.
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0wMDAwMDAwMA"

# Demo citizen used across tests: a valid GB 11643 number (checksum correct).
CITIZEN_ID_NUMBER = "11010519491231002X"
CITIZEN_PASSWORD = "correct horse battery staple"


def _backend_params() -> list[str]:
    chosen = os.environ.get("IDP_TEST_BACKENDS", "sqlite,postgres")
    return [b.strip() for b in chosen.split(",") if b.strip()]


@pytest.fixture(scope="session", params=_backend_params())
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """(name, base config) with the schema migrated once for the whole session."""
    name = request.param
    if name == "sqlite":
        path = tmp_path_factory.mktemp("db") / "idp.sqlite3"
        config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "IDP_REDIS_URL": None}
        yield name, config
        return
    # A schema per instance of this fixture: pytest-xdist can tear a parametrized
    # session fixture down and build it again as a worker alternates files.
    schema = f"t_{RUN_ID}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    config = {
        "SQLALCHEMY_DATABASE_URI": url,
        "IDP_REDIS_URL": REDIS_URL,
        "IDP_REDIS_PREFIX": f"idp-test-{RUN_ID}:",
    }
    try:
        yield name, config
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


_migrated: set[str] = set()  # database URIs already migrated (one per backend instance)


def make_app(backend: Any, **overrides: Any) -> Any:
    from idp import create_app

    _, base = backend
    config = {
        "TESTING": True,
        "IDP_MASTER_KEY": TEST_MASTER_KEY,
        "IDP_ISSUER": "http://localhost",
        "IDP_COOKIE_SECURE": False,
        "SERVER_NAME": "localhost",
        "PREFERRED_URL_SCHEME": "http",
        **base,
        **overrides,
    }
    app = create_app(config)
    uri = str(base["SQLALCHEMY_DATABASE_URI"])
    if uri not in _migrated:
        from flask_migrate import upgrade

        with app.app_context():
            upgrade()
        _migrated.add(uri)
    return app


def _reset(app: Any) -> None:
    from idp.extensions import db

    with app.app_context():
        db.session.remove()
        tables = [t for t in reversed(db.metadata.sorted_tables)]
        from audit_helpers import around_append_only

        with db.engine.begin() as conn, around_append_only(conn):
            for table in tables:
                conn.execute(table.delete())
        db.engine.dispose()
        store = app.extensions["idp.store"]
        if hasattr(store, "clear"):
            store.clear()


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a module to change the configuration of ``app``."""
    return {}


def _fresh_g() -> None:
    """The fixture keeps one app context open for the whole test (so tests can query
    the database), and Flask reuses it for test-client requests: without this, ``g``
    (Flask-Babel's locale, Flask-WTF's CSRF token) would leak between requests."""
    from flask import g

    g.__dict__.clear()


@pytest.fixture
def app(backend: Any, app_config: dict[str, Any]) -> Iterator[Any]:
    app = make_app(backend, **app_config)
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_g)
    with app.app_context():
        yield app
    _reset(app)


@pytest.fixture
def http(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def store(app: Any) -> Any:
    return app.extensions["idp.store"]


@pytest.fixture
def other(app: Any, backend: Any) -> Iterator[Any]:
    """A second instance of the provider on the same database and the same store:
    another process, with caches (clients, keys) of its own."""
    from oidc_helpers import fresh_requests

    from idp.extensions import db

    second = make_app(backend)
    second.extensions["idp.store"] = app.extensions["idp.store"]
    fresh_requests(second)
    yield second
    with second.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def citizen(app: Any) -> Any:
    """A registered citizen with a password (ID number CITIZEN_ID_NUMBER)."""
    from idp.authn.citizens import create_citizen

    return create_citizen(
        id_number=CITIZEN_ID_NUMBER,
        name="张三",
        phone="+8613800138000",
        password=CITIZEN_PASSWORD,
    )


@pytest.fixture
def rp(app: Any) -> Any:
    """A confidential portal (client_secret_basic) not marked first-party.

    Returns an object with ``client`` (the model), ``client_id``, ``secret`` and
    ``redirect_uri``.
    """
    from idp.oauth.clients import register_client

    client, secret = register_client(
        name="Tax portal",
        department="Tax Bureau",
        redirect_uris=["https://tax.example.gov/callback"],
        post_logout_redirect_uris=["https://tax.example.gov/bye"],
        auth_method="client_secret_basic",
        scope="openid profile phone offline_access",
    )
    return _Rp(
        client=client,
        client_id=client.client_id,
        secret=secret,
        redirect_uri="https://tax.example.gov/callback",
    )


class _Rp:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


@pytest.fixture
def login(app: Any, http: Any, citizen: Any) -> Callable[..., Any]:
    """Plant an SSO session for ``citizen`` in the test client's cookie jar, as
    oidc-provider's tests do: the protocol tests do not drive a login page."""
    from idp.authn import sessions
    from idp.authn.assurance import level_for
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    def plant(
        *,
        amr: tuple[str, ...] = ("pwd",),
        acr: str | None = None,
        auth_time: datetime | None = None,
        who: Any = None,
    ) -> Any:
        methods = tuple(Amr(m) for m in amr)
        result = AuthResult(
            citizen_id=(who or citizen).id,
            methods=methods,
            acr=Acr(acr) if acr else level_for(methods),
            channel=Channel.WEBSITE,
            auth_time=auth_time or datetime.now(UTC),
        )
        session, cookie = sessions.start(
            app.extensions["idp.store"],
            result=result,
            lifetime=app.config["IDP_TTL_SSO_SESSION"],
            idle=app.config["IDP_TTL_SSO_IDLE"],
        )
        http.set_cookie(app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
        return session

    return plant


# --- headless Chromium (Debian's, never a downloaded one), for the browser tests -------------

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000


@pytest.fixture
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (scripts/services.sh chromium), "
            "set IDP_TEST_CHROMIUM, or deselect with -m 'not e2e'"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()
