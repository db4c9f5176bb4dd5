"""Web-boundary helpers shared by the provider's pages and the channel adapters:
the SSO cookie and the per-browser binding that interactions are tied to.

This is the one ``idp.web`` module adapters may import: it holds cookie mechanics,
nothing of the protocol.
"""

from __future__ import annotations

import secrets

from flask import Response
from flask import current_app
from flask import request
from flask import session


def browser_id() -> str:
    """A random id kept in the signed UI cookie; interactions are bound to it."""
    value = session.get("browser")
    if not isinstance(value, str) or len(value) < 20:
        value = secrets.token_urlsafe(18)
        session["browser"] = value
    return value


def sso_cookie() -> str | None:
    return request.cookies.get(current_app.config["IDP_SESSION_COOKIE"])


def set_sso_cookie(response: Response, value: str, *, persistent: bool = False) -> Response:
    """The SSO cookie: HttpOnly, SameSite=Lax, Secure unless turned off for local http.
    A session cookie (no Max-Age) unless ``persistent``."""
    cfg = current_app.config
    response.set_cookie(
        cfg["IDP_SESSION_COOKIE"],
        value,
        max_age=cfg["IDP_TTL_SSO_SESSION"] if persistent else None,
        secure=bool(cfg["IDP_COOKIE_SECURE"]),
        httponly=True,
        samesite="Lax",
        path="/",
    )
    return response


def clear_sso_cookie(response: Response) -> Response:
    cfg = current_app.config
    response.delete_cookie(
        cfg["IDP_SESSION_COOKIE"],
        path="/",
        secure=bool(cfg["IDP_COOKIE_SECURE"]),
        httponly=True,
        samesite="Lax",
    )
    return response


def set_strict_cookie(
    response: Response, name: str, value: str, *, path: str, max_age: int | None = None
) -> Response:
    """A cookie only one part of the site sees: HttpOnly, SameSite=Strict (no cross-site
    navigation carries it), Secure unless turned off for local http, sent only to
    ``path`` (the console's, the counter's, a QR page's browser secret)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        secure=bool(current_app.config["IDP_COOKIE_SECURE"]),
        httponly=True,
        samesite="Strict",
        path=path,
    )
    return response


def clear_strict_cookie(response: Response, name: str, *, path: str) -> Response:
    response.delete_cookie(
        name,
        path=path,
        secure=bool(current_app.config["IDP_COOKIE_SECURE"]),
        httponly=True,
        samesite="Strict",
    )
    return response


def client_ip() -> str:
    """The caller's address; behind a load balancer set IDP_TRUSTED_PROXIES (ProxyFix)."""
    return request.remote_addr or "unknown"
