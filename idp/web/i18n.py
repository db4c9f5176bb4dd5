"""Page language: ``ui_locales`` (OIDC Core 3.1.2.1), then the on-page switch, then
Accept-Language, then Simplified Chinese."""

from __future__ import annotations

from babel import Locale
from flask import current_app
from flask import request
from flask import session

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
    return chosen if chosen in supported else current_app.config["BABEL_DEFAULT_LOCALE"]


def page_locale() -> Locale:
    """The page's locale, for templates (``get_locale()`` in base.html)."""
    from flask_babel import get_locale

    return get_locale() or Locale.parse(current_app.config["BABEL_DEFAULT_LOCALE"])
