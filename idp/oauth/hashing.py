"""Keyed hashes of bearer secrets: tokens, codes and client secrets are stored only so.

HMAC-SHA256 under ``keyring.token_hash`` with a purpose label, so a database or Redis
dump yields nothing usable and a value hashed for one purpose never matches another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app

# 256 bits of randomness; URL-safe so it survives query strings and form posts.
TOKEN_BYTES = 32


def new_secret() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def keyed_hash(purpose: str, value: str) -> str:
    key: bytes = current_app.extensions["idp.keyring"].token_hash
    message = purpose.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def matches(purpose: str, value: str, stored_hash: str | None) -> bool:
    """Constant-time comparison of ``value`` against a stored keyed hash."""
    if not stored_hash or not isinstance(value, str):
        return False
    return hmac.compare_digest(keyed_hash(purpose, value), stored_hash)
