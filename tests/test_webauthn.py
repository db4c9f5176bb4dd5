"""WebAuthn: passkeys and security keys, registration and sign-in, with real cryptography.

Responses come from ``soft_authenticator.SoftAuthenticator`` (an EC P-256 key, real
authenticator data and signatures), verified by py_webauthn behind
``idp.authn.methods.webauthn``; nothing is mocked. Flows go through the real pages with
real CSRF tokens; the rules with several refusal reasons are also checked at the service.
"""

from __future__ import annotations

import ast
import json
import time
import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from soft_authenticator import InvalidStateError
from soft_authenticator import NotAllowedError
from soft_authenticator import SoftAuthenticator
from soft_authenticator import b64url
from soft_authenticator import unb64url
from webforms import csrf_from
from webforms import path_of
from webforms import post_form
from webforms import prepare
from webforms import resident

from idp.authn import interaction as interactions
from idp.authn import passkeys
from idp.authn import sessions
from idp.authn.interaction import Prompt
from idp.authn.methods import totp
from idp.authn.result import Acr
from idp.authn.service import current_session
from idp.extensions import db
from idp.models import WebAuthnCredential
from idp.models import WebAuthnUser

ORIGIN = "http://localhost"  # conftest's issuer: RP ID "localhost"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _pages(app: Any) -> None:
    prepare(app)


@pytest.fixture
def http(http: Any) -> Any:
    """The assertions read the English pages (the default language is Chinese)."""
    http.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return http


# --- helpers ---------------------------------------------------------------------------------


def _html(response: Any) -> str:
    return str(response.get_data(as_text=True))


def _sso(app: Any, http: Any) -> sessions.SsoSession | None:
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"])
    return current_session(cookie.value if cookie else None)


def _rows(citizen: Any) -> list[WebAuthnCredential]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(WebAuthnCredential).filter_by(citizen_id=citizen.id)))


def _registration_options(http: Any, kind: str = "passkey") -> tuple[str, Any]:
    page = http.get("/account/passkeys")
    assert page.status_code == 200
    token = csrf_from(_html(page))
    options = http.post(
        "/account/passkeys/options", json={"kind": kind}, headers={"X-CSRFToken": token}
    )
    return token, options


def register(
    http: Any,
    authenticator: SoftAuthenticator,
    *,
    kind: str = "passkey",
    name: str = "My laptop",
    **forge: Any,
) -> Any:
    """Add a credential through /account/passkeys (the session must be fresh)."""
    token, options = _registration_options(http, kind)
    assert options.status_code == 200, options.get_data(as_text=True)
    response = authenticator.create(options.json, origin=forge.pop("origin", ORIGIN), **forge)
    return http.post(
        "/account/passkeys",
        data={"csrf_token": token, "credential": json.dumps(response), "name": name},
    )


def begin_sign_in(http: Any, uid: str | None = None) -> tuple[str, str, dict[str, Any]]:
    """Open the passkey page of a (new) login interaction and fetch its options."""
    if uid is None:
        started = http.get("/login")
        uid = path_of(started.headers["Location"]).split("/")[2]
    page = http.get(f"/login/{uid}/passkey")
    assert page.status_code == 200
    token = csrf_from(_html(page))
    options = http.post(f"/login/{uid}/passkey/options", json={}, headers={"X-CSRFToken": token})
    assert options.status_code == 200, options.get_data(as_text=True)
    return uid, token, options.json


def finish_sign_in(http: Any, uid: str, token: str, response: dict[str, Any]) -> Any:
    return http.post(
        f"/login/{uid}/passkey", data={"csrf_token": token, "credential": json.dumps(response)}
    )


def sign_in_with(
    http: Any, authenticator: SoftAuthenticator, uid: str | None = None, **forge: Any
) -> Any:
    uid, token, options = begin_sign_in(http, uid)
    response = authenticator.get(options, origin=forge.pop("origin", ORIGIN), **forge)
    return finish_sign_in(http, uid, token, response)


def _browser(http: Any) -> str:
    with http.session_transaction() as ui:
        return str(ui["browser"])


def _interaction(app: Any, http: Any, **kwargs: Any) -> str:
    """A login interaction parked for this test client's browser (e.g. a step-up)."""
    http.get("/login")  # sets the browser id in the UI cookie
    parked = interactions.create(
        app.extensions["idp.store"],
        browser=_browser(http),
        prompt=Prompt.LOGIN,
        ttl=app.config["IDP_TTL_INTERACTION"],
        return_to="/account",
        **{"reasons": ["no_session"], **kwargs},
    )
    return parked.uid


def _signed_in_page(http: Any, response: Any) -> None:
    assert response.status_code == 303, _html(response)[:2000]
    assert "/resume" in response.headers["Location"]


# --- the one wrapper --------------------------------------------------------------------------


def test_only_the_wrapper_imports_py_webauthn() -> None:
    """STYLE.md 7.9: every security library sits behind one module of ours."""
    importers = []
    for package in ("idp", "adapters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    names = [node.module or ""]
                if any(n == "webauthn" or n.startswith("webauthn.") for n in names):
                    importers.append(str(path.relative_to(ROOT)))
    assert sorted(set(importers)) == ["idp/authn/methods/webauthn.py"]


def test_relying_party_defaults_to_the_issuer(app: Any) -> None:
    rp = passkeys.relying_party()
    assert (rp.id, rp.origin) == ("localhost", "http://localhost")
    app.config.update(IDP_ISSUER="https://id.example.gov/idp", IDP_WEBAUTHN_RP_ID="example.gov")
    rp = passkeys.relying_party()
    assert (rp.id, rp.origin) == ("example.gov", "https://id.example.gov")


# --- registration -----------------------------------------------------------------------------


def test_passkey_registration_asks_for_a_discoverable_user_verifying_credential(
    http: Any, login: Any, citizen: Any
) -> None:
    login()
    _token, options = _registration_options(http)
    created = options.json
    assert created["rp"] == {"id": "localhost", "name": "Government identity"}
    assert created["authenticatorSelection"]["residentKey"] == "required"
    assert created["authenticatorSelection"]["requireResidentKey"] is True
    assert created["authenticatorSelection"]["userVerification"] == "required"
    assert created["attestation"] == "none"
    assert len(unb64url(created["challenge"])) == 32
    # The user handle is opaque: 64 random bytes, never the ID number; the account
    # name the authenticator shows is the masked number.
    handle = unb64url(created["user"]["id"])
    assert len(handle) == 64 and CITIZEN_ID_NUMBER.encode() not in handle
    assert created["user"]["name"] == "11**************2X"
    assert created["user"]["displayName"] == "张三"
    assert CITIZEN_ID_NUMBER not in json.dumps(created)
    assert created["excludeCredentials"] == []


def test_register_a_passkey_and_a_security_key(http: Any, login: Any, citizen: Any) -> None:
    login()
    laptop = SoftAuthenticator(aaguid=uuid.UUID(int=1).bytes)
    added = register(http, laptop, name="  My   laptop ")
    assert added.status_code == 303
    assert path_of(added.headers["Location"]) == "/account/passkeys"
    page = _html(http.get("/account/passkeys"))
    assert "My laptop" in page and "was added" in page
    assert "bound in person" not in page  # added online, not at a service-hall counter

    # A security key: no resident key used up, user verification only preferred.
    key = SoftAuthenticator(user_verifying=False, transports=("usb", "nfc"))
    _token, options = _registration_options(http, "security-key")
    assert options.json["authenticatorSelection"]["residentKey"] == "discouraged"
    assert options.json["authenticatorSelection"]["userVerification"] == "preferred"
    assert options.json["hints"] == ["security-key"]
    # The laptop's credential is excluded: one authenticator is not registered twice.
    excluded = [unb64url(c["id"]) for c in options.json["excludeCredentials"]]
    assert excluded == [laptop.credentials[0].credential_id]
    assert register(http, key, kind="security-key", name="YubiKey").status_code == 303

    rows = sorted(_rows(citizen), key=lambda r: r.name)
    assert [r.name for r in rows] == ["My laptop", "YubiKey"]
    laptop_row, key_row = rows
    assert laptop_row.discoverable and laptop_row.uv_initialized
    assert laptop_row.aaguid == "00000000-0000-0000-0000-000000000001"
    assert laptop_row.attestation_fmt == "none" and not laptop_row.backup_eligible
    assert not key_row.discoverable and not key_row.uv_initialized
    assert key_row.transports == ["usb", "nfc"]
    # One user handle per citizen, shared by all their credentials.
    handle = db.session.get(WebAuthnUser, citizen.id).user_handle
    assert laptop.credentials[0].user_handle == handle == key.credentials[0].user_handle

    with pytest.raises(InvalidStateError):  # what the browser does with excludeCredentials
        register(http, laptop, name="again")


def test_registration_needs_user_verification_for_a_passkey(
    http: Any, login: Any, citizen: Any
) -> None:
    login()
    response = register(http, SoftAuthenticator(), uv=False)
    assert response.status_code == 400
    assert "did not check that it is you" in _html(response)
    assert _rows(citizen) == []


def test_registration_refuses_another_origin_or_rp_id(http: Any, login: Any, citizen: Any) -> None:
    login()
    forged = register(http, SoftAuthenticator(), origin="https://evil.example")
    assert forged.status_code == 400
    assert "not made for this site" in _html(forged)
    forged = register(http, SoftAuthenticator(), rp_id="evil.example")
    assert forged.status_code == 400
    assert _rows(citizen) == []


def test_registration_challenge_is_single_use(http: Any, login: Any, citizen: Any) -> None:
    login()
    token, options = _registration_options(http)
    response = json.dumps(SoftAuthenticator().create(options.json, origin=ORIGIN))
    form = {"csrf_token": token, "credential": response, "name": "Phone"}
    assert http.post("/account/passkeys", data=form).status_code == 303
    again = http.post("/account/passkeys", data=form)
    assert again.status_code == 400
    assert "expired or was already used" in _html(again)
    assert len(_rows(citizen)) == 1


def test_options_need_the_csrf_header_and_a_known_kind(http: Any, login: Any) -> None:
    login()
    token = csrf_from(_html(http.get("/account/passkeys")))
    assert http.post("/account/passkeys/options", json={"kind": "passkey"}).status_code == 400
    headers = {"X-CSRFToken": token}
    unknown = http.post("/account/passkeys/options", json={"kind": "x"}, headers=headers)
    assert unknown.status_code == 400
    for body in (["security-key"], "security-key", None):  # not an object: a passkey
        answer = http.post("/account/passkeys/options", json=body, headers=headers)
        assert answer.status_code == 200, body
        assert answer.json["authenticatorSelection"]["residentKey"] == "required"


def test_credential_names_are_checked(http: Any, login: Any, citizen: Any) -> None:
    login()
    for bad in ("", "   ", "x" * 65, "bell\x07"):
        response = register(http, SoftAuthenticator(), name=bad)
        assert response.status_code == 400, bad
    assert _rows(citizen) == []


def test_rename_and_several_credentials(app: Any, http: Any, login: Any, citizen: Any) -> None:
    login()
    for name in ("Phone", "Laptop", "Key"):
        assert register(http, SoftAuthenticator(), name=name).status_code == 303
    rows = {r.name: r for r in _rows(citizen)}
    token = csrf_from(_html(http.get("/account/passkeys")))
    renamed = http.post(
        f"/account/passkeys/{rows['Phone'].id}/rename",
        data={"csrf_token": token, "name": "Work phone"},
    )
    assert renamed.status_code == 303
    assert sorted(r.name for r in _rows(citizen)) == ["Key", "Laptop", "Work phone"]
    bad = http.post(
        f"/account/passkeys/{rows['Key'].id}/rename", data={"csrf_token": token, "name": ""}
    )
    assert bad.status_code == 400

    # Another citizen can neither see, rename nor remove them.
    other = _other_citizen()
    login(who=other)
    token = csrf_from(_html(http.get("/account/passkeys")))
    assert "Laptop" not in _html(http.get("/account/passkeys"))
    stolen = http.post(
        f"/account/passkeys/{rows['Laptop'].id}/rename", data={"csrf_token": token, "name": "mine"}
    )
    assert stolen.status_code == 404
    gone = http.post(f"/account/passkeys/{rows['Laptop'].id}/remove", data={"csrf_token": token})
    assert gone.status_code == 404
    assert sorted(r.name for r in _rows(citizen)) == ["Key", "Laptop", "Work phone"]


def test_credential_limit(app: Any, http: Any, login: Any, citizen: Any) -> None:
    app.config["IDP_WEBAUTHN_MAX_CREDENTIALS"] = 2
    login()
    for name in ("One", "Two"):
        assert register(http, SoftAuthenticator(), name=name).status_code == 303
    _token, options = _registration_options(http)
    assert options.status_code == 400
    assert "most passkeys allowed" in options.json["error"]


def _other_citizen() -> Any:
    from idp.authn.citizens import create_citizen

    return create_citizen(
        id_number=resident("11010519800101001"), name="李四", password=CITIZEN_PASSWORD
    )


# --- sign-in ---------------------------------------------------------------------------------


def _with_passkey(http: Any, login: Any, **kwargs: Any) -> SoftAuthenticator:
    """A citizen with one registered passkey, then a fresh browser (signed out)."""
    login()
    authenticator = SoftAuthenticator(**kwargs)
    kind = "passkey" if authenticator.user_verifying else "security-key"
    assert register(http, authenticator, kind=kind).status_code == 303
    http.delete_cookie("idp_sid", domain="localhost")
    return authenticator


def test_sign_in_with_a_passkey_without_typing_the_id_number(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    authenticator = _with_passkey(http, login)
    uid, token, options = begin_sign_in(http)
    # Discoverable: no allowCredentials, the authenticator picks the account.
    assert options["allowCredentials"] == []
    assert options["rpId"] == "localhost"
    assert options["userVerification"] == "preferred"
    response = authenticator.get(options, origin=ORIGIN)
    assert response["response"]["userHandle"]
    signed_in = finish_sign_in(http, uid, token, response)
    _signed_in_page(http, signed_in)
    assert path_of(http.get(path_of(signed_in.headers["Location"])).headers["Location"]) == (
        "/account"
    )
    session = _sso(app, http)
    assert session is not None and session.citizen_id == citizen.id
    # User verification on a device-bound key: high, "hwk" + "mfa" (RFC 8176).
    assert session.acr == Acr.HIGH
    assert session.amr == ["hwk", "mfa"]
    row = _rows(citizen)[0]
    assert row.sign_count == 1 and row.last_used_at is not None


def test_without_user_verification_a_key_is_low_and_never_high(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    key = _with_passkey(http, login, user_verifying=False)
    # A security key is not discoverable: signed out, it has nothing to offer.
    with pytest.raises(NotAllowedError):
        begin_and_get(http, key, _interaction(app, http))
    # Signed in with a password, it adds a possession factor: substantial, not high.
    login(amr=("pwd",))
    _signed_in_page(http, sign_in_with(http, key, _interaction(app, http)))
    session = _sso(app, http)
    assert session is not None and session.citizen_id == citizen.id
    assert Acr(session.acr) != Acr.HIGH
    # Asked for high, the browser demands user verification the key cannot give.
    uid = _interaction(app, http, required_acr=Acr.HIGH.value, reasons=["acr_too_low"])
    with pytest.raises(NotAllowedError):
        begin_and_get(http, key, uid)
    # And a response without the UV flag is refused by the server all the same.
    uid, token, options = begin_sign_in(http, uid)
    options = {**options, "userVerification": "preferred"}
    refused = finish_sign_in(http, uid, token, key.get(options, origin=ORIGIN))
    assert refused.status_code == 400
    assert "did not check that it is you" in _html(refused)


def begin_and_get(http: Any, authenticator: SoftAuthenticator, uid: str) -> Any:
    _uid, _token, options = begin_sign_in(http, uid)
    return authenticator.get(options, origin=ORIGIN)


def test_service_levels_for_each_kind_of_key(app: Any) -> None:
    """The assurance table of ``idp.authn.passkeys`` (module docstring)."""

    def level(**kw: Any) -> tuple[list[str], str]:
        methods, acr = passkeys.assurance(aaguid="00000000-0000-0000-0000-000000000000", **kw)
        return [str(m) for m in methods], str(acr)

    high, substantial, low = Acr.HIGH.value, Acr.SUBSTANTIAL.value, Acr.LOW.value
    assert level(user_verified=True, synced=False, with_password=False) == (["hwk", "mfa"], high)
    assert level(user_verified=False, synced=False, with_password=False) == (["hwk"], low)
    assert level(user_verified=False, synced=False, with_password=True) == (
        ["pwd", "hwk"],
        substantial,
    )
    assert level(user_verified=True, synced=False, with_password=True) == (
        ["pwd", "hwk", "mfa"],
        high,
    )
    # Synced passkeys: swk, substantial with user verification (NIST 800-63B Sup. 1).
    assert level(user_verified=True, synced=True, with_password=False) == (["swk"], substantial)
    assert level(user_verified=False, synced=True, with_password=False) == (["swk"], low)
    app.config["IDP_WEBAUTHN_HIGH_ALLOW_SYNCED"] = True
    assert level(user_verified=True, synced=True, with_password=False) == (["swk", "mfa"], high)


def test_high_interaction_requires_user_verification(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    authenticator = _with_passkey(http, login)
    uid = _interaction(app, http, required_acr=Acr.HIGH.value, reasons=["acr_too_low"])
    uid, token, options = begin_sign_in(http, uid)
    assert options["userVerification"] == "required"
    refused = finish_sign_in(http, uid, token, authenticator.get(options, origin=ORIGIN, uv=False))
    assert refused.status_code == 400
    assert "did not check that it is you" in _html(refused)
    assert _sso(app, http) is None
    # With the check, it passes.
    _signed_in_page(http, sign_in_with(http, authenticator, uid))
    assert _sso(app, http).acr == Acr.HIGH


def test_synced_passkey_reaches_substantial_not_high(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    synced = _with_passkey(http, login, backup_eligible=True, backed_up=True, counter=False)
    assert _rows(citizen)[0].backup_eligible
    _signed_in_page(http, sign_in_with(http, synced))
    session = _sso(app, http)
    assert session.acr == Acr.SUBSTANTIAL and session.amr == ["swk"]
    # Synced passkeys keep no counter: 0 again and again is no clone.
    http.delete_cookie("idp_sid", domain="localhost")
    _signed_in_page(http, sign_in_with(http, synced))
    assert _rows(citizen)[0].disabled_at is None


def test_aaguid_allow_list_decides_who_reaches_high(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    approved = uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")
    app.config["IDP_WEBAUTHN_HIGH_AAGUIDS"] = [str(approved).upper()]
    login()
    good = SoftAuthenticator(aaguid=approved.bytes)
    other = SoftAuthenticator(aaguid=uuid.UUID(int=7).bytes)
    assert register(http, good, name="Approved").status_code == 303
    assert register(http, other, name="Other model").status_code == 303

    http.delete_cookie("idp_sid", domain="localhost")
    _signed_in_page(http, sign_in_with(http, good))
    assert _sso(app, http).acr == Acr.HIGH

    http.delete_cookie("idp_sid", domain="localhost")
    _signed_in_page(http, sign_in_with(http, other))
    session = _sso(app, http)
    assert session.acr == Acr.SUBSTANTIAL and "mfa" not in session.amr

    # A high interaction is not satisfied by the other model: the core gets substantial.
    http.delete_cookie("idp_sid", domain="localhost")
    uid = _interaction(app, http, required_acr=Acr.HIGH.value)
    _signed_in_page(http, sign_in_with(http, other, uid))
    assert _sso(app, http).acr != Acr.HIGH


def test_passkey_as_second_factor_after_the_password(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    key = _with_passkey(http, login, user_verifying=False)
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    assert totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    started = http.get("/login")
    uid = path_of(started.headers["Location"]).split("/")[2]
    page = _html(http.get(f"/login/{uid}"))
    assert f"/login/{uid}/passkey" in page  # "Sign in with a passkey"
    password = post_form(
        http, f"/login/{uid}", page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    assert path_of(password.headers["Location"]) == f"/login/{uid}/code"
    uid, token, options = begin_sign_in(http, uid)
    # The citizen is known: their credentials are listed, nothing else is accepted.
    assert [unb64url(c["id"]) for c in options["allowCredentials"]] == [
        key.credentials[0].credential_id
    ]
    _signed_in_page(http, finish_sign_in(http, uid, token, key.get(options, origin=ORIGIN)))
    session = _sso(app, http)
    assert session.citizen_id == citizen.id
    assert session.acr == Acr.SUBSTANTIAL
    assert session.amr == ["pwd", "hwk", "mfa"]


def test_known_citizen_cannot_use_another_accounts_passkey(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    mine = _with_passkey(http, login)
    other = _other_citizen()
    login(who=other)  # signed in as someone else: a step-up lists their credentials
    uid, token, options = begin_sign_in(http)
    assert options["allowCredentials"] == []
    response = mine.get(options, origin=ORIGIN, credential=mine.credentials[0])
    refused = finish_sign_in(http, uid, token, response)
    assert refused.status_code == 400
    assert "belongs to another account" in _html(refused)


def test_step_up_from_a_password_session_adds_only_the_passkey(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    authenticator = _with_passkey(http, login)
    login(amr=("pwd",))
    uid = _interaction(app, http, required_acr=Acr.HIGH.value, reasons=["acr_too_low"])
    uid, token, options = begin_sign_in(http, uid)
    assert [unb64url(c["id"]) for c in options["allowCredentials"]] == [
        authenticator.credentials[0].credential_id
    ]
    assert options["userVerification"] == "required"
    _signed_in_page(
        http, finish_sign_in(http, uid, token, authenticator.get(options, origin=ORIGIN))
    )
    session = _sso(app, http)
    assert session.citizen_id == citizen.id and session.acr == Acr.HIGH
    assert {"hwk", "mfa"} <= set(session.amr)


# --- refusals ---------------------------------------------------------------------------------


def _service_ceremony(uid: str, citizen_id: str | None = None, uv: bool = False) -> dict[str, Any]:
    return passkeys.start_sign_in(
        interaction_uid=uid, citizen_id=citizen_id, require_user_verification=uv
    )


@pytest.mark.parametrize(
    ("forge", "error", "reason"),
    [
        ({"origin": "https://evil.example"}, passkeys.PasskeyWrongSiteRefused, "origin_mismatch"),
        ({"origin": "http://localhost:8080"}, passkeys.PasskeyWrongSiteRefused, "origin_mismatch"),
        ({"cross_origin": True}, passkeys.PasskeyWrongSiteRefused, "origin_mismatch"),
        ({"rp_id": "evil.example"}, passkeys.PasskeyWrongSiteRefused, "rp_id_mismatch"),
        ({"ceremony_type": "webauthn.create"}, passkeys.PasskeyRefused, "wrong_type"),
        ({"challenge": b64url(b"\x00" * 32)}, passkeys.PasskeyExpired, "challenge_mismatch"),
        ({"corrupt_signature": True}, passkeys.PasskeyRefused, "bad_signature"),
        ({"user_handle": b"\x01" * 64}, passkeys.PasskeyRefused, "user_handle_mismatch"),
    ],
)
def test_forged_sign_in_responses_are_refused_with_their_reason(
    app: Any, http: Any, login: Any, citizen: Any, forge: dict[str, Any], error: Any, reason: str
) -> None:
    authenticator = _with_passkey(http, login)
    options = _service_ceremony("uid-1")
    forge = dict(forge)  # the parameters are shared by both backends' runs
    response = authenticator.get(options, origin=forge.pop("origin", ORIGIN), **forge)
    with pytest.raises(error) as refused:
        passkeys.finish_sign_in(interaction_uid="uid-1", response=response, ip="198.51.100.7")
    assert refused.value.reason == reason
    assert _rows(citizen)[0].disabled_at is None


def test_wrong_origin_is_refused_with_a_clear_page(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    authenticator = _with_passkey(http, login)
    refused = sign_in_with(http, authenticator, origin="https://evil.example")
    assert refused.status_code == 400
    assert "not made for this site" in _html(refused)
    assert _sso(app, http) is None


def test_unknown_and_malformed_responses(app: Any, http: Any, login: Any, citizen: Any) -> None:
    _with_passkey(http, login)
    stranger = SoftAuthenticator()
    stranger.create(
        {"rp": {"id": "localhost"}, "user": {"id": b64url(b"x" * 64)}, "challenge": "AA"},
        origin=ORIGIN,
    )
    options = _service_ceremony("uid-2")
    with pytest.raises(passkeys.PasskeyNotRegistered):
        passkeys.finish_sign_in(
            interaction_uid="uid-2",
            response=stranger.get(options, origin=ORIGIN, credential=stranger.credentials[0]),
            ip="198.51.100.7",
        )
    _service_ceremony("uid-3")
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        passkeys.finish_sign_in(interaction_uid="uid-3", response="{not json", ip="198.51.100.7")
    assert refused.value.reason == "malformed"


def test_a_replayed_response_is_refused(app: Any, http: Any, login: Any, citizen: Any) -> None:
    authenticator = _with_passkey(http, login)
    uid, token, options = begin_sign_in(http)
    response = authenticator.get(options, origin=ORIGIN)
    _signed_in_page(http, finish_sign_in(http, uid, token, response))

    # The same response again: its challenge was consumed with the first use.
    replay = http.application.test_client()
    replay.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    uid2, token2, _options = begin_sign_in(replay)
    refused = finish_sign_in(replay, uid2, token2, response)
    assert refused.status_code == 400
    assert "expired or was already used" in _html(refused)
    assert _sso(app, replay) is None
    # And with no live ceremony at all.
    refused = finish_sign_in(replay, uid2, token2, response)
    assert "expired or was already used" in _html(refused)


def test_an_expired_challenge_is_refused(app: Any, http: Any, login: Any, citizen: Any) -> None:
    authenticator = _with_passkey(http, login)
    app.config["IDP_TTL_WEBAUTHN_CHALLENGE"] = 1
    uid, token, options = begin_sign_in(http)
    response = authenticator.get(options, origin=ORIGIN)
    time.sleep(2.1)
    refused = finish_sign_in(http, uid, token, response)
    assert refused.status_code == 400
    assert "expired or was already used" in _html(refused)
    assert _sso(app, http) is None


def test_sign_count_regression_disables_the_credential(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    """WebAuthn 3 section 7.2 step 22: a counter that does not move forward signals a
    cloned authenticator. The sign-in is refused, the credential switched off, the
    citizen told."""
    authenticator = _with_passkey(http, login)
    for _ in range(3):
        _signed_in_page(http, sign_in_with(http, authenticator))
        http.delete_cookie("idp_sid", domain="localhost")
    assert _rows(citizen)[0].sign_count == 3

    # A forged lower counter with a bad signature proves nothing: no change.
    refused = sign_in_with(http, authenticator, sign_count=1, corrupt_signature=True)
    assert refused.status_code == 400
    assert _rows(citizen)[0].disabled_at is None

    # A validly signed response with a counter that went back: a copy of the key.
    cloned = sign_in_with(http, authenticator, sign_count=2)
    assert cloned.status_code == 403
    assert "may have been copied" in _html(cloned)
    row = _rows(citizen)[0]
    assert row.disabled_at is not None and row.disabled_reason == "clone_suspected"
    assert row.sign_count == 3
    assert _sso(app, http) is None

    # Even the genuine authenticator is refused now, and the account page says why.
    refused = sign_in_with(http, authenticator, sign_count=10)
    assert refused.status_code == 403
    assert "switched off" in _html(refused)
    login()
    assert "may have been copied" in _html(http.get("/account/passkeys"))


def test_equal_counter_is_a_regression_too(app: Any, http: Any, login: Any, citizen: Any) -> None:
    authenticator = _with_passkey(http, login)
    _signed_in_page(http, sign_in_with(http, authenticator))
    http.delete_cookie("idp_sid", domain="localhost")
    assert sign_in_with(http, authenticator, sign_count=1).status_code == 403


def test_backup_eligibility_cannot_change(app: Any, http: Any, login: Any, citizen: Any) -> None:
    authenticator = _with_passkey(http, login)
    authenticator.backup_eligible = True
    options = _service_ceremony("uid-4")
    with pytest.raises(passkeys.PasskeyRefused) as refused:
        passkeys.finish_sign_in(
            interaction_uid="uid-4",
            response=authenticator.get(options, origin=ORIGIN),
            ip="198.51.100.7",
        )
    assert refused.value.reason == "backup_flags"


def test_failures_count_against_the_authenticator(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    """Per-authenticator limits (idp.authn.authenticator_limits): a credential that keeps
    failing is disabled, across addresses."""
    app.config.update(IDP_AUTHENTICATOR_MAX_FAILURES=2, IDP_AUTHENTICATOR_FREE_FAILURES=5)
    authenticator = _with_passkey(http, login)
    for _ in range(2):
        assert sign_in_with(http, authenticator, corrupt_signature=True).status_code == 400
    blocked = sign_in_with(http, authenticator)
    assert blocked.status_code == 403
    assert "blocked after too many failed attempts" in _html(blocked)
    login()
    assert "Blocked after too many failed attempts" in _html(http.get("/account/passkeys"))
    assert passkeys.list_passkeys(citizen_id=citizen.id)[0].blocked


# --- fresh sign-in for changes ---------------------------------------------------------------


def test_removal_needs_a_fresh_sign_in(app: Any, http: Any, login: Any, citizen: Any) -> None:
    login()
    assert register(http, SoftAuthenticator(), name="Old phone").status_code == 303
    passkey_id = _rows(citizen)[0].id
    # Ten minutes later (a session whose last sign-in is older than 5 minutes):
    login(auth_time=datetime.now(UTC) - timedelta(minutes=10))
    confirm = http.get(f"/account/passkeys/{passkey_id}/remove")
    assert confirm.status_code == 200
    assert "sign in again first" in _html(confirm)
    token = csrf_from(_html(confirm))
    asked = http.post(f"/account/passkeys/{passkey_id}/remove", data={"csrf_token": token})
    assert asked.status_code == 303
    login_path = _login_page_of(http, asked)
    assert len(_rows(citizen)) == 1  # nothing removed yet

    page = _html(http.get(login_path))
    signed_in = post_form(
        http, login_path, page, id_number=CITIZEN_ID_NUMBER, password=CITIZEN_PASSWORD
    )
    resumed = http.get(path_of(signed_in.headers["Location"]))
    back = path_of(resumed.headers["Location"])
    assert back == f"/account/passkeys/{passkey_id}/remove"
    confirm = _html(http.get(back))
    removed = http.post(back, data={"csrf_token": csrf_from(confirm)})
    assert removed.status_code == 303
    assert _rows(citizen) == []
    assert "was removed" in _html(http.get("/account/passkeys"))


def test_registration_needs_a_fresh_sign_in(app: Any, http: Any, login: Any, citizen: Any) -> None:
    login(auth_time=datetime.now(UTC) - timedelta(minutes=10))
    page = _html(http.get("/account/passkeys"))
    assert 'id="passkey-reauth"' in page and 'data-webauthn="create"' not in page
    token, options = _registration_options(http)
    assert options.status_code == 403
    assert options.json["reauth"] == "/account/passkeys"
    asked = http.post("/account/passkeys/reauth", data={"csrf_token": token})
    _login_page_of(http, asked)


def _login_page_of(http: Any, response: Any) -> str:
    """Follow a parked interaction to its sign-in page; the page asks for the password
    even though the browser is signed in (a re-authentication)."""
    path = path_of(response.headers["Location"])
    if path.startswith("/interaction/"):
        path = path_of(http.get(path).headers["Location"])
    assert path.startswith("/login/"), path
    assert 'name="password"' in _html(http.get(path))
    return path


# --- pages -----------------------------------------------------------------------------------


def test_passkey_pages_load_their_script_and_have_no_inline_script(
    app: Any, http: Any, login: Any, citizen: Any
) -> None:
    login()
    started = http.get("/login")
    uid = path_of(started.headers["Location"]).split("/")[2]
    for path in ("/account/passkeys", f"/login/{uid}/passkey"):
        page = _html(http.get(path))
        assert '<script src="/static/js/webauthn.js" defer></script>' in page
        assert page.count("<script") == 1 and " style=" not in page
    script = http.get("/static/js/webauthn.js")
    assert script.status_code == 200
    assert "X-CSRFToken" in script.get_data(as_text=True)
    assert "Passkeys and security keys" in _html(
        http.get("/account", headers={"Accept-Language": "en"})
    )
