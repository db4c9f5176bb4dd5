"""Scopes, the claims they release, and the pairwise ``sub`` (OIDC Core 5.4 and 8.1).

OIDC Core 5.4: "Claims requested by the following scope values are returned from the
UserInfo Endpoint". This catalogue is the one place that decides which claim a scope
releases; a later issue grows it into data categories with per-category consent.

ID tokens carry only ``sub`` and the authentication claims; profile data goes through
UserInfo, so a portal's logs of ID tokens hold no personal data beyond the pairwise id.
The ID number is released only under the ``id_number`` scope (sensitive: the consent
step asks for it separately and at its minimum level); the address of household
registration only under ``address``, as the Address Claim object of OIDC Core 5.1.1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import fields
from datetime import date
from datetime import datetime
from typing import Any

from flask import current_app

from ..authn.citizens import id_number_of
from ..authn.phone_verification import is_verified
from ..consent.categories import CATALOGUE
from ..models import Citizen

# Scope -> claims it releases at UserInfo, from the catalogue (idp.consent.categories).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {s: c.claims for s, c in CATALOGUE.items()}
SUPPORTED_SCOPES: tuple[str, ...] = tuple(SCOPE_CLAIMS)

# Claims that may appear in an ID token (OIDC Core 2) besides the UserInfo claims.
ID_TOKEN_CLAIMS = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "sid",
    "at_hash",
    "channel",
)
CLAIMS_SUPPORTED: tuple[str, ...] = tuple(
    dict.fromkeys([*ID_TOKEN_CLAIMS, *(c for cs in SCOPE_CLAIMS.values() for c in cs)])
)

_GENDER = {"M": "male", "F": "female"}


def pairwise_sub(*, sector_identifier: str, citizen_id: str) -> str:
    """OIDC Core 8.1: a pairwise ``sub`` differs per sector and cannot be reversed.

    HMAC-SHA256 under the ``pairwise`` key over the sector host and the citizen's
    internal id (never the ID number), base64url without padding.
    """
    key: bytes = current_app.extensions["idp.keyring"].pairwise
    message = sector_identifier.lower().encode() + b"\x00" + citizen_id.encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def released_claims(scopes: Iterable[str]) -> list[str]:
    granted = set(scopes)
    return [c for scope, claims in SCOPE_CLAIMS.items() if scope in granted for c in claims]


@dataclass(frozen=True, slots=True)
class CitizenClaims:
    """The citizen columns UserInfo's claims come from, read with the token in one
    statement (``tokens.find_access(..., with_claims=True)``): a read-only record, no ORM
    object. Same attribute names as ``Citizen``, so ``id_number_of`` opens the sealed
    number from it as from the model."""

    id: str
    id_type: str
    id_number_enc: bytes
    name: str
    phone: str | None
    verified_phone: str | None
    birthdate: date | None
    gender: str | None
    address: dict[str, str] | None
    locked_at: datetime | None


CITIZEN_CLAIM_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(CitizenClaims))


def userinfo(
    *, citizen: Citizen | CitizenClaims, sub: str, scopes: Iterable[str]
) -> dict[str, Any]:
    """OIDC Core 5.3.2: the claims the granted scopes allow, and only those.

    ``phone_number_verified`` is true only while the number on record is the one the
    citizen proved to hold with an SMS code (``idp.authn.phone_verification``), false for
    a number never proved (as the registry or self-registration gave it), absent with no
    number.
    """
    granted = set(scopes)
    values: dict[str, Any] = {
        "sub": sub,
        "name": citizen.name,
        "birthdate": citizen.birthdate.isoformat() if citizen.birthdate else None,
        "gender": _GENDER.get(citizen.gender or ""),
        "phone_number": citizen.phone,
        "phone_number_verified": (
            is_verified(phone=citizen.phone, verified_phone=citizen.verified_phone)
            if citizen.phone
            else None
        ),
        # OIDC Core 5.1.1: a JSON object of the members we hold (idp.models.address);
        # absent (None) when the registry gave no address.
        "address": dict(citizen.address) if citizen.address else None,
    }
    if "id_number" in granted:
        # Unsealed only when the consent behind the token covers it; never logged.
        # ``id_number_of`` reads ``id`` and ``id_number_enc``, which both types have.
        values["id_number"] = id_number_of(citizen)  # type: ignore[arg-type]
        values["id_type"] = citizen.id_type
    # OIDC Core 5.3.2: "If a Claim is not returned, that Claim Name SHOULD be omitted".
    return {c: values[c] for c in released_claims(scopes) if values.get(c) is not None}


# --- the claims request parameter (OIDC Core 5.5) ---------------------------------------------

CLAIMS_TARGETS = ("userinfo", "id_token")
MAX_CLAIMS_LENGTH = 4096


class ClaimsParameterError(ValueError):
    """The ``claims`` parameter is not what OIDC Core 5.5 describes; the message is
    public ASCII (it becomes the ``invalid_request`` description)."""


def parse_claims_parameter(raw: str | None) -> dict[str, dict[str, dict[str, Any] | None]]:
    """OIDC Core 5.5: "The claims Authentication Request parameter requests that
    specific Claims be returned from the UserInfo Endpoint and/or in the ID Token. It
    is represented as a JSON object containing lists of Claims being requested from
    these locations."

    Returns ``{"userinfo": {...}, "id_token": {...}}`` (members absent when not asked).
    Each claim maps to None (default manner) or to an object whose ``essential`` is a
    boolean, ``value`` a JSON value and ``values`` an array (5.5.1). Other top-level
    members are ignored (5.5: "Other members MAY be present. Any members used that are
    not understood MUST be ignored"). Raises ``ClaimsParameterError``.
    """
    if raw is None or raw == "":
        return {}
    if len(raw) > MAX_CLAIMS_LENGTH:
        raise ClaimsParameterError("The 'claims' parameter is too long.")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise ClaimsParameterError("The 'claims' parameter is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ClaimsParameterError("The 'claims' parameter must be a JSON object.")
    parsed: dict[str, dict[str, dict[str, Any] | None]] = {}
    for target in CLAIMS_TARGETS:
        if target not in document or document[target] is None:
            continue
        requested = document[target]
        if not isinstance(requested, dict):
            raise ClaimsParameterError(f"claims.{target} must be a JSON object.")
        members: dict[str, dict[str, Any] | None] = {}
        for name, spec in requested.items():
            if spec is not None and not isinstance(spec, dict):
                raise ClaimsParameterError("Each requested claim must be null or an object.")
            if spec is not None:
                if "essential" in spec and not isinstance(spec["essential"], bool):
                    raise ClaimsParameterError("'essential' must be true or false.")
                if "values" in spec and not isinstance(spec["values"], list):
                    raise ClaimsParameterError("'values' must be an array.")
            members[str(name)] = spec
        parsed[target] = members
    return parsed
