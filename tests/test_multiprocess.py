"""Production mode: several processes share all state through PostgreSQL and Redis.

Two independent `idp serve` servers (gunicorn: one with two workers, one with one) run
on the machine's PostgreSQL and Redis. A citizen's browser and a portal alternate
between them at every step: authorize on A, sign in on B, consent on A, exchange the
code on B, UserInfo on A, refresh on B, replay the code on A. Cookies are per host, not
per port, so the browser's session travels with it, as behind a load balancer.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from ports import free_port
from sqlalchemy import create_engine
from sqlalchemy import text

from tests.conftest import PG_URL
from tests.conftest import REDIS_URL
from tests.conftest import TEST_MASTER_KEY

IDP = str(Path(sys.executable).parent / "idp")
REDIRECT = "https://portal.example.gov/callback"

pytestmark = pytest.mark.skipif(
    "postgres" not in os.environ.get("IDP_TEST_BACKENDS", "sqlite,postgres"),
    reason="needs the PostgreSQL + Redis backend",
)


def _wait_healthy(url: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    schema = f"mp_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    port_a, port_b = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"{PG_URL}?options=-csearch_path%3D{schema}",
        "REDIS_URL": REDIS_URL,
        "IDP_REDIS_PREFIX": f"idp-mp-{schema}:",
        "IDP_MASTER_KEY": TEST_MASTER_KEY,
        "IDP_ISSUER": f"http://127.0.0.1:{port_a}",
        "IDP_COOKIE_SECURE": "false",
        "IDP_INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
    }
    run = dict(env=env, capture_output=True, text=True, timeout=120, check=True)
    subprocess.run([IDP, "db", "upgrade"], **run)
    subprocess.run([IDP, "demo", "--portal-url", "https://portal.example.gov"], **run)
    created = subprocess.run(
        [
            IDP,
            "clients",
            "create",
            "--name",
            "Housing portal",
            "--redirect-uri",
            REDIRECT,
            "--scope",
            "openid profile offline_access",
            "--first-party",
            "--json",
        ],
        **run,
    )
    client = json.loads(created.stdout)
    procs = [
        subprocess.Popen(
            [IDP, "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for port, workers in ((port_a, 2), (port_b, 1))
    ]
    try:
        a, b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        _wait_healthy(a, procs[0])
        _wait_healthy(b, procs[1])
        yield {"a": a, "b": b, "client_id": client["client_id"], "secret": client["client_secret"]}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _on(base: str, location: str) -> str:
    """The same path on another server, as a load balancer would route it."""
    parts = urlsplit(location)
    return base + parts.path + (f"?{parts.query}" if parts.query else "")


def test_a_whole_sign_in_alternating_between_two_servers(cluster):
    from idp.commands.demo import DEMO_ID_NUMBER
    from idp.commands.demo import DEMO_PASSWORD

    a, b = cluster["a"], cluster["b"]
    browser = requests.Session()
    portal = requests.Session()
    auth = (cluster["client_id"], cluster["secret"])

    # Authorize on A: parked as an interaction in Redis.
    response = browser.get(
        a + "/authorize",
        params={
            "response_type": "code",
            "client_id": cluster["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid profile offline_access",
            "state": "s1",
            "nonce": "n1",
        },
        allow_redirects=False,
    )
    assert response.status_code in (302, 303)
    # The login page and the sign-in itself on B.
    location = response.headers["Location"]
    while "/login/" not in location:
        response = browser.get(_on(b, location), allow_redirects=False)
        location = response.headers["Location"]
    page = browser.get(_on(b, location))
    response = browser.post(
        _on(b, location),
        data={
            "csrf_token": _csrf(page.text),
            "id_number": DEMO_ID_NUMBER,
            "password": DEMO_PASSWORD,
        },
        allow_redirects=False,
    )
    assert response.status_code in (302, 303), response.text[:500]
    # Resume (first-party: no consent page) on A, which issues the code.
    response = browser.get(_on(a, response.headers["Location"]), allow_redirects=False)
    callback = response.headers["Location"]
    assert callback.startswith(REDIRECT)
    query = parse_qs(urlsplit(callback).query)
    assert query["state"] == ["s1"]
    assert query["iss"] == [a]
    code = query["code"][0]

    # The portal exchanges the code on B and reads UserInfo on A.
    tokens = portal.post(
        b + "/token",
        auth=auth,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    userinfo = portal.get(
        a + "/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert userinfo.status_code == 200
    assert userinfo.json()["name"]

    # Refresh on B; the code replayed on A is refused and revokes what it produced.
    refreshed = portal.post(
        b + "/token",
        auth=auth,
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
    )
    assert refreshed.status_code == 200, refreshed.text
    replay = portal.post(
        a + "/token",
        auth=auth,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    introspected = portal.post(
        b + "/introspect", auth=auth, data={"token": refreshed.json()["access_token"]}
    )
    assert introspected.json() == {"active": False}

    # The browser's SSO session is seen by both servers: a second portal visit on B
    # needs no sign-in.
    again = browser.get(
        b + "/authorize",
        params={
            "response_type": "code",
            "client_id": cluster["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "s2",
        },
        allow_redirects=False,
    )
    while not again.headers["Location"].startswith(REDIRECT):
        again = browser.get(_on(a, again.headers["Location"]), allow_redirects=False)
    assert "code=" in again.headers["Location"]
