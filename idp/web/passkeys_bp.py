"""The citizen's passkeys and security keys: ``/account/passkeys``.

- ``GET  /account/passkeys`` (``passkeys.index``): the list, and the form to add one;
- ``POST /account/passkeys/options`` (``passkeys.options``): JSON creation options for
  ``{"kind": "passkey" | "security-key"}``, challenge bound to the SSO session;
- ``POST /account/passkeys`` (``passkeys.register``): the creation response (field
  ``credential``) and the citizen's name for it;
- ``POST /account/passkeys/<id>/rename`` (``passkeys.rename``);
- ``GET|POST /account/passkeys/<id>/remove`` (``passkeys.remove``): confirm, remove;
- ``POST /account/passkeys/reauth`` (``passkeys.reauth``): sign in again, then come back.

Adding and removing need a fresh sign-in (``idp.authn.passkeys.fresh_enough``): when the
session's last sign-in is older, the citizen is sent through a ``reauth`` login
interaction (``idp.authn.service.require_reauthentication``: earlier proofs do not count)
that returns to the page they were on. Every change is a POST with a CSRF token (the
JSON options request carries it in ``X-CSRFToken``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint
from flask import current_app
from flask import flash
from flask import jsonify
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..authn import passkeys
from ..authn import service
from ..authn import sessions
from ..authn.citizens import id_number_of
from ..errors import IdpError
from ..errors import InvalidInput
from ..ids import redact
from ..models import Citizen
from .browser import browser_id
from .signed_in import sign_in_first
from .signed_in import signed_in_citizen

log = logging.getLogger(__name__)

bp = Blueprint("passkeys", __name__, url_prefix="/account/passkeys")

MAX_RESPONSE_BYTES = 64 * 1024


def _sign_in_again(return_to: str) -> BaseResponse:
    """OWASP Authentication Cheat Sheet, "Reauthentication": a fresh proof (earlier ones
    do not count) before the credentials change, then back to ``return_to``."""
    parked = service.require_reauthentication(browser=browser_id(), return_to=return_to)
    return redirect(url_for("interaction.show", uid=parked.uid), 303)


def _index(
    sso: sessions.SsoSession,
    citizen: Citizen,
    *,
    status: int = 200,
    error: str | None = None,
    name: str | None = None,
) -> tuple[str, int]:
    items = passkeys.list_passkeys(citizen_id=citizen.id)
    page = render_template(
        "passkeys.html",
        passkeys=items,
        fresh=passkeys.fresh_enough(sso),
        full=len(items) >= current_app.config["IDP_WEBAUTHN_MAX_CREDENTIALS"],
        suggested=name or _("Passkey %(number)d", number=len(items) + 1),
        error=error,
    )
    return page, status


@bp.get("")
def index() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("passkeys.index"))
    return _index(*signed_in)


@bp.post("/reauth")
def reauth() -> Any:
    """Sign in again (a fresh proof), then back to the list or a removal to confirm."""
    passkey_id = str(request.form.get("passkey") or "")
    if passkey_id and len(passkey_id) <= 36 and passkey_id.replace("-", "").isalnum():
        back = url_for("passkeys.remove", passkey_id=passkey_id)
    else:
        back = url_for("passkeys.index")
    return _sign_in_again(back)


@bp.post("/options")
def options() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return jsonify(error=_("Your sign-in has ended. Sign in again.")), 401
    sso, citizen = signed_in
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    try:
        kind = passkeys.Kind(str(body.get("kind") or passkeys.Kind.PASSKEY))
    except ValueError:
        return jsonify(error=_("Choose a passkey or a security key.")), 400
    try:
        created = passkeys.start_registration(
            session=sso,
            kind=kind,
            user_name=redact(id_number_of(citizen)),
            display_name=citizen.name,
        )
    except passkeys.FreshSignInRequired as exc:
        # The page sat open past the fresh sign-in: reload it, it offers to sign in again.
        return jsonify(error=_(exc.public), reauth=url_for("passkeys.index")), 403
    except IdpError as exc:
        return jsonify(error=_(exc.public)), 400
    return jsonify(created)


@bp.post("")
def register() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("passkeys.index"))
    sso, citizen = signed_in
    name = str(request.form.get("name") or "")[:200]
    if (request.content_length or 0) > MAX_RESPONSE_BYTES:
        return _index(sso, citizen, status=413, error=_(passkeys.PasskeyRefused.public), name=name)
    try:
        added = passkeys.finish_registration(
            session=sso, response=str(request.form.get("credential") or ""), name=name
        )
    except passkeys.FreshSignInRequired as exc:
        return _index(sso, citizen, status=403, error=_(exc.public), name=name)
    except passkeys.PasskeyRefused as exc:
        log.info("passkey registration refused: %s (%s)", exc.reason, exc.detail)
        return _index(sso, citizen, status=400, error=_(exc.public), name=name)
    except IdpError as exc:
        return _index(sso, citizen, status=400, error=_(exc.public), name=name)
    flash(_("“%(name)s” was added. You can now use it to sign in.", name=added.name))
    return redirect(url_for("passkeys.index"), 303)


@bp.post("/<passkey_id>/rename")
def rename(passkey_id: str) -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("passkeys.index"))
    sso, citizen = signed_in
    try:
        renamed = passkeys.rename(
            citizen_id=citizen.id, passkey_id=passkey_id, name=str(request.form.get("name") or "")
        )
    except InvalidInput as exc:
        return _index(sso, citizen, status=400, error=_(exc.public))
    except passkeys.UnknownPasskey as exc:
        return _index(sso, citizen, status=404, error=_(exc.public))
    flash(_("Renamed to “%(name)s”.", name=renamed.name))
    return redirect(url_for("passkeys.index"), 303)


@bp.route("/<passkey_id>/remove", methods=["GET", "POST"])
def remove(passkey_id: str) -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("passkeys.index"))
    sso, citizen = signed_in
    found = next(
        (p for p in passkeys.list_passkeys(citizen_id=citizen.id) if p.id == passkey_id), None
    )
    if found is None:
        return _index(sso, citizen, status=404, error=_(passkeys.UnknownPasskey.public))
    if request.method == "GET":
        page = render_template(
            "passkey_remove.html", passkey=found, fresh=passkeys.fresh_enough(sso)
        )
        return page, 200
    try:
        passkeys.remove(session=sso, passkey_id=passkey_id)
    except passkeys.FreshSignInRequired:
        return _sign_in_again(url_for("passkeys.remove", passkey_id=passkey_id))
    except passkeys.UnknownPasskey as exc:
        return _index(sso, citizen, status=404, error=_(exc.public))
    flash(_("“%(name)s” was removed. It can no longer be used to sign in.", name=found.name))
    return redirect(url_for("passkeys.index"), 303)
