"""The only idp package that reads Flask requests: blueprints and error handlers."""

from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from . import account_bp
    from . import error_handlers
    from . import health_bp
    from . import interaction_bp
    from . import licence_admin_api
    from . import licence_data_api
    from . import oauth_bp
    from . import passkeys_bp
    from . import releases_bp
    from .security import init_security

    init_security(app)
    from .audit_origin import init_audit

    init_audit(app)
    error_handlers.register(app)
    app.register_blueprint(health_bp.bp)
    app.register_blueprint(oauth_bp.bp)
    app.register_blueprint(interaction_bp.bp)
    app.register_blueprint(account_bp.bp)
    app.register_blueprint(passkeys_bp.bp)
    app.register_blueprint(licence_data_api.bp)
    app.register_blueprint(licence_admin_api.bp)
    app.register_blueprint(releases_bp.bp)
    if app.config["IDP_FEATURE_DEVICE_FLOW"]:
        from . import device_bp

        app.register_blueprint(device_bp.bp)
    if app.config["IDP_FEATURE_CIBA"]:
        from . import ciba_bp

        app.register_blueprint(ciba_bp.bp)
    from . import app_tokens
    from . import devices_bp

    app_tokens.init_app(app)
    if app.config["IDP_FEATURE_MOBILE_APP"]:
        app.register_blueprint(devices_bp.bp)

    from . import admin

    admin.register(app)
