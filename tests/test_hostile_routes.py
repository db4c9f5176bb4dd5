"""Every route, fed hostile input, answers without a server error (DESIGN.md: never a 500).

Routes come from the URL map, so a new endpoint is covered the day it is added. Each is
called as four callers (anonymous, a signed-in citizen, a verified staff member holding
every role with CSRF off so the handlers themselves see the input, and an admin API
bearer token), with path arguments that exist and that do not, and with seeded-random
parameters of the protocol, login and console forms set to hostile values (empty, NUL,
a lone percent sign, 3,000 characters, RTL overrides, JSON fragments, huge numbers) in
the query, a form body, a JSON body, undecodable bytes, and malformed ``Authorization``
headers (which found Authlib's Basic parser raising: tests/test_client_auth.py).
Any 5xx or exception fails with the list of requests that caused it.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest

PARAMS = (
    "client_id redirect_uri response_type scope state nonce code code_challenge "
    "code_challenge_method code_verifier grant_type token token_type_hint refresh_token "
    "id_token_hint post_logout_redirect_uri login_hint acr_values max_age prompt claims "
    "request request_uri response_mode ui_locales username password id_number phone name otp "
    "next auth_req_id device_code user_code binding_message requested_expiry client_secret "
    "client_assertion client_assertion_type sid iss logout_hint credential transaction "
    "decision consent categories lang q page from to type cursor limit label roles department"
).split()
VALUES = (
    "",
    "\x00",
    "%",
    "a" * 3000,
    "𝕏\u202e",
    "-1",
    "1e999",
    "[]",
    "{}",
    '{"a":',
    "null",
    "99999999999999999999999",
    "../../etc/passwd",
    "<script>",
)
PATH_VALUES = ["x", "-1", "99999999999999999999", "a" * 300]
AUTHORIZATION = [
    "Basic ###",
    "Basic YQ==",  # "a": no colon
    "Basic /w==",  # one byte that is not UTF-8
    "Basic /zr/",  # "\xff:\xff"
    "Basic",
    "Bearer ",
    "Bearer a.b.c",
    "Bearer \u00e9",
    "Digest x",
    "Basic " + "A" * 5000,
]
UNDECODABLE = b"\xff\xfe=\xff&a=%ff%fe&b[]=1&&="
PAYLOADS_PER_ROUTE = 2


def _urls(app: Any, known: list[str]) -> list[tuple[str, list[str]]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        if rule.arguments:
            urls += [(re.sub(r"<[^>]+>", v, rule.rule), methods) for v in PATH_VALUES + known]
        else:
            urls.append((rule.rule, methods))
    return urls


def _requests(method: str, rnd: random.Random, headers: bool) -> list[dict[str, Any]]:
    payloads = [
        {k: rnd.choice(VALUES) for k in rnd.sample(PARAMS, 6)} for _ in range(PAYLOADS_PER_ROUTE)
    ]
    payloads.append(dict.fromkeys(PARAMS, "x"))
    out: list[dict[str, Any]] = []
    for p in payloads:
        out.append({"query_string": p})
        if method != "GET":
            out.append({"data": p})
            out.append({"data": json.dumps(p), "content_type": "application/json"})
    if method != "GET":
        out.append({"data": UNDECODABLE, "content_type": "application/x-www-form-urlencoded"})
        out.append({"data": b"{\xff", "content_type": "application/json"})
    if headers:  # callers that authenticate by the header, not a cookie
        out += [{"headers": {"Authorization": value}} for value in AUTHORIZATION]
    return out


def _sweep(
    app: Any, client: Any, caller: str, known: list[str], headers: bool = False
) -> list[str]:
    rnd = random.Random(f"hostile-{caller}")
    failures = []
    for url, methods in _urls(app, known):
        for method in methods:
            for kwargs in _requests(method, rnd, headers):
                try:
                    status = client.open(url, method=method, **kwargs).status_code
                except Exception as exc:  # noqa: BLE001 - any exception is the finding
                    status = f"{type(exc).__name__}: {str(exc)[:120]}"
                if not isinstance(status, int) or status >= 500:
                    shown = {k: (str(v)[:80]) for k, v in kwargs.items()}
                    failures.append(f"{caller} {method} {url[:80]} {shown} -> {status}")
    return failures


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": False}  # so the console's handlers see the input


def test_no_route_answers_hostile_input_with_a_server_error(
    app: Any, backend: Any, http: Any, login: Any, rp: Any, citizen: Any
) -> None:
    if backend[0] != "postgres":
        pytest.skip("one backend is enough: the input handling does not depend on it")
    from admin_helpers import api_token
    from admin_helpers import make_member
    from admin_helpers import verify

    from idp.authn.staff.roles import Role

    known = [str(citizen.id), rp.client_id]
    failures = _sweep(app, http, "anonymous", known, headers=True)
    login()
    failures += _sweep(app, http, "citizen", known)
    staff = make_member(app, username="root", roles=[r.value for r in Role])
    assert verify(staff.http, staff.key).status_code in (200, 302, 303)
    known.append(str(staff.id))
    failures += _sweep(app, staff.http, "staff", known)
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(staff)}"
    failures += _sweep(app, api, "api", known, headers=True)
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:40])
