"""Response headers every page gets: CSP with frame-ancestors 'none', no sniffing,
no referrer leaks, no caching of anything personal.

Images may come from any https origin: the consent page shows the portal's registered
logo. With ``Referrer-Policy: same-origin`` that fetch tells the logo host nothing
about the page.
"""

from __future__ import annotations

from flask import Flask
from flask import Response

CSP = (
    "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


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


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    for name, value in SECURITY_HEADERS:
        headers.setdefault(name, value)
    headers.setdefault("Cache-Control", "no-store")
    return response


def init_security(app: Flask) -> None:
    app.after_request(add_security_headers)
