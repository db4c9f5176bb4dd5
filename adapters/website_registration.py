"""Self-registration pages of the website channel (only with
``IDP_FEATURE_SELF_REGISTRATION``); the checks live in ``idp.authn.registration``.

- ``/register`` (``website.register``): ID number, real name, mobile number, password.
  Whatever the registry says, the answer is the code page (a code went to the mobile
  number only if the registry holds these details and no account exists yet). With a
  registration pending, the form comes back filled in ("change my details").
- ``/register/code`` (``website.register_code``): the 6-digit code; a right one creates
  the account, its phone verified, and goes on to sign in. A wrong code keeps everything
  typed: only the code is asked for again.
- ``POST /register/resend`` (``website.register_resend``): a new code, after the cooldown.

The pending registration's id is kept in the signed UI cookie (``session``), never in a
URL; the pending record is bound to this browser as well. ``?uid=`` carries the sign-in
interaction to continue after registering, if the citizen came from a sign-in page.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _

from idp.authn import registration
from idp.authn.interaction import State
from idp.authn.sms.codes import CodeExpired
from idp.errors import AuthenticationFailed
from idp.errors import IdpError
from idp.errors import InvalidInput
from idp.errors import TooManyAttempts
from idp.web.browser import browser_id
from idp.web.browser import client_ip

from .website_pages import load
from .website_pages import park
from .website_pages import refusal_status
from .website_pages import render_login
from .website_pages import retry_after
from .website_pages import rule_message
from .website_pages import too_many

PENDING = "registration"  # UI-cookie key: the pending registration's id


def _compose(code: str, minutes: int) -> str:
    return str(
        _(
            "Your government account registration code is %(code)s. It is valid for "
            "%(minutes)d minutes. Never tell it to anyone, including staff.",
            code=code,
            minutes=minutes,
        )
    )


def _pending_id() -> str:
    value = session.get(PENDING)
    return value if isinstance(value, str) else ""


def _uid() -> str | None:
    uid = request.values.get("uid")
    return str(uid)[:64] if uid else None


def _form(
    values: dict[str, str], *, status: int = 200, error: str | None = None, field: str | None = None
) -> tuple[str, int]:
    page = render_template("register.html", uid=_uid(), values=values, error=error, field=field)
    return page, status


def _code_page(*, status: int = 200, error: str | None = None, notice: str | None = None) -> Any:
    outbox = (
        current_app.config["IDP_SMS_GATEWAY"] == "outbox"
        and current_app.config["IDP_ENV"] != "production"
        and "website.sms_outbox" in current_app.view_functions
    )
    page = render_template(
        "register_code.html",
        uid=_uid(),
        error=error,
        notice=notice,
        outbox=outbox,
        code_minutes=max(1, int(current_app.config["IDP_TTL_SMS_CODE"]) // 60),
    )
    return page, status


EMPTY = {"id_number": "", "name": "", "phone": ""}


def _expired() -> Any:
    session.pop(PENDING, None)
    return _form(EMPTY, status=400, error=_(registration.RegistrationExpired.public))


def register() -> Any:
    """``/register``: the form; on POST, check it and send the code (``start``)."""
    if request.method == "GET":
        typed = registration.details(registration=_pending_id(), browser=browser_id())
        values = {
            "id_number": typed.id_number if typed else "",
            "name": typed.name if typed else "",
            "phone": typed.phone if typed else "",
        }
        return _form(values)
    values = {
        "id_number": str(request.form.get("id_number") or "")[:64],
        "name": str(request.form.get("name") or "")[:200],
        "phone": str(request.form.get("phone") or "")[:32],
    }
    password = str(request.form.get("password") or "")
    if password != str(request.form.get("password_repeat") or ""):
        return _form(
            values, status=400, error=_("The two passwords are not the same."), field="password"
        )
    try:
        started = registration.start(
            id_number=values["id_number"],
            name=values["name"],
            phone=values["phone"],
            password=password,
            ip=client_ip(),
            browser=browser_id(),
            compose=_compose,
        )
    except TooManyAttempts as exc:
        return retry_after(_form(values, status=refusal_status(exc), error=too_many(exc)), exc)
    except InvalidInput as exc:
        return _form(values, status=400, error=rule_message(exc), field=exc.field)
    except IdpError as exc:
        return _form(values, status=400, error=_(exc.public))
    session[PENDING] = started.registration
    uid = _uid()
    return redirect(url_for("website.register_code", **({"uid": uid} if uid else {})), 303)


def register_code() -> Any:
    """``/register/code``: a right code creates the account (``finish``)."""
    rid = _pending_id()
    typed = registration.details(registration=rid, browser=browser_id())
    if typed is None:
        return _expired() if request.method == "POST" else redirect(url_for("website.register"))
    if request.method == "GET":
        return _code_page()
    try:
        registration.finish(
            registration=rid,
            browser=browser_id(),
            code=str(request.form.get("code") or "")[:32],
            ip=client_ip(),
        )
    except registration.RegistrationExpired:
        return _expired()
    except registration.RegistrationRefused as exc:
        session.pop(PENDING, None)
        values = {"id_number": typed.id_number, "name": typed.name, "phone": typed.phone}
        return _form(values, status=400, error=_(exc.public))
    except CodeExpired as exc:
        return _code_page(status=400, error=_(exc.public))
    except AuthenticationFailed as exc:  # CodeRejected
        return _code_page(status=401, error=_(exc.public))
    except TooManyAttempts as exc:
        return retry_after(_code_page(status=refusal_status(exc), error=too_many(exc)), exc)
    session.pop(PENDING, None)
    return _signed_up(id_number=typed.id_number)


def register_resend() -> Any:
    """``POST /register/resend``: a new code to the same number, after the cooldown."""
    try:
        registration.resend(
            registration=_pending_id(), browser=browser_id(), ip=client_ip(), compose=_compose
        )
    except registration.RegistrationExpired:
        return _expired()
    except TooManyAttempts as exc:
        return retry_after(_code_page(status=refusal_status(exc), error=too_many(exc)), exc)
    return _code_page(notice=_("A new code was sent. Earlier codes no longer work."))


def _signed_up(*, id_number: str) -> Any:
    """Registered: continue to sign in, on the interaction the citizen came from if it is
    still alive, else on a new one that ends on the account page."""
    interaction = None
    if uid := _uid():
        try:
            interaction = load(uid)
        except IdpError:
            interaction = None
    if interaction is None or interaction.state != State.PENDING:
        interaction = park(return_to="/account")
    return render_login(
        interaction,
        id_number=id_number,
        notice=_("Your account is ready. Sign in with your new password."),
    )
