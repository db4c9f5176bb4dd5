"""Flask's per-request machinery without its repeated set-up work (issue 7).

Every request, Flask builds a new itsdangerous serializer for the session cookie
(``SecureCookieSessionInterface.get_signing_serializer``) and asks ``inspect`` whether
each before/after/teardown hook and the view is a coroutine function
(``Flask.ensure_sync``): nine hooks, so nine ``inspect`` calls per request. Both answers
depend only on objects fixed at start-up, so they are computed once here. A profile of
a request through Flask put the two at about a fifth of Flask's own time (the security
headers, idp.web.security, were another seventh). Nothing about the request or the
session's content is cached: the cookie is verified in every request that uses the
session, when it first does (``ProviderRequestContext``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.ctx import RequestContext
from flask.sessions import SecureCookieSessionInterface
from flask.sessions import SessionMixin
from itsdangerous import URLSafeTimedSerializer

_MAX_SYNC_ENTRIES = 4096  # hooks and views are fixed at start-up; a bound, just in case


class _Unopened:
    """A request context's session before anything asked for it."""


UNOPENED = _Unopened()


class ProviderRequestContext(RequestContext):
    """Flask's request context, opening the session cookie when the session is first
    used rather than when the request starts: verifying its signature and decoding it
    was a measurable cost on endpoints that never look at it (the authorization
    endpoint of a signed-in citizen, the token endpoint). A request that never touches
    the session answers exactly as Flask's would for an untouched one: no
    ``Set-Cookie``, no ``Vary: Cookie``."""

    def __init__(self, app: Flask, environ: Any, request: Any = None, session: Any = None):
        super().__init__(app, environ, request, session)
        if self._session is None:
            self._session = UNOPENED  # type: ignore[assignment]

    @property
    def session(self) -> SessionMixin:
        if self._session is UNOPENED:
            interface = self.app.session_interface
            opened = interface.open_session(self.app, self.request)
            self._session = opened if opened is not None else interface.make_null_session(self.app)
        assert self._session is not None, "The session has not yet been opened."
        self._session.accessed = True
        return self._session


class Provider(Flask):
    """The provider's Flask class: ``ensure_sync`` decided once per function, the
    session opened when first used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: dict[Callable[..., Any], Callable[..., Any]] = {}
        self.session_interface = CachedSerializerSessionInterface()

    def request_context(self, environ: Any) -> RequestContext:
        return ProviderRequestContext(self, environ)

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

    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        if session is UNOPENED:  # never used in this request: nothing to save
            return
        super().save_session(app, session, response)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._cached
        if cached is not None and cached[0] == keys:
            return cached[1]
        serializer = super().get_signing_serializer(app)
        self._cached = (keys, serializer)
        return serializer
