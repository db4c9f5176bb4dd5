"""The benchmark still works: a short run of ``bench/run.py`` prints its table.

Benchmarks are not tests (issue 7): this asserts only that the harness starts idp
(`idp serve`, PostgreSQL, Redis) and the peer (oidc-provider, installed with ``npm ci`` when
``bench/peer/node_modules`` is missing), drives two cases through both, stops everything
and prints one table. It never checks a timing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine
from sqlalchemy import text

from tests.conftest import PG_URL
from tests.conftest import REDIS_URL

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peer"

pytestmark = pytest.mark.skipif(
    "postgres" not in os.environ.get("IDP_TEST_BACKENDS", "sqlite,postgres"),
    reason="needs the PostgreSQL + Redis backend",
)


@pytest.fixture(scope="module")
def peer_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("the benchmark's peer needs Node.js 20+ and npm on PATH")
    if not (PEER / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=PEER,
            check=True,
            timeout=300,
            stdout=subprocess.DEVNULL,
        )


def _schema_exists(name: str) -> bool:
    engine = create_engine(PG_URL)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": name}
        ).fetchone()
    engine.dispose()
    return found is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_short_run_prints_the_table_and_leaves_nothing_behind(peer_installed, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--seconds",
            "1",
            "--rounds",
            "1",
            "--warmup",
            "0.5",
            "--cases",
            "discovery,flow_es256",
            "--database-url",
            PG_URL.replace("postgresql+psycopg://", "postgresql://"),
            "--redis-url",
            REDIS_URL,
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout
    assert "rate/s" in table and "per CPU-s" in table and "PSS MiB" in table
    for case in ("discovery", "flow_es256"):
        rows = [line.split() for line in table.splitlines() if line.startswith(case)]
        assert [row[1] for row in rows] == ["ours", "peer", "ours/peer"], table
        for row in rows[:2]:
            assert row[-1] == "0", f"errors in {case}: {table}\n{done.stderr[-2000:]}"
            assert float(row[2]) > 0, table

    results = json.loads((tmp_path / "results.json").read_text())
    assert set(results["results"]) == {"discovery", "flow_es256"}
    # Everything the run started is gone: its schema, its Redis keys, its processes.
    servers = results["servers"]
    assert set(servers) == {"ours", "peer"}
    assert not any(_alive(s["pid"]) for s in servers.values())
    ours = servers["ours"]
    assert ours["schema"].startswith("bench_") and not _schema_exists(ours["schema"])
    store = redis.Redis.from_url(REDIS_URL)
    assert not list(store.scan_iter(match=ours["redis_prefix"] + "*", count=1000))


def _pg_url() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def test_the_in_process_tools_print_their_figures():
    """``bench/inprocess.py`` (idp per request, with PostgreSQL's CPU) and
    ``bench/floor.py`` (the stack's floor per flow) still run; no timing is checked."""
    env = {**os.environ, "IDP_TEST_DATABASE_URL": PG_URL, "IDP_TEST_REDIS_URL": REDIS_URL}
    inprocess = subprocess.run(
        [sys.executable, "bench/inprocess.py", "--cases", "flow,introspection", "--n", "3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert inprocess.returncode == 0, inprocess.stderr[-2000:]
    lines = {line.split()[0]: line.split() for line in inprocess.stdout.splitlines() if line}
    assert len(lines["flow"]) == 4 and len(lines["introspection"]) == 4  # CPU, wall, PG ms
    floor = subprocess.run(
        [sys.executable, "bench/floor.py", "--n", "3", "--database-url", _pg_url()],
        cwd=ROOT,
        env={**env, "BENCH_REDIS_URL": REDIS_URL},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert floor.returncode == 0, floor.stderr[-2000:]
    rows = [line.split()[0] for line in floor.stdout.splitlines()[1:] if line]
    assert rows == ["flask", "wsgi"]
