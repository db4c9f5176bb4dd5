"""The cryptographic suite of a deployment: international (default) or national.

``IDP_CRYPTO_SUITE`` picks, at install time, the algorithms for new data:

============  ==========================  ====================================
suite         hash (audit chain, HMAC)    authenticated encryption at rest
============  ==========================  ====================================
international SHA-256 (FIPS 180-4)         AES-256-GCM (NIST SP 800-38D)
national      SM3 (GB/T 32905-2016)        SM4-GCM (GB/T 32907-2016, RFC 8998)
============  ==========================  ====================================

The national suite is for deployments that must pass a commercial-cryptography
assessment (GB/T 39786-2021). Both come from ``cryptography`` (OpenSSL), so no second
crypto library is needed. Every stored value names its algorithm (a sealed blob's first
byte, an audit record's ``alg``), so data written under one suite stays readable and
verifiable under the other.
"""

from __future__ import annotations

import hmac as std_hmac
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac


class CryptoSuite(StrEnum):
    INTERNATIONAL = "international"
    NATIONAL = "national"

    @property
    def hash_name(self) -> str:
        """The chain-hash algorithm tag stored with each audit record."""
        return "sm3" if self is CryptoSuite.NATIONAL else "sha256"


HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha256": hashes.SHA256, "sm3": hashes.SM3}


def parse_suite(value: object) -> CryptoSuite:
    """``IDP_CRYPTO_SUITE``; raises ValueError naming the accepted values."""
    try:
        return CryptoSuite(str(value or CryptoSuite.INTERNATIONAL).lower())
    except ValueError:
        raise ValueError(
            f"IDP_CRYPTO_SUITE must be one of {', '.join(s.value for s in CryptoSuite)}"
        ) from None


def digest(alg: str, data: bytes) -> str:
    """Hex digest of ``data`` under ``alg`` ("sha256" or "sm3"); KeyError otherwise."""
    h = hashes.Hash(HASHES[alg]())
    h.update(data)
    return h.finalize().hex()


def keyed_digest(alg: str, key: bytes, data: bytes) -> str:
    """Hex HMAC (RFC 2104) of ``data`` under ``alg``: HMAC-SHA256 or HMAC-SM3."""
    mac = hmac.HMAC(key, HASHES[alg]())
    mac.update(data)
    return mac.finalize().hex()


def same(a: str, b: str) -> bool:
    return std_hmac.compare_digest(a.encode(), b.encode())
