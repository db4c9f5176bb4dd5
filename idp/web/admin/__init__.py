"""The admin console (``/admin``, server-rendered) and the JSON admin API (``/admin/api``).

Console: staff sign in with WebAuthn (user verification required) into a session of its
own (cookie ``IDP_ADMIN_COOKIE`` on path ``/admin``), every form POST carries a CSRF
token, dangerous actions ask for a fresh WebAuthn verification. API: personal bearer
tokens (RFC 6750) minted in the console, CSRF-exempt because no cookie authenticates it;
errors are RFC 9457 problem details; ``/admin/api/openapi.json`` describes every call.
"""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from ...extensions import csrf
    from . import api
    from . import auth
    from . import console

    app.register_blueprint(auth.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
