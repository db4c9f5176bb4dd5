"""`idp serve`: run the provider, and with ``--demo`` the demo portal beside it.

Two ways to serve, chosen by where ephemeral state lives:

- **Embedded default** (no ``REDIS_URL``): one process, werkzeug's threaded server. The
  in-process store serves one process only, so ``--workers`` above 1 is refused. On SQLite
  the Alembic migrations are applied at start, so a fresh checkout needs no setup step.
- **Production** (``REDIS_URL`` set): ``--workers`` processes with ``IDP_THREADS``
  threads each, under gunicorn's gthread worker (the default, the same settings as
  ``gunicorn.conf.py``; chosen by measurement: see ``DEFAULT_SERVER``) or granian's
  WSGI mode (``IDP_SERVER=granian``). Either way the app is built once in the main
  process and the workers are forks of it. Migrations are *not* applied: run
  ``idp db upgrade`` as a release step; the server refuses to start on an outdated
  schema (checked in a forked child, so the server never loads Alembic).

The same preflight runs as gunicorn's ``on_starting`` hook (in ``gunicorn.conf.py``), so
``gunicorn -w 4`` on the embedded store stops in the master with one clear line instead
of four workers failing to boot.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from flask import Config
from flask import Flask
from werkzeug.serving import WSGIRequestHandler
from werkzeug.serving import make_server

from .. import config as config_module
from ..errors import ConfigurationError
from ..store.memory_store import SingleProcessViolation

log = logging.getLogger(__name__)
access_log = logging.getLogger("idp.access")

EMBEDDED_STORE_REFUSAL = (
    "the embedded store serves one process; set REDIS_URL to run {workers} workers "
    "(or run one worker)"
)

EMBEDDED_STORE_PRELOAD = (
    "--preload would fork the embedded store into the workers; set REDIS_URL or drop --preload"
)

# gunicorn defaults shared by `idp serve` and gunicorn.conf.py.
GUNICORN_DEFAULTS: dict[str, Any] = {
    "worker_class": "gthread",
    "threads": 4,
    "timeout": 30,
    "graceful_timeout": 30,
    "keepalive": 5,
    "accesslog": "-",
    "errorlog": "-",
    # %(U)s is the path without the query string: /authorize carries login_hint, state
    # and nonce, and an ID number must never reach a log (DESIGN.md "Privacy").
    "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
    # Each worker builds its own app: no database or Redis socket crosses a fork.
    "preload_app": False,
    # gunicorn 27's runtime control socket (~/.gunicorn/gunicorn.ctl): unused here, and
    # several servers of one user on one host would share its path. Older gunicorn
    # versions lack the setting; it is applied only where it exists.
    "control_socket_disable": True,
}


def configured() -> Config:
    """The configuration ``create_app`` would see, without building an app.

    Mirrors the layers of ``idp.create_app`` (defaults, IDP_CONFIG_FILE, environment), so
    a gunicorn master can decide before any worker (and any store) exists.
    """
    # Root path as create_app's Flask(__name__): a relative IDP_CONFIG_FILE resolves alike.
    cfg = Config(str(Path(config_module.__file__).resolve().parent))
    cfg.from_object(config_module.DefaultConfig)
    if os.environ.get("IDP_CONFIG_FILE"):
        cfg.from_pyfile(os.environ["IDP_CONFIG_FILE"])
    cfg.update(config_module.from_environment())
    return cfg


def is_explicit(key: str) -> bool:
    """Whether the deployment set ``key`` (file or environment), not just the default."""
    return configured().get(key) != getattr(config_module.DefaultConfig, key)


def uses_embedded_store(cfg: Config | None = None) -> bool:
    return not (cfg or configured()).get("IDP_REDIS_URL")


def multiprocess_refusal(workers: int) -> str | None:
    if workers > 1 and uses_embedded_store():
        return EMBEDDED_STORE_REFUSAL.format(workers=workers)
    return None


def pending_migrations(app: Flask) -> bool:
    """True when the database schema is behind the newest Alembic revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate

    from ..extensions import db

    migrate: Migrate = app.extensions["migrate"].migrate
    with app.app_context():
        script = ScriptDirectory.from_config(migrate.get_config())
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
        db.engine.dispose()
    return current != set(script.get_heads())


def schema_behind_checked_apart() -> bool:
    """``pending_migrations`` of a full app (Flask-Migrate, Alembic) built in a forked
    child, so the serving process never loads them (about 12 MiB per process, shared by
    every worker it forks). Raises ConfigurationError with the child's message; any
    other failure (the database may come up later) is logged and counts as not behind."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: check, report, and leave without running any cleanup
        os.close(read_end)
        code, message = 0, b""
        try:
            from .. import create_app

            code = 1 if pending_migrations(create_app()) else 0
        except ConfigurationError as exc:
            code, message = 2, str(exc).encode()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            code, message = 3, f"{type(exc).__name__}: {exc}".encode()
        os.write(write_end, message[:4000])
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code == 2:
        raise ConfigurationError(message)
    if code not in (0, 1):
        log.warning("could not check the schema version before start: %s", message)
    return code == 1


def is_sqlite(app: Flask) -> bool:
    return str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite")


def upgrade_embedded(app: Flask) -> None:
    """Apply migrations on SQLite (the embedded default); production runs ``idp db upgrade``."""
    if not is_sqlite(app):
        return
    from flask_migrate import upgrade

    with _logging_kept(), app.app_context():
        upgrade()


@contextlib.contextmanager
def _logging_kept() -> Iterator[None]:
    """migrations/env.py runs logging.config.fileConfig, which replaces the root handlers
    and disables every logger that already exists; a server keeps logging afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    loggers = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    disabled = {logger.name: logger.disabled for logger in loggers}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for logger in loggers:
            logger.disabled = disabled[logger.name]


def gunicorn_on_starting(server: Any) -> None:
    """gunicorn ``on_starting`` hook: runs once in the master before any worker forks.

    Raising RuntimeError here makes gunicorn print ``Error: <message>`` and exit 1.
    """
    configure_logging()
    problem = multiprocess_refusal(int(server.cfg.workers))
    if problem:
        raise RuntimeError(f"refusing to start: {problem}")
    if uses_embedded_store() and server.cfg.preload_app:
        # The master built the app (and its store) before this hook; workers would be forks.
        raise RuntimeError(f"refusing to start: {EMBEDDED_STORE_PRELOAD}")
    if uses_embedded_store():
        # Building an app here would take the single-process lock in the master; the one
        # worker checks its own configuration when it builds the app.
        return
    try:
        behind = schema_behind_checked_apart()
    except ConfigurationError as exc:
        raise RuntimeError(str(exc)) from None
    if behind:
        raise RuntimeError(
            "refusing to start: the database schema is behind this release; "
            "run `idp db upgrade` first"
        )


def configure_logging() -> None:
    level = os.environ.get("IDP_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


class _PathOnlyHandler(WSGIRequestHandler):
    """Request log lines without the query string (it can carry login_hint and codes)."""

    label = "idp"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path
        access_log.info(
            '%s [%s] "%s %s" %s %s',
            self.address_string(),
            self.label,
            self.command,
            path,
            code,
            size,
        )


def _handler(label: str) -> type[WSGIRequestHandler]:
    return type(f"{label.title()}Handler", (_PathOnlyHandler,), {"label": label})


def threaded_server(host: str, port: int, app: Any, *, label: str) -> Any:
    """A werkzeug threaded server, bound now (so the port is known) and served later."""
    try:
        return make_server(host, port, app, threaded=True, request_handler=_handler(label))
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port} for {label}: {exc}") from None


# The WSGI server of `idp serve` (IDP_SERVER), chosen by measurement (issue 7,
# bench/RESULTS.md section 3b). granian's WSGI mode costs less CPU outside the app (its
# HTTP handling is Rust, off the GIL): 4 times gunicorn's discovery requests per
# CPU-second, twice its JWKS. On the endpoints that wait for PostgreSQL (flows, token,
# introspection, UserInfo) the CPU per request was the same, and granian needs 8 threads
# per worker to keep a sign-in flood from parking them all, where its p99 was 1.2-3
# times gunicorn's (token p99 590-690 ms against 230-520) with 15 MiB more PSS. The hot
# path decides: gunicorn gthread stays the default; IDP_SERVER=granian is supported.
SERVERS = ("gunicorn", "granian")
DEFAULT_SERVER = "gunicorn"
# Python threads per worker process when IDP_THREADS is unset, per server. granian
# needs more than gunicorn: a password sign-in holds its thread while it waits for the
# hashing pool, and with 2-4 threads a sign-in flood left the token requests of a
# worker queued for seconds (p99 2.4-5.3 s); with 8 they fared as under gunicorn's 4.
DEFAULT_THREADS = {"granian": 8, "gunicorn": 4}


def server_choice() -> str:
    """``IDP_SERVER`` (granian or gunicorn), the default when unset."""
    chosen = (os.environ.get("IDP_SERVER") or DEFAULT_SERVER).strip().lower()
    if chosen not in SERVERS:
        raise click.ClickException(
            f"IDP_SERVER must be one of {', '.join(SERVERS)}, not {chosen!r}"
        )
    return chosen


def worker_model(server: str = "gunicorn") -> dict[str, Any]:
    """``IDP_WORKER_CLASS`` and ``IDP_THREADS`` from the environment over the defaults
    (the same variables gunicorn.conf.py reads), and preloading.

    With Redis the app is built once in the master and the workers are forks of it
    (``preload_app``): the code and data of every imported library are shared
    copy-on-write instead of loaded once per worker (issue 7: the provider's processes
    together should use no more memory than the peer). ``gunicorn_pre_fork`` freezes the
    objects so the collector does not copy them, ``gunicorn_post_fork`` drops any
    database connection a worker would otherwise share with the master. With the
    embedded store there is nothing to fork into (one process), so no preload.
    """
    return {
        "worker_class": os.environ.get("IDP_WORKER_CLASS") or GUNICORN_DEFAULTS["worker_class"],
        "threads": int(os.environ.get("IDP_THREADS") or DEFAULT_THREADS[server]),
        "preload_app": not uses_embedded_store(),
        "pre_fork": gunicorn_pre_fork,
        "post_fork": gunicorn_post_fork,
    }


def gunicorn_pre_fork(server: Any, worker: Any) -> None:
    """gunicorn ``pre_fork`` (in the master): the preloaded objects move to the permanent
    generation, so no worker's collector writes to (and so copies) their pages."""
    gc.freeze()


def gunicorn_post_fork(server: Any, worker: Any) -> None:
    """gunicorn ``post_fork`` (in the new worker): a preloaded app's engines forget the
    master's pooled connections (SQLAlchemy's documented recipe, ``close=False``: the
    master keeps its own). Redis clients reconnect by themselves after a fork."""
    if not server.cfg.preload_app:
        return
    app = server.app.wsgi()
    from ..extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def _serve_gunicorn(host: str, port: int, workers: int) -> None:
    from gunicorn.app.base import BaseApplication

    class _Provider(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            settings = {
                **GUNICORN_DEFAULTS,
                **worker_model(),
                "bind": f"{host}:{port}",
                "workers": workers,
                "on_starting": gunicorn_on_starting,
            }
            for key, value in settings.items():
                if key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            from .. import create_app

            return create_app(serving=True)

    _Provider().run()


GRANIAN_ACCESS_FORMAT = '%(addr)s "%(method)s %(path)s" %(status)d %(dt_ms).1fms'


def _serve_granian(host: str, port: int, workers: int) -> None:
    """granian's WSGI mode: the app is built (and the schema checked) once here, and the
    workers are forks of this process, as with gunicorn's preload."""
    from granian.constants import Interfaces
    from granian.server import Server

    from .. import create_app

    threads = worker_model("granian")["threads"]
    try:
        if schema_behind_checked_apart():
            raise _fail("the database schema is behind this release; run `idp db upgrade` first")
        app = create_app(serving=True)
    except ConfigurationError as exc:
        raise _fail(str(exc)) from None
    gc.freeze()

    def loader(_target: str) -> Flask:
        # In the forked worker: forget the master's pooled connections (close=False).
        from ..extensions import db

        with app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
        return app

    Server(
        "idp:create_app",
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        log_access=True,
        log_access_format=GRANIAN_ACCESS_FORMAT,
        workers_kill_timeout=int(GUNICORN_DEFAULTS["graceful_timeout"]),
    ).serve(target_loader=loader)


def _fail(message: str) -> click.ClickException:
    return click.ClickException(f"refusing to start: {message}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=5000, show_default=True, type=int, envvar="PORT", help="Provider port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="WEB_CONCURRENCY",
    help="Worker processes (needs REDIS_URL when above 1).",
)
@click.option(
    "--demo",
    is_flag=True,
    help="Seed the demo citizen and portal, and serve the demo portal on --demo-port.",
)
@click.option("--demo-port", default=5001, show_default=True, type=int, help="Demo portal port.")
def serve(host: str, port: int, workers: int, demo: bool, demo_port: int) -> None:
    """Run the provider.

    With no configuration: the embedded default (SQLite file under instance/, in-process
    store, migrations applied automatically) in one process. With REDIS_URL: gunicorn
    (or granian: IDP_SERVER) with --workers processes; run `idp db upgrade` first.
    """
    configure_logging()
    problem = multiprocess_refusal(workers)
    if problem:
        raise _fail(problem)
    if demo and workers > 1:
        raise _fail("--demo runs the provider and the demo portal in one process; drop --workers")
    if not demo and not uses_embedded_store():
        if server_choice() == "granian":
            _serve_granian(host, port, workers)
            return
        _serve_gunicorn(host, port, workers)
        return
    _serve_single_process(host, port, demo=demo, demo_port=demo_port)


def _dev_overrides(port: int, *, demo: bool) -> dict[str, Any]:
    """Defaults for serving on a laptop over http, each only if the deployment left it unset."""
    overrides: dict[str, Any] = {}
    if not is_explicit("IDP_ISSUER"):
        overrides["IDP_ISSUER"] = f"http://localhost:{port}"
    issuer = overrides.get("IDP_ISSUER") or configured()["IDP_ISSUER"]
    if not is_explicit("IDP_COOKIE_SECURE") and not str(issuer).startswith("https://"):
        # Plain-http local development only; production refuses this combination.
        overrides["IDP_COOKIE_SECURE"] = False
    if demo:
        overrides["IDP_FEATURE_DEMO_PORTAL"] = True
    return overrides


def _serve_single_process(host: str, port: int, *, demo: bool, demo_port: int) -> None:
    from .. import create_app

    try:
        app = create_app(_dev_overrides(port, demo=demo))
    except (ConfigurationError, SingleProcessViolation) as exc:
        # SingleProcessViolation: another `idp serve` (or CLI command) holds this instance.
        raise click.ClickException(str(exc)) from None
    upgrade_embedded(app)
    if not is_sqlite(app) and pending_migrations(app):
        raise _fail("the database schema is behind this release; run `idp db upgrade` first")

    issuer = app.config["IDP_ISSUER"]
    servers = [threaded_server(host, port, app, label="idp")]
    if demo:
        from .demo import demo_portal_url
        from .demo import print_demo
        from .demo import seed_demo

        portal_url = demo_portal_url(demo_port)
        with app.app_context():
            info = seed_demo(portal_url=portal_url)
        from demo.portal import create_portal

        portal = create_portal(
            issuer=issuer,
            client_id=info.client_id,
            client_secret=info.client_secret,
            base_url=portal_url,
        )
        servers.append(threaded_server(host, demo_port, portal, label="portal"))
        print_demo(info, issuer=issuer)

    store = "in-process store" if uses_embedded_store() else "Redis"
    click.echo(
        f"idp: provider on {issuer} (listening {host}:{port}; {_db_label(app)}, {store}; "
        "one process). Ctrl+C stops.",
        err=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly under a process manager too
    for extra in servers[1:]:
        threading.Thread(target=extra.serve_forever, name="demo-portal", daemon=True).start()
    try:
        servers[0].serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        for server in servers:
            server.server_close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _db_label(app: Flask) -> str:
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("sqlite:///"):
        return f"SQLite {Path(uri.removeprefix('sqlite:///'))}"
    return uri.split("://", 1)[0]
