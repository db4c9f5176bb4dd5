"""Protecting ID numbers at rest: authenticated encryption, a keyed blind index, redaction.

DESIGN.md "Privacy": "The ID number is sensitive personal information. It is stored
encrypted, looked up through a keyed hash (blind index), never logged in clear."

- ``seal`` / ``unseal``: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce
  (SP 800-38D 8.2.2: random nonces are safe below 2^32 messages per key) and the
  ``context`` label as associated data, so a blob copied to another row or column
  fails authentication instead of decrypting as someone else's number. Under the
  national suite (``IDP_CRYPTO_SUITE=national``, idp.cryptosuite) new blobs are
  SM4-GCM instead (RFC 8998 2.1: SM4 in GCM, 96-bit nonce, 128-bit tag). The first
  byte names the algorithm, so ``unseal`` opens both whichever suite is configured.
- ``wrap`` / ``unwrap``: the same, under the key-wrap key (private signing keys).
- ``blind_index``: HMAC-SHA256 (RFC 2104) of the normalised number under a dedicated
  key (HMAC-SM3 under the national suite). Deterministic, so a lookup needs no
  decryption; keyed, so a stolen table cannot be reversed by enumerating the roughly
  10^11 plausible numbers (regions x birth dates x sequences). Being deterministic it
  cannot name its algorithm: the suite is chosen at install time and switching it on
  an existing database is not supported (existing numbers would no longer be found).
- ``redact``: what logs, CLI output and audit details may show.

Pure module: keys come from ``idp.keyring.Keyring`` passed in by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.ciphers import modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..cryptosuite import CryptoSuite
from ..cryptosuite import keyed_digest
from ..keyring import Keyring

# Blob layout: version (1 byte) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes).
# The version byte lets a later key rotation or algorithm change coexist with old rows.
VERSION_AES256_GCM = 0x01
VERSION_SM4_GCM = 0x02
_NONCE_BYTES = 12
_TAG_BYTES = 16


class UnsealError(ValueError):
    """The blob is malformed, was altered, or was sealed under another key or context."""


def seal(keyring: Keyring, plaintext: str, *, context: str) -> bytes:
    return _seal(keyring, keyring.data, keyring.data_sm4, plaintext.encode(), context)


def unseal(keyring: Keyring, blob: bytes, *, context: str) -> str:
    return _unseal(keyring.data, keyring.data_sm4, blob, context).decode()


def wrap(keyring: Keyring, secret: bytes, *, context: str) -> bytes:
    """Seal key material (a private JWK) under the key-wrap key."""
    return _seal(keyring, keyring.key_wrap, keyring.key_wrap_sm4, secret, context)


def unwrap(keyring: Keyring, blob: bytes, *, context: str) -> bytes:
    return _unseal(keyring.key_wrap, keyring.key_wrap_sm4, blob, context)


def _seal(keyring: Keyring, aes_key: bytes, sm4_key: bytes, plain: bytes, context: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    if keyring.suite is CryptoSuite.NATIONAL:
        version = VERSION_SM4_GCM
        encryptor = Cipher(algorithms.SM4(sm4_key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(_aad(version, context))
        sealed = encryptor.update(plain) + encryptor.finalize() + encryptor.tag
    else:
        version = VERSION_AES256_GCM
        sealed = AESGCM(aes_key).encrypt(nonce, plain, _aad(version, context))
    return bytes([version]) + nonce + sealed


def _unseal(aes_key: bytes, sm4_key: bytes, blob: bytes, context: str) -> bytes:
    blob = bytes(blob)
    if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[0] not in (
        VERSION_AES256_GCM,
        VERSION_SM4_GCM,
    ):
        raise UnsealError("unknown sealed-blob format")
    version, nonce, sealed = blob[0], blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        if version == VERSION_AES256_GCM:
            return AESGCM(aes_key).decrypt(nonce, sealed, _aad(version, context))
        body, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
        decryptor = Cipher(algorithms.SM4(sm4_key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(_aad(version, context))
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise UnsealError("sealed blob failed authentication") from None


def _aad(version: int, context: str) -> bytes:
    # Binds the blob to its format version (so an algorithm cannot be swapped) as well
    # as to its context.
    return bytes([version]) + context.encode()


def blind_index(keyring: Keyring, normalised_number: str) -> str:
    """64 hex characters; the caller passes ``IdNumber.normalised``, never raw input."""
    if keyring.suite is CryptoSuite.NATIONAL:
        return keyed_digest("sm3", keyring.blind_index_sm3, normalised_number.encode())
    mac = hmac.new(keyring.blind_index, normalised_number.encode(), hashlib.sha256)
    return mac.hexdigest()


def redact(number: str) -> str:
    """Mask an ID number (or whatever was typed in its place) for logs and reports.

    Keeps the first two characters (the province, or a green card's nationality prefix)
    and the last two (one sequence digit and the check character), masks the rest:
    ``11010519491231002X`` -> ``11**************2X``. The birth date and the region below
    province level are hidden; the visible part lets an operator tell rows apart in a
    report beside the line number, and narrows a guess by less than ten bits. Input of
    under ten characters is masked entirely, since two and two would be most of it, and
    very long input is cut so a pasted paragraph does not end up in a log.
    """
    value = "".join(number.split())
    if len(value) < 10:
        return "*" * len(value)
    if len(value) > 24:
        return value[:2] + "*" * 20 + "..."
    return value[:2] + "*" * (len(value) - 4) + value[-2:]
