"""Staff enrolment, WebAuthn sign-in (user verification required), the console session
(its own cookie and path, idle timeout), re-verification for dangerous actions, and the
`idp staff` bootstrap command. Real WebAuthn cryptography (tests/soft_authenticator.py)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from admin_helpers import ORIGIN
from admin_helpers import enrol
from admin_helpers import make_member
from admin_helpers import options
from admin_helpers import sign_in
from admin_helpers import verify
from soft_authenticator import NotAllowedError
from soft_authenticator import SoftAuthenticator
from webforms import csrf_from
from webforms import prepare

from idp.authn.staff import accounts
from idp.extensions import db
from idp.models import StaffCredential


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


def _cookie(app: Any, http: Any) -> Any:
    return http.get_cookie(app.config["IDP_ADMIN_COOKIE"], domain="localhost", path="/admin")


def test_bootstrap_command_prints_a_one_time_code_that_enrols_the_first_admin(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["staff", "create", "--username", "root", "--role", "administrator", "--json"]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["enrol_url"].endswith("/admin/enrol")
    http = app.test_client()
    key = SoftAuthenticator()
    answer = enrol(http, "root", printed["enrolment_code"], key)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/admin/")
    assert http.get("/admin/").status_code == 200
    # The code is spent: it enrols nothing a second time.
    other = app.test_client()
    first = other.get("/admin/enrol")
    again = other.post(
        "/admin/enrol",
        data={
            "csrf_token": csrf_from(first.get_data(as_text=True)),
            "username": "root",
            "code": printed["enrolment_code"],
        },
    )
    assert again.status_code == 400
    assert "注册码不正确" in again.get_data(as_text=True)


def test_bootstrap_command_refuses_a_bad_username(app):
    result = app.test_cli_runner().invoke(
        args=["staff", "create", "--username", "Bad Name!", "--role", "auditor"]
    )
    assert result.exit_code == 2 and "username" in result.output


def test_wrong_or_expired_enrolment_code_is_refused(app):
    member, code = accounts.create_staff(
        username="alice", display_name="Alice", department=None, roles=["auditor"]
    )
    http = app.test_client()
    page = http.get("/admin/enrol")
    wrong = http.post(
        "/admin/enrol",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "username": "alice",
            "code": "nope",
        },
    )
    assert wrong.status_code == 400
    from datetime import UTC
    from datetime import datetime
    from datetime import timedelta

    member.enrolment_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    expired = http.post(
        "/admin/enrol",
        data={
            "csrf_token": csrf_from(page.get_data(as_text=True)),
            "username": "alice",
            "code": code,
        },
    )
    assert expired.status_code == 400


def test_enrolment_requires_user_verification(app):
    _, code = accounts.create_staff(
        username="bob", display_name="Bob", department=None, roles=["administrator"]
    )
    # An authenticator that cannot verify the user cannot even answer the ceremony.
    with pytest.raises(NotAllowedError):
        enrol(app.test_client(), "bob", code, SoftAuthenticator(user_verifying=False))


def test_sign_in_with_the_enrolled_key_sets_a_cookie_limited_to_admin(app):
    admin = make_member(app, username="root", roles=["administrator"])
    http = app.test_client()
    answer = sign_in(http, admin.key)
    assert answer.status_code == 303
    cookie = _cookie(app, http)
    assert cookie is not None and cookie.path == "/admin" and cookie.http_only
    assert cookie.same_site == "Strict"
    assert http.get("/admin/").status_code == 200


def test_sign_in_without_user_verification_is_refused(app):
    admin = make_member(app, username="root", roles=["administrator"])
    http = app.test_client()
    answer = sign_in(http, admin.key, uv=False)
    assert answer.status_code == 401
    assert _cookie(app, http) is None


def test_sign_in_with_an_unknown_key_or_a_forged_signature_is_refused(app):
    admin = make_member(app, username="root", roles=["administrator"])
    assert sign_in(app.test_client(), admin.key, corrupt_signature=True).status_code == 401
    stranger = SoftAuthenticator()
    stranger.credentials = []
    with pytest.raises(NotAllowedError):
        sign_in(app.test_client(), stranger)


def test_a_signature_counter_going_backwards_switches_the_key_off(app):
    admin = make_member(app, username="root", roles=["administrator"])
    assert sign_in(app.test_client(), admin.key).status_code == 303
    assert sign_in(app.test_client(), admin.key, sign_count=1).status_code == 401
    row = db.session.scalars(db.select(StaffCredential)).one()
    db.session.refresh(row)
    assert row.disabled_at is not None


def test_counter_staff_have_no_console(app, caplog):
    clerk = make_member(app, username="clerk", roles=["counter_staff"])
    assert _cookie(app, clerk.http) is None
    http = app.test_client()
    with caplog.at_level("INFO", logger="idp.admin.events"):
        answer = sign_in(http, clerk.key)
    assert answer.status_code == 403
    assert _cookie(app, http) is None
    assert any('"outcome": "refused"' in r.getMessage() for r in caplog.records)


def test_disabled_staff_cannot_sign_in_and_their_session_ends(app):
    admin = make_member(app, username="root", roles=["administrator"])
    assert admin.http.get("/admin/").status_code == 200
    accounts.disable(admin.row)
    assert admin.http.get("/admin/").status_code == 303
    assert sign_in(app.test_client(), admin.key).status_code == 401


def test_console_session_is_separate_from_the_citizen_session(app, http, login):
    """A citizen's SSO cookie opens no console page, and the console cookie is no
    citizen sign-in."""
    login()
    assert http.get("/account").status_code == 200  # the citizen is signed in
    assert http.get("/admin/").status_code == 303  # but has no console session
    admin = make_member(app, username="root", roles=["administrator"])
    assert admin.http.get("/admin/").status_code == 200
    account = admin.http.get("/account")
    assert account.status_code == 303  # to the citizens' login, not signed in


def test_console_session_ends_after_the_idle_timeout(app):
    app.config["IDP_ADMIN_SESSION_IDLE"] = 1
    admin = make_member(app, username="root", roles=["administrator"])
    assert admin.http.get("/admin/").status_code == 200
    time.sleep(2.1)
    gone = admin.http.get("/admin/")
    assert gone.status_code == 303 and "/admin/sign-in" in gone.headers["Location"]


def test_sign_out_ends_the_console_session(app):
    admin = make_member(app, username="root", roles=["administrator"])
    home = admin.http.get("/admin/")
    out = admin.http.post(
        "/admin/sign-out", data={"csrf_token": csrf_from(home.get_data(as_text=True))}
    )
    assert out.status_code == 303
    assert admin.http.get("/admin/").status_code == 303


def test_console_posts_need_a_csrf_token(app):
    admin = make_member(app, username="root", roles=["administrator"])
    answer = admin.http.post("/admin/keys/rotate", data={})
    assert answer.status_code == 400


def test_dangerous_action_needs_a_fresh_verification(app, rp):
    app.config["IDP_ADMIN_FRESH_VERIFICATION"] = 1
    admin = make_member(app, username="root", roles=["administrator"])
    page = admin.http.get(f"/admin/clients/{rp.client_id}")
    time.sleep(2.1)
    answer = admin.http.post(
        f"/admin/clients/{rp.client_id}/disable",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
        headers={"Referer": f"http://localhost/admin/clients/{rp.client_id}"},
    )
    assert answer.status_code == 303 and "/admin/verify" in answer.headers["Location"]
    db.session.refresh(rp.client)
    assert rp.client.disabled_at is None
    app.config["IDP_ADMIN_FRESH_VERIFICATION"] = 300
    back = verify(admin.http, admin.key, f"/admin/clients/{rp.client_id}")
    assert back.status_code == 303 and back.headers["Location"].endswith(
        f"/admin/clients/{rp.client_id}"
    )
    page = admin.http.get(f"/admin/clients/{rp.client_id}")
    done = admin.http.post(
        f"/admin/clients/{rp.client_id}/disable",
        data={"csrf_token": csrf_from(page.get_data(as_text=True))},
    )
    assert done.status_code == 303
    db.session.refresh(rp.client)
    assert rp.client.disabled_at is not None


def test_verification_with_another_members_key_is_refused(app):
    admin = make_member(app, username="root", roles=["administrator"])
    other = make_member(app, username="other", roles=["administrator"])
    page = admin.http.get("/admin/verify")
    html = page.get_data(as_text=True)
    opts = options(admin.http, "/admin/verify/options", html)
    # The other member's key is not in allowCredentials: it answers with its own.
    asserted = other.key.get(opts, origin=ORIGIN, credential=other.key.credentials[0])
    answer = admin.http.post(
        "/admin/verify", data={"csrf_token": csrf_from(html), "credential": json.dumps(asserted)}
    )
    assert answer.status_code == 401


def test_next_after_sign_in_stays_inside_the_console(app):
    admin = make_member(app, username="root", roles=["administrator"])
    http = app.test_client()
    page = http.get("/admin/sign-in?next=https://evil.example/x")
    html = page.get_data(as_text=True)
    asserted = admin.key.get(options(http, "/admin/sign-in/options", html), origin=ORIGIN)
    answer = http.post(
        "/admin/sign-in",
        data={
            "csrf_token": csrf_from(html),
            "credential": json.dumps(asserted),
            "next": "//evil.example",
        },
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/admin/")
