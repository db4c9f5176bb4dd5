"""CPU per request of idp's hot paths, in one process, without a server or a network.

    python bench/inprocess.py --case flow --n 300                # CPU ms per flow
    python bench/inprocess.py --case flow --n 300 --profile 25   # and the top 25 of cProfile
    python bench/inprocess.py --case flow --count                 # SQL and Redis round trips

Drives Flask's test client against an app on PostgreSQL and Redis (a schema and a key
prefix of its own, dropped at the end), like one worker thread of ``idp serve``, and
reads ``time.process_time()``. The figure survives a noisy machine better than a
throughput (it still includes cache misses and CPU frequency), so compare commits by
running them alternately in the same minute. Cases: ``flow`` (``GET /authorize`` with
the session cookie of a signed-in citizen and a first-party client, then the code
exchange with PKCE and an ES256 ID token), ``userinfo``, ``introspection``, ``discovery``.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import os
import pstats
import secrets
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REDIRECT = "https://portal.bench.example/callback"


def _basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Bench:
    def __init__(self, database_url: str, redis_url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy import text

        self.schema = f"inproc_{uuid.uuid4().hex[:8]}"
        self.admin = create_engine(database_url)
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        self.prefix = f"idp-inproc-{uuid.uuid4().hex[:8]}:"
        self.redis_url = redis_url
        try:
            self._start(database_url)
        except BaseException:
            self.close()
            raise

    def _start(self, database_url: str) -> None:
        from idp import create_app

        self.app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"{database_url}?options=-csearch_path%3D{self.schema}",
                "IDP_REDIS_URL": self.redis_url,
                "IDP_REDIS_PREFIX": self.prefix,
                "IDP_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
                "IDP_ISSUER": "http://localhost",
                "IDP_COOKIE_SECURE": False,
                "IDP_LOG_LEVEL": "WARNING",
            }
        )
        from flask_migrate import upgrade

        with self.app.app_context():
            upgrade()
        self.http = self.app.test_client()
        self._seed()

    def _seed(self) -> None:
        from idp.authn import sessions
        from idp.authn.assurance import level_for
        from idp.authn.citizens import create_citizen
        from idp.authn.result import Amr
        from idp.authn.result import AuthResult
        from idp.authn.result import Channel
        from idp.extensions import db
        from idp.oauth.clients import register_client

        with self.app.app_context():
            from bench.seed import bench_citizen

            person = bench_citizen(0)
            citizen = create_citizen(
                id_number=person["id_number"], name=person["name"], phone=person["phone"]
            )
            client, secret = register_client(
                name="In-process portal",
                redirect_uris=[REDIRECT],
                auth_method="client_secret_basic",
                scope="openid profile phone",
                first_party=True,
                id_token_alg="ES256",
            )
            self.client_id, self.secret = client.client_id, secret
            db.session.commit()
            methods = (Amr("pwd"),)
            result = AuthResult(
                citizen_id=citizen.id,
                methods=methods,
                acr=level_for(methods),
                channel=Channel.WEBSITE,
                auth_time=datetime.now(UTC),
            )
            _, cookie = sessions.start(
                self.app.extensions["idp.store"],
                result=result,
                lifetime=self.app.config["IDP_TTL_SSO_SESSION"],
                idle=self.app.config["IDP_TTL_SSO_IDLE"],
            )
        self.http.set_cookie(self.app.config["IDP_SESSION_COOKIE"], cookie, domain="localhost")
        self.access_token = self.flow()["access_token"]

    def flow(self) -> dict[str, Any]:
        verifier, challenge = _pkce()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid profile",
            "state": secrets.token_urlsafe(8),
            "nonce": secrets.token_urlsafe(8),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        answer = self.http.get("/authorize?" + urlencode(query))
        location = answer.headers.get("Location", "")
        code = parse_qs(urlsplit(location).query).get("code", [""])[0]
        if not code:
            raise SystemExit(f"no code: {answer.status_code} {location or answer.data[:300]!r}")
        token = self.http.post(
            "/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
            },
            headers=_basic(self.client_id, self.secret),
        )
        if token.status_code != 200:
            raise SystemExit(f"token: {token.status_code} {token.data[:300]!r}")
        return dict(token.get_json())

    def userinfo(self) -> None:
        answer = self.http.get(
            "/userinfo", headers={"Authorization": f"Bearer {self.access_token}"}
        )
        assert answer.status_code == 200, answer.data[:300]

    def introspection(self) -> None:
        answer = self.http.post(
            "/introspect",
            data={"token": self.access_token},
            headers=_basic(self.client_id, self.secret),
        )
        assert answer.status_code == 200 and answer.get_json()["active"], answer.data[:300]

    def discovery(self) -> None:
        assert self.http.get("/.well-known/openid-configuration").status_code == 200

    def close(self) -> None:
        import redis
        from sqlalchemy import text

        from idp.extensions import db

        if hasattr(self, "app"):
            with self.app.app_context():
                db.session.remove()
                db.engine.dispose()
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{self.schema}" CASCADE'))
        self.admin.dispose()
        client = redis.Redis.from_url(self.redis_url)
        keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


def _count_round_trips(bench: Bench, run: Callable[[], Any], n: int) -> Counter[str]:
    """SQL statements (SQLAlchemy's before_cursor_execute) and Redis commands per call."""
    from redis.connection import Connection
    from sqlalchemy import event

    from idp.extensions import db

    counts: Counter[str] = Counter()

    def on_sql(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counts["sql " + statement.split()[0].upper()] += 1

    original = Connection.send_command

    def send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts[f"redis {args[0]}"] += 1
        return original(self, *args, **kwargs)

    original_packed = Connection.send_packed_command

    with bench.app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_sql)
    Connection.send_command = send_command  # type: ignore[method-assign]
    pipelines = Counter[str]()

    def send_packed(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(command, list) and len(command) > 1:
            pipelines["redis pipeline"] += 1
        return original_packed(self, command, *args, **kwargs)

    Connection.send_packed_command = send_packed  # type: ignore[method-assign]
    try:
        for _ in range(n):
            run()
    finally:
        event.remove(engine, "before_cursor_execute", on_sql)
        Connection.send_command = original  # type: ignore[method-assign]
        Connection.send_packed_command = original_packed  # type: ignore[method-assign]
    counts.update(pipelines)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--case", default="flow", choices=("flow", "userinfo", "introspection", "discovery")
    )
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--profile", type=int, default=0, help="print the top N of cProfile")
    parser.add_argument("--count", action="store_true", help="SQL and Redis calls per call")
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "IDP_TEST_DATABASE_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    bench = Bench(args.database_url, args.redis_url)
    try:
        run = getattr(bench, args.case)
        for _ in range(args.warmup):
            run()
        if args.count:
            counts = _count_round_trips(bench, run, 10)
            for name, value in sorted(counts.items()):
                print(f"{name:30s} {value / 10:.1f} per {args.case}")
            return
        # CPU time, not wall: waits on PostgreSQL and Redis are not this process's cost.
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(args.n):
            run()
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        per_call = f"{1000 * cpu / args.n:.2f} ms CPU, {1000 * wall / args.n:.2f} ms wall"
        print(f"{args.case}: {per_call} per call (n={args.n})")
        if profiler:
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative").print_stats(args.profile)
            stats.sort_stats("tottime").print_stats(args.profile)
    finally:
        bench.close()


if __name__ == "__main__":
    main()
