"""Loading licences from a file (``idp licences import``): CSV and JSON lines, all or
nothing, bad rows reported by line and rule with the ID number redacted, idempotent on
(type, number); and the store's status rules."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from licence_helpers import OTHER_ID_NUMBER
from licence_helpers import row
from sqlalchemy import func
from sqlalchemy import select

from idp.errors import InvalidInput
from idp.extensions import db
from idp.licences import store
from idp.models import Licence

CSV_HEADER = (
    "type,number,id_number,department,issued_on,expires_on,fields.name,fields.vehicle_classes"
)


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["licences", *args])


def count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Licence)))


def write_jsonl(tmp_path: Any, records: list[Any], name: str = "l.jsonl") -> str:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n")
    return str(path)


def test_jsonl_import_then_again_is_idempotent(app: Any, tmp_path: Any) -> None:
    records = [row(t) for t in ("driving_licence", "business_licence", "household_register")]
    path = write_jsonl(tmp_path, records)
    first = invoke(app, "import", path, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["inserted"] == 3 and count() == 3
    again = json.loads(invoke(app, "import", path, "--json").output)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 3)
    # A changed field updates the licence in place.
    records[0]["fields"]["vehicle_classes"] = "C1 D"
    changed = json.loads(invoke(app, "import", write_jsonl(tmp_path, records), "--json").output)
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 2)
    licence = store.find(type="driving_licence", number="DRI-0001")
    assert licence.fields["vehicle_classes"] == "C1 D" and count() == 3
    # The holder is kept only as the blind index: no ID number in the row.
    assert CITIZEN_ID_NUMBER not in json.dumps(
        {c.name: str(getattr(licence, c.name)) for c in Licence.__table__.columns}
    )


def test_csv_import(app: Any, tmp_path: Any) -> None:
    path = tmp_path / "l.csv"
    path.write_text(
        CSV_HEADER + "\n"
        f"driving_licence,DL-1,{CITIZEN_ID_NUMBER},Transport Bureau,2021-01-02,2027-01-02,张三,C1\n"
        f"driving_licence,DL-2,{OTHER_ID_NUMBER},Transport Bureau,2021-01-02,,李四,C2\n",
        encoding="utf-8",
    )
    result = invoke(app, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "inserted 2, updated 0, unchanged 0" in result.output
    licence = store.find(type="driving_licence", number="DL-2")
    assert licence.expires_on is None and licence.fields == {
        "name": "李四",
        "vehicle_classes": "C2",
    }
    assert licence.issued_on == date(2021, 1, 2) and licence.status == "valid"


def test_one_bad_row_writes_nothing_and_says_why(app: Any, tmp_path: Any) -> None:
    bad_number = "11010519491231002Y"
    records = [
        row("driving_licence"),
        row("driving_licence", number="DRI-0002", id_number=bad_number),
        row("business_licence", fields={"entity_name": "X"}),
        row("household_register", issued_on="2020-02-30"),
        row("marriage_certificate", type="pilot_licence"),
        row("driving_licence"),
        row("business_licence", number="BUS-0002", expires_on="2010-01-01"),
    ]
    result = invoke(app, "import", write_jsonl(tmp_path, records))
    assert result.exit_code == 1
    assert count() == 0
    out = result.output
    assert "line 2: id_number (11**************2Y): " in out
    assert "line 3: fields (11**************2X): missing required field(s): " in out
    assert "unified_social_credit_code" in out
    assert "line 4: issued_on" in out and "no such date" in out
    assert "line 5: type" in out
    # Two rows with one (type, number): both reported.
    assert "line 1: number" in out and "also on line 6" in out
    assert "line 7: expires_on" in out and "before the issue date" in out
    assert "nothing written" in out
    assert bad_number not in out and CITIZEN_ID_NUMBER not in out


def test_a_licence_keeps_its_holder_and_department(app: Any, tmp_path: Any) -> None:
    invoke(app, "import", write_jsonl(tmp_path, [row()]))
    moved = invoke(app, "import", write_jsonl(tmp_path, [row(id_number=OTHER_ID_NUMBER)]))
    assert moved.exit_code == 1 and "another holder" in moved.output
    other = invoke(app, "import", write_jsonl(tmp_path, [row(department="Other Bureau")]))
    assert other.exit_code == 1 and "another department" in other.output
    assert store.find(type="driving_licence", number="DRI-0001").department == "Transport Bureau"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no header"),
        ("type,number,id_number\n", "issued_on"),
        ("type,number,id_number,issued_on,colour\n", "Unknown column"),
        ('type,number,id_number,issued_on\n"unterminated\n', "malformed"),
    ],
)
def test_unusable_csv_file(app: Any, tmp_path: Any, content: str, message: str) -> None:
    path = tmp_path / "l.csv"
    path.write_text(content)
    result = invoke(app, "import", str(path))
    assert result.exit_code == 2 and message in result.output


def test_unusable_jsonl_and_unknown_format(app: Any, tmp_path: Any) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text('{"type": "driving_licence"}\n{not json\n')
    result = invoke(app, "import", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.output) == {"error": "Line 2 is not valid JSON.", "written": False}
    other = tmp_path / "l.txt"
    other.write_text("x")
    assert invoke(app, "import", str(other)).exit_code == 2
    assert invoke(app, "import", str(other), "--format", "jsonl").exit_code == 2


def test_dry_run_writes_nothing(app: Any, tmp_path: Any) -> None:
    result = invoke(app, "import", write_jsonl(tmp_path, [row()]), "--dry-run")
    assert result.exit_code == 0 and "dry run" in result.output
    assert count() == 0


def test_status_changes(app: Any, tmp_path: Any) -> None:
    invoke(app, "import", write_jsonl(tmp_path, [row()]))
    args = ("set-status", "driving_licence", "DRI-0001")
    assert invoke(app, *args, "suspended", "--reason", "points").exit_code == 0
    licence = store.find(type="driving_licence", number="DRI-0001")
    assert licence.status == "suspended" and licence.status_reason == "points"
    assert invoke(app, *args, "valid").exit_code == 0
    assert invoke(app, *args, "revoked").exit_code == 0
    refused = invoke(app, *args, "valid")
    assert refused.exit_code == 2 and "cannot become valid" in refused.output
    missing = invoke(app, "set-status", "driving_licence", "NOPE", "revoked")
    assert missing.exit_code == 2
    # A department may change only its own licences.
    with pytest.raises(InvalidInput):
        store.set_status(
            type="driving_licence",
            number="DRI-0001",
            status="revoked",
            reason=None,
            department="Other Bureau",
        )


def test_expired_by_date(app: Any, tmp_path: Any) -> None:
    invoke(
        app, "import", write_jsonl(tmp_path, [row(issued_on="2010-01-01", expires_on="2016-01-01")])
    )
    licence = store.find(type="driving_licence", number="DRI-0001")
    assert licence.status == "valid"
    assert store.effective_status(licence) == store.Status.EXPIRED
    assert store.effective_status(licence, today=date(2015, 1, 1)) == store.Status.VALID
