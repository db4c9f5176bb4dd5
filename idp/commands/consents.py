"""`idp consents list|revoke`: consent records for operators (issue 4).

``list --citizen ID_NUMBER`` or ``list --client CLIENT_ID`` shows the current consents
(``--all``: the history too). The citizen is found through the blind index of the ID
number, which is never printed in clear: rows show the citizen's internal id and the
masked number (``11**************2X``). Giving ``-`` as the ID number reads it from
standard input, so it stays out of the shell history and the process list.

``revoke --citizen ID_NUMBER --client CLIENT_ID --by NAME`` withdraws a consent exactly
as the citizen's own Withdraw button does (``idp.oauth.withdrawal``): the record is
revoked with ``revoked_by`` ``admin:NAME``, the portal's tokens for the citizen stop
working, and the portal is told by back-channel logout (one delivery pass is made at
once; what fails is retried by the workers or ``idp backchannel deliver``).

Exit status: 0 done, 1 nothing found (unknown citizen or client, no active consent),
2 invalid input.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click
from flask.cli import AppGroup

from ..authn.citizens import find_by_id_number
from ..authn.citizens import id_number_of
from ..consent import service as consent_service
from ..extensions import db
from ..ids import redact
from ..models import Citizen
from ..models import Consent
from ..oauth import backchannel_delivery
from ..oauth import clients as registry
from ..oauth.withdrawal import withdraw_consent

ADMIN_NAME = re.compile(r"[A-Za-z0-9._@-]{1,50}")

consents = AppGroup("consents", help="Inspect and withdraw citizens' consents to portals.")


def _citizen(id_number: str) -> Citizen:
    """The citizen holding ``id_number`` ("-": read from stdin), or exit 1."""
    if id_number == "-":
        id_number = sys.stdin.readline().strip()
    citizen = find_by_id_number(id_number)
    if citizen is None:
        # The number is not echoed: it may be a real person's, mistyped.
        click.echo("error: no citizen holds that ID number", err=True)
        raise SystemExit(1)
    return citizen


def _client_id(client_id: str) -> str:
    if not registry._CLIENT_ID.match(client_id or "") or registry.get_client(client_id) is None:
        click.echo(f"error: no client {client_id[:64]!r}", err=True)
        raise SystemExit(1)
    return client_id


def _row(record: Consent) -> dict[str, Any]:
    citizen = db.session.get(Citizen, record.citizen_id)
    client = registry.get_client(record.client_id)
    return {
        "citizen_id": record.citizen_id,
        "id_number": redact(id_number_of(citizen)) if citizen is not None else None,
        "client_id": record.client_id,
        "client_name": client.name if client is not None else None,
        "scopes": list(record.scopes or []),
        "declined_scopes": list(record.declined_scopes or []),
        "granted_at": record.granted_at.isoformat(),
        "expires_at": record.expires_at.isoformat() if record.expires_at else None,
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
        "revoked_by": record.revoked_by,
    }


@consents.command("list")
@click.option("--citizen", "id_number", help="The citizen's ID number ('-': read from stdin).")
@click.option("--client", "client_id", help="A portal's client_id.")
@click.option("--all", "include_inactive", is_flag=True, help="Revoked and expired ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(
    id_number: str | None, client_id: str | None, include_inactive: bool, as_json: bool
) -> None:
    """One citizen's consents, or one portal's."""
    if (id_number is None) == (client_id is None):
        click.echo("error: give exactly one of --citizen and --client", err=True)
        raise SystemExit(2)
    citizen_id = _citizen(id_number).id if id_number is not None else None
    if client_id is not None:
        client_id = _client_id(client_id)
    records = consent_service.list_records(
        citizen_id=citizen_id, client_id=client_id, include_inactive=include_inactive
    )
    rows = [_row(r) for r in records]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no consents")
    for row in rows:
        state = f"revoked by {row['revoked_by']}" if row["revoked_at"] else "active"
        click.echo(
            f"{row['citizen_id']}  {row['id_number']}  {row['client_id']}  "
            f"{row['client_name']}  [{' '.join(row['scopes'])}]  "
            f"granted {row['granted_at']}  until {row['expires_at'] or '-'}  {state}"
        )


@consents.command("revoke")
@click.option("--citizen", "id_number", required=True, help="ID number ('-': read from stdin).")
@click.option("--client", "client_id", required=True, help="The portal's client_id.")
@click.option("--by", "admin", required=True, help="Who withdraws it (recorded as admin:NAME).")
def revoke(id_number: str, client_id: str, admin: str) -> None:
    """Withdraw a consent: tokens revoked, the portal told, the citizen asked again."""
    if not ADMIN_NAME.fullmatch(admin or ""):
        click.echo("error: --by must be 1 to 50 letters, digits or . _ @ -", err=True)
        raise SystemExit(2)
    citizen = _citizen(id_number)
    client_id = _client_id(client_id)
    if not withdraw_consent(citizen_id=citizen.id, client_id=client_id, by=f"admin:{admin}"):
        click.echo(f"error: no active consent of citizen {citizen.id} for {client_id}", err=True)
        raise SystemExit(1)
    click.echo(f"revoked the consent of citizen {citizen.id} for {client_id} (by admin:{admin})")
    summary = backchannel_delivery.deliver_due()
    click.echo(
        f"back-channel logout: delivered {summary.delivered}, to retry {summary.retrying}, "
        f"abandoned {summary.abandoned}"
    )
