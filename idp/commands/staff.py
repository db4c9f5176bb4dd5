"""`idp staff create|list|enrolment-code|roles|disable|enable`: staff accounts from the
operator's shell, above all the first administrator (nobody can sign in before one exists).

``create`` and ``enrolment-code`` print a one-time enrolment code (shown once, stored
only as a keyed hash): the member opens ``<issuer>/admin/enrol``, types the username and
the code, and registers a security key with user verification. Exit status 2 on invalid
input, 1 for an unknown member.
"""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from ..authn.staff import accounts
from ..authn.staff import console_session
from ..authn.staff.roles import Role
from ..errors import InvalidInput
from ..models import Staff
from ..store import current_store

staff = AppGroup("staff", help="Staff and administrator accounts (console, counter).")

_ROLES = click.Choice([str(r) for r in Role])


def _enrol_hint(username: str, code: str, as_json: bool) -> None:
    url = str(current_app.config["IDP_ISSUER"]).rstrip("/") + "/admin/enrol"
    if as_json:
        click.echo(json.dumps({"username": username, "enrolment_code": code, "enrol_url": url}))
        return
    click.echo(f"enrolment code for {username}: {code}")
    click.echo(f"(one use; open {url}, enter the username and this code, register a security key)")


def _member(username: str) -> Staff:
    member = accounts.by_username(username)
    if member is None:
        click.echo(f"error: no staff member {username!r}", err=True)
        raise SystemExit(1)
    return member


@staff.command("create")
@click.option("--username", required=True)
@click.option("--display-name", default=None, help="Shown in the console (default: username).")
@click.option(
    "--department", default=None, help="Client managers manage this department's clients."
)
@click.option("--role", "roles", multiple=True, required=True, type=_ROLES, help="Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create(
    username: str,
    display_name: str | None,
    department: str | None,
    roles: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a staff member and print their one-time enrolment code."""
    try:
        member, code = accounts.create_staff(
            username=username,
            display_name=display_name or username,
            department=department,
            roles=roles,
        )
    except InvalidInput as exc:
        click.echo(f"error: {exc.field}: {exc.public}", err=True)
        raise SystemExit(2) from None
    _enrol_hint(member.username, code, as_json)


@staff.command("enrolment-code")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True)
def enrolment_code(username: str, as_json: bool) -> None:
    """A new one-time enrolment code (the previous one stops working)."""
    member = _member(username)
    _enrol_hint(member.username, accounts.new_enrolment_code(member), as_json)


@staff.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    rows = [accounts.view(m) for m in accounts.list_staff()]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = (
            "disabled" if row["disabled"] else "pending" if row["enrolment_pending"] else "active"
        )
        roles = ",".join(row["roles"]) or "-"
        click.echo(f"{row['username']:24} {state:9} {roles:40} {row['department'] or '-'}")


@staff.command("roles")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=_ROLES, help="Repeatable; none = no role.")
def roles(username: str, roles: tuple[str, ...]) -> None:
    """Replace a member's roles."""
    accounts.set_roles(_member(username), roles)
    click.echo(f"{username}: {', '.join(roles) or 'no role'}")


@staff.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable a member and end their console sessions."""
    member = _member(username)
    accounts.disable(member)
    console_session.end_all(current_store(), member.id)
    click.echo(f"{username}: disabled")


@staff.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    accounts.enable(_member(username))
    click.echo(f"{username}: enabled")
