"""An ID token handed back to name its citizen: CIBA Core 1.0 section 7.1 ``id_token_hint``
("An ID Token previously issued to the Client by the OpenID Provider being passed back as
a hint to identify the end-user for whom authentication is being requested").

- Verified as RP-initiated logout verifies its hint (``logout.verify_id_token_hint``):
  signed with one of our published keys (a retired key still in the JWKS too), our
  ``iss``, ``typ`` ``JWT``; an expired one is accepted (CIBA puts no age on the hint, and
  RP-Initiated Logout 1.0 section 2 accepts expired ID tokens as hints).
- Issued to the client asking: its ``aud`` names it. Another portal's ID token names the
  citizen under another pairwise ``sub`` and is not this client's to use.
- The ``sub`` is pairwise (``claims.pairwise_sub``, an HMAC: it cannot be reversed), so
  the citizen is found through the tokens it was issued with. Every ID token goes out
  beside an access token row (``OAuthToken``: client, citizen, ``sid``), and those rows
  stay until the citizen's account is closed: the client's rows under the hint's
  ``sid`` are the candidates, and the one whose pairwise ``sub`` is the hint's ``sub``
  is the citizen. None found (the account is gone): ``citizen_id`` None, which the caller
  treats as an unknown ID number (never an error that says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ..extensions import db
from ..models import OAuthToken
from .claims import pairwise_sub
from .clients import Client
from .errors import InvalidRequestError
from .logout import verify_id_token_hint


@dataclass(frozen=True)
class Hinted:
    """Whom a verified hint names: ``sub`` (the client's pairwise id for the citizen) and
    ``citizen_id`` (None: nobody any more)."""

    sub: str
    citizen_id: str | None


def resolve(hint: str, client: Client) -> Hinted:
    """The citizen an ID token issued to ``client`` names. Raises ``InvalidRequestError``
    when ``hint`` is not an ID token of ours, or was issued to another client."""
    try:
        claims = verify_id_token_hint(hint)
    except InvalidRequestError:
        raise InvalidRequestError(
            "The id_token_hint is not a valid ID token from this provider."
        ) from None
    if client.client_id not in _audience(claims):
        raise InvalidRequestError("The id_token_hint was not issued to this client.")
    sub, sid = claims.get("sub"), claims.get("sid")
    if not isinstance(sub, str) or not sub:
        raise InvalidRequestError("The id_token_hint has no subject.")
    return Hinted(sub=sub, citizen_id=_citizen(client, sub, sid))


def _audience(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return [aud]
    return [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def _citizen(client: Client, sub: str, sid: Any) -> str | None:
    if not isinstance(sid, str) or not sid or len(sid) > 64:
        return None
    candidates = db.session.scalars(
        select(OAuthToken.citizen_id)
        .where(
            OAuthToken.client_id == client.client_id,
            OAuthToken.sid == sid,
            OAuthToken.citizen_id.is_not(None),
        )
        .distinct()
    ).all()
    for citizen_id in candidates:
        if citizen_id and (
            pairwise_sub(sector_identifier=client.sector_identifier, citizen_id=citizen_id) == sub
        ):
            return str(citizen_id)
    return None
