"""Withdrawing consent, with everything that follows from it (issue 4).

One operation for the citizen (``/account/portals``) and for an administrator
(``idp consents revoke``): the consent record is revoked (``revoked_by`` says by whom),
every token the portal holds for the citizen stops working at once
(``idp.consent.service.revoke``), and the portal is told through back-channel logout
(OpenID Connect Back-Channel Logout 1.0), naming the citizen's pairwise ``sub`` and the
``sid`` of each session it may still hold. The notices are written in the same
transaction as the revocation (a durable outbox: a revocation is never left untold),
and sent afterwards by ``idp.oauth.backchannel_delivery``.
"""

from __future__ import annotations

from ..consent import service as consent_service
from . import backchannel


def withdraw_consent(*, citizen_id: str, client_id: str, by: str) -> bool:
    """True if a consent was active (and is now revoked)."""
    active = consent_service.find_active(citizen_id=citizen_id, client_id=client_id)
    if active is not None:
        # Before the tokens are revoked: their sids name the portal's sessions.
        sids = backchannel.sids_for_portal(citizen_id=citizen_id, client_id=client_id)
        backchannel.queue_consent_revoked(citizen_id=citizen_id, client_id=client_id, sids=sids)
    revoked = consent_service.revoke(citizen_id=citizen_id, client_id=client_id, by=by)
    if active is not None:
        backchannel.wake()
    return revoked
