"""``/account/releases``: the citizen's data-release history, newest first.

DESIGN.md "Privacy": "Every disclosure of data to a portal is an audit event the
citizen can see." Each row: the portal, the data categories in the citizen's language
(licence types by name), how it went out (sign-in, profile request, licence request)
and when. Paginated (``?page=N``, ``IDP_RELEASES_PER_PAGE`` rows a page).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _

from ..consent import releases
from ..consent.categories import category
from ..licences.types import licence_type
from . import i18n
from .signed_in import sign_in_first
from .signed_in import signed_in_citizen

bp = Blueprint("releases", __name__)


def via_label(via: str) -> str:
    labels: dict[str, str] = {
        releases.Via.ID_TOKEN: _("Sign-in (your identifier for the portal)"),
        releases.Via.USERINFO: _("Profile request"),
        releases.Via.DATA_API: _("Electronic licence request"),
    }
    return str(labels.get(via, via))


def _page_number(raw: str | None) -> int:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 6:
        return 1
    return max(1, int(raw))


@bp.get("/account/releases")
def history() -> Any:
    signed_in = signed_in_citizen()
    if signed_in is None:
        return sign_in_first(url_for("releases.history"))
    citizen = signed_in[1]
    locale = str(i18n.page_locale())
    per_page = int(current_app.config["IDP_RELEASES_PER_PAGE"])
    page = releases.history(
        citizen_id=citizen.id, page=_page_number(request.args.get("page")), per_page=per_page
    )
    rows = []
    for release in page.releases:
        names = [c.name(locale) for s in release.categories if (c := category(s)) is not None]
        # A licence request says which licences went out, by name.
        licences = [t.name(locale) for i in release.items if (t := licence_type(i)) is not None]
        if release.via == releases.Via.DATA_API:
            names = licences or names
        rows.append(
            {
                "portal": release.portal,
                "data": names,
                "via": via_label(release.via),
                "at": release.at,
            }
        )
    return render_template("account_releases.html", rows=rows, page=page)
