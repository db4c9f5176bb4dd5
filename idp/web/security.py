"""Response headers every page gets: CSP with frame-ancestors 'none', no sniffing,
no referrer leaks, no caching of anything personal.

Frames come from nowhere (``default-src 'self'`` aside), except on the signed-out page,
which frames the front-channel logout URIs of the portals being signed out: that page
alone gets ``frame-src`` naming exactly their origins (``csp_framing``).

Images may come from any https origin: the consent page shows the portal's registered
logo. With ``Referrer-Policy: same-origin`` that fetch tells the logo host nothing
about the page.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask
from flask import Response

CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def csp_framing(origins: Iterable[str]) -> str:
    """The CSP of a page that frames exactly ``origins`` (``scheme://host[:port]``, as
    ``idp.oauth.frontchannel.origin_of`` gives them) and nothing else."""
    return CSP + "; frame-src " + " ".join(origins)


SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # same-origin, not no-referrer: Flask-WTF checks the Referer of every HTTPS form POST
    # (WTF_CSRF_SSL_STRICT). Other sites, portals included, never see our URLs.
    ("Referrer-Policy", "same-origin"),
)


def security_header_items() -> list[tuple[str, str]]:
    """The headers every response carries (idp.web.metadata_wsgi sends them too)."""
    return list(SECURITY_HEADERS)


_DEFAULTS = (*SECURITY_HEADERS, ("Cache-Control", "no-store"))
_DEFAULT_NAMES = tuple((name.lower(), name, value) for name, value in _DEFAULTS)


def add_security_headers(response: Response) -> Response:
    """Each header unless the view set its own (one pass over the headers, not one
    ``setdefault`` scan per header: this runs on every response)."""
    headers = response.headers
    present = {name.lower() for name in headers.keys()}
    for lowered, name, value in _DEFAULT_NAMES:
        if lowered not in present:
            headers.add(name, value)
    return response


def init_security(app: Flask) -> None:
    app.after_request(add_security_headers)
