"""ES256 signatures from the mobile app's device key (RFC 7515 JWS, RFC 7518 3.4).

The one module that verifies the app's signed JWTs (joserfc underneath, as
``methods/webauthn.py`` wraps py_webauthn): keyword-only, our own exception, policy
stated here:

- only ``ES256`` on P-256 (RFC 7518 section 3.4); an ``alg`` of ``none`` or any other
  is refused before a key is looked at;
- the public key is a bare EC JWK (``kty``, ``crv``, ``x``, ``y``): a ``d`` (private
  part) is refused, the key is stored without any other member, and it is named by its
  RFC 7638 thumbprint;
- the ``typ`` header must be the one the caller expects (RFC 8725 section 3.11,
  explicit typing), so a binding proof cannot pass as a request signature.
"""

from __future__ import annotations

from typing import Any

from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from ...errors import IdpError

ALG = "ES256"
MAX_LENGTH = 8192  # a signed request or binding is well under 2 kB


class BadSignature(IdpError):
    """The JWT is malformed, not ES256, of the wrong type or its signature is wrong."""

    public = "The request signature is not valid."


def public_jwk(value: Any) -> tuple[dict[str, str], str]:
    """A device's public key as stored (kty, crv, x, y) and its RFC 7638 thumbprint."""
    if not isinstance(value, dict) or value.get("kty") != "EC" or value.get("crv") != "P-256":
        raise BadSignature(detail="device key is not an EC P-256 JWK")
    if "d" in value:
        raise BadSignature(detail="a private key was sent")
    bare = {k: value.get(k) for k in ("kty", "crv", "x", "y")}
    if not all(isinstance(v, str) and v for v in bare.values()):
        raise BadSignature(detail="incomplete EC JWK")
    try:
        key = ECKey.import_key(bare)  # checks that the point is on the curve
    except (JoseError, ValueError, TypeError) as exc:
        raise BadSignature(detail=f"unusable JWK: {type(exc).__name__}") from None
    return bare, key.thumbprint()


def header_of(token: str) -> dict[str, Any]:
    """The protected header, unverified (to find the key by ``kid`` or ``jwk``)."""
    if not isinstance(token, str) or not token or len(token) > MAX_LENGTH:
        raise BadSignature(detail="missing or oversized JWT")
    try:
        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError, TypeError) as exc:
        raise BadSignature(detail=f"malformed JWT: {type(exc).__name__}") from None
    if not isinstance(header, dict):
        raise BadSignature(detail="malformed JWT header")
    return dict(header)


def verify(token: str, *, jwk: dict[str, str], typ: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT signed with ``jwk``'s private key; raises BadSignature."""
    header = header_of(token)
    if header.get("alg") != ALG:
        raise BadSignature(detail="alg is not ES256")
    if header.get("typ") != typ:
        raise BadSignature(detail="unexpected typ")
    try:
        key = ECKey.import_key(jwk)
        decoded = jwt.decode(token, key, algorithms=[ALG])
    except (JoseError, ValueError, TypeError) as exc:
        raise BadSignature(detail=f"signature refused: {type(exc).__name__}") from None
    if not isinstance(decoded.claims, dict):
        raise BadSignature(detail="claims are not an object")
    return dict(decoded.header), dict(decoded.claims)
