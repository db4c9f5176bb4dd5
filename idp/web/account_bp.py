"""The citizen's own account page: profile, sign-in factors, where they are signed in.

Every page needs a live SSO session; a signed-out visitor is sent through a parked
login interaction (``website.start`` logic) that comes back here. Every change is a POST
with a CSRF token. Sensitive changes (removing the authenticator, new recovery codes)
ask for the password again (OWASP Authentication Cheat Sheet, "Reauthentication").
Secrets shown once (the TOTP secret while enrolling, recovery codes) are rendered into
the response and kept nowhere but, for the secret, sealed in the database.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any
from urllib.parse import urlsplit

import qrcode
import qrcode.image.svg
from flask import Blueprint
from flask import Response
from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from ..authn import login as logins
from ..authn import phone_verification
from ..authn import sessions
from ..authn.citizens import id_number_of
from ..authn.citizens import mask_phone
from ..authn.events import record_logout
from ..authn.methods import totp
from ..authn.service import current_session
from ..authn.service import logout as end_current_session
from ..authn.sessions import SsoSession
from ..consent import service as consent_service
from ..consent.categories import category
from ..errors import AuthenticationFailed
from ..errors import TooManyAttempts
from ..extensions import db
from ..ids import redact
from ..models import Citizen
from ..models import OAuthClient
from ..models.address import display_lines
from ..oauth.frontchannel import Frame
from ..oauth.withdrawal import withdraw_consent
from ..store import current_store
from . import i18n
from . import logout_frames
from .browser import clear_sso_cookie
from .browser import client_ip
from .browser import sso_cookie
from .signed_in import sign_in_first
from .signed_in import signed_in_citizen

log = logging.getLogger(__name__)
_CLIENT_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")

bp = Blueprint("account", __name__)


# --- helpers ----------------------------------------------------------------------------------


def _issuer_label() -> str:
    host = urlsplit(str(current_app.config["IDP_ISSUER"])).hostname or "idp"
    return host


def _qr_data_uri(uri: str) -> str:
    """The provisioning URI as an SVG QR code in a data: URI (the CSP allows img data:
    and no inline scripts or styles, so the SVG goes in an <img>)."""
    image = qrcode.make(
        uri,
        image_factory=qrcode.image.svg.SvgPathImage,
        box_size=10,
        border=2,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
    )
    svg = image.to_string(encoding="unicode")
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _device(user_agent: str) -> str:
    """A short "browser on system" label; the full string is shown as a tooltip."""
    ua = user_agent or ""
    browser = next(
        (
            name
            for token, name in (
                ("Edg/", "Edge"),
                ("MicroMessenger", "WeChat"),
                ("Firefox/", "Firefox"),
                ("Chrome/", "Chrome"),
                ("Safari/", "Safari"),
            )
            if token in ua
        ),
        "",
    )
    system = next(
        (
            name
            for token, name in (
                ("Windows", "Windows"),
                ("Android", "Android"),
                ("iPhone", "iOS"),
                ("iPad", "iPadOS"),
                ("Mac OS X", "macOS"),
                ("HarmonyOS", "HarmonyOS"),
                ("Linux", "Linux"),
            )
            if token in ua
        ),
        "",
    )
    return " / ".join(part for part in (browser, system) if part)


def _too_many(exc: TooManyAttempts) -> str:
    seconds = max(1, int(exc.resets_in))
    if seconds >= 120:
        minutes = (seconds + 59) // 60
        return str(_("Too many attempts. Try again in %(minutes)d minutes.", minutes=minutes))
    return str(_("Too many attempts. Try again in %(seconds)d seconds.", seconds=seconds))


def _overview(
    sso: sessions.SsoSession,
    citizen: Citizen,
    *,
    status: int = 200,
    error: str | None = None,
    error_for: str | None = None,
) -> tuple[str, int]:
    all_sessions = sessions.list_for(current_store(), citizen.id)
    page = render_template(
        "account.html",
        citizen=citizen,
        id_number=redact(id_number_of(citizen)),
        phone=mask_phone(citizen.phone),
        phone_verified=phone_verification.is_verified(
            phone=citizen.phone, verified_phone=citizen.verified_phone
        ),
        address=display_lines(citizen.address),
        totp=totp.status(citizen_id=citizen.id),
        current=sso,
        sessions=all_sessions,
        device=_device,
        error=error,
        error_for=error_for,
    )
    return page, status


# --- pages ------------------------------------------------------------------------------------


@bp.get("/account")
def overview() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    return _overview(*signed_in)


@bp.post("/account/totp/start")
def totp_start() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    sso, citizen = signed_in
    if totp.has_confirmed(citizen_id=citizen.id):
        return redirect(url_for("account.overview"), 303)
    totp.provision(citizen_id=citizen.id, account_name=citizen.name, issuer=_issuer_label())
    return redirect(url_for("account.totp_enrol"), 303)


def _render_enrol(citizen: Citizen, *, status: int = 200, error: str | None = None) -> Any:
    pending = totp.pending_enrolment(
        citizen_id=citizen.id, account_name=citizen.name, issuer=_issuer_label()
    )
    if pending is None:
        return redirect(url_for("account.overview"), 303)
    # Group the secret in fours for typing it by hand.
    grouped = " ".join(pending.secret[i : i + 4] for i in range(0, len(pending.secret), 4))
    page = render_template(
        "account_totp.html",
        qr=_qr_data_uri(pending.uri),
        secret=grouped,
        error=error,
    )
    return page, status


@bp.get("/account/totp")
def totp_enrol() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    return _render_enrol(signed_in[1])


@bp.post("/account/totp/confirm")
def totp_confirm() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    citizen = signed_in[1]
    code = str(request.form.get("code") or "")
    limiter = logins.throttle(logins.SECOND_FACTOR)
    try:
        attempt = limiter.begin(subject=citizen.id, ip=client_ip())
    except TooManyAttempts as exc:
        return _render_enrol(citizen, status=429, error=_too_many(exc))
    if not totp.confirm(citizen_id=citizen.id, code=code):
        limiter.failed(attempt)
        return _render_enrol(
            citizen,
            status=400,
            error=_("The code is not valid. Check the time on your phone and try the newest code."),
        )
    limiter.succeeded(attempt)
    codes = totp.new_recovery_codes(citizen_id=citizen.id)
    log.info("citizen %s enrolled a TOTP authenticator", citizen.id)
    return render_template("account_recovery_codes.html", codes=codes, enrolled=True)


def _with_password(action: str) -> tuple[Any, Citizen | None]:
    """Check the fresh password for ``action``; (error response, None) or (None, citizen)."""
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview")), None
    sso, citizen = signed_in
    try:
        logins.confirm_password(
            citizen_id=citizen.id, password=str(request.form.get("password") or ""), ip=client_ip()
        )
    except AuthenticationFailed as exc:
        return _overview(sso, citizen, status=401, error=_(exc.public), error_for=action), None
    except TooManyAttempts as exc:
        return _overview(sso, citizen, status=429, error=_too_many(exc), error_for=action), None
    return None, citizen


@bp.post("/account/totp/remove")
def totp_remove() -> Any:
    refused, citizen = _with_password("totp_remove")
    if citizen is None:
        return refused
    totp.remove(citizen_id=citizen.id)
    log.info("citizen %s removed their TOTP authenticator", citizen.id)
    flash(_("The authenticator app was removed. Signing in now needs only your password."))
    return redirect(url_for("account.overview"), 303)


@bp.post("/account/recovery-codes")
def recovery_codes() -> Any:
    refused, citizen = _with_password("recovery_codes")
    if citizen is None:
        return refused
    if not totp.has_confirmed(citizen_id=citizen.id):
        return redirect(url_for("account.overview"), 303)
    codes = totp.new_recovery_codes(citizen_id=citizen.id)
    return render_template("account_recovery_codes.html", codes=codes, enrolled=False)


@bp.post("/account/sessions/end")
def end_session() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    sso, citizen = signed_in
    sid = str(request.form.get("sid") or "")
    if sid == sso.sid:
        return _signed_out(sso, end_current=True)
    # Only the citizen's own sessions: a sid from elsewhere is ignored.
    if sid in {other.sid for other in sessions.list_for(current_store(), citizen.id)}:
        sessions.end(current_store(), sid, citizen.id)
        record_logout(citizen.id, how="other_session", sessions_ended=1)
        flash(_("That sign-in was ended."))
    return redirect(url_for("account.overview"), 303)


@bp.post("/account/sessions/end-all")
def end_all_sessions() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.overview"))
    # This browser's portals are framed on the signed-out page; the other sessions'
    # portals (other browsers and devices) are told by back-channel logout alone.
    frames = logout_frames.frames_for(signed_in[0])
    ended = sessions.end_all(current_store(), signed_in[1].id)
    record_logout(signed_in[1].id, how="everywhere", sessions_ended=len(ended))
    return _signed_out(None, end_current=False, everywhere=True, frames=frames)


# --- authorized portals (issue 4) -----------------------------------------------------------


@bp.get("/account/portals")
def portals() -> Any:
    """Each portal the citizen has agreed to share data with: what, since, until."""
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.portals"))
    citizen = signed_in[1]
    locale = str(i18n.page_locale())
    rows = []
    for record in consent_service.list_active(citizen_id=citizen.id):
        client = db.session.get(OAuthClient, record.client_id)
        if client is None:
            continue
        shown = [c for s in record.scopes or [] if (c := category(s)) is not None]
        rows.append(
            {
                "client_id": client.client_id,
                "name": client.name,
                "department": client.department,
                "logo_uri": client.logo_uri,
                "data": [c.name(locale) for c in shown],
                "granted_at": record.granted_at,
                "expires_at": record.expires_at,
            }
        )
    return render_template("account_portals.html", portals=rows)


@bp.post("/account/portals/revoke")
def revoke_portal() -> Any:
    """Withdraw consent: at once, the portal's tokens for this citizen stop working and
    the portal is told by back-channel logout (``idp.oauth.withdrawal``)."""
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("account.portals"))
    citizen = signed_in[1]
    client_id = str(request.form.get("client_id") or "")
    # Only what a client_id can look like reaches the database (a NUL byte never does).
    if _CLIENT_ID.fullmatch(client_id) and withdraw_consent(
        citizen_id=citizen.id, client_id=client_id, by="citizen"
    ):
        log.info("citizen %s withdrew consent for client %s", citizen.id, client_id)
        flash(_("The portal can no longer receive your information."))
    return redirect(url_for("account.portals"), 303)


@bp.post("/account/logout")
def logout() -> Any:
    return _signed_out(current_session(sso_cookie()), end_current=True)


def _signed_out(
    session: SsoSession | None,
    *,
    end_current: bool,
    everywhere: bool = False,
    frames: list[Frame] | None = None,
) -> Response:
    """The signed-out page, with the front-channel logout frames of ``session`` (the
    browser's session, read before it ends) unless ``frames`` are given."""
    if frames is None:
        frames = logout_frames.frames_for(session)
    if end_current:
        end_current_session(sso_cookie())
    response = logout_frames.signed_out("account_signed_out.html", frames, everywhere=everywhere)
    clear_sso_cookie(response)
    return response


# --- page language and labels (idp.web.i18n) -------------------------------------------------

bp.add_url_rule("/locale", "set_locale", i18n.set_locale, methods=["POST"])
bp.add_app_template_global(i18n.page_locale, "get_locale")
bp.add_app_template_filter(i18n.utc_datetime, "utc_datetime")
bp.add_app_template_filter(i18n.channel_label, "channel_label")
bp.add_app_template_filter(i18n.acr_label, "acr_label")
bp.add_app_template_filter(i18n.assisted_action_label, "assisted_action_label")


# --- CSRF refusals ----------------------------------------------------------------------------


@bp.app_errorhandler(CSRFError)
def csrf_refused(exc: CSRFError) -> tuple[str, int]:
    """Flask-WTF refuses a form without a valid token (400) with a page saying why."""
    log.info("CSRF refusal on %s: %s", request.path, exc.description)
    message = _(
        "This form could not be accepted because it was out of date or did not come from "
        "this site. Go back, reload the page and submit the form again."
    )
    return render_template("error.html", message=message, status=400), 400
