"""CPU per request of idp's hot paths, in one process, without a server or a network.

    python bench/inprocess.py --n 300                          # every case: CPU ms per call
    python bench/inprocess.py --cases flow,userinfo --n 300    # some cases
    python bench/inprocess.py --cases flow --profile 25        # and the top 25 of cProfile
    python bench/inprocess.py --cases flow --count             # SQL and Redis round trips
    python bench/inprocess.py --cases flow --sql               # ... and one call's statements
    IDP_SOURCE=/path/to/other/checkout python bench/inprocess.py   # measure another commit

Drives Flask's test client against an app on PostgreSQL and Redis (a schema and a key
prefix of its own, dropped at the end), like one worker thread of ``idp serve``, and
reads ``time.process_time()``: the Python CPU of this one process (the audit sealer's
thread included; PostgreSQL and Redis are not in it). ``PG ms`` is PostgreSQL's CPU for
the same calls, read from ``/proc`` for this run's backends (marked by their
``application_name``; the server must run on this machine). No concurrency, so no lock waits
(``bench/run.py`` has those). The figure survives a noisy machine better than a
throughput (it still includes cache misses and CPU frequency), so compare commits by
running them alternately in the same minute, e.g. this checkout and ``IDP_SOURCE``.

Cases (``--cases``, comma-separated, all by default): ``flow`` (``GET /authorize`` with
the session cookie of a signed-in citizen and a first-party client, then the code
exchange with PKCE and an ES256 ID token), ``userinfo``, ``introspection``,
``discovery``, ``cc_opaque`` and ``cc_jwt`` (the ``client_credentials`` grant of a
service client getting an opaque or an RFC 9068 JWT access token).

``--count`` runs each case ``--n`` times with SQLAlchemy's ``before_cursor_execute`` and
redis-py's connection instrumented instead of timing it, and prints the SQL statements
and Redis round trips per call, in total and by verb or command (a pipeline counts once);
statements of the audit sealer's thread are counted too (amortised over the calls).
``--sql`` prints one call's statements and commands first.
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

# IDP_SOURCE: another checkout of idp to measure (A/B against a commit); this one's by
# default. It goes first on sys.path, ahead of the editable install's finder.
ROOT = Path(os.environ.get("IDP_SOURCE") or Path(__file__).resolve().parent.parent).resolve()
sys.path.insert(0, str(ROOT))

REDIRECT = "https://portal.bench.example/callback"
CASES = ("flow", "userinfo", "introspection", "discovery", "cc_opaque", "cc_jwt")


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
        import idp
        from idp import create_app

        if not Path(idp.__file__).resolve().is_relative_to(ROOT):
            raise SystemExit(f"idp imported from {idp.__file__}, not from {ROOT}")
        sep = "&" if "?" in database_url else "?"
        # The application name marks this run's PostgreSQL backends (``_pg_cpu``).
        url = (
            f"{database_url}{sep}options=-csearch_path%3D{self.schema}"
            f"&application_name={self.schema}"
        )
        self.app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
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
            from bench.seed import SERVICE_SCOPE
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
            # Service clients, as bench/seed.py registers them: client_credentials only.
            self.service_scope = SERVICE_SCOPE
            self.service: dict[str, dict[str, str]] = {}
            for token_format in ("opaque", "jwt"):
                service, service_secret = register_client(
                    name=f"In-process service {token_format}",
                    redirect_uris=[],
                    auth_method="client_secret_basic",
                    scope=SERVICE_SCOPE,
                    grant_types=("client_credentials",),
                )
                service.access_token_format = token_format
                self.service[token_format] = _basic(service.client_id, service_secret)
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
        for token_format, is_jwt in (("opaque", False), ("jwt", True)):
            token = self._client_credentials(token_format)["access_token"]
            if (token.count(".") == 2) != is_jwt:
                raise SystemExit(f"cc_{token_format}: unexpected access token {token[:12]}...")

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

    def _client_credentials(self, token_format: str) -> dict[str, Any]:
        answer = self.http.post(
            "/token",
            data={"grant_type": "client_credentials", "scope": self.service_scope},
            headers=self.service[token_format],
        )
        assert answer.status_code == 200, answer.data[:300]
        return dict(answer.get_json())

    def cc_opaque(self) -> None:
        self._client_credentials("opaque")

    def cc_jwt(self) -> None:
        self._client_credentials("jwt")

    def pg_cpu(self) -> dict[int, float] | None:
        """CPU seconds so far of this run's PostgreSQL backends (by pid), read from /proc
        (PostgreSQL on this machine); None where that cannot be read."""
        from sqlalchemy import text

        with self.admin.connect() as conn:
            pids = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                {"name": self.schema},
            ).scalars()
            try:
                return {pid: _proc_cpu(pid) for pid in pids}
            except OSError:
                return None

    def close(self) -> None:
        import redis
        from sqlalchemy import text

        from idp.extensions import db

        if hasattr(self, "app"):
            try:  # the sealer thread would query a dropped schema
                from idp.audit import sealer

                sealer.stop_worker(self.app)
            except ImportError:  # IDP_SOURCE older than the sealer
                pass
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


def _count_round_trips(
    bench: Bench, run: Callable[[], Any], n: int, *, show: bool = False
) -> Counter[str]:
    """SQL statements (SQLAlchemy's before_cursor_execute) and Redis commands over n calls;
    with ``show``, one more call first whose statements and commands are printed."""
    from redis.connection import Connection
    from sqlalchemy import event

    from idp.extensions import db

    counts: Counter[str] = Counter()
    echo = [show]

    def on_sql(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counts["sql " + statement.split()[0].upper()] += 1
        if echo[0]:
            print("    sql  ", " ".join(statement.split())[:200])

    def on_commit(conn: Any) -> None:
        if echo[0]:
            print("    sql   COMMIT")

    original = Connection.send_command

    def send_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts[f"redis {args[0]}"] += 1
        if echo[0]:
            print("    redis", args[0])
        return original(self, *args, **kwargs)

    original_packed = Connection.send_packed_command

    def send_packed(self: Any, command: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(command, list) and len(command) > 1:
            counts["redis pipeline"] += 1
            if echo[0]:
                print("    redis pipeline")
        return original_packed(self, command, *args, **kwargs)

    with bench.app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_sql)
    event.listen(engine, "commit", on_commit)
    Connection.send_command = send_command  # type: ignore[method-assign]
    Connection.send_packed_command = send_packed  # type: ignore[method-assign]
    try:
        if show:
            run()
            echo[0] = False
            counts.clear()
        for _ in range(n):
            run()
    finally:
        event.remove(engine, "before_cursor_execute", on_sql)
        event.remove(engine, "commit", on_commit)
        Connection.send_command = original  # type: ignore[method-assign]
        Connection.send_packed_command = original_packed  # type: ignore[method-assign]
    return counts


def _print_counts(case: str, counts: Counter[str], n: int) -> None:
    # A pipeline is one round trip, counted once as "redis pipeline" (redis-py sends its
    # commands packed, not through send_command), so the Redis total is round trips.
    sql = sum(v for k, v in counts.items() if k.startswith("sql "))
    redis = sum(v for k, v in counts.items() if k.startswith("redis "))
    totals = f"{sql / n:.1f} SQL statements, {redis / n:.1f} Redis round trips"
    print(f"{case} (per call, n={n}): {totals}")
    for name, value in sorted(counts.items()):
        print(f"    {name:30s} {value / n:5.1f}")


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _time(run: Callable[[], Any], n: int, bench: Any) -> tuple[float, float, float | None]:
    # CPU time, not wall: waits on PostgreSQL and Redis are not this process's cost.
    # PostgreSQL's CPU for these calls is read apart, from its backends for this run.
    pg = bench.pg_cpu()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        run()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    pg_after = bench.pg_cpu()
    pg_spent = None
    if pg is not None and pg_after is not None:
        pg_spent = sum(seconds - pg.get(pid, 0.0) for pid, seconds in pg_after.items())
    return cpu, wall, pg_spent


def _profile(run: Callable[[], Any], n: int, top: int) -> None:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(n):
        run()
    profiler.disable()
    if os.environ.get("IDP_PROFILE_DUMP"):  # for pstats' callers/callees views
        profiler.dump_stats(os.environ["IDP_PROFILE_DUMP"])
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--cases",
        "--case",
        default=",".join(CASES),
        help=f"comma-separated, in this order (default: all): {','.join(CASES)}",
    )
    parser.add_argument("--n", type=int, default=300, help="calls per case")
    parser.add_argument("--warmup", type=int, default=30, help="calls per case before")
    parser.add_argument(
        "--profile", type=int, default=0, help="then cProfile n more calls, print the top N"
    )
    parser.add_argument(
        "--count", action="store_true", help="SQL and Redis calls per call instead of CPU"
    )
    parser.add_argument("--sql", action="store_true", help="--count, and print one call's")
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
    cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = sorted(set(cases) - set(CASES))
    if unknown or not cases or args.n < 1:
        parser.error(f"--cases: choose from {','.join(CASES)}; --n at least 1")

    bench = Bench(args.database_url, args.redis_url)
    try:
        print(f"idp at {ROOT}")
        if not (args.count or args.sql):
            print(
                f"{'case':14s} {'CPU ms':>8s} {'wall ms':>8s} {'PG ms':>8s}   per call, n={args.n}"
            )
        for case in cases:
            run = getattr(bench, case)
            for _ in range(args.warmup):  # caches, compiled statements, the sealer thread
                run()
            if args.count or args.sql:
                _print_counts(case, _count_round_trips(bench, run, args.n, show=args.sql), args.n)
                continue
            cpu, wall, pg = _time(run, args.n, bench)
            pg_ms = "-" if pg is None else f"{1000 * pg / args.n:.2f}"
            print(f"{case:14s} {1000 * cpu / args.n:8.2f} {1000 * wall / args.n:8.2f} {pg_ms:>8s}")
            if args.profile:  # after, so cProfile's own cost stays out of the figure
                _profile(run, args.n, args.profile)
    finally:
        bench.close()


if __name__ == "__main__":
    main()
