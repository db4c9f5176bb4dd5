"""The console's cookie and the signed-in staff member behind it (web boundary)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask import g
from flask import redirect
from flask import request
from flask import url_for
from werkzeug.wrappers import Response as BaseResponse

from ...admin.authz import Actor
from ...authn.staff import accounts
from ...authn.staff import console_access
from ...authn.staff import console_session
from ...models import Staff
from ...store import current_store
from ..browser import clear_strict_cookie
from ..browser import client_ip
from ..browser import set_strict_cookie

PATH = "/admin"


def _idle() -> int:
    return int(current_app.config["IDP_ADMIN_SESSION_IDLE"])


def set_cookie(response: BaseResponse, value: str) -> BaseResponse:
    """Only sent to ``/admin``: citizens' pages never see it."""
    return set_strict_cookie(response, current_app.config["IDP_ADMIN_COOKIE"], value, path=PATH)


def clear_cookie(response: BaseResponse) -> BaseResponse:
    return clear_strict_cookie(response, current_app.config["IDP_ADMIN_COOKIE"], path=PATH)


def start(staff: Staff) -> str:
    """A new console session for ``staff``; returns the cookie value."""
    cfg = current_app.config
    _, cookie = console_session.start(
        current_store(),
        staff_id=staff.id,
        idle=_idle(),
        lifetime=int(cfg["IDP_ADMIN_SESSION_MAX"]),
    )
    return cookie


def current() -> tuple[console_session.ConsoleSession, Staff] | None:
    """The live console session and its enabled member with console access, or None."""
    if "admin_session" in g:
        cached: tuple[console_session.ConsoleSession, Staff] | None = g.admin_session
        return cached
    found = None
    cookie = request.cookies.get(current_app.config["IDP_ADMIN_COOKIE"])
    session = console_session.load(current_store(), cookie, idle=_idle())
    if session is not None:
        staff = accounts.get(session.staff_id)
        if staff is not None and staff.disabled_at is None and console_access(staff.roles or []):
            found = (session, staff)
    g.admin_session = found
    return found


def actor_for(session: console_session.ConsoleSession, staff: Staff) -> Actor:
    return Actor(
        staff_id=staff.id,
        username=staff.username,
        roles=tuple(staff.roles or ()),
        department=staff.department,
        via="console",
        verified_at=session.verified_at,
        ip=client_ip(),
    )


def safe_next(value: str | None) -> str:
    """A path inside the console, or the console's home: never an open redirect."""
    if not value or not value.startswith(PATH + "/") or value.startswith("//"):
        return url_for("admin.home")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value:
        return url_for("admin.home")
    return value


def console_page(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed in with console access, else to the sign-in page; passes ``actor``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        found = current()
        if found is None:
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("admin_auth.sign_in", next=back), 303)
        return view(actor_for(*found), *args, **kwargs)

    return wrapper
