"""Flask's per-request machinery without its repeated set-up work (issue 7).

Every request, Flask builds a new itsdangerous serializer for the session cookie
(``SecureCookieSessionInterface.get_signing_serializer``) and asks ``inspect`` whether
each before/after/teardown hook and the view is a coroutine function
(``Flask.ensure_sync``): nine hooks, so nine ``inspect`` calls per request. Both answers
depend only on objects fixed at start-up, so they are computed once here. A profile of
a request through Flask put the two at about a fifth of Flask's own time (the security
headers, idp.web.security, were another seventh). Nothing about the request or the
session's content is cached: the cookie is still verified on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

_MAX_SYNC_ENTRIES = 4096  # hooks and views are fixed at start-up; a bound, just in case


class Provider(Flask):
    """The provider's Flask class: ``ensure_sync`` decided once per function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.session_interface = CachedSerializerSessionInterface()

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable
            pass
        wrapped = super().ensure_sync(func)
        if len(self._sync) < _MAX_SYNC_ENTRIES:
            try:
                self._sync[func] = wrapped
            except TypeError:
                pass
        return wrapped


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its serializer built once per secret key (and
    fallback keys): a changed ``SECRET_KEY`` builds a new one."""

    def __init__(self) -> None:
        self._cached: tuple[tuple[Any, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (keys, serializer)
        return serializer
