"""OpenID Connect Front-Channel Logout 1.0: registration rules and the logout frames.

https://openid.net/specs/openid-connect-frontchannel-1_0.html

- Section 2, client metadata: ``frontchannel_logout_uri`` ("This URL SHOULD use the
  https scheme ... The URI MUST NOT include a fragment component"; it "MAY include an
  application/x-www-form-urlencoded formatted query component ... which MUST be
  retained when adding additional query parameters") and
  ``frontchannel_logout_session_required``. Checked by the rule every logout URI shares
  (``backchannel.validate_logout_uri``: https, http on loopback only outside production,
  literal private hosts refused under the same exemption), plus one of ours: the host
  is a DNS name or an IPv4 address, so the page's Content-Security-Policy can name its
  origin (a CSP host-source cannot hold an IPv6 literal, nor a ";").
- Section 2, the OP "renders <iframe src="frontchannel_logout_uri"> in a page with the
  RP-initiated logout confirmation page, or other OP pages": ``frames_for`` lists one
  frame per portal that received an ID token in the ending SSO session and registered
  a URI. "The OP MAY add these query parameters when rendering the logout URI, and if
  either is included, both MUST be": ``iss`` and ``sid`` are added exactly when the
  portal registered ``frontchannel_logout_session_required`` (the choice
  node-oidc-provider makes); ``sid`` is the value of the portal's latest ID token from
  that session (section 3: the same ``sid`` Claim as in ID Tokens).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import current_app

from ..authn.sessions import SsoSession
from ..errors import InvalidInput
from ..extensions import db
from ..models import OAuthClient
from . import backchannel

FIELD = "frontchannel_logout_uri"
SESSION_FIELD = "frontchannel_logout_session_required"
WHAT = "front-channel logout URI"
# A DNS name or an IPv4 address: what a CSP host-source can name.
_CSP_HOST = re.compile(r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")


def enabled(config: Mapping[str, Any] | None = None) -> bool:
    return bool((config or current_app.config)["IDP_FEATURE_FRONTCHANNEL_LOGOUT"])


# -- registration (section 2) ----------------------------------------------------------------


def validate_logout_uri(uri: str | None) -> str | None:
    """A clean ``frontchannel_logout_uri`` ("" or None clears it) or ``InvalidInput``."""
    clean = backchannel.validate_logout_uri(
        uri, local_ok=backchannel.allow_local(), field=FIELD, what=WHAT
    )
    if clean is not None and origin_of(clean) is None:
        raise InvalidInput(
            f"The {WHAT} must name its host (a DNS name or an IPv4 address).", field=FIELD
        )
    return clean


def origin_of(uri: str) -> str | None:
    """``scheme://host[:port]`` as a CSP source expression, or None when the host
    cannot be named there."""
    try:
        parts = urlsplit(uri)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not _CSP_HOST.match(host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


# -- the frames (section 2) ------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """One portal's logout frame: where the browser goes, and the origin the page's
    CSP must allow for it."""

    client_id: str
    name: str
    src: str
    origin: str


def frames_for(session: SsoSession | None) -> list[Frame]:
    """A frame per portal signed in through ``session`` that received an ID token in it
    and registered a front-channel logout URI (enabled portals only)."""
    if session is None or not session.clients or not enabled():
        return []
    frames = []
    for client_id in session.clients:
        client = db.session.get(OAuthClient, client_id)
        if client is None or client.disabled_at is not None or not client.frontchannel_logout_uri:
            continue
        sid = _latest_sid(client_id, session)
        origin = origin_of(client.frontchannel_logout_uri)
        if sid is None or origin is None:
            continue  # no ID token from this session: nothing to end at the portal
        src = client.frontchannel_logout_uri
        if client.frontchannel_logout_session_required:
            query = urlencode({"iss": current_app.config["IDP_ISSUER"], "sid": sid})
            # Section 2: the registered query "MUST be retained".
            src += ("&" if urlsplit(src).query else "?") + query
        frames.append(Frame(client_id=client_id, name=client.name, src=src, origin=origin))
    return frames


def _latest_sid(client_id: str, session: SsoSession) -> str | None:
    """The ``sid`` of the portal's latest ID token from ``session`` (its id now, or one
    it had before a step-up renewed it), or None when it received none."""
    given = backchannel.sids_given(
        client_id, session.citizen_id, [session.sid, *session.previous_sids]
    )
    return given[0] if given else None


def frame_origins(frames: list[Frame]) -> list[str]:
    """The origins the page frames, each once, in page order."""
    return list(dict.fromkeys(f.origin for f in frames))
