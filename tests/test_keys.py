"""Signing keys: encrypted at rest, published before they sign, kept after they stop."""

from __future__ import annotations

import json
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest
from oidc_helpers import decode_id_token
from oidc_helpers import grant_consent
from oidc_helpers import sign_in


@pytest.fixture
def consented(citizen, rp, login):
    grant_consent(citizen, rp)
    login()


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
