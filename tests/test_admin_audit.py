"""Auditors search and verify the trail (issue 6: "Auditors search the trail in the console
by citizen, client, staff member, event type and time"; the auditor role's "audit
verification"), through the admin API and the console.

The role matrix in test_admin_api.py / test_admin_console.py covers the new calls and
pages (they are declared with ``operation`` / ``page``); here: each filter, paging,
bad input as RFC 9457 problems, the ID number never in a URL, a log or the trail, and a
tampered record named by the verification.
"""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
from admin_helpers import make_member
from audit_helpers import tamper
from conftest import CITIZEN_ID_NUMBER
from sqlalchemy import func
from sqlalchemy import select
from webforms import csrf_from
from webforms import prepare

from idp import audit
from idp.extensions import db
from idp.models import AuditEvent


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def auditor(app: Any) -> Any:
    return make_member(app, username="auditor", roles=["auditor"])


@pytest.fixture
def trail(app: Any, citizen: Any) -> dict[str, Any]:
    """A few records of different kinds, beside whatever enrolment recorded."""
    audit.record(
        "login.success",
        citizen_id=citizen.id,
        client_id="tax-portal",
        channel="website",
        ip="192.0.2.10",
        details={"acr": "substantial"},
    )
    audit.record(
        "login.failure",
        outcome="failure",
        citizen_id=citizen.id,
        channel="kiosk",
        details={"reason": "wrong password"},
    )
    audit.record("token.issue", citizen_id=citizen.id, client_id="housing-portal")
    audit.record(
        "admin.clients.update",
        actor_type="staff",
        actor_id="staff-7",
        client_id="tax-portal",
        details={"target": "tax-portal"},
    )
    db.session.commit()
    return {"citizen": citizen}


def _get(http: Any, token: str, **query: str) -> Any:
    return http.get("/admin/api/audit", query_string=query, headers=bearer(token))


def _events(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [r["event"] for r in answer.get_json()["records"]]


def test_search_by_each_filter(app, http, auditor, trail):
    token = api_token(auditor)
    citizen = trail["citizen"]
    assert _events(_get(http, token, citizen_id=citizen.id)) == [
        "token.issue",
        "login.failure",
        "login.success",
    ]
    assert _events(_get(http, token, client_id="tax-portal")) == [
        "admin.clients.update",
        "login.success",
    ]
    assert _events(_get(http, token, actor_id="staff-7")) == ["admin.clients.update"]
    # A staff member by username: the searches made so far are theirs.
    mine = _get(http, token, staff="auditor", event="admin.audit.")
    assert _events(mine) and {r["actor_id"] for r in mine.get_json()["records"]} == {auditor.id}
    # An exact type, a prefix ending in a dot, several at once.
    assert _events(_get(http, token, event="login.failure")) == ["login.failure"]
    assert _events(_get(http, token, event="login.", citizen_id=citizen.id)) == [
        "login.failure",
        "login.success",
    ]
    assert _events(_get(http, token, event="token.issue,login.success")) == [
        "token.issue",
        "login.success",
    ]
    assert _events(_get(http, token, outcome="failure", citizen_id=citizen.id)) == ["login.failure"]
    # Time: RFC 3339 with an offset, with Z, and a naive time taken as UTC.
    now = datetime.now(UTC)
    later = (now + timedelta(hours=1)).isoformat()
    earlier = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _events(_get(http, token, since=later)) == []
    assert _events(_get(http, token, until=earlier)) == []
    assert len(_events(_get(http, token, since=earlier, until=later, citizen_id=citizen.id))) == 3
    naive = (now - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert len(_events(_get(http, token, since=naive, citizen_id=citizen.id))) == 3
    # The answer names every column the console shows.
    record = _get(http, token, event="login.success").get_json()["records"][0]
    assert record["ip"] == "192.0.2.10" and record["channel"] == "website"
    assert record["client_id"] == "tax-portal" and record["citizen_id"] == citizen.id
    assert record["details"] == {"acr": "substantial"}


def test_search_by_id_number_goes_in_the_body_and_comes_back_masked(
    app, http, auditor, trail, caplog
):
    token = api_token(auditor)
    with caplog.at_level("DEBUG"):
        answer = http.post(
            "/admin/api/audit/search",
            json={"id_number": CITIZEN_ID_NUMBER, "event": "login."},
            headers=bearer(token),
        )
        assert _events(answer) == ["login.failure", "login.success"]
        body = answer.get_data(as_text=True)
        assert CITIZEN_ID_NUMBER not in body
        assert answer.get_json()["filters"]["id_number_masked"] == "11**************2X"
        assert answer.get_json()["filters"]["citizen_id"] == trail["citizen"].id
        # In a URL it is refused, before anything is looked up.
        refused = _get(http, token, id_number=CITIZEN_ID_NUMBER)
    assert refused.status_code == 400
    assert refused.get_json()["field"] == "id_number"
    assert CITIZEN_ID_NUMBER not in refused.get_data(as_text=True)
    # Never in a log line, nor on the trail (the search itself is recorded, masked).
    assert not [r for r in caplog.records if CITIZEN_ID_NUMBER in r.getMessage()]
    details = [
        json.dumps(r.details, ensure_ascii=False)
        for r in db.session.scalars(select(AuditEvent)).all()
    ]
    assert not [d for d in details if CITIZEN_ID_NUMBER in d]
    searched = audit.search(events=["admin.audit.search"], actor_id=auditor.id)
    assert searched and searched[-1].details["after"]["id_number_masked"] == "11**************2X"


def test_paging_newest_first_with_before_seq(app, http, auditor):
    for n in range(7):
        audit.record("staff.action", details={"n": n})
    db.session.commit()
    token = api_token(auditor)
    seen: list[int] = []
    query = {"event": "staff.action", "limit": "3"}
    pages = 0
    while True:
        answer = _get(http, token, **query)
        assert answer.status_code == 200
        data = answer.get_json()
        seen += [r["details"]["n"] for r in data["records"]]
        pages += 1
        if data["next_before_seq"] is None:
            break
        query["before_seq"] = str(data["next_before_seq"])
    assert seen == [6, 5, 4, 3, 2, 1, 0] and pages == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ({"before_seq": "x"}, "before_seq"),
        ({"before_seq": "-3"}, "before_seq"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"outcome": "maybe"}, "outcome"),
        ({"event": "login%"}, "event"),
        ({"citizen_id": "../etc"}, "citizen_id"),
        ({"bogus": "1"}, "bogus"),
        ({"client_id": "tax\x00portal"}, "client_id"),
        ({"staff": "nobody"}, "staff"),
        ({"event": ",".join(["login."] * 21)}, "event"),
    ],
)
def test_bad_filters_are_400_problems_naming_the_field(app, http, auditor, query, field):
    answer = _get(http, api_token(auditor), **query)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.mimetype == "application/problem+json"
    problem = answer.get_json()
    assert problem["type"] == "urn:idp:admin:problem:invalid-input"
    assert problem["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id_number": "110105194912310021"}, "id_number"),  # bad check digit
        ({"id_number": "110101199003070011"}, "id_number"),  # valid, but nobody holds it
        ({"event": 5}, "event"),
        ({"before_seq": True}, "before_seq"),
        ({"since": ["2026-01-01"]}, "since"),
    ],
)
def test_bad_search_bodies_are_400_problems(app, http, auditor, body, field):
    answer = http.post("/admin/api/audit/search", json=body, headers=bearer(api_token(auditor)))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert answer.get_json()["field"] == field


def test_client_managers_and_counter_staff_are_refused_and_it_is_audited(app, http):
    manager = make_member(app, username="manager", roles=["client_manager"], department="Tax")
    for path in ("/admin/api/audit", "/admin/api/audit/verify"):
        answer = http.get(path, headers=bearer(api_token(manager)))
        assert answer.status_code == 403
    refused = audit.search(actor_id=manager.id, outcome="refused")
    assert {r.event for r in refused} >= {"admin.audit.search", "admin.audit.verify"}
    counter = make_member(app, username="counter", roles=["counter_staff"])
    assert http.get("/admin/api/audit", headers=bearer(api_token(counter))).status_code == 403
    page = manager.http.get("/admin/audit")
    assert page.status_code == 403
    assert 'id="nav-audit"' not in page.get_data(as_text=True)


def test_verify_reports_ok_then_names_a_tampered_record_and_writes_nothing(app, http, auditor):
    for n in range(4):
        audit.record("staff.action", details={"n": n})
    db.session.commit()
    token = api_token(auditor)
    answer = http.get("/admin/api/audit/verify", headers=bearer(token))
    assert answer.status_code == 200
    assert answer.get_json()["ok"] is True and answer.get_json()["problems"] == []
    target = audit.search(events=["staff.action"], limit=4)[2].seq
    tamper(
        app, ("UPDATE audit_event SET details = :d WHERE seq = :s", {"d": '{"n": 99}', "s": target})
    )
    count = db.session.scalar(select(func.count()).select_from(AuditEvent))
    report = http.get("/admin/api/audit/verify", headers=bearer(token)).get_json()
    assert report["ok"] is False
    assert [(p["kind"], p["seq"]) for p in report["problems"]] == [("edited", target)]
    # The console page names it too.
    page = auditor.http.get("/admin/audit/verify")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="audit-broken"' in html
    assert f"record #{target} was edited" in html
    # Verifying is read-only: nothing was appended (not even a record of verifying).
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == count


def test_console_search_form_by_id_number_shows_it_masked_and_pages_by_record_id(
    app, auditor, trail, caplog
):
    for n in range(3):
        audit.record("login.success", citizen_id=trail["citizen"].id, details={"n": n})
    db.session.commit()
    http = auditor.http
    home = http.get("/admin/audit")
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and 'id="nav-audit"' in html and 'id="audit-search"' in html
    with caplog.at_level("DEBUG"):
        answer = http.post(
            "/admin/audit",
            data={
                "csrf_token": csrf_from(html),
                "id_number": CITIZEN_ID_NUMBER,
                "event": "login.success",
                "citizen_id": "",
                "since": "",
            },
        )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html
    assert CITIZEN_ID_NUMBER not in html and "11**************2X" in html
    assert html.count('class="audit-record"') == 4
    assert not [r for r in caplog.records if CITIZEN_ID_NUMBER in r.getMessage()]
    # Details are rendered as text: markup recorded in a detail is not markup on the page.
    audit.record("staff.action", details={"note": "<script>alert(1)</script>"})
    db.session.commit()
    shown = http.get("/admin/audit?event=staff.action").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in shown and "staff.action" in shown
    # Paging: the "older" form asks by record id, the number is not in it.
    page = http.post(
        "/admin/audit",
        data={"csrf_token": csrf_from(html), "id_number": CITIZEN_ID_NUMBER, "limit": "2"},
    ).get_data(as_text=True)
    assert 'id="audit-next"' in page and CITIZEN_ID_NUMBER not in page
    assert f'name="citizen_id" value="{trail["citizen"].id}"' in page
    # In the address the number is refused.
    refused = http.get("/admin/audit", query_string={"id_number": CITIZEN_ID_NUMBER})
    assert refused.status_code == 303 and refused.headers["Location"].endswith("/admin/audit")
    assert CITIZEN_ID_NUMBER not in refused.get_data(as_text=True)
    assert "never in the address" in http.get("/admin/audit").get_data(as_text=True)
    bad = http.get("/admin/audit?since=tomorrow")
    assert bad.status_code == 400 and 'id="form-error"' in bad.get_data(as_text=True)


def test_openapi_documents_the_audit_calls_with_their_query_parameters(app, http):
    doc = http.get("/admin/api/openapi.json").get_json()
    search = doc["paths"]["/audit"]["get"]
    names = {p["name"] for p in search["parameters"] if p["in"] == "query"}
    assert {"client_id", "actor_id", "event", "since", "until", "before_seq"} <= names
    assert "id_number" not in names
    assert "id_number" in doc["components"]["schemas"]["AuditSearch"]["properties"]
    assert "get" in doc["paths"]["/audit/verify"] and "post" in doc["paths"]["/audit/search"]
