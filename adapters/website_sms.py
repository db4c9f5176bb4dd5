"""The website channel's "sign in with a text message": ID number, then a one-time code
sent by SMS to the phone on record (``idp.authn.sms.signin``). Low assurance.

Routes, on the website blueprint, only with ``IDP_FEATURE_SMS_LOGIN``:

- ``/login/<uid>/sms`` (``website.sms_start``): the ID number form. Whatever the
  number (no account, no phone on record, or a real one), the answer is the same: the
  code page, which says a code was sent *if* the number has an account with a mobile
  phone. The number travels only in the POST body and is not kept anywhere but as a
  blind index next to the code, in the ephemeral store.
- ``/login/<uid>/sms/code`` (``website.sms_code``): enter the code; on success
  ``complete_login`` with ``AuthResult(methods=(sms,), acr=low)`` and on to
  ``interaction.resume``, as every website sign-in ends (``website._finish``).
- ``POST /login/<uid>/sms/resend`` (``website.sms_resend``): a new code to the same
  number, after the resend cooldown.
- ``/dev/sms-outbox`` (``website.sms_outbox``): development only (``IDP_SMS_GATEWAY``
  ``"outbox"`` and not ``IDP_ENV=production``): the texts "sent", so the demo can be
  clicked through without a phone.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from flask import abort
from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _

from adapters import website
from adapters import website_pages as pages
from adapters.base import AdapterError
from adapters.website import bp
from idp.authn.interaction import Interaction
from idp.authn.result import Acr
from idp.authn.result import Amr
from idp.authn.result import AuthResult
from idp.authn.sms import signin
from idp.authn.sms.codes import CodeExpired
from idp.authn.sms.gateway import outbox
from idp.errors import AuthenticationFailed
from idp.errors import CitizenLocked
from idp.errors import InvalidInput
from idp.errors import TooManyAttempts
from idp.ids import parse_id_number
from idp.web.browser import client_ip


def _compose(code: str, minutes: int) -> str:
    return str(
        _(
            "Your government sign-in code is %(code)s. It is valid for %(minutes)d minutes. "
            "Never tell it to anyone, including staff.",
            code=code,
            minutes=minutes,
        )
    )


def authenticate(*, interaction: Interaction, form: Mapping[str, Any]) -> AuthResult:
    """A code for ``interaction`` as an AuthResult (``adapters.base.ChannelAdapter``).

    DESIGN.md "Assurance": an SMS one-time code alone is low. Raises CodeRejected,
    CodeExpired, TooManyAttempts or AuthenticatorDisabled.
    """
    citizen_id = signin.check_code(
        transaction=interaction.uid, code=str(form.get("code") or ""), ip=client_ip()
    )
    return AuthResult(
        citizen_id=citizen_id,
        methods=(Amr.SMS,),
        acr=Acr.LOW,
        channel=website.NAME,
        auth_time=datetime.now(UTC),
        extra={"first_factor": "sms"},
    )


def _start_page(
    interaction: Interaction, *, status: int = 200, id_number: str = "", error: str | None = None
) -> tuple[str, int]:
    page = render_template(
        "sms_start.html", interaction=interaction, id_number=id_number, error=error
    )
    return page, status


def _code_page(
    interaction: Interaction,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> tuple[str, int]:
    page = render_template(
        "sms_code.html",
        interaction=interaction,
        error=error,
        notice=notice,
        outbox=_outbox_enabled(current_app.config),
        code_minutes=max(1, int(current_app.config["IDP_TTL_SMS_CODE"]) // 60),
    )
    return page, status


def sms_start(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    if request.method == "GET":
        return _start_page(interaction, id_number=interaction.login_hint or "")
    typed = str(request.form.get("id_number") or "")[:64]
    try:
        number = parse_id_number(number=typed)
        signin.send_code(number=number, transaction=uid, ip=client_ip(), compose=_compose)
    except InvalidInput as exc:
        return _start_page(interaction, status=400, id_number=typed, error=pages.rule_message(exc))
    except TooManyAttempts as exc:
        page = _start_page(interaction, status=429, id_number=typed, error=pages.too_many(exc))
        return pages.retry_after(page, exc)
    except CitizenLocked as exc:  # AuthenticatorDisabled: SMS codes are blocked
        return _start_page(interaction, status=403, id_number=typed, error=_(exc.public))
    return redirect(url_for("website.sms_code", uid=uid), 303)


def sms_code(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    if request.method == "GET":
        return _code_page(interaction)
    try:
        result = authenticate(interaction=interaction, form=request.form)
    except CodeExpired as exc:
        return _code_page(interaction, status=400, error=_(exc.public))
    except AuthenticationFailed as exc:
        return _code_page(interaction, status=401, error=_(exc.public))
    except TooManyAttempts as exc:
        page = _code_page(interaction, status=429, error=pages.too_many(exc))
        return pages.retry_after(page, exc)
    except CitizenLocked as exc:  # AuthenticatorDisabled
        return _code_page(interaction, status=403, error=_(exc.public))
    except AdapterError as exc:
        return _code_page(interaction, status=400, error=_(exc.public))
    return website._finish(
        interaction,
        result,
        on_error=lambda e: _code_page(interaction, status=403, error=_(e.public)),
    )


def sms_resend(uid: str) -> Any:
    interaction = pages.load(uid)
    if (done := pages.already_signed_in(interaction)) is not None:
        return done
    try:
        signin.resend_code(transaction=uid, ip=client_ip(), compose=_compose)
    except CodeExpired:
        # No number on file for this sign-in any more: ask for it again.
        return redirect(url_for("website.sms_start", uid=uid), 303)
    except TooManyAttempts as exc:
        page = _code_page(interaction, status=429, error=pages.too_many(exc))
        return pages.retry_after(page, exc)
    except CitizenLocked as exc:
        return _code_page(interaction, status=403, error=_(exc.public))
    return _code_page(interaction, notice=_("A new code was sent. Earlier codes no longer work."))


def sms_outbox() -> Any:
    box = outbox()
    if box is None:  # the gateway changed since start-up (tests): nothing to show
        abort(404)
    return render_template("sms_outbox.html", messages=box.messages())


def _outbox_enabled(config: Mapping[str, Any]) -> bool:
    return bool(config["IDP_SMS_GATEWAY"] == "outbox" and config["IDP_ENV"] != "production")


def _routes(state: BlueprintSetupState) -> None:
    # A disabled feature registers no route (STYLE.md 7.3).
    config = state.app.config
    if not config["IDP_FEATURE_SMS_LOGIN"]:
        return
    state.add_url_rule(
        "/login/<uid>/sms", endpoint="sms_start", view_func=sms_start, methods=["GET", "POST"]
    )
    state.add_url_rule(
        "/login/<uid>/sms/code", endpoint="sms_code", view_func=sms_code, methods=["GET", "POST"]
    )
    state.add_url_rule(
        "/login/<uid>/sms/resend", endpoint="sms_resend", view_func=sms_resend, methods=["POST"]
    )
    if _outbox_enabled(config):
        state.add_url_rule("/dev/sms-outbox", endpoint="sms_outbox", view_func=sms_outbox)


bp.record(_routes)
