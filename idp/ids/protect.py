"""Protecting ID numbers at rest: authenticated encryption, a keyed blind index, redaction.

DESIGN.md "Privacy": "The ID number is sensitive personal information. It is stored
encrypted, looked up through a keyed hash (blind index), never logged in clear."

- ``seal`` / ``unseal``: AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce
  (SP 800-38D 8.2.2: random nonces are safe below 2^32 messages per key) and the
  ``context`` label as associated data, so a blob copied to another row or column
  fails authentication instead of decrypting as someone else's number.
- ``blind_index``: HMAC-SHA256 (RFC 2104) of the normalised number under a dedicated
  key. Deterministic, so a lookup needs no decryption; keyed, so a stolen table cannot
  be reversed by enumerating the roughly 10^11 plausible numbers (regions x birth
  dates x sequences).
- ``redact``: what logs, CLI output and audit details may show.

Pure module: keys come from ``idp.keyring.Keyring`` passed in by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..keyring import Keyring

# Blob layout: version (1 byte) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes).
# The version byte lets a later key rotation or algorithm change coexist with old rows.
VERSION_AES256_GCM = 0x01
_NONCE_BYTES = 12
_TAG_BYTES = 16


class UnsealError(ValueError):
    """The blob is malformed, was altered, or was sealed under another key or context."""


def seal(keyring: Keyring, plaintext: str, *, context: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(keyring.data).encrypt(nonce, plaintext.encode(), _aad(context))
    return bytes([VERSION_AES256_GCM]) + nonce + sealed


def unseal(keyring: Keyring, blob: bytes, *, context: str) -> str:
    if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[0] != VERSION_AES256_GCM:
        raise UnsealError("unknown sealed-blob format")
    nonce, sealed = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        plain = AESGCM(keyring.data).decrypt(nonce, sealed, _aad(context))
    except InvalidTag:
        raise UnsealError("sealed blob failed authentication") from None
    return plain.decode()


def _aad(context: str) -> bytes:
    # Binds the blob to its format version as well as to its context.
    return bytes([VERSION_AES256_GCM]) + context.encode()


def blind_index(keyring: Keyring, normalised_number: str) -> str:
    """64 hex characters; the caller passes ``IdNumber.normalised``, never raw input."""
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
