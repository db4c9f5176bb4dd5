"""After the password, a citizen with TOTP may use a passkey or security key instead."""

from __future__ import annotations

import time
from typing import Any

from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import path_of
from webforms import prepare
from webforms import sign_in

from idp.authn.methods import totp


def test_the_code_page_offers_a_passkey_instead(app: Any, http: Any, citizen: Any) -> None:
    prepare(app)
    enrolment = totp.provision(citizen_id=citizen.id, account_name="x", issuer="idp")
    assert totp.confirm(
        citizen_id=citizen.id, code=totp.code_at(secret=enrolment.secret, when=time.time())
    )
    response = sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD)
    code_path = path_of(response.headers["Location"])
    assert code_path.endswith("/code")
    page = http.get(code_path).get_data(as_text=True)
    passkey_path = code_path.removesuffix("/code") + "/passkey"
    assert f'href="{passkey_path}"' in page
    assert http.get(passkey_path).status_code == 200
