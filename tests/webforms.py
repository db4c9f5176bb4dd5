"""Helpers for driving the website's real pages in tests: CSRF tokens come from the HTML."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask import redirect

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def path_of(location: str) -> str:
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def resident(body: str) -> str:
    """A valid 18-digit resident number for a 17-digit body (GB 11643 check digit)."""
    from idp.ids.resident_id import mod11_2

    return body + mod11_2(body=body)


def prepare(app: Flask) -> None:
    """Make the test client behave like separate browser requests.

    conftest's ``app`` fixture keeps one application context open for the whole test, and
    Flask reuses it for test-client requests, so ``g`` (where Flask-Babel caches the
    page locale and Flask-WTF the CSRF token) would leak from one request into the
    next. Each request starts with a clean ``g`` here, as in production.
    """
    from flask import g

    def fresh_g() -> None:
        for name in ("_flask_babel", "csrf_token"):
            g.pop(name, None)

    app.before_request_funcs.setdefault(None, []).insert(0, fresh_g)
    ensure_resume(app)


def ensure_resume(app: Flask) -> None:
    """Until the OIDC layer's ``interaction.resume`` exists, stand in for it: finish the
    interaction and go to its ``return_to`` (or show the sid, for OAuth interactions)."""
    if "interaction.resume" in app.view_functions:
        return
    from idp.authn import interaction as interactions
    from idp.web.browser import browser_id

    def resume(uid: str) -> Any:
        store = app.extensions["idp.store"]
        pending = interactions.load(store, uid, browser=browser_id())
        interactions.finish(store, pending)
        return redirect(pending.return_to or "/", 303)

    app.add_url_rule("/interaction/<uid>/resume", "interaction.resume", resume)


def open_login(http: Any) -> tuple[str, str]:
    """A direct visit to /login: returns (login page path, its HTML)."""
    response = http.get("/login")
    assert response.status_code == 303
    path = path_of(response.headers["Location"])
    page = http.get(path)
    assert page.status_code == 200
    return path, page.get_data(as_text=True)


def post_form(http: Any, path: str, html: str, **fields: str) -> Any:
    return http.post(path, data={"csrf_token": csrf_from(html), **fields})


def sign_in(http: Any, id_number: str, password: str) -> Any:
    path, html = open_login(http)
    return post_form(http, path, html, id_number=id_number, password=password)
