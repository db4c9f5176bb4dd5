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


def add_security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # same-origin, not no-referrer: Flask-WTF checks the Referer of every HTTPS form POST
    # (WTF_CSRF_SSL_STRICT). Other sites, portals included, never see our URLs.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_security(app: Flask) -> None:
    app.after_request(add_security_headers)
