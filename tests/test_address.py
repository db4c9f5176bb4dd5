"""The `address` scope (issue 4): the registry's address of household registration is
imported (CSV and JSON lines), copied to the account, released by UserInfo as the OIDC
Core 5.1.1 Address Claim only under the `address` scope, recorded as a release and shown
to the citizen."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import CITIZEN_ID_NUMBER
from oidc_helpers import authorize
from oidc_helpers import bearer
from oidc_helpers import csrf_from
from oidc_helpers import exchange
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import pkce
from oidc_helpers import redirected_to
from oidc_helpers import register
from oidc_helpers import sign_in
from sqlalchemy import select

EXIT_OK, EXIT_REJECTED, EXIT_FILE_ERROR = 0, 1, 2
A = "11010519491231002X"  # GB 11643-1999's example
B = "440305198001011235"
HOME = {
    "formatted": "北京市西城区金融街 7 号",
    "street_address": "金融街 7 号",
    "locality": "西城区",
    "region": "北京市",
    "postal_code": "100033",
    "country": "中国",
}
ADDRESS_HEADER = (
    "id_number,name,address_formatted,address_street_address,address_locality,"
    "address_region,address_postal_code,address_country"
)


@pytest.fixture(autouse=True)
def _fresh(app: Any) -> None:
    fresh_requests(app)


@pytest.fixture
def write(tmp_path: Path) -> Any:
    counter = iter(range(1000))

    def write_file(content: str, suffix: str = ".csv") -> Path:
        path = tmp_path / f"extract-{next(counter)}{suffix}"
        path.write_bytes(content.encode())
        return path

    return write_file


@pytest.fixture
def run(app: Any) -> Any:
    runner = app.test_cli_runner()

    def invoke(path: Path, *options: str) -> Any:
        result = runner.invoke(args=["citizens", "import", str(path), *options])
        assert A not in result.output and B not in result.output
        return result

    return invoke


def stored() -> dict[str, Any]:
    """{registry name: address} as stored."""
    from idp.extensions import db
    from idp.models import RegistryEntry

    db.session.expire_all()
    return {e.name: e.address for e in db.session.scalars(select(RegistryEntry))}


def _csv_line(*cells: str) -> str:
    return ",".join(f'"{c}"' if "," in c else c for c in cells)


# --- the Address Claim's rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "field", "rule"),
    [
        ({"floor": "3"}, "address", "unknown address member 'floor'"),
        ({"postal_code": 100033}, "address.postal_code", "must be a string"),
        ({"locality": "西城区\n金融街"}, "address.locality", "must be one line"),
        ({"region": "x" * 101}, "address.region", "longer than 100 characters"),
        ({"formatted": "a\u202eb"}, "address.formatted", "not allowed"),
        ({"formatted": "\n".join("abcdef")}, "address.formatted", "at most 5 lines"),
        ({"postal_code": "100-033#"}, "address.postal_code", "letters, digits, spaces"),
        (["北京"], "address", "must be an object"),
    ],
)
def test_an_address_breaking_a_rule_is_refused(value: Any, field: str, rule: str) -> None:
    from idp.models.address import InvalidAddress
    from idp.models.address import normalise_address

    with pytest.raises(InvalidAddress) as refused:
        normalise_address(value)
    assert refused.value.field == field and rule in refused.value.public


def test_an_address_is_normalised_and_empty_members_dropped() -> None:
    from idp.models.address import normalise_address

    raw = {"formatted": " 北京市  西城区\r\n\r\n金融街７号 ", "postal_code": "１０００33"}
    clean = {"formatted": "北京市 西城区\n金融街7号", "postal_code": "100033"}
    assert normalise_address({**raw, "country": ""}) == clean
    assert normalise_address({"country": None, "region": "  "}) is None


def test_the_account_page_shows_the_formatted_address_else_the_members() -> None:
    from idp.models.address import display_lines

    assert display_lines(HOME) == ["北京市西城区金融街 7 号"]
    members = {k: v for k, v in HOME.items() if k != "formatted"}
    assert display_lines(members) == ["中国", "北京市", "西城区", "金融街 7 号", "100033"]
    assert display_lines({"street_address": "金融街 7 号\n2 单元"}) == ["金融街 7 号", "2 单元"]
    assert display_lines(None) == []


def test_the_model_refuses_a_bad_address(app: Any, citizen: Any) -> None:
    from idp.models.address import InvalidAddress

    with pytest.raises(InvalidAddress):
        citizen.address = {"street": "金融街"}
    citizen.address = {"locality": "西城区"}
    assert citizen.address == {"locality": "西城区"}


# --- import ---------------------------------------------------------------------------------------


def test_csv_with_address_columns_is_imported_and_idempotent(run: Any, write: Any) -> None:
    content = f"{ADDRESS_HEADER}\n{_csv_line(A, '张三', *HOME.values())}\n{B},李四,,,,,,\n"
    result = run(write(content))
    assert result.exit_code == EXIT_OK, result.output
    assert stored() == {"张三": HOME, "李四": None}

    again = run(write(content))
    assert "inserted 0, updated 0, unchanged 2, rejected 0" in again.output

    moved = content.replace("金融街 7 号", "金融街 9 号")
    assert "updated 1, unchanged 1" in run(write(moved)).output
    assert stored()["张三"]["street_address"] == "金融街 9 号"


def test_one_address_column_is_the_formatted_address(run: Any, write: Any) -> None:
    result = run(write(f"id_number,name,address\n{A},张三,北京市西城区金融街 7 号\n"))
    assert result.exit_code == EXIT_OK, result.output
    assert stored() == {"张三": {"formatted": "北京市西城区金融街 7 号"}}


def test_a_file_without_address_columns_keeps_stored_addresses(run: Any, write: Any) -> None:
    run(write(f"id_number,name,address\n{A},张三,北京市西城区金融街 7 号\n"))
    result = run(write(f"id_number,name,phone\n{A},张三,13800138000\n"))
    assert "updated 1" in result.output
    assert stored() == {"张三": {"formatted": "北京市西城区金融街 7 号"}}
    # An empty cell clears it.
    run(write(f"id_number,name,address\n{A},张三,\n"))
    assert stored() == {"张三": None}


def test_bad_addresses_are_reported_by_line_field_and_rule(run: Any, write: Any) -> None:
    content = (
        "id_number,name,address_locality,address_postal_code\n"
        f"{A},张三,西城区,100-033#\n"
        f"{B},李四,福田区,518000\n"
    )
    result = run(write(content), "--json")
    assert result.exit_code == EXIT_REJECTED
    report = json.loads(result.stdout)
    assert report["inserted"] == 1 and report["rejected"] == 1
    assert report["errors"] == [
        {
            "line": 2,
            "field": "address_postal_code",
            "rule": "only letters, digits, spaces and dashes",
            "id_number": "11**************2X",
        }
    ]
    assert stored() == {"李四": {"locality": "福田区", "postal_code": "518000"}}


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("id_number,name,address_floor", "Unknown address column 'address_floor'"),
        ("id_number,name,address,address_formatted", "formatted address once"),
    ],
)
def test_unknown_address_columns_make_the_file_unusable(
    run: Any, write: Any, header: str, message: str
) -> None:
    result = run(write(f"{header}\n{A},张三,x,y\n"))
    assert result.exit_code == EXIT_FILE_ERROR
    assert message in result.output
    assert stored() == {}


def test_json_lines_with_an_address_object(run: Any, write: Any) -> None:
    lines = [
        json.dumps({"id_number": A, "name": "张三", "address": HOME}, ensure_ascii=False),
        json.dumps({"id_number": B, "name": "李四", "address": {"floor": "3"}}),
        json.dumps({"id_number": B, "name": "李四", "address": "福田区"}),
        "not json",
        json.dumps({"id_number": "440305198001011236", "name": "王五", "address": None}),
        json.dumps({"id_number": 440305198001011236, "name": "赵六", "remark": "x"}),
    ]
    result = run(write("\n".join(lines) + "\n", ".jsonl"), "--json")
    assert result.exit_code == EXIT_REJECTED, result.output
    report = json.loads(result.stdout)
    errors = [(e["line"], e["field"], e["rule"]) for e in report["errors"]]
    # Line 2 and 3 carry the same number: both rejected for their own rule, and line
    # 4 is one bad row, not a bad file. The valid first line is kept.
    assert (2, "address", "unknown address member 'floor'") in errors
    assert (3, "address", "must be an object or null") in errors
    assert (4, None, "the line is not valid JSON") in errors
    assert (6, "id_number", "must be a string") in errors
    assert report["ignored_columns"] == ["remark"]
    assert stored()["张三"] == HOME
    # A row without an "address" key leaves the stored one alone.
    run(write(json.dumps({"id_number": A, "name": "张三"}) + "\n", ".jsonl"))
    assert stored()["张三"] == HOME


def test_import_brings_an_existing_accounts_address_up_to_date(
    run: Any, write: Any, citizen: Any
) -> None:
    from idp.extensions import db

    line = json.dumps({"id_number": CITIZEN_ID_NUMBER, "name": "张三", "address": HOME})
    dry = run(write(line + "\n", ".jsonl"), "--dry-run", "--json")
    assert json.loads(dry.stdout)["accounts_updated"] == 1
    db.session.refresh(citizen)
    assert citizen.address is None

    result = run(write(line + "\n", ".jsonl"))
    assert "addresses updated on 1 accounts" in result.output
    db.session.refresh(citizen)
    assert citizen.address == HOME


def test_registration_copies_the_registry_address(app: Any, http: Any) -> None:
    from webforms import post_form
    from webforms import prepare
    from webforms import resident

    from idp.authn.citizens import find_by_id_number
    from idp.authn.sms.gateway import outbox
    from idp.citizens_import import import_registry

    prepare(app)
    wang = resident("44030619900101123")
    rows = f"id_number,name,phone,address\n{wang},王小明,13800138001,深圳市南山区科技园 1 号\n"
    assert import_registry(data=rows.encode()).rejected == 0
    password = "a sunny day in Shenzhen"
    page = http.get("/register").get_data(as_text=True)
    fields = {"id_number": wang, "name": "王小明", "phone": "13800138001"}
    post_form(http, "/register", page, password=password, password_repeat=password, **fields)
    box = outbox()
    assert box is not None
    code = re.search(r"\b(\d{6})\b", box.messages(phone="+8613800138001")[0].text)
    assert code is not None
    page = http.get("/register/code").get_data(as_text=True)
    assert post_form(http, "/register/code", page, code=code.group(1)).status_code == 200
    citizen = find_by_id_number(wang)
    assert citizen is not None
    assert citizen.address == {"formatted": "深圳市南山区科技园 1 号"}


# --- release -------------------------------------------------------------------------------------


@pytest.fixture
def housed(citizen: Any) -> Any:
    from idp.extensions import db

    citizen.address = HOME
    db.session.commit()
    return citizen


@pytest.fixture
def portal(app: Any) -> Any:
    return register(
        name="Housing portal",
        department="Housing Bureau",
        redirect_uris=["https://housing.example.gov/callback"],
        scope="openid profile address",
        scope_policy={"address": {"required": False, "purpose": "To send your permit"}},
    )


def _releases(citizen: Any) -> list[tuple[str, list[str], list[str]]]:
    from idp.extensions import db
    from idp.models import DataRelease

    rows = db.session.scalars(select(DataRelease).where(DataRelease.citizen_id == citizen.id))
    return [(r.via, r.categories, r.items) for r in rows if r.via == "userinfo"]


def test_userinfo_releases_the_address_claim_under_the_address_scope(
    http: Any, portal: Any, housed: Any, login: Any
) -> None:
    grant_consent(housed, portal, "openid profile address")
    login()
    tokens = sign_in(http, portal, scope="openid address")
    body = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert set(body) == {"sub", "address"}
    assert body["address"] == HOME  # OIDC Core 5.1.1: a JSON object, its members strings
    assert _releases(housed) == [("userinfo", ["openid", "address"], ["sub", "address"])]


def test_without_the_address_scope_the_address_is_not_released(
    http: Any, portal: Any, housed: Any, login: Any
) -> None:
    grant_consent(housed, portal, "openid profile address")
    login()
    tokens = sign_in(http, portal, scope="openid profile")
    response = http.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert "address" not in response.get_json()
    assert "金融街" not in response.get_data(as_text=True)


def test_a_citizen_without_an_address_gets_the_claim_omitted(
    http: Any, portal: Any, citizen: Any, login: Any
) -> None:
    grant_consent(citizen, portal, "openid profile address")
    login()
    tokens = sign_in(http, portal, scope="openid profile address")
    body = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert "address" not in body and body["name"] == "张三"
    # The release names what went out: profile, not an address that was not there.
    [(_, categories, items)] = _releases(citizen)
    assert "address" not in categories and "address" not in items


def _consent_page(http: Any, rp: Any, **params: str) -> tuple[str, Any, str]:
    verifier, challenge = pkce()
    parked = authorize(http, rp, code_challenge=challenge, code_challenge_method="S256", **params)
    shown = http.get(parked.headers["Location"])
    page = http.get(shown.headers["Location"])
    assert page.status_code == 200
    return parked.headers["Location"].rstrip("/").split("/")[-1], page, verifier


def test_a_portal_the_citizen_did_not_give_the_address_never_sees_it(
    http: Any, portal: Any, housed: Any, login: Any
) -> None:
    login()
    uid, page, verifier = _consent_page(http, portal, scope="openid profile address")
    assert "To send your permit" in page.get_data(as_text=True)
    # Approve with the optional address unticked.
    form = [("csrf_token", csrf_from(page.get_data(as_text=True))), ("decision", "approve")]
    approved = http.post(
        f"/interaction/{uid}/consent",
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
    )
    params = redirected_to(approved, portal.redirect_uri)
    tokens = exchange(http, portal, params["code"], verifier=verifier).get_json()
    assert "address" not in tokens["scope"].split()
    body = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert "address" not in body and body["name"] == "张三"

    # Asking through the claims parameter (OIDC Core 5.5) does not widen the consent.
    claims = json.dumps({"userinfo": {"address": {"essential": True}}})
    tokens = sign_in(http, portal, scope="openid profile address", claims=claims)
    assert "address" not in tokens["scope"].split()
    body = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert "address" not in body


def test_the_claims_parameter_with_the_address_scope_gets_the_address(
    http: Any, portal: Any, housed: Any, login: Any
) -> None:
    grant_consent(housed, portal, "openid profile address")
    login()
    claims = json.dumps({"userinfo": {"address": None}})
    tokens = sign_in(http, portal, scope="openid address", claims=claims)
    body = http.get("/userinfo", headers=bearer(tokens["access_token"])).get_json()
    assert body["address"] == HOME


# --- what the citizen sees -----------------------------------------------------------------------


def test_the_account_page_and_release_history_show_the_address(
    http: Any, portal: Any, housed: Any, login: Any
) -> None:
    login()
    page = http.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    shown = re.search(r'<dd id="address">(.*?)</dd>', page, flags=re.S)
    assert shown is not None and shown.group(1) == "北京市西城区金融街 7 号"
    assert "Address of household registration" in page
    assert "户籍地址" in http.get("/account").get_data(as_text=True)

    grant_consent(housed, portal, "openid profile address")
    tokens = sign_in(http, portal, scope="openid address")
    http.get("/userinfo", headers=bearer(tokens["access_token"]))
    history = http.get("/account/releases", headers={"Accept-Language": "en"})
    assert "Identifier, Address" in history.get_data(as_text=True)
    zh = http.get("/account/releases", headers={"Accept-Language": "zh-CN"})
    assert "地址" in zh.get_data(as_text=True)


def test_the_account_page_says_when_no_address_is_on_record(http: Any, login: Any) -> None:
    login()
    page = http.get("/account", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'<dd id="address">\s*none on record\s*</dd>', page)
