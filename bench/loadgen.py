"""The benchmark's load generator: N keep-alive HTTP/1.1 connections, one case, bounded time.

Run by ``bench/run.py`` as a separate process (its CPU time is its own, and reported), one
per case and server. It speaks plain HTTP/1.1 over asyncio streams (uvloop when
installed), with pre-built request heads and no HTTP library in the hot path, so that
on a 2-core machine it costs a few percent of a core, not the server's share.

Protocol with the parent (lines on stdout / stdin)::

    loadgen -> parent   {"ready": true, ...}        setup and warm-up done, connections idle
    parent  -> loadgen  go                          the measured window starts
    loadgen -> parent   {"done": true}               the window ended (parent samples CPU)
    loadgen -> parent   {"result": {...}}            counts, latency percentiles, own CPU

Cases (``--case``): ``discovery``, ``jwks``, ``cc_opaque``, ``cc_jwt``, ``introspection``,
``userinfo``, ``flow_es256``, ``flow_rs256``, ``signin``, ``flow_during_signin``. The
endpoints come from the server's discovery document, so one script drives both servers.
Each connection is one "browser" with its own cookie jar and its own citizen
(``spec["citizens"][i % n]``): a sign-in with per-number brute-force limits must not see
16 parallel attempts on one number.

- ``flow_*``: a signed-in browser (setup: one password sign-in per connection) runs
  GET authorize (PKCE S256, fresh verifier, state and nonce each time) -> redirect with
  ``code`` -> POST token (client_secret_basic, code_verifier) -> 200 with an ``id_token``
  whose header ``alg`` is the expected one. One flow = one sample.
- ``signin``: a fresh cookie jar each time: GET authorize -> the server's redirects -> the
  login form (hidden fields, e.g. CSRF, copied) -> POST ID number + password -> redirects
  -> the redirect URI with ``code``. Stops at the code (the token exchange is measured by
  ``flow_*``). One sign-in = one sample.
- ``flow_during_signin``: ``flow_es256`` measured on N connections while N more
  connections (citizens N..2N-1) run ``signin`` unmeasured: the token endpoint's latency
  under a flood of password sign-ins (``token_p99_ms`` in the result; ``side_rate`` is
  the sign-ins per second).
- ``userinfo`` / ``introspection``: setup obtains an access token per connection through a
  sign-in and code exchange; each request presents it.
- ``cc_opaque`` / ``cc_jwt``: client_credentials with ``resource`` (RFC 8707).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlencode
from urllib.parse import urlsplit

MAX_BODY = 8 * 1024 * 1024
MIN_SIGNIN_SECONDS = 10.0
MIN_SIGNIN_WARMUP = 3.0
MAX_HOPS = 12


class CaseError(Exception):
    """A response that is not what the case expects: counted as an error."""


class Busy(CaseError):
    """A 503 with ``Retry-After`` (the server's password-hashing queue is full): an error
    in a measured case, a reason to wait and try again while preparing one."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"503, retry after {retry_after:g} s")
        self.retry_after = retry_after


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.host_header = f"{host}:{port}"
        self.reconnects = 0

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.reconnects += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
    ) -> Response:
        head = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        for name, value in headers or ():
            head.append(f"{name}: {value}")
        if body is not None:
            head.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + (body or b"")
        for attempt in (0, 1):
            if self.writer is None:
                await self._open()
            assert self.reader is not None and self.writer is not None
            try:
                self.writer.write(data)
                return await self._read()
            except (ConnectionError, asyncio.IncompleteReadError) as exc:
                # A keep-alive connection the server closed while idle: one retry.
                self.close()
                if attempt or not _nothing_read(exc):
                    raise
        raise AssertionError("unreachable")

    async def _read(self) -> Response:
        assert self.reader is not None
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        response = Response(status, headers, b"")
        length = response.header("content-length")
        if length is not None:
            response.body = await self.reader.readexactly(int(length)) if int(length) else b""
        elif (response.header("transfer-encoding") or "").lower() == "chunked":
            response.body = await self._chunked()
        elif status not in (204, 304) and status >= 200:
            response.body = await self.reader.read(MAX_BODY)
            self.close()
        if (response.header("connection") or "").lower() == "close":
            self.close()
        return response

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


def _nothing_read(exc: BaseException) -> bool:
    return not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial


class Browser:
    """A cookie jar (name -> value, path) for one host; enough for the two servers."""

    def __init__(self) -> None:
        self.jar: dict[str, tuple[str, str]] = {}

    def cookie_header(self, path: str) -> list[tuple[str, str]]:
        pairs = [f"{n}={v}" for n, (v, p) in self.jar.items() if path.startswith(p)]
        return [("Cookie", "; ".join(pairs))] if pairs else []

    def store(self, response: Response) -> None:
        for line in response.all("set-cookie"):
            parts = [p.strip() for p in line.split(";")]
            name, _, value = parts[0].partition("=")
            path, expired = "/", False
            for attr in parts[1:]:
                key, _, val = attr.partition("=")
                key = key.lower()
                if key == "path" and val:
                    path = val
                elif key == "max-age" and val.strip().lstrip("-").isdigit() and int(val) <= 0:
                    expired = True
                elif key == "expires" and "1970" in val:
                    expired = True
            if expired:
                self.jar.pop(name, None)
            else:
                self.jar[name] = (value, path)


@dataclass
class Setup:
    """What the parent passes (``--spec`` JSON) plus what discovery told us."""

    spec: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)
    origin: str = ""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def basic(client_id: str, secret: str) -> tuple[str, str]:
    # RFC 6749 2.3.1: form-encode id and secret, then Basic.
    from urllib.parse import quote

    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return ("Authorization", "Basic " + base64.b64encode(raw).decode())


FORM = ("Content-Type", "application/x-www-form-urlencoded")
_FORM_RE = re.compile(r"<form\b[^>]*>(.*?)</form>", re.S | re.I)
_ACTION_RE = re.compile(r'<form\b[^>]*\baction="([^"]*)"', re.I)
_INPUT_RE = re.compile(r"<input\b[^>]*>", re.I)
_ATTR_RE = re.compile(r'(\w[\w-]*)="([^"]*)"')


def _unescape(value: str) -> str:
    import html

    return html.unescape(value)


def login_form(page: str) -> tuple[str, dict[str, str]]:
    """The form with a password field: its action and its hidden inputs."""
    for match in _FORM_RE.finditer(page):
        if 'type="password"' not in match.group(0):
            continue
        action = _ACTION_RE.search(match.group(0))
        hidden = {}
        for tag in _INPUT_RE.findall(match.group(1)):
            attrs = dict(_ATTR_RE.findall(tag))
            if attrs.get("type") == "hidden" and "name" in attrs:
                hidden[attrs["name"]] = _unescape(attrs.get("value", ""))
        return _unescape(action.group(1)) if action else "", hidden
    raise CaseError("no login form on the page")


# What a 200 body must contain (a Lua pattern for wrk; the Python path strips spaces).
EXPECT = {
    "introspection": '"active":%s*true',
    "userinfo": '"sub"',
    "cc_opaque": '"access_token"',
    "cc_jwt": '"access_token"',
}
# Measured flows on n connections while n more connections sign in with passwords.
MIXED = {"flow_during_signin": "flow_es256"}
SIMPLE_CASES = ("discovery", "jwks", "cc_opaque", "cc_jwt", "introspection", "userinfo")
WRK_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk", "simple.lua")


class Client:
    """One connection's worth of case logic."""

    def __init__(self, setup: Setup, index: int) -> None:
        self.setup = setup
        spec = setup.spec
        target = urlsplit(spec["base_url"])
        self.conn = Connection(target.hostname or "127.0.0.1", target.port or 80)
        self.browser = Browser()
        citizens = spec.get("citizens") or [{}]
        self.citizen = citizens[index % len(citizens)]
        self.client = spec.get("client") or {}
        self.access_token = ""
        self.checked_alg = False
        self.token_ns: list[int] | None = None  # token request latencies, while measured
        self.busy_since: int | None = None  # perf_counter_ns of the operation in flight

    # -- helpers ---------------------------------------------------------------------

    def _local(self, location: str) -> str | None:
        """The path of a Location on this server, None when it leaves it."""
        if location.startswith("/"):
            return location
        if location.startswith(self.setup.origin):
            return location[len(self.setup.origin) :] or "/"
        return None

    async def get(self, path: str, extra: list[tuple[str, str]] | None = None) -> Response:
        headers = self.browser.cookie_header(path) + (extra or [])
        response = await self.conn.request("GET", path, headers)
        self.browser.store(response)
        return response

    async def post_form(
        self, path: str, form: dict[str, str], extra: list[tuple[str, str]] | None = None
    ) -> Response:
        headers = self.browser.cookie_header(path) + [FORM] + (extra or [])
        response = await self.conn.request("POST", path, headers, urlencode(form).encode())
        self.browser.store(response)
        return response

    async def follow(self, response: Response) -> tuple[Response, str | None]:
        """Follow redirects on this server; returns the last response and, when the
        chain left the server, the Location it left for."""
        for _ in range(MAX_HOPS):
            if response.status not in (301, 302, 303, 307, 308):
                return response, None
            location = response.header("location") or ""
            path = self._local(location)
            if path is None:
                return response, location
            response = await self.get(path)
        raise CaseError("too many redirects")

    def authorize_target(self) -> tuple[str, str, str]:
        verifier = b64url(secrets.token_bytes(32))
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        state = b64url(secrets.token_bytes(9))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client["client_id"],
                "redirect_uri": self.client["redirect_uri"],
                "scope": self.client.get("scope", "openid profile"),
                "state": state,
                "nonce": b64url(secrets.token_bytes(9)),
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.setup.paths['authorization_endpoint']}?{query}", verifier, state

    def code_from(self, location: str | None, state: str, response: Response) -> str:
        redirect_uri = self.client["redirect_uri"]
        if not location or not location.startswith(redirect_uri):
            body = response.body[:300].decode("utf-8", "replace")
            raise CaseError(f"no redirect to the client ({response.status}): {body!r}")
        query = parse_qs(urlsplit(location).query)
        if query.get("state") != [state] or "code" not in query:
            raise CaseError(f"bad authorization response: {location[:200]}")
        return query["code"][0]

    async def sign_in(self) -> tuple[str, str]:
        """A password sign-in through the server's login form; returns (code, verifier)."""
        target, verifier, state = self.authorize_target()
        response, left = await self.follow(await self.get(target))
        if left is None:
            if response.status != 200:
                raise CaseError(f"authorize: {response.status}")
            action, hidden = login_form(response.body.decode("utf-8", "replace"))
            path = self._local(action) if action else None
            if path is None:
                raise CaseError(f"login form posts elsewhere: {action!r}")
            form = {
                **hidden,
                "id_number": self.citizen["id_number"],
                "password": self.citizen["password"],
            }
            response, left = await self.follow(await self.post_form(path, form))
            if response.status == 503:
                raise Busy(float(response.header("retry-after") or 1))
        return self.code_from(left, state, response), verifier

    async def sign_in_patiently(self, attempts: int = 30) -> tuple[str, str]:
        """``sign_in``, waiting out 503s (set-up beside other set-ups or a flood)."""
        for _ in range(attempts - 1):
            try:
                return await self.sign_in()
            except Busy as busy:
                await asyncio.sleep(min(busy.retry_after, 5.0))
        return await self.sign_in()

    async def exchange(self, code: str, verifier: str) -> dict[str, Any]:
        start = time.perf_counter_ns()
        response = await self.conn.request(
            "POST",
            self.setup.paths["token_endpoint"],
            [FORM, basic(self.client["client_id"], self.client["client_secret"])],
            urlencode(
                {
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.client["redirect_uri"],
                    "code_verifier": verifier,
                }
            ).encode(),
        )
        if response.status != 200:
            raise CaseError(f"token: {response.status} {response.body[:200]!r}")
        if self.token_ns is not None:
            self.token_ns.append(time.perf_counter_ns() - start)
        tokens: dict[str, Any] = json.loads(response.body)
        if "id_token" not in tokens or "access_token" not in tokens:
            raise CaseError("token response without id_token / access_token")
        return tokens

    def check_alg(self, id_token: str) -> None:
        if self.checked_alg:
            return
        head = id_token.split(".", 1)[0]
        alg = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["alg"]
        expected = self.setup.spec.get("expect_alg")
        if expected and alg != expected:
            raise CaseError(f"ID token signed {alg}, expected {expected}")
        self.checked_alg = True

    # -- cases -----------------------------------------------------------------------

    async def prepare(self, case: str) -> None:
        if case.startswith("flow_"):
            await self.sign_in_patiently()  # the browser is now signed in; code dropped
        elif case in ("userinfo", "introspection"):
            code, verifier = await self.sign_in_patiently()
            self.access_token = (await self.exchange(code, verifier))["access_token"]
        p = self.setup.paths
        c = self.client
        if case == "discovery":
            self.simple = (
                "GET",
                "/.well-known/openid-configuration",
                [],
                None,
            )
        elif case == "jwks":
            self.simple = ("GET", p["jwks_uri"], [], None)
        elif case in ("cc_opaque", "cc_jwt"):
            form = {"grant_type": "client_credentials", "scope": c.get("scope", "api")}
            if c.get("resource"):
                form["resource"] = c["resource"]
            self.simple = (
                "POST",
                p["token_endpoint"],
                [FORM, basic(c["client_id"], c["client_secret"])],
                urlencode(form).encode(),
            )
        elif case == "userinfo":
            auth = ("Authorization", f"Bearer {self.access_token}")
            self.simple = ("GET", p["userinfo_endpoint"], [auth], None)
        elif case == "introspection":
            self.simple = (
                "POST",
                p["introspection_endpoint"],
                [FORM, basic(c["client_id"], c["client_secret"])],
                urlencode({"token": self.access_token}).encode(),
            )

    async def once(self, case: str) -> None:
        if case.startswith("flow_"):
            target, verifier, state = self.authorize_target()
            response, left = await self.follow(await self.get(target))
            code = self.code_from(left, state, response)
            self.check_alg((await self.exchange(code, verifier))["id_token"])
            return
        if case == "signin":
            self.browser = Browser()  # a new browser every time
            await self.sign_in()
            return
        method, path, headers, body = self.simple
        response = await self.conn.request(method, path, headers, body)
        if response.status != 200:
            raise CaseError(f"{path}: {response.status} {response.body[:200]!r}")
        if case == "introspection" and b'"active":true' not in response.body.replace(b" ", b""):
            raise CaseError("introspection: token not active")
        if case in ("userinfo", "cc_opaque", "cc_jwt"):
            if EXPECT[case].encode() not in response.body:
                raise CaseError(f"{case}: unexpected body {response.body[:120]!r}")


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def error(self, exc: BaseException) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(f"{type(exc).__name__}: {exc}"[:300])


async def worker(client: Client, case: str, until: float, tally: Tally | None) -> None:
    """Run ``case`` on ``client`` until ``until``, recording into ``tally`` (or not)."""
    clock = time.perf_counter_ns
    while time.monotonic() < until:
        start = client.busy_since = clock()
        try:
            await client.once(case)
        except (CaseError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
            client.busy_since = None
            if tally is not None:
                tally.error(exc)
            client.conn.close()
            # A "busy" sign-in page asks the citizen to try again in a moment: wait as it
            # says (Retry-After), as a person would; any other error storm must not
            # spin the CPU either.
            await asyncio.sleep(min(exc.retry_after, 5.0) if isinstance(exc, Busy) else 0.01)
            continue
        client.busy_since = None
        if tally is not None and time.monotonic() <= until:
            tally.latencies_ns.append(clock() - start)


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[rank] / 1e6


async def discover(setup: Setup) -> None:
    base = urlsplit(setup.spec["base_url"])
    conn = Connection(base.hostname or "127.0.0.1", base.port or 80)
    response = await conn.request("GET", "/.well-known/openid-configuration")
    conn.close()
    if response.status != 200:
        raise CaseError(f"discovery: {response.status}")
    metadata = json.loads(response.body)
    issuer = urlsplit(metadata["issuer"])
    setup.origin = f"{issuer.scheme}://{issuer.netloc}"
    for key in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "introspection_endpoint",
        "jwks_uri",
    ):
        if metadata.get(key):
            parts = urlsplit(metadata[key])
            setup.paths[key] = parts.path + (f"?{parts.query}" if parts.query else "")


async def run(
    spec: dict[str, Any], case: str, seconds: float, warmup: float, wait: bool, tool: str
) -> None:
    setup = Setup(spec)
    await discover(setup)
    if case == "signin" or case in MIXED:
        # A sign-in takes seconds under load (argon2id on purpose): a short window would
        # count only the lucky first ones. Steady state needs a queue that has filled.
        seconds, warmup = max(seconds, MIN_SIGNIN_SECONDS), max(warmup, MIN_SIGNIN_WARMUP)
    if tool == "wrk" and case in SIMPLE_CASES:
        await run_wrk(setup, case, seconds, warmup, wait)
        return
    n = int(spec.get("connections", 16))
    # (client, what it runs, measured?): the mixed case adds n sign-in connections, with
    # their own citizens, beside the n measured flow connections.
    plan = [(Client(setup, i), MIXED.get(case, case), True) for i in range(n)]
    if case in MIXED:
        plan += [(Client(setup, n + i), "signin", False) for i in range(n)]
    clients = [c for c, _, _ in plan]
    # Setup in small batches: a burst of 16 argon2 sign-ins at once is not the case measured.
    for start in range(0, len(plan), 4):
        await asyncio.gather(*(c.prepare(what) for c, what, _ in plan[start : start + 4]))
    if warmup > 0:
        until = time.monotonic() + warmup
        await asyncio.gather(*(worker(c, what, until, None) for c, what, _ in plan))
    await ready(wait)
    tally, side = Tally(), Tally()
    for c, what, measured in plan:
        if measured and what.startswith("flow_"):
            c.token_ns = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    until = t0 + seconds
    # The window is exactly `seconds` long: what is still in flight at its end is
    # abandoned, not counted (as wrk does), so slow sign-ins cannot stretch it.
    tasks = [
        asyncio.ensure_future(worker(c, what, until, tally if measured else side))
        for c, what, measured in plan
    ]
    await asyncio.wait(tasks, timeout=seconds)
    # What is still in flight has taken at least this long: such samples enter the
    # percentiles as lower bounds (not the rate), so a server that stalls some
    # connections for the whole window cannot show a short p99 from the others.
    now = time.perf_counter_ns()
    censored = [
        now - c.busy_since for c, _, measured in plan if measured and c.busy_since is not None
    ]
    for task in tasks:
        task.cancel()
    elapsed = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    emit({"done": True})
    await asyncio.gather(*tasks, return_exceptions=True)
    lat = sorted(tally.latencies_ns + censored)
    token = sorted(t for c in clients for t in (c.token_ns or ()))
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    emit(
        {
            "result": {
                "case": case,
                "count": len(tally.latencies_ns),
                "in_flight_at_end": len(censored),
                "errors": tally.errors,
                "error_samples": tally.samples,
                "elapsed": elapsed,
                "rate": len(tally.latencies_ns) / elapsed if elapsed else 0.0,
                "p50_ms": percentile(lat, 0.50),
                "p99_ms": percentile(lat, 0.99),
                "loadgen_cpu_s": cpu,
                "loadgen": "python",
                "reconnects": sum(c.conn.reconnects for c in clients) - len(clients),
                "token_p50_ms": percentile(token, 0.50),
                "token_p99_ms": percentile(token, 0.99),
                "side_rate": len(side.latencies_ns) / elapsed if case in MIXED else None,
                "side_errors": side.errors,
            }
        }
    )
    for c in clients:
        c.conn.close()


async def ready(wait: bool) -> None:
    emit({"ready": True})
    if wait:
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if line.strip() != "go":
            raise SystemExit("loadgen: parent did not say go")


async def run_wrk(setup: Setup, case: str, seconds: float, warmup: float, wait: bool) -> None:
    """A single-request case under wrk (C, epoll): set up one client in Python, then let
    wrk repeat its request on all connections. All connections share the one token."""
    client = Client(setup, 0)
    await client.prepare(case)
    client.conn.close()
    method, path, headers, body = client.simple
    env = {
        **os.environ,
        "BENCH_METHOD": method,
        "BENCH_PATH": path,
        "BENCH_BODY": (body or b"").decode(),
        "BENCH_HEADERS": "\n".join(f"{n}: {v}" for n, v in headers),
        "BENCH_EXPECT": EXPECT.get(case, ""),
    }
    connections = int(setup.spec.get("connections", 16))
    threads = int(setup.spec.get("wrk_threads", 2))

    async def wrk(duration: int) -> tuple[dict[str, Any], float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = await asyncio.create_subprocess_exec(
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "10s",
            "-s",
            WRK_SCRIPT,
            setup.spec["base_url"],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        for line in out.decode().splitlines():
            if line.startswith('{"wrk"'):
                return json.loads(line)["wrk"], cpu
        raise SystemExit(f"loadgen: wrk printed no result: {out.decode()[-500:]} {err.decode()}")

    if warmup > 0:
        await wrk(max(1, round(warmup)))
    await ready(wait)
    own0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    stats, wrk_cpu = await wrk(max(1, round(seconds)))
    elapsed = stats["duration_us"] / 1e6
    own1 = resource.getrusage(resource.RUSAGE_SELF)
    emit({"done": True})
    own = (own1.ru_utime - own0.ru_utime) + (own1.ru_stime - own0.ru_stime)
    bad = int(stats["bad"]) + int(stats["socket_errors"])
    ok = max(0, int(stats["requests"]) - int(stats["bad"]))
    emit(
        {
            "result": {
                "case": case,
                "count": ok,
                "errors": bad,
                "error_samples": [stats["sample"]] if stats["sample"] else [],
                "elapsed": elapsed or (time.monotonic() - t0),
                "rate": ok / elapsed if elapsed else 0.0,
                "p50_ms": stats["p50_us"] / 1000,
                "p99_ms": stats["p99_us"] / 1000,
                "loadgen_cpu_s": wrk_cpu + own,
                "loadgen": "wrk",
                "reconnects": 0,
            }
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spec", required=True, help="JSON file (see bench/run.py)")
    parser.add_argument("--case", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--no-wait", action="store_true", help="start without the go line")
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    parser.add_argument(
        "--tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="single-request cases under wrk (auto: when on PATH) or Python",
    )
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    with open(args.spec, encoding="utf-8") as fh:
        spec = json.load(fh)
    try:
        import uvloop  # type: ignore[import-not-found]

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    runner(run(spec, args.case, args.seconds, args.warmup, not args.no_wait, tool))


if __name__ == "__main__":
    main()
