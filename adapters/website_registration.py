"""Self-registration pages of the website channel (``/register``, only with
``IDP_FEATURE_SELF_REGISTRATION``): the checks live in ``idp.authn.registration``."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask import request
from flask_babel import gettext as _

from idp.authn.interaction import State
from idp.authn.registration import register as register_citizen
from idp.errors import IdpError
from idp.errors import InvalidInput
from idp.errors import TooManyAttempts
from idp.web.browser import client_ip

from .website_pages import load
from .website_pages import park
from .website_pages import render_login
from .website_pages import retry_after
from .website_pages import rule_message
from .website_pages import too_many


def register() -> Any:
    """``/register``: ID number, real name, mobile number, password; checked against the
    population registry (``idp.authn.registration``). ``?uid=`` carries the interaction
    to continue after registering, if the citizen came from a sign-in page."""
    uid = request.values.get("uid") or None
    values = {
        "id_number": str(request.form.get("id_number") or "")[:64],
        "name": str(request.form.get("name") or "")[:200],
        "phone": str(request.form.get("phone") or "")[:32],
    }
    if request.method == "GET":
        return render_template("register.html", uid=uid, values=values, error=None, field=None)
    password = str(request.form.get("password") or "")
    error: str | None = None
    field: str | None = None
    status = 400
    if password != str(request.form.get("password_repeat") or ""):
        error, field = _("The two passwords are not the same."), "password"
    else:
        try:
            register_citizen(
                id_number=values["id_number"],
                name=values["name"],
                phone=values["phone"],
                password=password,
                ip=client_ip(),
            )
        except TooManyAttempts as exc:
            page = render_template(
                "register.html", uid=uid, values=values, error=too_many(exc), field=None
            )
            return retry_after((page, 429), exc)
        except InvalidInput as exc:
            error, field = rule_message(exc), exc.field
        except IdpError as exc:
            error = _(exc.public)
    if error is not None:
        page = render_template("register.html", uid=uid, values=values, error=error, field=field)
        return page, status
    # Registered: continue to sign in, on the interaction the citizen came from if it is
    # still alive, else on a new one that ends on the account page.
    interaction = None
    if uid:
        try:
            interaction = load(uid)
        except IdpError:
            interaction = None
    if interaction is None or interaction.state != State.PENDING:
        interaction = park(return_to="/account")
    return render_login(
        interaction,
        id_number=values["id_number"],
        notice=_("Your account is ready. Sign in with your new password."),
    )
