"""`idp citizens import FILE.csv`, driven through the real command on both backends."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

EXIT_OK, EXIT_REJECTED, EXIT_FILE_ERROR = 0, 1, 2

A = "11010519491231002X"  # GB 11643-1999's example
A15 = "110105491231002"  # the same person's legacy number
B = "440305198001011235"
C = "810000199001010019"  # Hong Kong residence permit
D = "911124198108030024"  # 2023 green card
E = "KAZ110090123105"  # 2017 green card
BAD_CHECK = "110105194912310021"
BAD_DATE = "110105194902300020"  # check digit right, 30 February
ALL_CLEAR = (A, A15, B, C, D, E, BAD_CHECK, BAD_DATE, "19491231", "19800101")


@pytest.fixture
def csv_file(tmp_path: Path) -> Any:
    counter = iter(range(1000))

    def write(content: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
        path = tmp_path / f"extract-{next(counter)}.csv"
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + content.encode(encoding))
        return path

    return write


@pytest.fixture
def run(app: Any) -> Any:
    runner = app.test_cli_runner()

    def invoke(path: Path, *options: str) -> Any:
        result = runner.invoke(args=["citizens", "import", str(path), *options])
        for clear in ALL_CLEAR:  # the clear number never reaches the operator's terminal
            assert clear not in result.output
        return result

    return invoke


def entries() -> dict[str, tuple[str, str | None, str]]:
    """Registry rows as {clear number: (name, phone, id_type)}, decrypted for the test."""
    from idp.authn.citizens import keyring
    from idp.authn.citizens import registry_context
    from idp.extensions import db
    from idp.ids.protect import unseal
    from idp.models import RegistryEntry

    db.session.expire_all()
    rows = db.session.scalars(select(RegistryEntry)).all()
    kr = keyring()
    return {
        unseal(kr, e.id_number_enc, context=registry_context(e.id)): (e.name, e.phone, e.id_type)
        for e in rows
    }


GOOD = f"""id_number,name,phone
{A},张三,13800138000
{B},李四,
{C},陈大文,+85291234567
{D},John Smith,
{E},Anna Ivanova,
"""


def test_good_file_is_imported(run: Any, csv_file: Any) -> None:
    result = run(csv_file(GOOD))
    assert result.exit_code == EXIT_OK, result.output
    assert "inserted 5, updated 0, unchanged 0, rejected 0" in result.output
    assert entries() == {
        A: ("张三", "+8613800138000", "resident"),
        B: ("李四", None, "resident"),
        C: ("陈大文", "+85291234567", "hk_macao_taiwan_permit"),
        D: ("John Smith", None, "permanent_residence_2023"),
        E: ("Anna Ivanova", None, "permanent_residence_2017"),
    }


def test_same_file_twice_gives_the_same_state(run: Any, csv_file: Any) -> None:
    path = csv_file(GOOD)
    run(path)
    before = entries()
    again = run(path)
    assert again.exit_code == EXIT_OK
    assert "inserted 0, updated 0, unchanged 5, rejected 0" in again.output
    assert entries() == before


def test_changed_rows_are_updated_in_place(run: Any, csv_file: Any) -> None:
    from idp.extensions import db
    from idp.models import RegistryEntry

    run(csv_file(GOOD))
    ids_before = set(db.session.scalars(select(RegistryEntry.id)))
    # The legacy 15-digit form is the same person as A: an update, not a second row.
    result = run(csv_file(f"id_number,name,phone\n{A15},张三,13900139000\n{B},李 四,\n"))
    assert result.exit_code == EXIT_OK
    assert "inserted 0, updated 1, unchanged 1, rejected 0" in result.output
    assert entries()[A] == ("张三", "+8613900139000", "resident")
    assert set(db.session.scalars(select(RegistryEntry.id))) == ids_before


def test_file_without_phone_column_keeps_stored_phones(run: Any, csv_file: Any) -> None:
    run(csv_file(GOOD))
    result = run(csv_file(f"id_number,name\n{A},张三\n"))
    assert "unchanged 1" in result.output
    assert entries()[A][1] == "+8613800138000"
    cleared = run(csv_file(f"id_number,name,phone\n{A},张三,\n"))
    assert "updated 1" in cleared.output and entries()[A][1] is None


def test_bad_rows_are_reported_by_line_and_valid_rows_kept(run: Any, csv_file: Any) -> None:
    content = (
        "id_number,name,phone\n"
        f"{A},张三,\n"  # line 2
        f"{BAD_CHECK},坏人,\n"  # line 3
        "\n"  # line 4: blank lines are skipped but counted
        f"{BAD_DATE},错日,\n"  # line 5
        f"{B},,\n"  # line 6: no name
        f"{C},陈大文,12345\n"  # line 7: not a mobile number
        f"{D},John Smith\n"  # line 8: a field short
        f"{E},Anna Ivanova,\n"  # line 9
    )
    result = run(csv_file(content))
    assert result.exit_code == EXIT_REJECTED
    err = result.stderr
    assert "line 3: id_number (11**************21): check digit does not match" in err
    assert "line 5: id_number (11**************20): birth date is not a real date" in err
    assert "line 6: name (44**************35): The name is empty" in err
    assert "line 7: phone (81**************19): The phone number is not a valid mobile" in err
    assert "line 8: row (91**************24): the row has 2 fields, the header has 3" in err
    assert "inserted 2, updated 0, unchanged 0, rejected 5" in result.stdout
    assert set(entries()) == {A, E}


def test_a_number_twice_in_one_file_rejects_both_rows(run: Any, csv_file: Any) -> None:
    content = f"id_number,name\n{A},张三\n{B},李四\n{A15},张三\n"
    result = run(csv_file(content), "--json")
    assert result.exit_code == EXIT_REJECTED
    report = json.loads(result.stdout)
    assert report["inserted"] == 1 and report["rejected"] == 2
    assert [(e["line"], e["field"], e["rule"]) for e in report["errors"]] == [
        (2, "id_number", "the same ID number is also on line 4"),
        (4, "id_number", "the same ID number is also on line 2"),
    ]
    assert set(entries()) == {B}


def test_byte_order_mark_is_accepted(run: Any, csv_file: Any) -> None:
    result = run(csv_file(GOOD, bom=True))
    assert result.exit_code == EXIT_OK, result.output
    assert len(entries()) == 5


def test_other_encodings_on_request(run: Any, csv_file: Any) -> None:
    path = csv_file(f"id_number,name\n{A},张三\n", encoding="gb18030")
    refused = run(path)
    assert refused.exit_code == EXIT_FILE_ERROR and "not readable as utf-8" in refused.stderr
    assert entries() == {}
    assert run(path, "--encoding", "gb18030").exit_code == EXIT_OK
    assert entries()[A][0] == "张三"


def test_dry_run_counts_but_writes_nothing(run: Any, csv_file: Any) -> None:
    result = run(csv_file(GOOD), "--dry-run", "--json")
    assert result.exit_code == EXIT_OK
    report = json.loads(result.stdout)
    assert report["inserted"] == 5 and report["dry_run"] and not report["written"]
    assert entries() == {}


def test_strict_writes_nothing_when_a_row_is_bad(run: Any, csv_file: Any) -> None:
    result = run(csv_file(f"id_number,name\n{A},张三\n{BAD_CHECK},坏人\n"), "--strict")
    assert result.exit_code == EXIT_REJECTED
    assert "nothing written" in result.stdout
    assert entries() == {}


def test_json_summary(run: Any, csv_file: Any) -> None:
    result = run(csv_file(f"id_number,name,phone,remark\n{A},张三,,北京\n"), "--json")
    report = json.loads(result.stdout)
    assert report == {
        "inserted": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "accounts_updated": 0,
        "dry_run": False,
        "written": True,
        "ignored_columns": ["remark"],
        "errors": [],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no header line"),
        ("number,full_name\n1,2\n", "must name the columns id_number and name"),
        ("id_number,name,name\n", "names a column twice"),
        (f'id_number,name\n{A},"张三\n', "malformed near line 2"),
    ],
)
def test_unusable_file_writes_nothing(run: Any, csv_file: Any, content: str, message: str) -> None:
    result = run(csv_file(content))
    assert result.exit_code == EXIT_FILE_ERROR
    assert message in result.stderr
    assert entries() == {}


def test_header_is_case_and_width_insensitive(run: Any, csv_file: Any) -> None:
    result = run(csv_file(f" ID_Number ,ＮＡＭＥ\r\n{A},张三\r\n"))
    assert result.exit_code == EXIT_OK, result.output
    assert set(entries()) == {A}
