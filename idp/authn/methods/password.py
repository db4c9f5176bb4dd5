"""Password hashing with argon2id (RFC 9106), behind one module of ours.

No other module imports ``argon2``. Parameters follow argon2-cffi's ``RFC_9106_LOW_MEMORY``
profile (RFC 9106 section 4, second recommended option: t=3, m=64 MiB, p=4), which fits a
web process; ``needs_rehash`` lets a login upgrade old hashes when the profile changes.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

from .hashing_pool import bounded

# RFC 9106 section 4: "If much less memory is available, ... Argon2id with t=3 iterations,
# p=4 lanes, m=2^(16) (64 MiB of RAM), 128-bit salt, and 256-bit tag size."
_HASHER = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)

# NIST SP 800-63B 5.1.1.2: verifiers SHALL permit at least 64 characters; a cap stops
# a megabyte "password" from being a denial of service on the hasher.
MAX_PASSWORD_LENGTH = 1024


def hash_password(*, password: str) -> str:
    """Return the argon2id PHC string (``$argon2id$v=19$m=...``) for ``password``."""
    if not password:
        raise ValueError("empty password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError("password too long")
    return bounded(lambda: _HASHER.hash(password))


def verify_password(*, hash: str, password: str) -> bool:  # noqa: A002 - PHC "hash"
    """True when ``password`` matches ``hash``; False on mismatch or a malformed hash.

    Never raises for a wrong password, so callers cannot leak the difference through
    exception handling. Raises ``HashingBusy`` when no hashing slot frees up in time.
    """
    if not password or len(password) > MAX_PASSWORD_LENGTH:
        return False

    def verify() -> bool:
        try:
            return _HASHER.verify(hash, password)
        except (VerificationError, InvalidHashError):
            return False

    # Bounded and at a lower CPU priority (hashing_pool): may raise HashingBusy.
    return bounded(verify)


def needs_rehash(*, hash: str) -> bool:  # noqa: A002
    """True when ``hash`` was made with other parameters than today's profile."""
    try:
        return _HASHER.check_needs_rehash(hash)
    except (InvalidHashError, ValueError):
        return True


def dummy_verify(*, password: str) -> None:
    """Spend the time of one verification, for an unknown ID number.

    The website answers an unknown number and a wrong password alike, in similar time.
    """
    verify_password(hash=_dummy_hash(), password=password)


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash("dummy-password-for-timing-equalisation")
