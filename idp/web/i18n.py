"""Page language: ``ui_locales`` (OIDC Core 3.1.2.1), then the on-page switch, then
Accept-Language, then Simplified Chinese. Also the switch itself and the labels templates
show for stored vocabulary (channels, assurance levels)."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from urllib.parse import parse_qsl
from urllib.parse import urlencode
from urllib.parse import urlsplit

from babel import Locale
from flask import current_app
from flask import redirect
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from ..authn.result import Acr
from ..authn.result import Channel

_ALIASES = {
    "zh": "zh_Hans_CN",
    "zh-cn": "zh_Hans_CN",
    "zh-hans": "zh_Hans_CN",
    "zh-hans-cn": "zh_Hans_CN",
    "zh_hans_cn": "zh_Hans_CN",
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
}


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext no-op marker
    """Mark ``message`` for extraction without translating it here."""
    return message


# Shown through error.html's ``_(message)`` but written in no ``_()`` call of ours:
# Werkzeug's names of the HTTP errors the error handler renders, and its 500 text.
PAGE_ERROR_MESSAGES = (
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Request Entity Too Large"),
    N_("Unsupported Media Type"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Internal error"),
)


def normalise(tag: str) -> str | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag in _ALIASES:
        return _ALIASES[tag]
    primary = tag.split("-", 1)[0]
    return _ALIASES.get(primary)


def from_ui_locales(value: str | None) -> str | None:
    """ui_locales is a space-separated list in order of preference."""
    for tag in (value or "").split():
        locale = normalise(tag)
        if locale:
            return locale
    return None


def select_locale() -> str:
    supported = current_app.config["IDP_LOCALES"]
    chosen = from_ui_locales(request.args.get("ui_locales"))
    if chosen is None:
        stored = session.get("locale")
        chosen = stored if stored in supported else None
    if chosen is None:
        best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
        chosen = normalise(best) if best else None
    return str(chosen if chosen in supported else current_app.config["BABEL_DEFAULT_LOCALE"])


def page_locale() -> Locale:
    """The page's locale, for templates (``get_locale()`` in base.html)."""
    from flask_babel import get_locale

    return get_locale() or Locale.parse(current_app.config["BABEL_DEFAULT_LOCALE"])


# --- the on-page switch (route ``account.set_locale``, POST with CSRF) -----------------------


def _safe_next(value: str | None) -> str:
    """A local path to go back to, without ``ui_locales`` (it would win over the switch)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return url_for("account.overview")
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return url_for("account.overview")
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "ui_locales"]
    return parts.path + ("?" + urlencode(query) if query else "")


def set_locale() -> BaseResponse:
    """Remember the chosen language in the UI cookie (``session["locale"]``), go back."""
    chosen = normalise(str(request.form.get("locale") or ""))
    if chosen in current_app.config["IDP_LOCALES"]:
        session["locale"] = chosen
    return redirect(_safe_next(request.form.get("next")), 303)


# --- template filters -------------------------------------------------------------------------


def utc_datetime(timestamp: int | float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def channel_label(channel: str) -> str:
    labels: dict[str, str] = {
        Channel.WEBSITE: _("Website"),
        Channel.MOBILE: _("Mobile app"),
        Channel.KIOSK: _("Self-service kiosk"),
        Channel.HALL: _("Service hall counter"),
        Channel.HOTLINE: _("Telephone hotline"),
    }
    return str(labels.get(channel, channel))


def assisted_action_label(action: str) -> str:
    """What a staff member did at a counter (``idp.authn.hall``), for the alert."""
    labels: dict[str, str] = {
        "assisted_sign_in": _("signed you in"),
        "proofing_in_person": _("verified your identity in person"),
        "phone_bound": _("changed your phone number"),
        "password_reset": _("reset your password"),
        "passkey_enrolled": _("gave you a code with which a passkey was added"),
    }
    return str(labels.get(action, action))


def acr_label(acr: str) -> str:
    labels: dict[str, str] = {
        Acr.LOW: _("Low (password)"),
        Acr.SUBSTANTIAL: _("Substantial (two factors)"),
        Acr.HIGH: _("High"),
    }
    return str(labels.get(acr, acr))
