"""The identity provider. ``create_app`` is the only place an application is built."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module
from .cryptosuite import parse_suite
from .errors import ConfigurationError
from .extensions import babel
from .extensions import csrf
from .extensions import db
from .keyring import decode_master_key
from .keyring import keyring_from_master
from .keyring import load_or_create_dev_master

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: Mapping[str, Any] | None = None, *, serving: bool = False) -> Flask:
    """The application. ``serving``: for a server's workers, which never migrate nor run
    operator commands, so Flask-Migrate and the CLI commands are not loaded (memory)."""
    from .web.machinery import Provider

    app = Provider(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("IDP_INSTANCE_PATH") or str(ROOT / "instance"),
    )
    app.config.from_object(config_module.DefaultConfig)
    if os.environ.get("IDP_CONFIG_FILE"):
        app.config.from_pyfile(os.environ["IDP_CONFIG_FILE"])
    app.config.update(config_module.from_environment())
    if overrides:
        app.config.update(overrides)

    _check_production(app)
    _init_secrets(app)
    _init_database(app)
    if not serving:
        init_migrations(app)
    _init_store(app)

    csrf.init_app(app)
    from .web.i18n import select_locale

    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )

    from .web import register_web

    register_web(app)

    import adapters

    adapters.register_adapters(app)

    if not serving:
        from .cli import register_cli

        register_cli(app)
    _init_proxies(app)
    from .web.metadata_wsgi import init_metadata_documents

    init_metadata_documents(app)
    return app


def _init_proxies(app: Flask) -> None:
    """Behind N trusted proxies, take the client address and scheme from the headers
    they append; without this every client would share the load balancer's address."""
    hops = int(app.config["IDP_TRUSTED_PROXIES"])
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _check_production(app: Flask) -> None:
    """Dev-only defaults refuse to start under IDP_ENV=production."""
    cfg = app.config
    if cfg["IDP_ENV"] != "production":
        return
    problems = []
    if not cfg.get("IDP_MASTER_KEY"):
        problems.append("IDP_MASTER_KEY is not set")
    if not cfg.get("SQLALCHEMY_DATABASE_URI") or cfg["SQLALCHEMY_DATABASE_URI"].startswith(
        "sqlite"
    ):
        problems.append("DATABASE_URL must point at PostgreSQL")
    if not cfg.get("IDP_REDIS_URL"):
        problems.append("REDIS_URL is not set")
    if not cfg["IDP_COOKIE_SECURE"]:
        problems.append("IDP_COOKIE_SECURE cannot be off")
    if not str(cfg["IDP_ISSUER"]).startswith("https://"):
        problems.append("IDP_ISSUER must be an https URL")
    if cfg.get("IDP_FEATURE_DEMO_PORTAL"):
        problems.append("IDP_FEATURE_DEMO_PORTAL must be off")
    # SMS codes: the outbox keeps texts (codes included) readable in the store.
    sms_gateway = cfg.get("IDP_SMS_GATEWAY")
    if sms_gateway == "outbox":
        problems.append('IDP_SMS_GATEWAY cannot be "outbox" (use "http", or "none")')
    elif cfg.get("IDP_FEATURE_SMS_LOGIN") and sms_gateway != "http":
        problems.append('IDP_FEATURE_SMS_LOGIN needs IDP_SMS_GATEWAY "http"')
    if sms_gateway == "http":
        if not str(cfg.get("IDP_SMS_GATEWAY_URL") or "").startswith("https://"):
            problems.append("IDP_SMS_GATEWAY_URL must be an https URL")
        if not cfg.get("IDP_SMS_GATEWAY_TOKEN"):
            problems.append("IDP_SMS_GATEWAY_TOKEN is not set")
    # WebAuthn binds credentials to the origin; an http one would be phishable.
    webauthn_origin = cfg.get("IDP_WEBAUTHN_ORIGIN")
    if webauthn_origin and not str(webauthn_origin).startswith("https://"):
        problems.append("IDP_WEBAUTHN_ORIGIN must be an https origin")
    # Back-channel logout must never be pointed at internal addresses in production.
    if cfg.get("IDP_BACKCHANNEL_ALLOW_LOCAL"):
        problems.append("IDP_BACKCHANNEL_ALLOW_LOCAL cannot be on")
    if cfg.get("IDP_ALLOW_PRIVATE_FETCH"):
        problems.append("IDP_ALLOW_PRIVATE_FETCH must be off")
    if problems:
        raise ConfigurationError("refusing to start in production: " + "; ".join(problems))


def _init_secrets(app: Flask) -> None:
    if app.config.get("IDP_MASTER_KEY"):
        master = decode_master_key(str(app.config["IDP_MASTER_KEY"]))
    else:
        master = load_or_create_dev_master(app.instance_path)
    try:
        suite = parse_suite(app.config.get("IDP_CRYPTO_SUITE"))
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    keyring = keyring_from_master(master, suite=suite)
    app.extensions["idp.keyring"] = keyring
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = keyring.flask_secret
    app.config["SESSION_COOKIE_SECURE"] = bool(app.config["IDP_COOKIE_SECURE"])


def _init_database(app: Flask) -> None:
    uri = app.config.get("SQLALCHEMY_DATABASE_URI")
    if not uri:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{Path(app.instance_path) / 'idp.sqlite3'}"
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri.removeprefix("postgres://")
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    from . import models  # noqa: F401 - registers the tables with the metadata

    db.init_app(app)
    from .audit import sealer

    sealer.init_app(app)  # links audit records into the chain off the request path
    if uri.startswith("sqlite"):
        from sqlalchemy import event

        with app.app_context():

            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.close()


def init_migrations(app: Flask) -> None:
    """Bind Flask-Migrate (``idp db ...``, ``flask_migrate.upgrade``) to ``app``."""
    from flask_migrate import Migrate

    from .extensions import db

    Migrate(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)


def _init_store(app: Flask) -> None:
    url = app.config.get("IDP_REDIS_URL")
    if url:
        from .store.redis_store import RedisStore

        app.extensions["idp.store"] = RedisStore(url, prefix=app.config["IDP_REDIS_PREFIX"])
    else:
        from .store.memory_store import MemoryStore

        wants_lock = app.config["IDP_EMBEDDED_STORE_LOCK"] and not app.testing
        lock = str(Path(app.instance_path) / "ephemeral.lock") if wants_lock else None
        app.extensions["idp.store"] = MemoryStore(lock_path=lock)
