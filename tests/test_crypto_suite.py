"""The national-cryptography option (issue 6): IDP_CRYPTO_SUITE=national puts SM3 on the
audit chain and the blind index and SM4-GCM on data and signing keys at rest; every
sealed value and record names its algorithm, so both suites' data stay readable."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from conftest import make_app
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from webforms import prepare
from webforms import sign_in as website_sign_in

from idp import audit
from idp.cryptosuite import CryptoSuite
from idp.cryptosuite import digest
from idp.errors import ConfigurationError
from idp.extensions import db
from idp.ids.protect import UnsealError
from idp.ids.protect import blind_index
from idp.ids.protect import seal
from idp.ids.protect import unseal
from idp.ids.protect import unwrap
from idp.ids.protect import wrap
from idp.keyring import keyring_from_master
from idp.models import AuditEvent
from idp.models import Citizen
from idp.models import SigningKey

MASTER = b"\x07" * 32
INTERNATIONAL = keyring_from_master(MASTER)
NATIONAL = keyring_from_master(MASTER, suite=CryptoSuite.NATIONAL)


@pytest.mark.parametrize(
    ("alg", "message", "expected"),
    [
        # GB/T 32905-2016 appendix A.1 (and ISO/IEC 10118-3): SM3("abc").
        ("sm3", b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
        # FIPS 180-4 example: SHA-256("abc").
        ("sha256", b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ],
)
def test_chain_hashes_match_the_standards_vectors(alg, message, expected):
    assert digest(alg, message) == expected


def test_national_seal_is_sm4_gcm_and_names_its_algorithm():
    blob = seal(NATIONAL, "11010519491231002X", context="citizen:1")
    assert blob[0] == 0x02  # VERSION_SM4_GCM
    assert unseal(NATIONAL, blob, context="citizen:1") == "11010519491231002X"
    # The version byte, not the configuration, decides: a deployment that switched
    # suites still opens what it sealed before, both ways.
    assert unseal(INTERNATIONAL, blob, context="citizen:1") == "11010519491231002X"
    old = seal(INTERNATIONAL, "11010519491231002X", context="citizen:1")
    assert old[0] == 0x01 and unseal(NATIONAL, old, context="citizen:1") == "11010519491231002X"


@pytest.mark.parametrize("suite_keyring", [NATIONAL, INTERNATIONAL], ids=["sm4", "aes"])
def test_sealed_blobs_refuse_tampering_other_contexts_and_algorithm_swaps(suite_keyring):
    blob = seal(suite_keyring, "secret", context="citizen:1")
    flipped = blob[:-1] + bytes([blob[-1] ^ 1])
    swapped = bytes([0x03 - blob[0]]) + blob[1:]  # 1 <-> 2: the AAD binds the version
    for bad, context in ((flipped, "citizen:1"), (blob, "citizen:2"), (swapped, "citizen:1")):
        with pytest.raises(UnsealError):
            unseal(suite_keyring, bad, context=context)
    other = keyring_from_master(b"\x08" * 32, suite=suite_keyring.suite)
    with pytest.raises(UnsealError):
        unseal(other, blob, context="citizen:1")


def test_national_blind_index_is_hmac_sm3_and_differs():
    national = blind_index(NATIONAL, "11010519491231002X")
    international = blind_index(INTERNATIONAL, "11010519491231002X")
    assert len(national) == 64 and national != international
    assert national == blind_index(NATIONAL, "11010519491231002X")


def test_key_wrap_under_each_suite():
    for keyring, version in ((NATIONAL, 0x02), (INTERNATIONAL, 0x01)):
        blob = wrap(keyring, b'{"kty":"EC"}', context="signing-key:k1")
        assert blob[0] == version
        assert unwrap(keyring, blob, context="signing-key:k1") == b'{"kty":"EC"}'


def test_an_unknown_suite_refuses_to_start(backend):
    with pytest.raises(ConfigurationError, match="IDP_CRYPTO_SUITE must be one of"):
        make_app(backend, IDP_CRYPTO_SUITE="fips-only")


class TestNationalDeployment:
    """A whole deployment on the national suite, on both backends."""

    @pytest.fixture
    def app_config(self) -> dict[str, Any]:
        return {"IDP_CRYPTO_SUITE": "national"}

    def test_sign_in_tokens_and_audit_on_sm3_sm4(self, app, http, citizen, rp, login):
        from oidc_helpers import grant_consent
        from oidc_helpers import sign_in

        prepare(app)
        row = db.session.get(Citizen, citizen.id)
        assert row.id_number_enc[0] == 0x02  # SM4-GCM at rest
        keyring = app.extensions["idp.keyring"]
        assert keyring.suite is CryptoSuite.NATIONAL
        assert row.id_number_index == blind_index(keyring, CITIZEN_ID_NUMBER)
        as_sha256 = replace(keyring, suite=CryptoSuite.INTERNATIONAL)
        assert row.id_number_index != blind_index(as_sha256, CITIZEN_ID_NUMBER)
        # The ID number is found through the HMAC-SM3 blind index: sign in with it.
        assert website_sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303
        grant_consent(citizen, rp)
        login()
        assert "id_token" in sign_in(http, rp)
        keys = db.session.scalars(select(SigningKey)).all()
        assert keys and all(k.private_jwk_enc[0] == 0x02 for k in keys)  # SM4-wrapped
        algs = {e.alg for e in db.session.scalars(select(AuditEvent))}
        assert algs == {"sm3"}
        assert app.test_cli_runner().invoke(args=["audit", "checkpoint"]).exit_code == 0
        report = audit.verify()
        assert report.ok and report.anchored_seq > 0


def test_signing_keys_sealed_before_the_versioned_format_still_open(app):
    """Keys written by earlier releases: nonce | AES-256-GCM, the kid as associated data."""
    from idp.oauth import keys

    keys.signing_key_info("ES256")  # creates the first keys
    row = db.session.scalars(select(SigningKey).where(SigningKey.alg == "ES256")).first()
    private = keys._unseal(row.kid, row.private_jwk_enc)
    nonce = os.urandom(12)
    legacy = nonce + AESGCM(app.extensions["idp.keyring"].key_wrap).encrypt(
        nonce, json.dumps(private).encode(), row.kid.encode()
    )
    assert keys._unseal(row.kid, legacy) == private
