"""The benchmark: idp beside panva's oidc-provider, one command, one table.

    python bench/run.py [--seconds N] [--rounds R] [--cases a,b,...] [--workers W]
    python bench/run.py --scale 1000,1000000 [--cases signin,flow_es256]

Starts everything it needs, runs the load, stops everything, prints one table (and
writes ``bench/out/<stamp>/results.json``). See ``bench/README.md`` for the cases, the
figures, how the peer is made equivalent, and how to read the table.

1. **idp** under ``idp serve --workers W`` (granian, or IDP_SERVER) on PostgreSQL and Redis: its own
   schema ``bench_<random>`` in database ``test`` on 127.0.0.1:5432 (``--database-url``)
   and its own Redis key prefix (``--redis-url``); migrated (``idp db upgrade``), seeded
   (``bench/seed.py``: one citizen per connection, two first-party confidential clients).
   Schema and keys are removed at the end.
2. **The peer**: ``node bench/peer/server.js`` (``npm ci`` first if ``node_modules`` is
   missing), given the same citizens, the same argon2id hash and its own clients.
3. For each round, each case, each server in turn (A B A B ...): the load generator
   (``bench/loadgen.py``, a separate process) sets up and warms up, then runs for
   ``--seconds`` on ``--connections`` keep-alive connections while this process samples
   the server processes: CPU from ``/proc/<pid>/stat`` (utime + stime of the gunicorn
   master and workers, or of node; plus, for idp, of the PostgreSQL backends serving it
   and of Redis), memory from ``/proc/<pid>/smaps_rollup`` (RSS and PSS, summed over
   the server's processes, peak of samples every 0.2 s).
4. The table: per case and server, the median over rounds of each figure, and the ratio
   ours / peer.

``--scale A,B`` compares idp with itself: two idp servers, one whose citizen table holds
A citizens and one holding B (``bench/load_citizens.py``), interleaved the same way; the
ratio is B / A.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PEER_DIR = BENCH / "peer"
CASES = (
    "discovery",
    "jwks",
    "cc_opaque",
    "cc_jwt",
    "introspection",
    "userinfo",
    "flow_es256",
    "flow_rs256",
    "signin",
    "flow_during_signin",
)
REDIRECT_URI = "https://portal.bench.example/callback"
CC_RESOURCES = {"cc_opaque": "urn:bench:opaque", "cc_jwt": "urn:bench:jwt"}
CLK_TCK = os.sysconf("SC_CLK_TCK")
NOT_IMPLEMENTED = "n/a (not implemented)"


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


# -- /proc ----------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) is in parentheses and may hold spaces: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime (all threads) per pid, in seconds (proc(5): fields 14 and 15)."""
    out = {}
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            out[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that appeared in between counts from zero; one that vanished is lost
    # (gunicorn does not recycle workers unless one dies).
    return sum(value - before.get(pid, 0.0) for pid, value in after.items())


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over ``pids`` (smaps_rollup, Linux 4.14+)."""
    rss = pss = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Pss:"):
                pss += int(line.split()[1])
    return rss, pss


def pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    found.append(int(entry))
            except OSError:
                pass
    return found


class MemorySampler(threading.Thread):
    """Peak of the summed RSS and PSS of a server's processes, every ``interval`` s."""

    def __init__(self, pids: Callable[[], list[int]], interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.peak_rss = self.peak_pss = 0
        self._stop_event = threading.Event()

    def sample(self) -> None:
        rss, pss = memory_kib(self.pids())
        self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._stop_event.set()
        self.join()
        self.sample()


# -- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = logfile.read_text(errors="replace")[-3000:]
            raise SystemExit(f"bench: server exited during start ({url}):\n{tail}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not become healthy in {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to the process group we started, SIGKILL after 30 s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@dataclass
class Server:
    label: str
    kind: str  # "ours" or "peer"
    base_url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    citizens: list[dict[str, Any]] = field(default_factory=list)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # case -> client
    grant_types: list[str] = field(default_factory=list)
    schema: str = ""  # idp: its PostgreSQL schema and Redis key prefix (removed at the end)
    redis_prefix: str = ""
    password_hash: str = ""  # idp's argon2id PHC string for the citizens, given to the peer
    store_pids: Callable[[], list[int]] = lambda: []
    cleanup: list[Callable[[], None]] = field(default_factory=list)
    _pids: list[int] = field(default_factory=list)
    _pids_at: float = 0.0

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        now = time.monotonic()
        if now - self._pids_at > 1.0:
            self._pids, self._pids_at = descendants(self.proc.pid), now
        return self._pids

    def not_supported(self, case: str) -> str | None:
        if case.startswith("cc_") and "client_credentials" not in self.grant_types:
            return NOT_IMPLEMENTED
        return None

    def discover(self) -> None:
        with urllib.request.urlopen(self.base_url + "/.well-known/openid-configuration") as r:
            metadata = json.load(r)
        self.grant_types = list(metadata.get("grant_types_supported") or [])

    def stop(self) -> None:
        stop_process(self.proc)
        for step in reversed(self.cleanup):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - cleanup goes on
                log(f"cleanup of {self.label}: {exc}")


@dataclass
class Options:
    seconds: float
    rounds: int
    cases: list[str]
    workers: int
    connections: int
    warmup: float
    tool: str
    database_url: str
    redis_url: str
    out: Path
    keep_logs: bool
    profile: bool


def start_ours(opts: Options, label: str, started: list[Server], extra_citizens: int = 0) -> Server:
    """idp under gunicorn on its own PostgreSQL schema and Redis prefix, seeded.

    The server joins ``started`` before anything is created, so whatever happens next
    (a failed seed, Ctrl+C) its schema, keys and processes are removed."""
    import psycopg
    import redis

    tag = secrets.token_hex(4)
    schema = f"bench_{tag}"
    app_name = f"idp_bench_{tag}"
    server = Server(label=label, kind="ours", schema=schema, redis_prefix=f"idp-bench-{tag}:")
    started.append(server)
    admin_url = opts.database_url
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')

    def drop_schema() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    server.cleanup.append(drop_schema)
    prefix = server.redis_prefix

    def drop_keys() -> None:
        client = redis.Redis.from_url(opts.redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])

    server.cleanup.append(drop_keys)
    port = free_port()
    server.base_url = f"http://127.0.0.1:{port}"
    sep = "&" if "?" in admin_url else "?"
    instance = opts.out / f"instance-{tag}"
    env = {
        **os.environ,
        "DATABASE_URL": f"{admin_url}{sep}application_name={app_name}"
        f"&options=-csearch_path%3D{schema}",
        "REDIS_URL": opts.redis_url,
        "IDP_REDIS_PREFIX": prefix,
        "IDP_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "IDP_ISSUER": server.base_url,
        "IDP_COOKIE_SECURE": "false",
        "IDP_INSTANCE_PATH": str(instance),
        "IDP_LOG_LEVEL": "WARNING",
        "WEB_CONCURRENCY": str(opts.workers),
        "PYTHONPATH": str(ROOT),
    }
    idp = str(Path(sys.executable).parent / "idp")
    run = {"env": env, "capture_output": True, "text": True, "timeout": 900, "cwd": ROOT}
    step = subprocess.run([idp, "db", "upgrade"], **run)  # type: ignore[call-overload]
    if step.returncode:
        raise SystemExit(f"bench: idp db upgrade failed:\n{step.stderr[-3000:]}")
    seeded = subprocess.run(  # type: ignore[call-overload]
        [
            sys.executable,
            str(BENCH / "seed.py"),
            "--citizens",
            str(2 * opts.connections),  # flow_during_signin uses two sets
            "--redirect-uri",
            REDIRECT_URI,
        ],
        **run,
    )
    if seeded.returncode:
        raise SystemExit(f"bench: seeding failed:\n{seeded.stderr[-3000:]}")
    data = json.loads(seeded.stdout)
    if extra_citizens > 0:
        log(f"{label}: loading {extra_citizens:,} citizens")
        loaded = subprocess.run(  # type: ignore[call-overload]
            [sys.executable, str(BENCH / "load_citizens.py"), "--count", str(extra_citizens)],
            **{**run, "timeout": 3600},
        )
        if loaded.returncode:
            raise SystemExit(f"bench: load_citizens failed:\n{loaded.stderr[-3000:]}")
        log(loaded.stderr.strip().splitlines()[-1] if loaded.stderr.strip() else "loaded")
    server.citizens = data["citizens"]
    server.password_hash = data["password_hash"]
    by_alg = {c["alg"]: c for c in data["clients"]}
    server.clients = _case_clients(by_alg["ES256"], by_alg["RS256"], by_alg["ES256"], data["scope"])
    # client_credentials: idp's service clients (bench/seed.py), one per token format;
    # the format is the client's registration, so no RFC 8707 resource is sent.
    for service in data.get("service_clients", []):
        case = "cc_jwt" if service["format"] == "jwt" else "cc_opaque"
        server.clients[case] = {
            "client_id": service["client_id"],
            "client_secret": service["client_secret"],
            "scope": service["scope"],
        }
    logfile = opts.out / f"{label}.log"
    server.proc = subprocess.Popen(
        [idp, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(opts.workers)],
        env=env,
        cwd=ROOT,
        stdout=logfile.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_healthy(server.base_url, server.proc, logfile)

    def store_pids() -> list[int]:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app_name,)
            ).fetchall()
        return [int(r[0]) for r in rows] + pids_named("redis-server")

    server.store_pids = store_pids
    server.discover()
    return server


def _case_clients(
    es: dict[str, Any], rs: dict[str, Any], cc: dict[str, Any], scope: str
) -> dict[str, dict[str, Any]]:
    def client(c: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
            "redirect_uri": REDIRECT_URI,
            "scope": scope,
            **extra,
        }

    clients = {case: client(es) for case in CASES}
    clients["flow_rs256"] = client(rs)
    for case, resource in CC_RESOURCES.items():
        clients[case] = client(cc, scope="api", resource=resource)
    return clients


def ensure_peer_installed() -> None:
    if shutil.which("node") is None:
        raise SystemExit("bench: node (Node.js 20 or newer) is needed for the peer")
    if not (PEER_DIR / "node_modules" / "oidc-provider").is_dir():
        log("installing the peer (npm ci in bench/peer)")
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_DIR, check=True, timeout=600
        )


def start_peer(
    opts: Options, citizens: list[dict[str, Any]], password_hash: str, started: list[Server]
) -> Server:
    ensure_peer_installed()
    server = Server(label="peer", kind="peer")
    started.append(server)
    port = free_port()
    server.base_url = f"http://127.0.0.1:{port}"

    def secret() -> str:
        return secrets.token_urlsafe(32)

    es = {"client_id": "bench-es256", "client_secret": secret(), "alg": "ES256"}
    rs = {"client_id": "bench-rs256", "client_secret": secret(), "alg": "RS256"}
    cc = {"client_id": "bench-service", "client_secret": secret()}
    scope = "openid profile phone"
    config = {
        "port": port,
        "issuer": server.base_url,
        "secret": secret(),
        "clients": [
            {
                "client_id": c["client_id"],
                "client_secret": c["client_secret"],
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code"],
                "id_token_signed_response_alg": c["alg"],
                "scope": scope,
            }
            for c in (es, rs)
        ]
        + [
            {
                "client_id": cc["client_id"],
                "client_secret": cc["client_secret"],
                "redirect_uris": [],
                "grant_types": ["client_credentials"],
                "scope": "api",
            }
        ],
        "citizens": [
            {
                "id": c["id"],
                "id_number": c["id_number"],
                "password_hash": password_hash,
                "name": c["name"],
                "birthdate": c["birthdate"],
                "gender": c["gender"],
                "phone": c["phone"],
            }
            for c in citizens
        ],
    }
    config_file = opts.out / "peer-config.json"
    config_file.write_text(json.dumps(config))
    config_file.chmod(0o600)
    server.cleanup.append(lambda: config_file.unlink(missing_ok=True))
    server.citizens = citizens
    server.clients = _case_clients(es, rs, cc, scope)
    logfile = opts.out / "peer.log"
    server.proc = subprocess.Popen(
        ["node", "server.js"],
        cwd=PEER_DIR,
        env={**os.environ, "BENCH_PEER_CONFIG": str(config_file), "NODE_ENV": "production"},
        stdout=logfile.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_healthy(server.base_url, server.proc, logfile)
    server.discover()
    return server


# -- one measurement ------------------------------------------------------------------------


@dataclass
class Measurement:
    rate: float = 0.0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    cores_app: float = 0.0
    cores_store: float = 0.0
    per_cpu_s: float = 0.0
    rss_mib: float = 0.0
    pss_mib: float = 0.0
    loadgen_cores: float = 0.0
    count: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    loadgen: str = ""
    note: str = ""
    token_p99_ms: float = float("nan")  # flows: the token request alone
    side_rate: float = float("nan")  # flow_during_signin: sign-ins per second beside


def measure(opts: Options, server: Server, case: str, profile_dir: Path | None) -> Measurement:
    skip = server.not_supported(case)
    if skip:
        return Measurement(note=skip)
    spec = {
        "base_url": server.base_url,
        "connections": opts.connections,
        "citizens": [
            {"id_number": c["id_number"], "password": c["password"]} for c in server.citizens
        ],
        "client": server.clients[case],
        "expect_alg": {"flow_rs256": "RS256"}.get(case, "ES256"),
    }
    spec_file = opts.out / f"spec-{server.label}-{case}.json"
    spec_file.write_text(json.dumps(spec))
    cmd = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        "--spec",
        str(spec_file),
        "--case",
        case,
        "--seconds",
        str(opts.seconds),
        "--warmup",
        str(opts.warmup),
        "--tool",
        opts.tool,
    ]
    errlog = (opts.out / f"loadgen-{server.label}-{case}.log").open("ab")
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errlog, text=True
    )
    guard = threading.Timer(opts.seconds + opts.warmup + 180, proc.kill)
    guard.start()
    sampler = MemorySampler(server.pids)
    profilers: list[subprocess.Popen[bytes]] = []
    try:
        assert proc.stdin is not None and proc.stdout is not None

        def expect(key: str) -> dict[str, Any]:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line:
                proc.wait()
                tail = Path(errlog.name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"load generator stopped ({case} on {server.label}):\n{tail}")
            message: dict[str, Any] = json.loads(line)
            if key not in message:
                raise RuntimeError(f"load generator said {message!r}, expected {key}")
            return message

        expect("ready")
        app_pids, store_pids = server.pids(), server.store_pids()
        sampler.sample()
        sampler.start()
        if profile_dir is not None and server.kind == "ours":
            profilers = start_profilers(server, case, opts.seconds, profile_dir)
        app0, store0, t0 = cpu_seconds(app_pids), cpu_seconds(store_pids), time.monotonic()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        expect("done")
        wall = time.monotonic() - t0
        app1 = cpu_seconds(server.pids())
        store1 = cpu_seconds(store_pids + [p for p in server.store_pids() if p not in store0])
        sampler.stop()
        result = expect("result")["result"]
        proc.wait(timeout=30)
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
        if sampler.is_alive():
            sampler.stop()
        for profiler in profilers:
            profiler.wait(timeout=opts.seconds + 60)
        errlog.close()
    app_cpu, store_cpu = cpu_delta(app0, app1), cpu_delta(store0, store1)
    total = app_cpu + store_cpu
    return Measurement(
        rate=result["rate"],
        p50_ms=result["p50_ms"],
        p99_ms=result["p99_ms"],
        cores_app=app_cpu / wall,
        cores_store=store_cpu / wall,
        per_cpu_s=result["count"] / total if total > 0 else 0.0,
        rss_mib=sampler.peak_rss / 1024,
        pss_mib=sampler.peak_pss / 1024,
        loadgen_cores=result["loadgen_cpu_s"] / result["elapsed"] if result["elapsed"] else 0.0,
        count=result["count"],
        errors=result["errors"],
        error_samples=result["error_samples"],
        loadgen=result.get("loadgen", ""),
        token_p99_ms=_num(result.get("token_p99_ms")),
        side_rate=_num(result.get("side_rate")),
    )


def _cell(value: float, fmt: str) -> str:
    """NaN as "-"; "~": three significant figures at most (rates from 0.8 to 5,000)."""
    if value != value:
        return "-"
    if fmt != "~":
        return fmt.format(value)
    return (
        f"{value:.0f}"
        if abs(value) >= 100
        else f"{value:.1f}"
        if abs(value) >= 10
        else f"{value:.2f}"
    )


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else float("nan")


def start_profilers(
    server: Server, case: str, seconds: float, out: Path
) -> list[subprocess.Popen[bytes]]:
    """py-spy on every gunicorn worker for the measured window (collapsed stacks)."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        log("--profile: py-spy not found (pip install '.[bench]')")
        return []
    workers = [p for p in server.pids() if p != (server.proc.pid if server.proc else None)]
    procs = []
    for pid in workers:
        target = out / f"{server.label}-{case}-{pid}.txt"
        procs.append(
            subprocess.Popen(
                [
                    py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(seconds)),
                    "--rate",
                    "200",
                    "--gil",
                    "--format",
                    "raw",
                    "--output",
                    str(target),
                    "--nonblocking",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


# -- the table ------------------------------------------------------------------------------

COLUMNS = (
    # key, heading, format, better
    ("rate", "rate/s", "~"),
    ("p50_ms", "p50 ms", "{:.1f}"),
    ("p99_ms", "p99 ms", "{:.1f}"),
    ("cores_app", "cores", "{:.2f}"),
    ("cores_store", "+db/redis", "{:.2f}"),
    ("per_cpu_s", "per CPU-s", "~"),
    ("rss_mib", "RSS MiB", "{:.0f}"),
    ("pss_mib", "PSS MiB", "{:.0f}"),
    ("loadgen_cores", "loadgen", "{:.2f}"),
)


READING = """
rate/s: requests (sign-ins, flows) completed per second; p50/p99: latency of one request
or one whole flow; cores: CPU time of the server's own processes (gunicorn master and
workers, or node) / wall time; +db/redis: the same for the PostgreSQL backends serving idp
and the Redis server (shared with anything else using it); per CPU-s: completed per second
of all server-side CPU (both columns): the figure that survives a noisy machine; RSS/PSS:
peak over the run of the sum over the server's processes (PSS shares forked pages fairly);
loadgen: CPU cores used by the load generator. Ratios: above 1 is better for rate/s and
per CPU-s, worse for the others.
"""


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]  # drop NaN
    return statistics.median(clean) if clean else float("nan")


def summarise(runs: list[Measurement]) -> dict[str, Any]:
    if not runs or runs[0].note:
        return {"note": runs[0].note if runs else "not run"}
    summary: dict[str, Any] = {key: median([getattr(r, key) for r in runs]) for key, *_ in COLUMNS}
    summary["errors"] = sum(r.errors for r in runs)
    summary["count"] = sum(r.count for r in runs)
    summary["loadgen"] = runs[0].loadgen
    summary["error_samples"] = [s for r in runs for s in r.error_samples][:3]
    summary["token_p99_ms"] = median([r.token_p99_ms for r in runs])
    summary["side_rate"] = median([r.side_rate for r in runs])
    return summary


def render_table(
    results: dict[str, dict[str, list[Measurement]]],
    labels: list[str],
    ratio: tuple[str, str] | None = None,
) -> str:
    """One block per case: a row per server (medians over rounds), then the ratio
    ``ratio[0] / ratio[1]`` of each figure (default: the first label over the second)."""
    if ratio is None and len(labels) > 1:
        ratio = (labels[0], labels[1])
    heads = ["case", "server"] + [h for _, h, _ in COLUMNS] + ["errors"]
    rows: list[list[str]] = []
    for case, by_server in results.items():
        sums = {label: summarise(by_server.get(label, [])) for label in labels}
        for label in labels:
            s = sums[label]
            if "note" in s:
                rows.append([case, label, s["note"]])
                continue
            cells = [_cell(s[key], fmt) for key, _, fmt in COLUMNS]
            errors = str(s["errors"]) if s["count"] else f"{s['errors']} (failed)"
            rows.append([case, label] + cells + [errors])
        if ratio is not None:
            a, b = sums[ratio[0]], sums[ratio[1]]
            if "note" not in a and "note" not in b:
                cells = []
                for key, _, _ in COLUMNS:
                    x, y = a.get(key, float("nan")), b.get(key, float("nan"))
                    cells.append(f"{x / y:.2f}" if y and x == x and y == y else "-")
                rows.append([case, f"{ratio[0]}/{ratio[1]}"] + cells + [""])
        rows.append([])
    widths = [len(h) for h in heads]
    for row in rows:
        if len(row) == len(heads):
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: list[str]) -> str:
        if len(cells) != len(heads):
            return "  ".join(
                [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])] + cells[2:]
            ).rstrip()
        return "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(heads), line(["-" * w for w in widths])]
    for row in rows:
        out.append(line(row) if row else "")
    extra = []
    for case, by_server in results.items():
        if not case.startswith("flow_"):
            continue
        for label in labels:
            s = summarise(by_server.get(label, []))
            if "note" in s or s.get("token_p99_ms") != s.get("token_p99_ms"):
                continue
            beside = (
                f", beside {s['side_rate']:.1f} password sign-ins/s"
                if s.get("side_rate") == s.get("side_rate")
                else ""
            )
            extra.append(
                f"  {case:20} {label:10} token endpoint p99 {s['token_p99_ms']:.1f} ms{beside}"
            )
    if extra:
        out += ["", "token endpoint alone, within the flows (median over rounds):"] + extra
    return "\n".join(out).rstrip() + "\n"


def environment(opts: Options, servers: list[Server]) -> dict[str, str]:
    cpu = "?"
    try:
        for text_line in Path("/proc/cpuinfo").read_text().splitlines():
            if text_line.startswith("model name"):
                cpu = text_line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(cmd: list[str]) -> str:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            return "?"

    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as pkg_version

    def pkg(name: str) -> str:
        try:
            return pkg_version(name)
        except PackageNotFoundError:
            return "-"

    peer_pkg = PEER_DIR / "node_modules" / "oidc-provider" / "package.json"
    peer_version = json.loads(peer_pkg.read_text())["version"] if peer_pkg.exists() else "-"
    pg = "?"
    try:
        import psycopg

        with psycopg.connect(opts.database_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            pg = str(row[0]) if row else "?"
    except Exception:  # noqa: BLE001 - informational
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} CPUs ({cpu}), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 2**30} GiB, "
        f"Linux {platform.release()}",
        "python": platform.python_version(),
        "idp": f"Flask {pkg('flask')}, Authlib {pkg('authlib')}, "
        f"{_server_shape(opts.workers, pkg)}, SQLAlchemy {pkg('sqlalchemy')}, "
        f"psycopg {pkg('psycopg')}, git {_git_head()}",
        "peer": f"oidc-provider {peer_version} on Node.js {version(['node', '--version'])}",
        "stores": f"PostgreSQL {pg}, Redis {_redis_version()}",
        "load": f"{opts.connections} keep-alive connections, {opts.seconds:g} s per case "
        f"after {opts.warmup:g} s warm-up, {opts.rounds} round(s), "
        f"single-request cases by {'wrk' if opts.tool == 'wrk' else 'Python'}, "
        "flows by bench/loadgen.py (Python asyncio"
        f"{', uvloop' if _has('uvloop') else ''})",
        "servers": ", ".join(f"{s.label} {s.base_url}" for s in servers),
    }


def _redis_version() -> str:
    try:
        done = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for word in done.stdout.split():
        if word.startswith("v="):
            return word[2:]
    return "?"


def _server_shape(workers: int, pkg: Callable[[str], str]) -> str:
    """The WSGI server `idp serve` runs here (IDP_SERVER, IDP_THREADS, its defaults in
    idp.commands.serve), best effort: another engineer may change the server."""
    try:
        from idp.commands import serve

        server = serve.server_choice()
        model = serve.worker_model(server)
        kind = "WSGI" if server == "granian" else model["worker_class"]
        return (
            f"{server} {pkg(server)} ({kind}, {workers} workers x {model['threads']} threads, "
            "preloaded)"
        )
    except Exception:  # noqa: BLE001 - informational
        return f"{workers} workers"


def _git_head() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
        )
        return done.stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> tuple[Options, list[int] | None]:
    parser = argparse.ArgumentParser(
        description="idp beside oidc-provider: one command, one table (bench/README.md)."
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time per case run")
    parser.add_argument("--rounds", type=int, default=3, help="A B rounds per case (medians)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma list of {CASES}")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="idp serve --workers"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first")
    parser.add_argument(
        "--loadgen",
        dest="tool",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="single-request cases under wrk (auto: when installed) or Python",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    parser.add_argument(
        "--scale",
        help="A,B: idp with A citizens beside idp with B citizens (e.g. 1000,1000000)",
    )
    parser.add_argument("--out", type=Path, help="run directory (default bench/out/<stamp>)")
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy every idp worker during each case (slows idp: not for the figures)",
    )
    args = parser.parse_args(argv)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    if args.seconds <= 0 or args.rounds < 1 or args.connections < 1 or args.workers < 1:
        parser.error("--seconds, --rounds, --connections and --workers must be positive")
    scale = None
    if args.scale:
        try:
            scale = [int(x.replace("_", "")) for x in args.scale.split(",")]
        except ValueError:
            parser.error("--scale takes two citizen counts, e.g. 1000,1000000")
        if len(scale) != 2 or min(scale) < 2 * args.connections:
            parser.error("--scale takes two counts of at least 2 x --connections")
        if not args.cases or args.cases == ",".join(CASES):
            cases = ["signin", "flow_es256"]
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "python"
    elif tool == "wrk" and not shutil.which("wrk"):
        parser.error("--loadgen wrk: wrk is not installed (Debian: apt-get install wrk)")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or BENCH / "out" / stamp
    out.mkdir(parents=True, exist_ok=True)
    opts = Options(
        seconds=args.seconds,
        rounds=args.rounds,
        cases=cases,
        workers=args.workers,
        connections=args.connections,
        warmup=args.warmup,
        tool=tool,
        database_url=args.database_url,
        redis_url=args.redis_url,
        out=out,
        keep_logs=args.keep_logs,
        profile=args.profile,
    )
    return opts, scale


def main(argv: list[str] | None = None) -> int:
    opts, scale = parse_args(argv)
    servers: list[Server] = []
    # SIGTERM (a CI timeout, a process manager) stops the servers like Ctrl+C does.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    results: dict[str, dict[str, list[Measurement]]] = {case: {} for case in opts.cases}
    profile_dir = opts.out / "profile" if opts.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(exist_ok=True)
    try:
        if scale is None:
            log("starting idp (idp serve, PostgreSQL, Redis)")
            ours = start_ours(opts, "ours", servers)
            log("starting the peer (oidc-provider)")
            start_peer(opts, ours.citizens, ours.password_hash, servers)
        else:
            for count in scale:
                label = f"ours@{_short(count)}"
                log(f"starting {label}")
                start_ours(opts, label, servers, extra_citizens=count - 2 * opts.connections)
        labels = [s.label for s in servers]
        for round_no in range(1, opts.rounds + 1):
            for case in opts.cases:
                for server in servers:
                    m = measure(opts, server, case, profile_dir)
                    results[case].setdefault(server.label, []).append(m)
                    shown = m.note or (
                        f"{m.rate:.0f}/s p50 {m.p50_ms:.1f} ms p99 {m.p99_ms:.1f} ms, "
                        f"{m.cores_app:.2f}+{m.cores_store:.2f} cores, errors {m.errors}"
                    )
                    log(f"round {round_no}/{opts.rounds} {case:13} {server.label:10} {shown}")
                    for sample in m.error_samples[:2]:
                        log(f"    error: {sample}")
        env = environment(opts, servers)
    except KeyboardInterrupt:
        log("interrupted: stopping the servers")
        return 130
    finally:
        for server in servers:
            server.stop()
        if not opts.keep_logs:
            for pattern in ("*.log", "spec-*.json"):
                for path in opts.out.glob(pattern):
                    path.unlink(missing_ok=True)
        for path in opts.out.glob("instance-*"):
            shutil.rmtree(path, ignore_errors=True)
    table = render_table(results, labels, (labels[1], labels[0]) if scale else None)
    table += READING
    header = "\n".join(f"{k:8} {v}" for k, v in env.items())
    print(header + "\n\n" + table, end="")
    (opts.out / "results.json").write_text(
        json.dumps(
            {
                "environment": env,
                "scale": scale,
                "servers": {
                    s.label: {
                        "base_url": s.base_url,
                        "pid": s.proc.pid if s.proc else None,
                        "schema": s.schema,
                        "redis_prefix": s.redis_prefix,
                    }
                    for s in servers
                },
                "results": {
                    case: {
                        label: {"median": summarise(runs), "runs": [vars(r) for r in runs]}
                        for label, runs in by.items()
                    }
                    for case, by in results.items()
                },
                "table": table,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    if profile_dir is not None:
        summary = summarise_profiles(profile_dir)
        (opts.out / "profile.txt").write_text(summary)
        print("\n" + summary, end="")
    log(f"results in {opts.out / 'results.json'}")
    failed = [
        f"{case}/{label}"
        for case, by in results.items()
        for label, runs in by.items()
        if runs and not runs[0].note and sum(r.count for r in runs) == 0
    ]
    if failed:
        log(f"no successful request in: {', '.join(failed)}")
        return 1
    return 0


def _short(count: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1000)):
        if count >= size and count % size == 0:
            return f"{count // size}{unit}"
    return str(count)


def summarise_profiles(profile_dir: Path, top: int = 20) -> str:
    """Where idp's workers spent their CPU, per case, from py-spy's collapsed stacks
    (``--gil``: only the thread holding the GIL is sampled, so waiting on PostgreSQL or
    Redis and C code that releases the GIL, such as argon2, do not appear).

    Four views: own time per package (sums to 100 %); inclusive time per area (a
    sample counts once for every area on its stack); the innermost frame of idp's own
    code on each stack (which line of ours led to the time, wherever it was spent: the
    place to optimise); own time per function.
    """
    lines: list[str] = []
    by_case: dict[str, list[Path]] = {}
    for path in sorted(profile_dir.glob("*.txt")):
        case = path.name.rsplit("-", 1)[0]
        by_case.setdefault(case, []).append(path)
    for case, paths in by_case.items():
        own: dict[str, int] = {}
        own_area: dict[str, int] = {}
        ours: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for path in paths:
            for raw in path.read_text(errors="replace").splitlines():
                stack, _, count_text = raw.rpartition(" ")
                if not stack or not count_text.isdigit():
                    continue
                count = int(count_text)
                frames = stack.split(";")
                if not frames:
                    continue
                total += count
                own[frames[-1]] = own.get(frames[-1], 0) + count
                leaf = _area(frames[-1])
                own_area[leaf] = own_area.get(leaf, 0) + count
                for area in {_area(f) for f in frames}:
                    inclusive[area] = inclusive.get(area, 0) + count
                mine = [f for f in frames if _OURS.search(f)]
                key = mine[-1] if mine else "(outside idp's code)"
                ours[key] = ours.get(key, 0) + count
        if not total:
            continue

        def block(title: str, counts: dict[str, int], total: int = total) -> None:
            lines.append(f"  {title}:")
            for key, count in sorted(counts.items(), key=lambda kv: -kv[1])[:top]:
                lines.append(f"    {100 * count / total:5.1f}%  {key}")

        lines.append(f"profile {case}: {total} samples (py-spy --gil, all idp workers)")
        block("own time, by package", own_area)
        block("inclusive time, by area", inclusive)
        block("innermost idp frame (the line of ours the time is spent under)", ours)
        block("own time, by function", own)
        lines.append("")
    return "\n".join(lines)


def _area(frame: str) -> str:
    """``func (path/to/module.py:123)`` -> ``idp/oauth``, ``sqlalchemy``, ``stdlib`` ...

    py-spy prints paths relative to sys.path entries; idp and adapters keep their
    sub-package, third-party code its distribution, the standard library is one area.
    """
    match = _FRAME.search(frame)
    if match is None:
        return "<native>"
    path = match.group(1)
    parts = Path(path).parts
    if not parts:
        return "<native>"
    if parts[0] in ("idp", "adapters", "demo") or "idp" in parts[:-1]:
        i = parts.index("idp") if "idp" in parts else 0
        return "/".join(parts[i : i + 2]).removesuffix(".py")
    if parts[0] in STDLIB_TOP or parts[0].removesuffix(".py") in STDLIB_TOP:
        return "stdlib"
    if path.startswith("<"):
        return "<frozen>"
    return parts[0].removesuffix(".py")


_OURS = re.compile(r"\((?:idp|adapters)/[^()]*\.py:\d+\)$")
_FRAME = re.compile(r"\(([^()]+\.py):\d+\)$")
STDLIB_TOP = set(getattr(sys, "stdlib_module_names", ()))


if __name__ == "__main__":
    sys.exit(main())
