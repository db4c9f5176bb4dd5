"""Load many citizens into the provider's PostgreSQL database, fast (the scale case).

    DATABASE_URL=postgresql://... IDP_MASTER_KEY=... python bench/load_citizens.py --count 1000000

Each row is what ``idp.authn.citizens.create_citizen`` would write: a valid GB 11643
resident ID number (region, birth date, sequence, ISO 7064 MOD 11-2 check character),
sealed with ``idp.ids.protect.seal`` under the citizen's own context and found through
``idp.ids.protect.blind_index``, both with the keyring derived from IDP_MASTER_KEY. Every
citizen gets a password credential; they all share one argon2id hash (of
``--password``), computed once: hashing a million passwords would take hours and change
nothing the benchmark measures (a sign-in verifies one hash, whatever the table holds).

Rows are streamed with PostgreSQL ``COPY`` (no ORM), both tables in one transaction, then
the tables are ANALYZEd so the planner sees their real size. About 90 s per million rows
on the 2-core benchmark machine (12,000 rows/s measured at 100,000: citizen rows with
sealing and blind index 64 %, credentials 28 %, ANALYZE 8 %).

The numbers come from a range no seeded or demo citizen uses (region codes of
Guangdong, birth dates 1940-2005, sequences 100-999), numbered by ``--start``: running
the script again with ``--start`` past the last row adds more without collisions; rows
whose number already exists are an error (unique blind index), never a silent overwrite.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC
from datetime import date
from datetime import datetime
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Guangdong (GB/T 2260): Guangzhou districts, Shenzhen, Zhuhai, Shantou, Foshan, Shaoguan.
REGIONS = ("440103", "440104", "440105", "440106", "440303", "440402", "440507", "440604")
FIRST_DAY = date(1940, 1, 1)
DAYS = (date(2005, 12, 31) - FIRST_DAY).days + 1  # 23,742 birth dates
SEQUENCES = 900  # 100..999: the seeded benchmark citizens use 001..099
PER_REGION = DAYS * SEQUENCES  # ~21 million numbers per region
CAPACITY = PER_REGION * len(REGIONS)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def id_number(n: int) -> tuple[str, date, str]:
    """The n-th number of the range: (normalised number, birth date, sex "M"/"F")."""
    from idp.ids.resident_id import mod11_2

    if not 0 <= n < CAPACITY:
        raise ValueError(f"citizen number {n} outside the range (0..{CAPACITY - 1})")
    region, rest = divmod(n, PER_REGION)
    day, seq = divmod(rest, SEQUENCES)
    born = FIRST_DAY + timedelta(days=day)
    body = f"{REGIONS[region]}{born:%Y%m%d}{100 + seq:03d}"
    # GB 11643: an odd sequence code is a man, an even one a woman.
    return body + mod11_2(body=body), born, "M" if (100 + seq) % 2 else "F"


def name_of(n: int) -> str:
    return (
        SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 20) % len(GIVEN)] + GIVEN[(n // 7) % len(GIVEN)]
    )


def rows(keyring: object, start: int, count: int, now: datetime) -> Iterator[tuple[object, ...]]:
    from idp.authn.citizens import citizen_context
    from idp.ids.protect import blind_index
    from idp.ids.protect import seal

    for n in range(start, start + count):
        number, born, sex = id_number(n)
        citizen_id = str(uuid.uuid4())
        yield (
            citizen_id,
            "resident",
            seal(keyring, number, context=citizen_context(citizen_id)),  # type: ignore[arg-type]
            blind_index(keyring, number),  # type: ignore[arg-type]
            name_of(n),
            f"+86139{n % 100_000_000:08d}",
            born,
            sex,
            "registry",
            now,
        )


CITIZEN_COLUMNS = (
    "id",
    "id_type",
    "id_number_enc",
    "id_number_index",
    "name",
    "phone",
    "birthdate",
    "gender",
    "proofing",
    "created_at",
)


def load(*, count: int, start: int, password: str, batch: int = 50_000) -> dict[str, float]:
    """Load ``count`` citizens numbered from ``start``; returns timings in seconds."""
    import psycopg
    from sqlalchemy.engine import make_url

    from idp import create_app
    from idp.authn.methods.password import hash_password

    app = create_app()
    keyring = app.extensions["idp.keyring"]
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    pw_hash = hash_password(password=password)
    now = datetime.now(UTC)
    t0 = time.monotonic()
    with psycopg.connect(conninfo) as conn:
        _check_columns(conn)
        ids: list[str] = []
        with conn.cursor() as cur:
            with cur.copy(f"COPY citizen ({', '.join(CITIZEN_COLUMNS)}) FROM STDIN") as copy:
                for row in rows(keyring, start, count, now):
                    copy.write_row(row)
                    ids.append(row[0])  # type: ignore[arg-type]
            t1 = time.monotonic()
            with cur.copy(
                "COPY password_credential (citizen_id, hash, updated_at) FROM STDIN"
            ) as copy:
                for citizen_id in ids:
                    copy.write_row((citizen_id, pw_hash, now))
        conn.commit()
        t2 = time.monotonic()
        conn.autocommit = True
        conn.execute("ANALYZE citizen")
        conn.execute("ANALYZE password_credential")
        total = conn.execute("SELECT count(*) FROM citizen").fetchone()
    t3 = time.monotonic()
    return {
        "citizens": float(count),
        "citizens_in_table": float(total[0] if total else 0),
        "citizen_copy_s": t1 - t0,
        "credential_copy_s": t2 - t1,
        "analyze_s": t3 - t2,
        "total_s": t3 - t0,
    }


def _check_columns(conn: object) -> None:
    """Refuse early, naming the column, if a migration added a NOT NULL column without a
    default that this script does not fill."""
    query = """
        SELECT column_name FROM information_schema.columns
        WHERE table_name = %s AND table_schema = current_schema()
          AND is_nullable = 'NO' AND column_default IS NULL
    """
    for table, filled in (
        ("citizen", set(CITIZEN_COLUMNS)),
        ("password_credential", {"citizen_id", "hash", "updated_at"}),
    ):
        missing = {r[0] for r in conn.execute(query, (table,))} - filled  # type: ignore[attr-defined]
        if missing:
            raise SystemExit(
                f"load_citizens: {table} has required columns this script does not fill: "
                f"{', '.join(sorted(missing))}; update bench/load_citizens.py"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, required=True, help="citizens to add")
    parser.add_argument("--start", type=int, default=0, help="first number of the range")
    parser.add_argument(
        "--password", default="bench-filler-password", help="the one password of every row"
    )
    args = parser.parse_args()
    if args.count < 0:
        parser.error("--count must be >= 0")
    timings = load(count=args.count, start=args.start, password=args.password)
    rate = args.count / timings["total_s"] if timings["total_s"] else 0
    print(
        f"loaded {args.count:,} citizens in {timings['total_s']:.1f} s ({rate:,.0f}/s; "
        f"citizen COPY {timings['citizen_copy_s']:.1f} s, credentials "
        f"{timings['credential_copy_s']:.1f} s, ANALYZE {timings['analyze_s']:.1f} s); "
        f"the table now holds {int(timings['citizens_in_table']):,}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
