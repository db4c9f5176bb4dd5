"""Discovery and JWKS answered in front of Flask: static bytes per configuration and key
generation (issue 7).

Portals fetch both documents often and they change only with the configuration (never
while the app runs) or the key list (``idp.oauth.keys``: its store generation makes a
rotation visible in every process at once). A thin WSGI layer answers ``GET`` and
``HEAD`` of the two paths with the exact bytes and headers the Flask views in
``idp.web.oauth_bp`` send (they stay, and the tests compare the two), plus an ``ETag``
so a portal's conditional request gets a bodiless 304. Anything else (other methods,
other paths) goes to Flask unchanged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from flask import Flask

from ..oauth import discovery
from ..oauth import keys
from .oauth_bp import METADATA_MAX_AGE
from .security import security_header_items

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _Document:
    """One body with its ETag and response headers, rebuilt only when the body changes."""

    def __init__(self) -> None:
        # (body, etag, headers): one attribute, so a thread sees the old or the new whole.
        self.state: tuple[bytes, str, list[tuple[str, str]]] | None = None

    def current(self, body: bytes) -> tuple[bytes, str, list[tuple[str, str]]]:
        state = self.state
        if state is None or state[0] is not body:
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", f"public, max-age={METADATA_MAX_AGE}"),
                ("ETag", etag),
                *security_header_items(),
            ]
            state = self.state = (body, etag, headers)
        return state


class MetadataDocuments:
    """WSGI middleware: discovery and JWKS without building a Flask request."""

    def __init__(self, app: Flask, wrapped: WSGIApp) -> None:
        self.app = app
        self.wrapped = wrapped
        self.discovery_body: bytes | None = None
        self.documents = {
            discovery.WELL_KNOWN: _Document(),
            discovery.PATHS["jwks_uri"]: _Document(),
        }

    def _body(self, path: str) -> bytes:
        if path == discovery.WELL_KNOWN:
            if self.discovery_body is None:  # the configuration does not change at run time
                self.discovery_body = discovery.metadata_json(self.app.config)
            return self.discovery_body
        with self.app.app_context():
            return keys.current_jwks_json()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        document = self.documents.get(path)
        method = environ.get("REQUEST_METHOD")
        if document is None or method not in ("GET", "HEAD"):
            return self.wrapped(environ, start_response)
        body, etag, headers = document.current(self._body(path))
        if _matches(environ.get("HTTP_IF_NONE_MATCH"), etag):
            # RFC 9110 15.4.5: a 304 carries the headers a 200 would, without the body.
            start_response("304 Not Modified", [h for h in headers if h[0] != "Content-Length"])
            return [b""]
        start_response("200 OK", list(headers))
        return [b""] if method == "HEAD" else [body]


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    # Weak comparison (RFC 9110 13.1.2): W/"x" matches "x".
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


def init_metadata_documents(app: Flask) -> None:
    """Put the layer outermost (after ProxyFix: the documents never read the client)."""
    app.wsgi_app = MetadataDocuments(app, app.wsgi_app)  # type: ignore[method-assign]
