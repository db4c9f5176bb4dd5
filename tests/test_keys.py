"""Signing keys: encrypted at rest, published before they sign, kept after they stop."""

from __future__ import annotations

import base64
import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import sign_in


@pytest.fixture
def consented(citizen, rp, login):
    grant_consent(citizen, rp)
    login()


def header_of(token):
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def retire_elsewhere(other, kid):
    """An emergency retirement in the other instance: a successor signs at once, then
    the compromised key stops signing and leaves the JWKS."""
    from idp.oauth import keys

    with other.app_context():
        alg = next(k["alg"] for k in keys.list_keys() if k["kid"] == kid)
        keys.rotate(algs=(alg,), propagation_delay=0, retire_grace=86400)
        keys.retire(kid, retire_grace=0, immediate=True)


def published_kids(http):
    return {k["kid"]: k for k in http.get("/jwks.json").get_json()["keys"]}


def test_first_start_creates_one_key_per_algorithm(http):
    keys = http.get("/jwks.json").get_json()["keys"]
    assert sorted(k["alg"] for k in keys) == ["ES256", "RS256"]
    for key in keys:
        assert key["use"] == "sig" and key["kid"]
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)  # public halves only


def test_private_keys_are_encrypted_at_rest(app, http):
    from idp.extensions import db
    from idp.models import SigningKey
    from idp.oauth import keys

    http.get("/jwks.json")
    for row in db.session.query(SigningKey).all():
        blob = bytes(row.private_jwk_enc)
        assert b'"d"' not in blob and b"kty" not in blob
        assert keys._unseal(row.kid, blob)["d"]
        with pytest.raises(Exception):  # noqa: B017 - bound to its kid
            keys._unseal("another-kid", blob)


def test_rotation_publishes_before_signing(app, http, rp, consented):
    from idp.oauth import keys

    old = keys.signing_key_info("ES256").kid
    created = keys.rotate(algs=("ES256",), propagation_delay=3600, retire_grace=86400)
    new = created[0].kid
    assert new in published_kids(http) and old in published_kids(http)
    token = sign_in(http, rp)
    header, _ = decode_id_token(http, token["id_token"], client_id=rp.client_id)
    assert header["kid"] == old  # the new key is not signing yet
    later = datetime.now(UTC) + timedelta(seconds=3601)
    assert keys.signing_key_info("ES256", now=later).kid == new


def test_rotation_without_delay_signs_with_the_new_key(app, http, rp, consented):
    from idp.oauth import keys

    old = keys.signing_key_info("ES256").kid
    new = keys.rotate(algs=("ES256",), propagation_delay=0, retire_grace=3600)[0].kid
    token = sign_in(http, rp)
    header, _ = decode_id_token(http, token["id_token"], client_id=rp.client_id)
    assert header["kid"] == new
    # The old key stays published for the grace period, then leaves the JWKS.
    assert old in {k["kid"] for k in keys.published_jwks()["keys"]}
    after_grace = datetime.now(UTC) + timedelta(seconds=3601)
    assert old not in {k["kid"] for k in keys.published_jwks(now=after_grace)["keys"]}
    assert new in {k["kid"] for k in keys.published_jwks(now=after_grace)["keys"]}


def test_keys_are_decrypted_once_per_process(app, http, rp, consented, monkeypatch):
    from idp.oauth import keys

    sign_in(http, rp)
    calls = []
    real = keys._unseal
    monkeypatch.setattr(keys, "_unseal", lambda *a: calls.append(a) or real(*a))
    for _ in range(3):
        sign_in(http, rp)
    assert calls == []


def test_purge_deletes_keys_past_their_grace(app, http):
    from idp.oauth import keys

    http.get("/jwks.json")
    keys.rotate(propagation_delay=0, retire_grace=0)
    assert keys.purge_expired(now=datetime.now(UTC) + timedelta(seconds=1)) == 2
    assert len(keys.published_jwks()["keys"]) == 2


def test_cli_keys_rotate_and_list(app, http):
    http.get("/jwks.json")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "rotate", "--propagation-delay", "600", "--json"])
    assert result.exit_code == 0, result.output
    created = json.loads(result.output)
    assert sorted(k["alg"] for k in created) == ["ES256", "RS256"]
    listing = json.loads(runner.invoke(args=["keys", "list", "--json"]).output)
    states = {k["kid"]: k["state"] for k in listing}
    assert all(states[k["kid"]] == "pending" for k in created)
    assert sorted(states.values()) == ["pending", "pending", "signing", "signing"]


def test_jwks_and_discovery_are_cacheable(http):
    for path in ("/jwks.json", "/.well-known/openid-configuration"):
        response = http.get(path)
        assert response.headers["Cache-Control"].startswith("public, max-age=")


def test_a_key_retired_by_another_instance_stops_signing_here_at_once(
    app, http, rp, consented, other
):
    """This instance's key cache is warm; the next ID token it signs after an emergency
    retirement elsewhere carries another kid, and verifies against the JWKS."""
    old = header_of(sign_in(http, rp)["id_token"])["kid"]

    retire_elsewhere(other, old)

    token = sign_in(http, rp)["id_token"]
    assert header_of(token)["kid"] != old
    header, _ = decode_id_token(http, token, client_id=rp.client_id)
    assert header["kid"] in published_kids(http)
    assert old not in published_kids(http)


def test_a_key_retired_by_another_instance_stops_signing_outside_requests_too(
    app, http, rp, consented, other
):
    """Outside a request (CLI, background threads: logout tokens, audit checkpoints)
    every use of the keys reads the generation."""
    from idp.oauth import keys

    old = header_of(sign_in(http, rp)["id_token"])
    assert keys.signing_key_info(old["alg"]).kid == old["kid"]  # warm

    retire_elsewhere(other, old["kid"])

    assert keys.signing_key_info(old["alg"]).kid != old["kid"]
    assert old["kid"] not in {key.kid for key in keys.private_keyset(old["alg"]).keys}
    assert old["kid"] not in {key.kid for key in keys.public_keyset().keys}


def test_an_id_token_hint_signed_by_a_key_retired_elsewhere_is_refused(
    app, http, rp, store, citizen, login, other
):
    from idp.authn import sessions

    grant_consent(citizen, rp)
    session = login()
    hint = sign_in(http, rp)["id_token"]

    retire_elsewhere(other, header_of(hint)["kid"])

    bye = "https://tax.example.gov/bye"
    response = http.get(
        "/logout?" + urlencode({"id_token_hint": hint, "post_logout_redirect_uri": bye})
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert sessions.get_by_sid(store, session.sid) is not None
