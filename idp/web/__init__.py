"""The only idp package that reads Flask requests: blueprints and error handlers."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from . import account_bp
    from . import error_handlers
    from . import health_bp
    from . import interaction_bp
    from . import oauth_bp
    from . import passkeys_bp
    from .security import init_security

    init_security(app)
    error_handlers.register(app)
    app.register_blueprint(health_bp.bp)
    app.register_blueprint(oauth_bp.bp)
    app.register_blueprint(interaction_bp.bp)
    app.register_blueprint(account_bp.bp)
    app.register_blueprint(passkeys_bp.bp)

    from . import admin

    admin.register(app)
