"""The floor: CPU per flow of the least a code + PKCE flow can do on this stack.

    python bench/floor.py --n 1000

Issue 7 asks for the peer's flow rate on Flask, Authlib, SQLAlchemy and redis-py. This
measures what those libraries alone cost for one flow's essential work, with none of
idp's logic, so the gap between idp and the peer can be split into what idp's code
adds and what the stack itself costs. Two minimal apps, driven like
``bench/inprocess.py`` (Flask's test client, ``time.process_time()`` of this process,
PostgreSQL's CPU apart), each doing per flow:

- ``GET /authorize``: read the session from Redis, store a code in Redis, 302;
- ``POST /token``: parse the form, check the client secret (HMAC), take the code from
  Redis (``GETDEL``), check PKCE S256, insert the token row and one audit row, commit,
  sign an ES256 ID token, answer JSON.

``flask``: Flask routes, SQLAlchemy Core statements built once, redis-py, joserfc: the
fixed choices at their leanest. ``wsgi``: the same work as a bare WSGI callable on
psycopg and redis-py directly (no Flask, no SQLAlchemy): what leaving the framework
on the hot path would buy. Neither checks what idp checks (consent, levels, lock, client
generation, audit chain, data-release records): this is a lower bound, not a design.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

import psycopg
import redis
from joserfc import jwt
from joserfc.jwk import ECKey

CLIENT_ID = "floor-client"
SECRET = "floor-secret"
REDIRECT = "https://portal.example/cb"
ISSUER = "http://localhost"


class Store:
    """The state both apps share: Redis, a PostgreSQL schema, a signing key."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        self.schema = f"floor_{uuid.uuid4().hex[:8]}"
        self.prefix = f"floor-{uuid.uuid4().hex[:8]}:"
        self.database_url = database_url
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.key = ECKey.generate_key("P-256", parameters={"kid": "floor"})
        self.mac_key = secrets.token_bytes(32)
        self.secret_hash = self.mac(SECRET)
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.schema}"')
            conn.execute(
                f'CREATE TABLE "{self.schema}".token (id varchar(36) primary key, '
                "client_id varchar(64), citizen_id varchar(36), scope text, "
                "access_token_hash varchar(64) unique, issued_at timestamptz)"
            )
            conn.execute(
                f'CREATE TABLE "{self.schema}".audit (id bigserial primary key, '
                "at timestamptz, event varchar(40), client_id varchar(64), "
                "citizen_id varchar(36), details jsonb)"
            )
        self.session_id = secrets.token_urlsafe(24)
        self.redis.set(
            f"{self.prefix}sso:{self.session_id}",
            json.dumps({"citizen_id": str(uuid.uuid4()), "acr": "low", "amr": ["pwd"]}),
            ex=3600,
        )

    def mac(self, value: str) -> str:
        return hmac.new(self.mac_key, value.encode(), hashlib.sha256).hexdigest()

    def url(self) -> str:
        sep = "&" if "?" in self.database_url else "?"
        return f"{self.database_url}{sep}options=-csearch_path%3D{self.schema}"

    def drop(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{self.schema}" CASCADE')
        for key in self.redis.scan_iter(match=self.prefix + "*", count=500):
            self.redis.delete(key)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _authorize(store: Store, cookie: str | None, query: dict[str, list[str]]) -> str:
    raw = store.redis.get(f"{store.prefix}sso:{cookie}") if cookie else None
    if raw is None or query.get("client_id") != [CLIENT_ID]:
        raise ValueError("no session")
    session = json.loads(raw)
    code = secrets.token_urlsafe(32)
    store.redis.set(
        f"{store.prefix}code:{store.mac(code)}",
        json.dumps(
            {
                "citizen_id": session["citizen_id"],
                "challenge": query["code_challenge"][0],
                "nonce": query["nonce"][0],
                "scope": query["scope"][0],
            }
        ),
        ex=60,
    )
    return f"{query['redirect_uri'][0]}?{urlencode({'code': code, 'state': query['state'][0]})}"


def _token_work(store: Store, form: dict[str, list[str]], authorization: str) -> tuple[Any, dict]:
    client_id, _, secret = base64.b64decode(authorization.split(" ", 1)[1]).decode().partition(":")
    if client_id != CLIENT_ID or not hmac.compare_digest(store.mac(secret), store.secret_hash):
        raise ValueError("invalid_client")
    raw = store.redis.getdel(f"{store.prefix}code:{store.mac(form['code'][0])}")
    if raw is None:
        raise ValueError("invalid_grant")
    code = json.loads(raw)
    if _s256(form["code_verifier"][0]) != code["challenge"]:
        raise ValueError("invalid_grant")
    access = secrets.token_urlsafe(32)
    now = int(time.time())
    id_token = jwt.encode(
        {"alg": "ES256", "kid": "floor"},
        {
            "iss": ISSUER,
            "sub": code["citizen_id"],
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": code["nonce"],
        },
        store.key,
    )
    row = {
        "id": str(uuid.uuid4()),
        "client_id": client_id,
        "citizen_id": code["citizen_id"],
        "scope": code["scope"],
        "access_token_hash": store.mac(access),
    }
    body = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
        "scope": code["scope"],
    }
    return row, body


def flask_app(store: Store) -> Any:
    from flask import Flask
    from flask import Response
    from flask import redirect
    from flask import request
    from sqlalchemy import JSON
    from sqlalchemy import Column
    from sqlalchemy import DateTime
    from sqlalchemy import MetaData
    from sqlalchemy import String
    from sqlalchemy import Table
    from sqlalchemy import create_engine
    from sqlalchemy import func
    from sqlalchemy import insert

    engine = create_engine(
        store.url().replace("postgresql://", "postgresql+psycopg://", 1)
        + f"&application_name={store.schema}"
    )
    meta = MetaData()
    token = Table(
        "token",
        meta,
        *(Column(n, String) for n in ("id", "client_id", "citizen_id", "scope")),
        Column("access_token_hash", String),
        Column("issued_at", DateTime(timezone=True), default=func.now()),
    )
    audit = Table(
        "audit",
        meta,
        Column("at", DateTime(timezone=True), default=func.now()),
        *(Column(n, String) for n in ("event", "client_id", "citizen_id")),
        Column("details", JSON),
    )
    insert_token, insert_audit = insert(token), insert(audit)
    app = Flask(__name__)

    @app.get("/authorize")
    def authorize() -> Any:
        query = {k: request.args.getlist(k) for k in request.args}
        return redirect(_authorize(store, request.cookies.get("sso"), query), 302)

    @app.post("/token")
    def token_endpoint() -> Any:
        form = {k: request.form.getlist(k) for k in request.form}
        row, body = _token_work(store, form, request.headers["Authorization"])
        with engine.begin() as conn:
            conn.execute(insert_token, row)
            conn.execute(
                insert_audit,
                {
                    "event": "token.issue",
                    "client_id": row["client_id"],
                    "citizen_id": row["citizen_id"],
                    "details": {"scope": row["scope"]},
                },
            )
        response = Response(json.dumps(body), mimetype="application/json")
        response.headers["Cache-Control"] = "no-store"
        return response

    app.engine = engine  # type: ignore[attr-defined]
    return app


def wsgi_app(store: Store) -> Any:
    conn = psycopg.connect(store.url() + f"&application_name={store.schema}")
    token_sql = (
        "INSERT INTO token (id, client_id, citizen_id, scope, access_token_hash, issued_at) "
        "VALUES (%(id)s, %(client_id)s, %(citizen_id)s, %(scope)s, %(access_token_hash)s, now())"
    )
    audit_sql = (
        "INSERT INTO audit (at, event, client_id, citizen_id, details) "
        "VALUES (now(), 'token.issue', %(client_id)s, %(citizen_id)s, %(details)s)"
    )

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path == "/authorize":
            cookies = dict(
                part.strip().split("=", 1)
                for part in environ.get("HTTP_COOKIE", "").split(";")
                if "=" in part
            )
            query = parse_qs(environ.get("QUERY_STRING", ""))
            location = _authorize(store, cookies.get("sso"), query)
            start_response("302 Found", [("Location", location), ("Content-Length", "0")])
            return [b""]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = parse_qs(environ["wsgi.input"].read(length).decode())
        row, body = _token_work(store, form, environ["HTTP_AUTHORIZATION"])
        with conn.cursor() as cur:
            cur.execute(token_sql, row)
            cur.execute(audit_sql, {**row, "details": json.dumps({"scope": row["scope"]})})
        conn.commit()
        payload = json.dumps(body).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
                ("Content-Length", str(len(payload))),
            ],
        )
        return [payload]

    app.conn = conn  # type: ignore[attr-defined]
    return app


def run_flow(client: Any, store: Store) -> None:
    verifier = secrets.token_urlsafe(32)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": _s256(verifier),
        "code_challenge_method": "S256",
    }
    answer = client.get("/authorize?" + urlencode(query))
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    token = client.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert token.status_code == 200 and "id_token" in token.get_json(), token.data[:200]


def _pg_cpu(store: Store) -> float:
    total = 0.0
    with psycopg.connect(store.database_url, autocommit=True) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (store.schema,)
        ).fetchall()
    for (pid,) in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()
    from werkzeug.test import Client

    store = Store(args.database_url, args.redis_url)
    try:
        print(f"{'app':8s} {'CPU ms':>8s} {'PG ms':>8s}   per flow, n={args.n}")
        for name, build in (("flask", flask_app), ("wsgi", wsgi_app)):
            app = build(store)
            # Flask's own test client for the Flask app, as bench/inprocess.py drives idp.
            client = app.test_client() if hasattr(app, "test_client") else Client(app)
            client.set_cookie("sso", store.session_id, domain="localhost")
            for _ in range(50):  # warm-up: connections, prepared statements
                run_flow(client, store)
            pg, cpu = _pg_cpu(store), time.process_time()
            for _ in range(args.n):
                run_flow(client, store)
            cpu, pg = time.process_time() - cpu, _pg_cpu(store) - pg
            print(f"{name:8s} {1000 * cpu / args.n:8.2f} {1000 * pg / args.n:8.2f}")
            if hasattr(app, "engine"):
                app.engine.dispose()
            if hasattr(app, "conn"):
                app.conn.close()
    finally:
        store.drop()


if __name__ == "__main__":
    main()
