"""Operating the provider: `idp serve`, `idp demo`, `idp db upgrade`, gunicorn.conf.py.

The embedded store must refuse a second process rather than silently split sessions
between workers (issue 2, "Production configuration"), and say so in one line.
Processes are real subprocesses here: the refusal is about processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from conftest import PG_URL
from conftest import REDIS_URL
from conftest import TEST_MASTER_KEY
from ports import free_port
from sqlalchemy import create_engine
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from idp.cli import main
from idp.commands.demo import DEMO_CLIENT_ID
from idp.commands.demo import DEMO_ID_NUMBER
from idp.commands.demo import DEMO_PASSWORD
from idp.commands.demo import demo_client_secret

ROOT = Path(__file__).resolve().parent.parent
IDP = str(Path(sys.executable).parent / "idp")
GUNICORN = str(Path(sys.executable).parent / "gunicorn")
REFUSAL = "the embedded store serves one process; set REDIS_URL"


def env(**values: str) -> dict[str, str]:
    """This environment without any provider configuration, plus ``values``."""
    names = {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "WEB_CONCURRENCY", "IDP_CONFIG_FILE"}
    clean = {k: v for k, v in os.environ.items() if k not in names and not k.startswith("IDP_")}
    return {**clean, **values}


def wait_for(url: str, proc: subprocess.Popen[str], timeout: float = 30) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"server exited with {proc.returncode}:\n{out}\n{err}")
        try:
            return requests.get(url, timeout=2, allow_redirects=False)
        except requests.ConnectionError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    # SIGTERM, what a process manager sends. (SIGINT may be ignored: a job started in the
    # background of a non-interactive shell, as a CI runner may do, inherits SIG_IGN.)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def postgres_chosen() -> bool:
    return "postgres" in os.environ.get("IDP_TEST_BACKENDS", "sqlite,postgres")


def test_serve_refuses_several_workers_on_the_embedded_store(monkeypatch, tmp_path):
    for name in ("REDIS_URL", "IDP_REDIS_URL", "IDP_CONFIG_FILE", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDP_INSTANCE_PATH", str(tmp_path))

    result = CliRunner().invoke(main, ["serve", "--workers", "2"])

    assert result.exit_code != 0
    assert REFUSAL in result.output
    assert not (tmp_path / "ephemeral.lock").exists(), "refused before building an app"


def test_gunicorn_conf_refuses_several_workers_in_the_master(tmp_path):
    """The Dockerfile's command on the embedded store: one line, no worker tracebacks."""
    proc = subprocess.run(
        [GUNICORN, "--config", "gunicorn.conf.py", "--workers", "3", "idp:create_app()"],
        cwd=ROOT,
        env=env(IDP_INSTANCE_PATH=str(tmp_path), PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 1
    assert f"Error: refusing to start: {REFUSAL} to run 3 workers" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Booting worker" not in proc.stderr


def test_second_process_on_the_same_embedded_store_is_refused(tmp_path):
    from idp.store.memory_store import MemoryStore

    lock = tmp_path / "ephemeral.lock"
    MemoryStore(lock_path=str(lock))  # this process now holds the instance

    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from idp.store.memory_store import MemoryStore; "
            "MemoryStore(lock_path=sys.argv[1])",
            str(lock),
        ],
        env=env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode != 0
    assert "SingleProcessViolation" in proc.stderr
    assert "serves one process only" in proc.stderr


def test_operator_commands_run_beside_a_server_holding_the_instance(tmp_path):
    """Operator commands serve no sessions: they must not need the serving lock."""
    from idp.store.memory_store import MemoryStore

    MemoryStore(lock_path=str(tmp_path / "ephemeral.lock"))  # as a running `idp serve`

    proc = subprocess.run(
        [IDP, "demo"],
        env=env(IDP_INSTANCE_PATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_forked_child_does_not_inherit_the_instance_lock(tmp_path):
    """A worker forked from a process holding the lock must not pass as its holder."""
    import os

    from idp.store.memory_store import MemoryStore
    from idp.store.memory_store import SingleProcessViolation

    lock = str(tmp_path / "ephemeral.lock")
    MemoryStore(lock_path=lock)
    pid = os.fork()
    if pid == 0:  # child: a fresh store on the same instance must be refused
        try:
            MemoryStore(lock_path=lock)
        except SingleProcessViolation:
            os._exit(0)
        os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_demo_seeds_idempotently(app):
    from idp.authn.citizens import find_by_id_number
    from idp.extensions import db
    from idp.models import Citizen
    from idp.models import OAuthClient
    from idp.models import RegistryEntry
    from idp.oauth import hashing
    from idp.oauth.clients import SECRET_PURPOSE

    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--portal-url", "http://localhost:5001"])
    second = runner.invoke(args=["demo", "--portal-url", "http://localhost:5001"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "Demo data created." in first.output
    assert "Demo data already present." in second.output
    for shown in (DEMO_ID_NUMBER, DEMO_PASSWORD, DEMO_CLIENT_ID, "http://localhost:5001/"):
        assert shown in second.output
    assert db.session.scalar(select(func.count()).select_from(Citizen)) == 1
    assert db.session.scalar(select(func.count()).select_from(RegistryEntry)) == 1
    # The demo portal and the government app (a native client, issue 5).
    assert db.session.scalar(select(func.count()).select_from(OAuthClient)) == 2
    citizen = find_by_id_number(DEMO_ID_NUMBER)
    assert citizen is not None and citizen.name == "王小明"
    # The demo citizen has an address of household registration, from the registry row.
    assert citizen.address is not None and citizen.address["locality"] == "东城区"
    registry = db.session.scalars(select(RegistryEntry)).one()
    assert registry.address == citizen.address
    client = db.session.get(OAuthClient, DEMO_CLIENT_ID)
    assert "address" in client.scope.split()
    assert client.redirect_uris == ["http://localhost:5001/callback"]
    assert client.post_logout_redirect_uris == ["http://localhost:5001/"]
    assert client.first_party is False
    secret = demo_client_secret()
    assert f"client_secret    {secret}" in second.output
    assert hashing.matches(SECRET_PURPOSE, secret, client.client_secret_hash)


def test_demo_refuses_under_production(app):
    app.config["IDP_ENV"] = "production"

    result = app.test_cli_runner().invoke(args=["demo"])

    assert result.exit_code != 0
    assert "refusing under IDP_ENV=production" in result.output


def test_serve_demo_runs_provider_and_portal_from_nothing(tmp_path):
    """The newcomer's one command: empty instance, migrations applied, demo seeded,
    provider and portal answering, the portal's sign-in going to the provider."""
    port, portal_port = free_port(), free_port()
    proc = subprocess.Popen(
        [IDP, "serve", "--demo", "--port", str(port), "--demo-port", str(portal_port)],
        env=env(IDP_INSTANCE_PATH=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        health = wait_for(f"http://127.0.0.1:{port}/healthz", proc)
        home = wait_for(f"http://127.0.0.1:{portal_port}/", proc)
        login = requests.get(
            f"http://127.0.0.1:{portal_port}/login", allow_redirects=False, timeout=10
        )
    finally:
        out, err = stop(proc)

    assert health.status_code == 200, err
    assert home.status_code == 200 and 'id="sign-in"' in home.text
    assert login.status_code == 302, err
    assert login.headers["Location"].startswith(f"http://localhost:{port}/authorize?")
    assert "code_challenge_method=S256" in login.headers["Location"]
    assert DEMO_ID_NUMBER in out and DEMO_CLIENT_ID in out
    assert (tmp_path / "idp.sqlite3").exists()
    assert proc.returncode == 0, err


# How each server says a worker started (granian logs to stdout, gunicorn to stderr).
WORKER_STARTED = {"granian": "Started worker-", "gunicorn": "Booting worker"}


@pytest.mark.skipif(not postgres_chosen(), reason="IDP_TEST_BACKENDS leaves out postgres")
@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_on_postgres_and_redis_needs_upgrade_then_runs_workers(tmp_path, server):
    """Either server: refuses an outdated schema, runs two forked workers, keeps query
    strings (login_hint carries an ID number) out of its access log, stops on SIGTERM."""
    schema = f"serve_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    config = env(
        DATABASE_URL=f"{PG_URL}?options=-csearch_path%3D{schema}",
        REDIS_URL=REDIS_URL,
        IDP_REDIS_PREFIX=f"idp-test-{schema}:",
        IDP_MASTER_KEY=TEST_MASTER_KEY,
        IDP_INSTANCE_PATH=str(tmp_path),
        IDP_SERVER=server,
    )
    port = free_port()
    serve = [IDP, "serve", "--workers", "2", "--port", str(port)]
    hint = "11010519491231002X"
    try:
        behind = subprocess.run(serve, env=config, capture_output=True, text=True, timeout=60)
        upgrade = subprocess.run(
            [IDP, "db", "upgrade"], env=config, capture_output=True, text=True, timeout=60
        )
        proc = subprocess.Popen(
            serve, env=config, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            health = wait_for(f"http://127.0.0.1:{port}/healthz", proc)
            hinted = requests.get(
                f"http://127.0.0.1:{port}/authorize?client_id=x&login_hint={hint}", timeout=10
            )
        finally:
            out, err = stop(proc)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    assert behind.returncode == 1
    assert "run `idp db upgrade` first" in behind.stderr
    assert upgrade.returncode == 0, upgrade.stderr
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": "ok", "ephemeral_store": "ok"}
    assert hinted.status_code == 400
    assert (out + err).count(WORKER_STARTED[server]) == 2
    assert "/authorize" in out + err  # the access log has the request, not its query
    assert hint not in out + err and "login_hint" not in out + err
    assert "Traceback" not in out + err
    assert proc.returncode == 0
