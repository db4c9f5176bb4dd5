"""Which assurance levels an authorization request asks for (OIDC Core 3.1.2.1
``acr_values``, 5.5.1.1 the ``acr`` claim in the ``claims`` parameter), with the
portal's registered default and minimum.

https://openid.net/specs/openid-connect-core-1_0.html#acrSemantics

The answer is the list of acceptable levels in order of preference. The rules:

1. An essential ``acr`` in ``claims.id_token`` (``{"essential": true, "value": ...}`` or
   ``"values": [...]``) wins. OIDC Core 5.5.1.1: "If this is an Essential Claim, the
   Authorization Server MUST ... return an acr value satisfying" it; when none of its
   values is one of ours the request fails with ``unmet_authentication_requirements``
   (OpenID Connect Core Unmet Authentication Requirements 1.0, section 2).
2. Otherwise ``acr_values`` (OIDC Core 3.1.2.1: "Space-separated string ... with the
   values appearing in order of preference"), then a voluntary ``acr`` claim's values.
   Values we do not define are ignored; if none is left the request names no level
   (OIDC makes these voluntary).
3. No level asked: the portal's ``default_acr``, if an administrator set one.
4. The portal's ``minimum_acr`` is a floor: every level below it is raised to it, and a
   request naming no level gets it.

Voluntary or not, a level we use is never silently lowered: the citizen steps up, or
the portal gets an error (``idp.oauth.authorize``). Levels are ordered, so a higher
level satisfies a lower one; the ID token's ``acr`` is the level actually reached.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..authn.assurance import parse_acr
from ..authn.result import Acr
from ..consent.categories import minimum_level
from .claims import ClaimsParameterError
from .claims import parse_claims_parameter
from .clients import Client
from .errors import InvalidRequestError
from .errors import UnmetAuthenticationRequirementsError


@dataclass(frozen=True)
class AcrRequest:
    levels: tuple[Acr, ...]  # acceptable levels, most preferred first; () = none asked
    source: str  # claims | acr_values | default | minimum | none

    @property
    def lowest(self) -> Acr | None:
        return min(self.levels, key=lambda a: a.rank) if self.levels else None


def _ours(values: Iterable[Any]) -> list[Acr]:
    """The values we define, in order, each once (full URIs only, as on the wire)."""
    found: list[Acr] = []
    for value in values:
        acr = parse_acr(value) if isinstance(value, str) and value.startswith("urn:") else None
        if acr is not None and acr not in found:
            found.append(acr)
    return found


def _claim_values(spec: Mapping[str, Any]) -> list[Any]:
    if "value" in spec:
        return [spec["value"]]
    return list(spec.get("values") or [])


def resolve(data: Mapping[str, str], client: Client) -> AcrRequest:
    """The levels this request needs. Raises ``InvalidRequestError`` for a malformed
    ``claims`` parameter, ``UnmetAuthenticationRequirementsError`` for an essential
    ``acr`` naming no level of ours."""
    try:
        claims = parse_claims_parameter(data.get("claims"))
    except ClaimsParameterError as exc:
        raise InvalidRequestError(str(exc)) from None
    spec = (claims.get("id_token") or {}).get("acr") or {}
    claim_values = _claim_values(spec)
    levels: list[Acr] = []
    source = "none"
    if spec.get("essential") is True and claim_values:
        levels = _ours(claim_values)
        if not levels:
            raise UnmetAuthenticationRequirementsError(
                "None of the essential acr values is supported."
            )
        source = "claims"
    if not levels and data.get("acr_values"):
        levels, source = _ours(data["acr_values"].split()), "acr_values"
    if not levels and claim_values:
        levels, source = _ours(claim_values), "claims"
    if not levels and client.default_acr is not None:
        levels, source = [client.default_acr], "default"
    if not levels:
        source = "none"
    floor = client.minimum_acr
    # Issue 4: a scope releasing sensitive data (the ID number) needs the session at its
    # minimum level; below it the citizen steps up, as for any other floor.
    scope_floor = minimum_level(tuple((data.get("scope") or "").split()))
    if scope_floor is not None and (floor is None or scope_floor.rank > floor.rank):
        floor = scope_floor
    if floor is not None:
        raised = [a if a.satisfies(floor) else floor for a in levels] or [floor]
        if raised != levels:
            source = "minimum"
        levels = list(dict.fromkeys(raised))
    return AcrRequest(levels=tuple(levels), source=source)
