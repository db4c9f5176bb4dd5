"""Purpose-bound keys derived from the one master secret (HKDF, RFC 5869).

One secret to configure and back up; a leak of a derived key does not reveal the others,
and changing the label set never reuses a key for two purposes.
"""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .cryptosuite import CryptoSuite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Keyring:
    data: bytes  # AES-256-GCM: ID numbers and other sensitive columns
    blind_index: bytes  # HMAC-SHA256: look up an ID number without decrypting
    pairwise: bytes  # HMAC-SHA256: pairwise `sub` per sector
    key_wrap: bytes  # AES-256-GCM: private signing keys at rest
    flask_secret: bytes  # Flask SECRET_KEY when none is configured
    token_hash: bytes  # HMAC-SHA256: tokens and codes are stored only as keyed hashes
    # The national suite (idp.cryptosuite): keys derived with HKDF-SM3. Always derived, so
    # a value sealed under either suite can be opened whichever is configured now.
    data_sm4: bytes = field(default=b"", repr=False)  # SM4-GCM (128-bit key)
    blind_index_sm3: bytes = field(default=b"", repr=False)  # HMAC-SM3
    key_wrap_sm4: bytes = field(default=b"", repr=False)  # SM4-GCM for signing keys
    suite: CryptoSuite = CryptoSuite.INTERNATIONAL  # algorithms for new data


def _derive(master: bytes, label: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"idp/" + label.encode()
    ).derive(master)


def _derive_sm(master: bytes, label: str, length: int) -> bytes:
    # HKDF (RFC 5869) instantiated with HMAC-SM3, so the national suite's keys come from
    # national algorithms only; distinct labels keep them apart from the others.
    return HKDF(
        algorithm=hashes.SM3(), length=length, salt=None, info=b"idp/sm/" + label.encode()
    ).derive(master)


def keyring_from_master(
    master: bytes, *, suite: CryptoSuite = CryptoSuite.INTERNATIONAL
) -> Keyring:
    if len(master) < 32:
        raise ValueError("IDP_MASTER_KEY must decode to at least 32 bytes")
    return Keyring(
        data=_derive(master, "data-encryption"),
        blind_index=_derive(master, "blind-index"),
        pairwise=_derive(master, "pairwise-sub"),
        key_wrap=_derive(master, "key-wrap"),
        flask_secret=_derive(master, "flask-secret"),
        token_hash=_derive(master, "token-hash"),
        data_sm4=_derive_sm(master, "data-encryption", 16),
        blind_index_sm3=_derive_sm(master, "blind-index", 32),
        key_wrap_sm4=_derive_sm(master, "key-wrap", 16),
        suite=suite,
    )


def decode_master_key(value: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except ValueError as exc:
        raise ValueError("IDP_MASTER_KEY is not valid base64") from exc


def load_or_create_dev_master(instance_path: str) -> bytes:
    """Development only: keep a generated master key beside the SQLite file."""
    path = Path(instance_path) / "master.key"
    if path.exists():
        return decode_master_key(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    path.write_text(value + "\n")
    path.chmod(0o600)
    log.warning("must change: generated a development master key in %s", path)
    return decode_master_key(value)
