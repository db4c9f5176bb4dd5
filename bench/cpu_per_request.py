"""In-process CPU and SQL statements per request, for A/B comparisons on a noisy machine.

    .venv/bin/python bench/cpu_per_request.py [--n 300] [--cases userinfo,flow]

Creates a PostgreSQL schema of its own (``DATABASE_URL``, default the test database),
migrates and seeds it as ``bench/run.py`` does, then drives each case ``--n`` times
through ``app.test_client()`` in this one process and prints, per request (per flow
for ``flow``): the Python CPU (``time.process_time``, this process only: PostgreSQL and
Redis are not in it) and the SQL statements sent. No HTTP server, no concurrency: it
measures the work on the request path, not lock waits (the bench does those).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

# IDP_SOURCE: another checkout of idp to measure (A/B against a commit), this script's by default.
ROOT = Path(os.environ.get("IDP_SOURCE") or Path(__file__).resolve().parent.parent)
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
REDIRECT_URI = "https://portal.example/cb"
CASES = ("cc_opaque", "cc_jwt", "introspection", "userinfo", "flow")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--profile", action="store_true", help="cProfile each case (top 25)")
    parser.add_argument("--sql", action="store_true", help="print each case's statements once")
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    import psycopg

    tag = secrets.token_hex(4)
    schema = f"cpu_{tag}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        run(args, schema, tag)
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def run(args: argparse.Namespace, schema: str, tag: str) -> None:
    sep = "&" if "?" in args.database_url else "?"
    os.environ.update(
        {
            "DATABASE_URL": f"{args.database_url}{sep}options=-csearch_path%3D{schema}",
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "IDP_REDIS_PREFIX": f"idp-cpu-{tag}:",
            "IDP_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "IDP_ISSUER": "http://localhost",
            "IDP_COOKIE_SECURE": "false",
            "IDP_LOG_LEVEL": "WARNING",
            "IDP_INSTANCE_PATH": f"/tmp/idp-cpu-{tag}",
        }
    )
    idp = str(Path(sys.executable).parent / "idp")
    kw = {"env": os.environ, "capture_output": True, "text": True, "cwd": ROOT, "check": True}
    subprocess.run([idp, "db", "upgrade"], **kw)  # type: ignore[call-overload]
    seeded = subprocess.run(  # type: ignore[call-overload]
        [sys.executable, str(ROOT / "bench/seed.py"), "--citizens", "1"]
        + ["--redirect-uri", REDIRECT_URI],
        **kw,
    )
    data = json.loads(seeded.stdout)
    from sqlalchemy import event

    from idp import create_app
    from idp.extensions import db

    app = create_app()
    statements = [0]
    shown = [False]

    def count(conn, cursor, statement, *rest):  # type: ignore[no-untyped-def]
        statements[0] += 1
        if shown[0]:
            print("   ", " ".join(statement.split())[:200])

    def commit(conn):  # type: ignore[no-untyped-def]
        if shown[0]:
            print("    COMMIT")

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        event.listen(db.engine, "commit", commit)
    http = app.test_client()
    citizen = data["citizens"][0]
    client = next(c for c in data["clients"] if c["alg"] == "ES256")
    cc = {s["format"]: s for s in data["service_clients"]}
    auth = basic(client["client_id"], client["client_secret"])

    def authorize() -> tuple[str, str, str]:
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        state = b64url(secrets.token_bytes(9))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client["client_id"],
                "redirect_uri": REDIRECT_URI,
                "scope": data["scope"],
                "state": state,
                "nonce": b64url(secrets.token_bytes(9)),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"/authorize?{query}", verifier, state

    def code_from(location: str, state: str) -> str:
        query = parse_qs(urlsplit(location).query)
        assert query.get("state") == [state], location
        return query["code"][0]

    def exchange(code: str, verifier: str) -> dict[str, str]:
        response = http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            headers=auth,
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        tokens: dict[str, str] = response.get_json()
        return tokens

    # Sign in once (password form), keep the session cookie.
    target, verifier, state = authorize()
    response = http.get(target, follow_redirects=True)
    page = response.get_data(as_text=True)
    from loadgen import login_form

    action, hidden = login_form(page)
    response = http.post(
        action,
        data={**hidden, "id_number": citizen["id_number"], "password": citizen["password"]},
    )
    while response.status_code in (302, 303) and not response.location.startswith(REDIRECT_URI):
        response = http.get(response.location)
    assert response.location, (response.status_code, response.get_data(as_text=True)[:800])
    code = code_from(response.location, state)
    access_token = exchange(code, verifier)["access_token"]

    def flow() -> None:
        target, verifier, state = authorize()
        response = http.get(target)
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        exchange(code_from(response.location, state), verifier)

    def userinfo() -> None:
        r = http.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})
        assert r.status_code == 200, r.get_data(as_text=True)

    def introspection() -> None:
        r = http.post("/introspect", data={"token": access_token}, headers=auth)
        assert r.status_code == 200 and r.get_json()["active"], r.get_data(as_text=True)

    def client_credentials(fmt: str) -> None:
        s = cc[fmt]
        r = http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": s["scope"]},
            headers=basic(s["client_id"], s["client_secret"]),
        )
        assert r.status_code == 200, r.get_data(as_text=True)

    cases = {
        "cc_opaque": lambda: client_credentials("opaque"),
        "cc_jwt": lambda: client_credentials("jwt"),
        "introspection": introspection,
        "userinfo": userinfo,
        "flow": flow,
    }
    for name in args.cases.split(","):
        case = cases[name]
        for _ in range(20):  # warm-up: caches, compiled statements
            case()
        if args.sql:
            shown[0] = True
            case()
            shown[0] = False
        statements[0] = 0
        start = time.process_time()
        for _ in range(args.n):
            case()
        cpu = (time.process_time() - start) / args.n
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(args.n):
                case()
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(
                "idp/|flask_sqlalchemy|orm/session.py", 45
            )
        print(f"{name:14s} {cpu * 1000:7.2f} ms CPU  {statements[0] / args.n:5.1f} SQL statements")
    try:
        from idp.audit import sealer

        sealer.stop_worker(app)
    except ImportError:
        pass


if __name__ == "__main__":
    main()
