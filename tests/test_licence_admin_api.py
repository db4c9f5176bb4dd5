"""The departments' licence API (``/admin/api/licences``): a client credentials token
with ``licences:load``, a department's own licences only, all or nothing per batch."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from licence_helpers import row
from oidc_helpers import basic
from oidc_helpers import bearer
from sqlalchemy import func
from sqlalchemy import select

from idp.extensions import db
from idp.licences import store
from idp.models import Licence
from idp.oauth.clients import register_client


def _count() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Licence)))


class Department:
    def __init__(self, http: Any, name: str | None, scope: str = "licences:load") -> None:
        self.client, self.secret = register_client(
            name=f"{name} loader",
            department=name,
            redirect_uris=[],
            scope=scope,
            grant_types=["client_credentials"],
        )
        response = http.post(
            "/token",
            data={"grant_type": "client_credentials"},
            headers=basic(self.client.client_id, self.secret),
        )
        assert response.status_code == 200, response.get_json()
        self.token = response.get_json()["access_token"]
        self.http = http

    def load(self, licences: Any) -> Any:
        return self.http.post(
            "/admin/api/licences", json={"licences": licences}, headers=bearer(self.token)
        )

    def status(self, **body: Any) -> Any:
        return self.http.post("/admin/api/licences/status", json=body, headers=bearer(self.token))


@pytest.fixture
def transport(http: Any) -> Department:
    return Department(http, "Transport Bureau")


def test_department_loads_its_licences_idempotently(transport: Department) -> None:
    licences = [row(), row(number="DRI-0002")]
    first = transport.load(licences)
    assert first.status_code == 200, first.get_json()
    assert first.get_json() == {"inserted": 2, "updated": 0, "unchanged": 0}
    assert first.headers["Cache-Control"] == "no-store"
    # The department may leave its own name out: the token says who it is.
    again = transport.load([{k: v for k, v in r.items() if k != "department"} for r in licences])
    assert again.get_json() == {"inserted": 0, "updated": 0, "unchanged": 2}
    assert _count() == 2


def test_bad_rows_are_reported_and_nothing_is_written(transport: Department) -> None:
    response = transport.load(
        [
            row(),
            row(number="DRI-0002", id_number="11010519491231002Y"),
            row(number="DRI-0003", fields={"name": "张三"}),
            "not an object",
        ]
    )
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_request" and "nothing was written" in body["error_description"]
    rows = {(r["row"], r["field"]) for r in body["rows"]}
    assert (2, "id_number") in rows and (3, "fields") in rows and (4, None) in rows
    assert 1 not in {r["row"] for r in body["rows"]}
    # ID numbers only redacted.
    assert {r["id_number"] for r in body["rows"] if r["row"] == 2} == {"11**************2Y"}
    assert CITIZEN_ID_NUMBER not in response.get_data(as_text=True)
    assert _count() == 0


def test_a_department_loads_only_its_own_licences(http: Any, transport: Department) -> None:
    refused = transport.load([row("business_licence")])  # Market Regulation Bureau's
    assert refused.status_code == 400
    assert refused.get_json()["rows"][0]["field"] == "department"
    market = Department(http, "Market Regulation Bureau")
    assert market.load([row("business_licence")]).status_code == 200
    # Nor may it overwrite another department's licence by naming itself.
    taken = transport.load([row("business_licence", department="Transport Bureau")])
    assert taken.status_code == 400
    assert "another department" in taken.get_json()["rows"][0]["rule"]
    assert _count() == 1


def test_suspend_reinstate_revoke(http: Any, transport: Department) -> None:
    transport.load([row()])
    suspended = transport.status(
        type="driving_licence", number="DRI-0001", status="suspended", reason="points"
    )
    assert suspended.status_code == 200, suspended.get_json()
    assert suspended.get_json() == {
        "type": "driving_licence",
        "number": "DRI-0001",
        "status": "suspended",
    }
    reinstated = transport.status(type="driving_licence", number="DRI-0001", status="valid")
    assert reinstated.status_code == 200
    revoked = transport.status(type="driving_licence", number="DRI-0001", status="revoked")
    assert revoked.get_json()["status"] == "revoked"
    again = transport.status(type="driving_licence", number="DRI-0001", status="valid")
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_request"
    bad = transport.status(type="driving_licence", number="DRI-0001", status="expired")
    assert bad.status_code == 400
    missing = transport.status(type="driving_licence", number="NOPE", status="revoked")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert transport.status(type="driving_licence").status_code == 400


def test_another_departments_licence_is_not_found(http: Any, transport: Department) -> None:
    transport.load([row()])
    market = Department(http, "Market Regulation Bureau")
    response = market.status(type="driving_licence", number="DRI-0001", status="revoked")
    assert response.status_code == 404
    assert store.find(type="driving_licence", number="DRI-0001").status == "valid"


def test_tokens_are_checked(http: Any, transport: Department, app: Any) -> None:
    url = "/admin/api/licences"
    none = http.post(url, json={"licences": [row()]})
    assert none.status_code == 401 and none.headers["WWW-Authenticate"] == "Bearer"
    forged = http.post(url, json={"licences": [row()]}, headers=bearer("x" * 43))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]
    # A disabled department's token stops working at once.
    app.test_cli_runner().invoke(args=["clients", "disable", transport.client.client_id])
    assert transport.load([row()]).status_code == 401
    assert _count() == 0


def test_a_citizen_token_cannot_load(http: Any, rp: Any, citizen: Any, login: Any) -> None:
    from oidc_helpers import grant_consent
    from oidc_helpers import sign_in

    grant_consent(citizen, rp)
    login()
    token = sign_in(http, rp)["access_token"]
    response = http.post("/admin/api/licences", json={"licences": [row()]}, headers=bearer(token))
    assert response.status_code == 403
    challenge = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge and 'scope="licences:load"' in challenge


def test_a_client_without_department_is_refused(http: Any) -> None:
    nobody = Department(http, None)
    response = nobody.load([row()])
    assert response.status_code == 403 and response.get_json()["error"] == "access_denied"


def test_malformed_bodies(http: Any, transport: Department, app: Any) -> None:
    headers = bearer(transport.token)
    for body in ({"licences": []}, {"licences": "x"}, ["x"], {}):
        response = http.post("/admin/api/licences", json=body, headers=headers)
        assert response.status_code == 400, body
    text = http.post("/admin/api/licences", data="licences", headers=headers)
    assert text.status_code == 400 and text.get_json()["error"] == "invalid_request"
    app.config["IDP_LICENCES_MAX_BATCH"] = 2
    big = transport.load([row(number=f"DRI-{i}") for i in range(3)])
    assert big.status_code == 400 and "At most 2" in big.get_json()["error_description"]
