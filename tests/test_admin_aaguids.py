"""The authenticator models admitted to high, as a console page (issue 6): add, list and
remove through real forms with CSRF tokens, each change an admin event; input refused
with the typed values kept; roles enforced; the level policy reads the table and
``IDP_WEBAUTHN_HIGH_AAGUIDS`` together, in every process at once; and ``idp aaguids``."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from admin_helpers import api_token
from admin_helpers import bearer
from admin_helpers import make_member
from admin_helpers import verify
from soft_authenticator import SoftAuthenticator
from sqlalchemy import select
from test_webauthn import _signed_in_page
from test_webauthn import _sso
from test_webauthn import register
from test_webauthn import sign_in_with
from webforms import csrf_from
from webforms import prepare

from idp.authn.passkeys import allowlist
from idp.authn.result import Acr
from idp.extensions import db
from idp.models import AuditEvent
from idp.models import HighAuthenticatorModel

PAGE = "/admin/authenticators"
MODEL = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
OTHER = "ee882879-721c-4913-9775-3dfcce97072a"
THIRD = "08987058-cadc-4b81-b6e1-30de50dcbe96"


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def admin(app: Any) -> Any:
    return make_member(app, username="root", roles=["administrator"])


def _html(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _add(member: Any, **fields: str) -> Any:
    page = member.http.get(PAGE)
    assert page.status_code == 200
    return member.http.post(PAGE, data={"csrf_token": csrf_from(_html(page)), **fields})


def _remove(member: Any, aaguid: str, **fields: str) -> Any:
    page = member.http.get(PAGE)
    return member.http.post(
        PAGE + "/remove", data={"csrf_token": csrf_from(_html(page)), "aaguid": aaguid, **fields}
    )


def _events(name: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def _rows() -> list[HighAuthenticatorModel]:
    db.session.rollback()
    return list(
        db.session.scalars(select(HighAuthenticatorModel).order_by(HighAuthenticatorModel.added_at))
    )


# --- the page --------------------------------------------------------------------------------


def test_add_list_and_remove_models_through_the_console(app: Any, admin: Any) -> None:
    empty = _html(admin.http.get(PAGE))
    assert 'id="aaguid-open"' in empty  # "every authenticator model reaches high"
    assert 'href="/admin/authenticators"' in _html(admin.http.get("/admin/"))

    added = _add(admin, aaguid=f"  {MODEL.upper()} ", label="  Acme   Key 5 ")
    assert added.status_code == 303 and added.headers["Location"].endswith(PAGE)
    page = _html(admin.http.get(PAGE))
    assert "Acme Key 5 (cb69481e-8ff7-4039-93ec-0a2729a154a8) is admitted to high." in page
    assert f'data-aaguid="{MODEL}"' in page and "Acme Key 5" in page
    assert "<td>root</td>" in page and 'id="aaguid-open"' not in page
    assert _add(admin, aaguid=OTHER, label="Other Key").status_code == 303
    assert allowlist.effective() == {MODEL, OTHER}

    [event, _] = _events("admin.aaguids.add")
    assert event.outcome == "success" and event.actor_type == "staff"
    assert event.actor_id == admin.id
    assert event.details["target"] == MODEL and event.details["via"] == "console"
    assert event.details["after"]["label"] == "Acme Key 5"
    assert event.details["after"]["added_by"] == "root"

    removed = _remove(admin, MODEL.upper())
    assert removed.status_code == 303
    page = _html(admin.http.get(PAGE))
    assert "Acme Key 5 (cb69481e-8ff7-4039-93ec-0a2729a154a8) is removed from the list." in page
    listed, history = page.split('id="aaguid-removed"')
    assert f'data-aaguid="{MODEL}"' not in listed and f'data-aaguid="{MODEL}"' in history
    assert allowlist.effective() == {OTHER}
    # Removal is recorded on the row, which stays.
    row = next(r for r in _rows() if r.aaguid == MODEL)
    assert row.removed_at is not None and row.removed_by == "root"
    [event] = _events("admin.aaguids.remove")
    assert event.actor_id == admin.id and event.details["target"] == MODEL
    assert event.details["before"]["removed_at"] is None
    assert event.details["after"]["removed_by"] == "root"

    # Allowed again later: a new row, the history kept.
    assert _add(admin, aaguid=MODEL, label="Acme Key 5").status_code == 303
    assert [r.aaguid for r in _rows()] == [MODEL, OTHER, MODEL]
    assert allowlist.effective() == {MODEL, OTHER}


@pytest.mark.parametrize(
    ("aaguid", "label", "message", "field"),
    [
        ("", "Acme", "The AAGUID is required.", "aaguid"),
        ("cb69481e8ff7403993ec0a2729a154a8", "Acme", "32 hexadecimal digits", "aaguid"),
        ("cb69481e-8ff7-4039-93ec-0a2729a154ag", "Acme", "32 hexadecimal digits", "aaguid"),
        ("<script>alert(1)</script>", "Acme", "32 hexadecimal digits", "aaguid"),
        ("00000000-0000-0000-0000-000000000000", "Acme", "all-zero AAGUID", "aaguid"),
        (MODEL, "   ", "The label is required.", "label"),
        (MODEL, "x" * 101, "at most 100 characters", "label"),
        (MODEL, "Acme\x07Key", "control characters", "label"),
    ],
)
def test_bad_input_is_refused_and_what_was_typed_is_kept(
    app: Any, admin: Any, aaguid: str, label: str, message: str, field: str
) -> None:
    answer = _add(admin, aaguid=aaguid, label=label)
    assert answer.status_code == 400
    page = _html(answer)
    assert message in page
    assert f'id="a-{field}"' in page.split('aria-invalid="true"')[0].rsplit("<input", 1)[1]
    assert "<script>alert(1)</script>" not in page  # escaped, never markup
    if aaguid.isprintable() and "<" not in aaguid:
        assert f'name="aaguid" maxlength="200" value="{aaguid}"' in page
    if label.strip() and label.isprintable():
        assert f'name="label" maxlength="300" value="{label}"' in page
    assert _rows() == [] and _events("admin.aaguids.add") == []


def test_a_change_needs_the_csrf_token(app: Any, admin: Any) -> None:
    answer = admin.http.post(PAGE, data={"aaguid": MODEL, "label": "Acme"})
    assert answer.status_code == 400
    assert admin.http.post(PAGE + "/remove", data={"aaguid": MODEL}).status_code == 400
    assert _rows() == []


def test_a_duplicate_is_refused_with_a_clear_message(app: Any, admin: Any) -> None:
    assert _add(admin, aaguid=MODEL, label="Acme Key 5").status_code == 303
    again = _add(admin, aaguid=MODEL.upper(), label="Acme again")
    assert again.status_code == 400
    page = _html(again)
    assert "This authenticator model is already on the list." in page
    assert f'value="{MODEL.upper()}"' in page and 'value="Acme again"' in page
    assert len(_rows()) == 1 and len(_events("admin.aaguids.add")) == 1


def test_removing_the_last_model_needs_a_confirmation(app: Any, admin: Any) -> None:
    """Both lists empty means every model reaches high: the last removal opens high to
    every model, so it is asked for explicitly."""
    _add(admin, aaguid=MODEL, label="Acme Key 5")
    assert "the last model: let every model reach high" in _html(admin.http.get(PAGE))
    refused = _remove(admin, MODEL)
    assert refused.status_code == 303
    assert "This is the last model on the list" in _html(admin.http.get(PAGE))
    assert allowlist.effective() == {MODEL} and _events("admin.aaguids.remove") == []
    assert _remove(admin, MODEL, open_to_any="on").status_code == 303
    assert allowlist.effective() == frozenset()
    assert 'id="aaguid-open"' in _html(admin.http.get(PAGE))


def test_two_removals_at_once_cannot_empty_the_list(app: Any, monkeypatch: Any) -> None:
    """Two admins remove the last two models at the same moment, neither confirming
    "open to any": one removal goes through, the other is refused, one model stays. Each
    removal runs on its own connection (a thread); a barrier holds the first right after
    its check until the second has made its own (or a second has passed)."""
    import threading

    for aaguid, label in ((MODEL, "Acme Key 5"), (OTHER, "Other Key")):
        allowlist.add(aaguid=aaguid, label=label, by="root")
    db.session.remove()
    barrier = threading.Barrier(2, timeout=1.5)
    checked_at = allowlist.utcnow

    def after_the_check() -> Any:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass  # the other removal waits on this one's lock (the fix)
        return checked_at()

    monkeypatch.setattr(allowlist, "utcnow", after_the_check)
    outcomes: dict[str, str] = {}

    def remove(aaguid: str) -> None:
        with app.app_context():
            try:
                allowlist.remove(aaguid=aaguid, by="admin-" + aaguid[:4])
                outcomes[aaguid] = "removed"
            except allowlist.LastModelRequired:
                outcomes[aaguid] = "refused: last model"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=remove, args=(a,)) for a in (MODEL, OTHER)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes.values()) == ["refused: last model", "removed"]
    live = [row.aaguid for row in _rows() if row.removed_at is None]
    assert live == [a for a, outcome in outcomes.items() if outcome != "removed"]
    assert allowlist.effective() == set(live)


def test_models_from_the_setting_are_listed_not_removable(app: Any, admin: Any) -> None:
    app.config["IDP_WEBAUTHN_HIGH_AAGUIDS"] = [OTHER.upper()]
    page = _html(admin.http.get(PAGE))
    assert f'data-aaguid="{OTHER}"' in page
    assert "from the IDP_WEBAUTHN_HIGH_AAGUIDS setting" in page
    assert 'id="aaguid-open"' not in page
    assert _remove(admin, OTHER).status_code == 404
    # The setting keeps the list non-empty: the table's last model goes unasked.
    _add(admin, aaguid=MODEL, label="Acme Key 5")
    assert allowlist.effective() == {MODEL, OTHER}
    assert _remove(admin, MODEL).status_code == 303
    assert allowlist.effective() == {OTHER}
    assert _remove(admin, THIRD).status_code == 404  # never listed


# --- roles -----------------------------------------------------------------------------------


def test_auditors_read_the_list_and_cannot_change_it(app: Any, admin: Any) -> None:
    _add(admin, aaguid=MODEL, label="Acme Key 5")
    auditor = make_member(app, username="reader", roles=["auditor"])
    page = auditor.http.get(PAGE)
    assert page.status_code == 200
    html = _html(page)
    assert "Acme Key 5" in html and 'id="aaguid-add"' not in html and "open_to_any" not in html
    for path, data in (
        (PAGE, {"aaguid": OTHER, "label": "x"}),
        (PAGE + "/remove", {"aaguid": MODEL}),
    ):
        answer = auditor.http.post(path, data={"csrf_token": csrf_from(html), **data})
        assert answer.status_code == 403
        assert "Your role does not allow this." in _html(answer)
    assert allowlist.effective() == {MODEL}
    refusals = [
        e
        for e in _events("admin.aaguids.add") + _events("admin.aaguids.remove")
        if e.outcome == "refused"
    ]
    assert len(refusals) == 2 and {e.actor_id for e in refusals} == {auditor.id}


def test_a_client_manager_has_no_access(app: Any) -> None:
    manager = make_member(app, username="tax", roles=["client_manager"], department="Tax Bureau")
    assert manager.http.get(PAGE).status_code == 403
    assert 'href="/admin/authenticators"' not in _html(manager.http.get("/admin/"))
    [refused] = _events("admin.aaguids.list")
    assert refused.outcome == "refused" and refused.actor_id == manager.id


def test_a_change_needs_a_fresh_verification(app: Any, admin: Any) -> None:
    app.config["IDP_ADMIN_FRESH_VERIFICATION"] = 1
    page = admin.http.get(PAGE)
    time.sleep(2.1)
    answer = admin.http.post(
        PAGE,
        data={"csrf_token": csrf_from(_html(page)), "aaguid": MODEL, "label": "Acme"},
        headers={"Referer": "http://localhost" + PAGE},
    )
    assert answer.status_code == 303 and "/admin/verify" in answer.headers["Location"]
    assert _rows() == []
    app.config["IDP_ADMIN_FRESH_VERIFICATION"] = 300
    assert verify(admin.http, admin.key, PAGE).status_code == 303
    assert _add(admin, aaguid=MODEL, label="Acme").status_code == 303


def test_the_admin_api_lists_adds_and_removes(app: Any, http: Any, admin: Any) -> None:
    headers = bearer(api_token(admin))
    added = http.post(
        "/admin/api/aaguids", json={"aaguid": MODEL, "label": "Acme Key 5"}, headers=headers
    )
    assert added.status_code == 201 and added.get_json()["added_by"] == "root"
    again = http.post("/admin/api/aaguids", json={"aaguid": MODEL, "label": "x"}, headers=headers)
    assert again.status_code == 400 and again.get_json()["field"] == "aaguid"
    assert "already on the list" in again.get_json()["detail"]
    wrong = http.post("/admin/api/aaguids", json={"aaguid": 7, "label": "x"}, headers=headers)
    assert wrong.status_code == 400 and wrong.get_json()["field"] == "aaguid"
    listing = http.get("/admin/api/aaguids", headers=headers).get_json()
    assert [m["aaguid"] for m in listing["models"]] == [MODEL]
    last = http.post("/admin/api/aaguids/remove", json={"aaguid": MODEL}, headers=headers)
    assert last.status_code == 400 and last.get_json()["field"] == "open_to_any"
    gone = http.post(
        "/admin/api/aaguids/remove", json={"aaguid": MODEL, "open_to_any": True}, headers=headers
    )
    assert gone.status_code == 200 and gone.get_json()["removed_by"] == "root"
    listing = http.get("/admin/api/aaguids", headers=headers).get_json()
    assert listing["models"] == [] and listing["removed"][0]["aaguid"] == MODEL
    assert [e.details["via"] for e in _events("admin.aaguids.add")] == ["api"]
    auditor = make_member(app, username="reader", roles=["auditor"])
    refused = http.post(
        "/admin/api/aaguids",
        json={"aaguid": OTHER, "label": "x"},
        headers=bearer(api_token(auditor)),
    )
    assert refused.status_code == 403 and allowlist.effective() == frozenset()


# --- the level policy ------------------------------------------------------------------------


def test_a_model_added_in_the_console_signs_in_at_high_until_removed(
    app: Any, http: Any, login: Any, citizen: Any, admin: Any
) -> None:
    # Another model is allowed by the setting, so the list is never empty ("any").
    app.config["IDP_WEBAUTHN_HIGH_AAGUIDS"] = [OTHER]
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login()
    key = SoftAuthenticator(aaguid=uuid.UUID(MODEL).bytes)
    assert register(http, key, name="Acme").status_code == 303

    def level() -> tuple[str, list[str]]:
        http.delete_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost")
        _signed_in_page(http, sign_in_with(http, key))
        session = _sso(app, http)
        return session.acr, session.amr

    assert level() == (Acr.SUBSTANTIAL, ["hwk"])
    assert _add(admin, aaguid=MODEL, label="Acme Key 5").status_code == 303
    assert level() == (Acr.HIGH, ["hwk", "mfa"])
    assert _remove(admin, MODEL).status_code == 303
    assert level() == (Acr.SUBSTANTIAL, ["hwk"])


def test_a_change_applies_at_once_in_every_process(app: Any, other: Any, admin: Any) -> None:
    """The other instance has its copy cached; the change reaches it through the store's
    generation on its next use, without waiting for the copy to age."""
    app.config["IDP_WEBAUTHN_HIGH_AAGUIDS"] = [OTHER]
    other.config["IDP_WEBAUTHN_HIGH_AAGUIDS"] = [OTHER]

    def seen_by_other() -> frozenset[str]:
        with other.app_context():
            return allowlist.effective()

    assert seen_by_other() == {OTHER}  # cached there now
    _add(admin, aaguid=MODEL, label="Acme Key 5")
    assert seen_by_other() == {MODEL, OTHER}
    _remove(admin, MODEL)
    assert seen_by_other() == {OTHER}


def test_the_list_is_read_from_the_cache_between_changes(app: Any, admin: Any) -> None:
    _add(admin, aaguid=MODEL, label="Acme Key 5")
    assert allowlist.effective() == {MODEL}
    statements: list[str] = []
    from sqlalchemy import event

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "high_authenticator_model" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert allowlist.effective() == {MODEL}
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []


# --- the command line ------------------------------------------------------------------------


def test_the_aaguids_command(app: Any) -> None:
    runner = app.test_cli_runner()
    added = runner.invoke(args=["aaguids", "add", MODEL.upper(), "--label", "Acme Key 5"])
    assert added.exit_code == 0 and f"added {MODEL} (Acme Key 5)" in added.output
    again = runner.invoke(args=["aaguids", "add", MODEL, "--label", "Acme"])
    assert again.exit_code == 2 and "already on the list" in again.output
    bad = runner.invoke(args=["aaguids", "add", "not-an-aaguid", "--label", "x"])
    assert bad.exit_code == 2 and "32 hexadecimal digits" in bad.output
    listed = runner.invoke(args=["aaguids", "list"])
    assert MODEL in listed.output and "Acme Key 5" in listed.output
    last = runner.invoke(args=["aaguids", "remove", MODEL])
    assert last.exit_code == 2 and "last model" in last.output
    gone = runner.invoke(args=["aaguids", "remove", MODEL, "--open-to-any"])
    assert gone.exit_code == 0 and f"removed {MODEL}" in gone.output
    assert runner.invoke(args=["aaguids", "remove", MODEL]).exit_code == 1
    history = runner.invoke(args=["aaguids", "list", "--removed"])
    assert "every authenticator model reaches high" in history.output
    assert "removed " in history.output and "operator:" in history.output
    [add_event] = _events("admin.aaguids.add")
    [remove_event] = _events("admin.aaguids.remove")
    assert add_event.actor_type == remove_event.actor_type == "operator"
    assert add_event.details["after"]["aaguid"] == MODEL
