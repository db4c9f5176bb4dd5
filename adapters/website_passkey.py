"""The website channel's passkey sign-in: WebAuthn for an interaction (``idp.authn.passkeys``).

Routes, on the website blueprint:

- ``GET /login/<uid>/passkey`` (``website.passkey``): the ceremony page. Its script
  (``static/js/webauthn.js``) fetches the options, calls ``navigator.credentials.get``
  and posts the response back in a form.
- ``POST /login/<uid>/passkey/options`` (``website.passkey_options``): JSON request
  options; the challenge is bound to the interaction, single use. CSRF token in the
  ``X-CSRFToken`` header.
- ``POST /login/<uid>/passkey`` (``website.passkey``): the response (form field
  ``credential``, JSON); verified, then ``complete_login`` and ``interaction.resume``
  as the password sign-in ends (``website._finish``).

Who the ceremony is for:

- a password for this interaction was just accepted (the citizen has a second-factor
  step pending): their credentials, and the result includes ``pwd``;
- else a live SSO session (a step-up, a re-authentication): that citizen's credentials,
  and the result holds only what this ceremony proved; the core joins it to the
  session's earlier methods;
- else nobody yet: a discoverable credential names the citizen (no ID number typed).

User verification is required (``userVerification: "required"``) when the interaction
asks for the high level; otherwise it is preferred and the level follows the UV flag.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import current_app
from flask import jsonify
from flask import render_template
from flask import request
from flask_babel import gettext as _

from adapters import website
from adapters import website_pages as pages
from adapters.website import bp
from idp.authn import passkeys
from idp.authn.interaction import Interaction
from idp.authn.interaction import State
from idp.authn.result import Acr
from idp.authn.result import AuthResult
from idp.authn.service import current_session
from idp.errors import CitizenLocked
from idp.errors import TooManyAttempts
from idp.web.browser import client_ip
from idp.web.browser import sso_cookie

MAX_RESPONSE_BYTES = 64 * 1024


def _known_citizen(interaction: Interaction) -> tuple[str | None, bool]:
    """(citizen the ceremony is for, whether their password was accepted here)."""
    pending = website._pending_citizen(interaction.uid)
    if pending is not None:
        return pending, True
    session = current_session(sso_cookie())
    return (session.citizen_id if session is not None else None), False


def _needs_user_verification(interaction: Interaction) -> bool:
    return interaction.required_acr == Acr.HIGH


def authenticate(*, interaction: Interaction, form: Mapping[str, Any]) -> AuthResult:
    """A passkey response (``form["credential"]``, JSON) for ``interaction`` as an
    AuthResult (``adapters.base.ChannelAdapter`` shape). Raises PasskeyRefused and its
    subclasses, TooManyAttempts, AuthenticatorDisabled."""
    citizen_id, with_password = _known_citizen(interaction)
    signed = passkeys.finish_sign_in(
        interaction_uid=interaction.uid,
        response=str(form.get("credential") or ""),
        ip=client_ip(),
        password_citizen_id=citizen_id if with_password else None,
    )
    return AuthResult(
        citizen_id=signed.citizen_id,
        methods=signed.methods,
        acr=signed.acr,
        channel=website.NAME,
        auth_time=datetime.now(UTC),
        extra={
            "passkey": signed.passkey_id,
            "user_verified": "true" if signed.user_verified else "false",
            "synced": "true" if signed.synced else "false",
            "aaguid": signed.aaguid,
        },
    )


def _render(
    interaction: Interaction, *, status: int = 200, error: str | None = None
) -> tuple[str, int]:
    citizen_id, with_password = _known_citizen(interaction)
    usable = citizen_id is None or passkeys.has_passkeys(citizen_id=citizen_id)
    page = render_template(
        "passkey.html",
        interaction=interaction,
        error=error,
        known=citizen_id is not None,
        usable=usable,
        with_password=with_password,
        needs_uv=_needs_user_verification(interaction),
    )
    return page, status


@bp.route("/login/<uid>/passkey", methods=["GET", "POST"])
def passkey(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    if request.method == "GET":
        return _render(interaction)
    if (request.content_length or 0) > MAX_RESPONSE_BYTES:
        return _render(interaction, status=413, error=_(passkeys.PasskeyRefused.public))
    try:
        result = authenticate(interaction=interaction, form=request.form)
    except TooManyAttempts as exc:
        return pages.retry_after(_render(interaction, status=429, error=pages.too_many(exc)), exc)
    except CitizenLocked as exc:  # AuthenticatorDisabled: this passkey is blocked
        return _render(interaction, status=403, error=_(exc.public))
    except passkeys.PasskeyRefused as exc:
        current_app.logger.info("passkey sign-in refused: %s (%s)", exc.reason, exc.detail)
        status = 403 if isinstance(exc, passkeys.PasskeyDisabled) else 400
        return _render(interaction, status=status, error=_(exc.public))
    return website._finish(
        interaction,
        result,
        on_error=lambda e: _render(interaction, status=403, error=_(e.public)),
    )


@bp.post("/login/<uid>/passkey/options")
def passkey_options(uid: str) -> Any:
    interaction = pages.load(uid)
    if interaction.state != State.PENDING:
        return jsonify(error=_("This sign-in is already complete.")), 409
    citizen_id, _with_password = _known_citizen(interaction)
    options = passkeys.start_sign_in(
        interaction_uid=interaction.uid,
        citizen_id=citizen_id,
        require_user_verification=_needs_user_verification(interaction),
    )
    return jsonify(options)
