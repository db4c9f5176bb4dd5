"""The access-token lookup the mobile app's device binding needs (``idp.authn.devices``).

The authentication core may not import the protocol layer, so the web layer (which may)
installs this resolver as ``app.extensions[devices.RESOLVER]``: an access token string
becomes the citizen, client, ``acr`` and ``auth_time`` of its sign-in, or None when it
is unknown, expired, revoked, or its citizen is locked or its client disabled.
"""

from __future__ import annotations

from flask import Flask

from ..authn import devices
from ..oauth import tokens


def resolve(token: str) -> devices.AppToken | None:
    if not isinstance(token, str) or not token or len(token) > tokens.MAX_TOKEN_LENGTH:
        return None
    found = tokens.find(token, "access_token")
    if found is None or found.kind != "access_token" or found.is_expired() or found.is_revoked():
        return None
    citizen, client = found.get_user(), found.get_client()
    if citizen is None or citizen.locked_at is not None or client is None:
        return None
    row = found.row
    return devices.AppToken(
        citizen_id=citizen.id,
        client_id=row.client_id,
        acr=row.acr,
        auth_time=int(row.auth_time.timestamp()) if row.auth_time else None,
        native_first_party=client.model.application_type == "native" and client.first_party,
    )


def init_app(app: Flask) -> None:
    app.extensions[devices.RESOLVER] = resolve
