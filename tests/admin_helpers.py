"""Helpers for the admin console and API tests: staff members enrolled through the real
pages with a software authenticator (real WebAuthn cryptography), console sign-in, and
personal API tokens."""

from __future__ import annotations

import json
from typing import Any

from soft_authenticator import SoftAuthenticator
from webforms import csrf_from

ORIGIN = "http://localhost"  # conftest's issuer: RP ID "localhost"


class Member:
    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)


def options(http: Any, path: str, page_html: str) -> dict[str, Any]:
    """What static/js/webauthn.js does first: POST the options request with the CSRF
    token of the page in X-CSRFToken."""
    response = http.post(
        path,
        data="{}",
        content_type="application/json",
        headers={"X-CSRFToken": csrf_from(page_html)},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def enrol(http: Any, username: str, code: str, authenticator: SoftAuthenticator) -> Any:
    """The enrolment pages: username + code, then register a key. Returns the answer."""
    first = http.get("/admin/enrol")
    step = http.post(
        "/admin/enrol",
        data={
            "csrf_token": csrf_from(first.get_data(as_text=True)),
            "username": username,
            "code": code,
        },
    )
    assert step.status_code == 200, step.get_data(as_text=True)
    html = step.get_data(as_text=True)
    created = authenticator.create(options(http, "/admin/enrol/options", html), origin=ORIGIN)
    return http.post(
        "/admin/enrol/finish",
        data={"csrf_token": csrf_from(html), "credential": json.dumps(created), "name": "Key 1"},
    )


def sign_in(http: Any, authenticator: SoftAuthenticator, **forge: Any) -> Any:
    page = http.get("/admin/sign-in")
    html = page.get_data(as_text=True)
    asserted = authenticator.get(
        options(http, "/admin/sign-in/options", html), origin=ORIGIN, **forge
    )
    return http.post(
        "/admin/sign-in",
        data={"csrf_token": csrf_from(html), "credential": json.dumps(asserted)},
    )


def verify(http: Any, authenticator: SoftAuthenticator, next_path: str = "") -> Any:
    page = http.get("/admin/verify")
    html = page.get_data(as_text=True)
    asserted = authenticator.get(options(http, "/admin/verify/options", html), origin=ORIGIN)
    return http.post(
        "/admin/verify",
        data={"csrf_token": csrf_from(html), "credential": json.dumps(asserted), "next": next_path},
    )


def make_member(
    app: Any,
    *,
    username: str,
    roles: list[str],
    department: str | None = None,
    http: Any = None,
) -> Member:
    """A staff member with an enrolled software key; signed in on ``http`` if given
    (each member gets a fresh test client otherwise)."""
    from idp.authn.staff import accounts

    member, code = accounts.create_staff(
        username=username, display_name=username.title(), department=department, roles=roles
    )
    client = http or app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    key = SoftAuthenticator(user_verifying=True)
    answer = enrol(client, username, code, key)
    assert answer.status_code in (200, 303), answer.get_data(as_text=True)
    return Member(id=member.id, username=username, roles=roles, key=key, http=client, row=member)


def api_token(member: Member, name: str = "test") -> str:
    from idp.authn.staff import api_tokens

    _, token = api_tokens.issue(staff=member.row, name=name)
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
