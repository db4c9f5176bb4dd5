"""The signed-out page with its front-channel logout frames (OpenID Connect
Front-Channel Logout 1.0 section 2, ``idp.oauth.frontchannel``).

Every way a citizen's browser session ends here (RP-initiated logout, the account
page's sign-out, ending the current or every session) renders its page through
``signed_out``: one hidden frame per portal of the ending session that registered a
front-channel logout URI, and a Content-Security-Policy whose ``frame-src`` names
exactly those portals' origins. A post-logout redirect waits for the frames:
``static/js/logout.js`` follows it once they have loaded (or after a few seconds);
without JavaScript the page offers it as a link.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response
from flask import current_app
from flask import render_template

from ..authn.sessions import SsoSession
from ..oauth import frontchannel
from .security import csp_framing

log = logging.getLogger(__name__)


def frames_for(session: SsoSession | None) -> list[frontchannel.Frame]:
    """The frames for ``session``; call before it ends (its portals and ids are read
    from it)."""
    return frontchannel.frames_for(session)


def signed_out(
    template: str,
    frames: list[frontchannel.Frame],
    *,
    next_url: str | None = None,
    **context: Any,
) -> Response:
    """``template`` with ``frames`` (and ``next_url``, where the page goes on to), and
    the CSP that lets exactly those frames load."""
    response = current_app.make_response(
        render_template(template, frames=frames, next_url=next_url, **context)
    )
    if frames:
        response.headers["Content-Security-Policy"] = csp_framing(
            frontchannel.frame_origins(frames)
        )
        log.info("front-channel logout: %d portal frame(s)", len(frames))
    return response
