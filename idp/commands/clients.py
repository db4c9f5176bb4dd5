"""`idp clients create|update|list|show|disable`: register and manage relying-party portals.

``create`` prints the client_id and, for clients authenticating with a secret, the
secret: shown this once, stored only as a keyed hash. ``--json`` gives machine-readable
output for provisioning scripts. ``--default-acr`` and ``--minimum-acr`` (on ``create``
and ``update``) set the portal's assurance policy: the level used when a request names
none, and a floor no request can go below (``low``, ``substantial``, ``high`` or the
acr URIs; ``none`` clears). ``--grant-type`` (repeatable, on ``create`` and
``update``) sets the grant types an administrator allows: ``authorization_code``
(the default) and/or ``client_credentials`` (RFC 6749 4.4, confidential clients only;
a client with only ``client_credentials`` needs no redirect URI).
``--backchannel-logout-uri`` and ``--[no-]backchannel-logout-session-required``
register the portal for OpenID Connect Back-Channel Logout, ``--frontchannel-logout-uri``
and ``--[no-]frontchannel-logout-session-required`` for Front-Channel Logout.
``--ciba-delivery-mode`` and ``--ciba-notification-endpoint`` (on ``create`` and
``update``) set a CIBA client's token delivery, checked as the console and the admin API check them
(``registry.validate_ciba_delivery``). ``update`` is all or nothing: every option is
checked before anything is written, and the change commits with its one audit record.
``create`` and ``disable`` commit with their record too. Exit status 2 on invalid input
(nothing written), 1 for an unknown client or when the audit record cannot be written
(nothing written, no secret shown).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from typing import NoReturn

import click
from flask.cli import AppGroup

from .. import audit
from ..admin.events import AuditUnavailable
from ..audit import EventType
from ..errors import InvalidInput
from ..extensions import db
from ..oauth import clients as registry
from .audit import bind_operator

_DEFAULT_ACR_HELP = "Level used when a request names none: low, substantial, high (or the acr URI)."
_MINIMUM_ACR_HELP = "Floor no request can go below: low, substantial, high (or the acr URI)."

_GRANT_HELP = (
    "Grant type the client may use (repeatable): authorization_code (default) and/or "
    "client_credentials (confidential clients; service scopes such as licences:load)."
)

_POLICY_HELP = (
    'JSON file: {"<scope>": {"required": true|false, "purpose": "..."}, "ttl_days": N}; '
    "only scopes the portal may ask for."
)


def _known(client_id: str) -> bool:
    return bool(registry._CLIENT_ID.match(client_id or ""))


def _read_policy(path: Path) -> Any:
    """The scope-policy JSON file, or exit 2 saying why it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        click.echo(f"error: scope_policy: cannot read the file: {exc}", err=True)
        raise SystemExit(2) from None


_BACKCHANNEL_URI_HELP = (
    "Back-channel logout URI (OpenID Connect Back-Channel Logout 1.0): https, or http on "
    "localhost outside production."
)
_BACKCHANNEL_SID_HELP = "Every logout token must carry a sid (backchannel_logout_session_required)."
_FRONTCHANNEL_URI_HELP = (
    "Front-channel logout URI (OpenID Connect Front-Channel Logout 1.0), framed by the "
    "signed-out page: https, or http on localhost outside production."
)
_FRONTCHANNEL_SID_HELP = (
    "The frame's URI carries iss and sid (frontchannel_logout_session_required)."
)

clients = AppGroup("clients", help="Register and manage relying-party portals (OIDC clients).")


def _audit(event: EventType, client_id: str, *, before: Any, after: Any) -> None:
    """The change as an operator action on the trail, with the registration before and
    after (``describe``: never the secret), committed in one transaction with the change
    the registry left pending. If the record cannot be written neither is the change:
    exit 1 saying so (a change without its record would be unaudited)."""
    bind_operator()
    try:
        audit.record(
            event,
            client_id=client_id,
            details={"before": before, "after": after},
            commit=True,
        )
    except Exception as exc:
        db.session.rollback()
        click.echo(f"error: {AuditUnavailable.public} ({type(exc).__name__})", err=True)
        raise SystemExit(1) from None


def _print(data: Any, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    rows = data if isinstance(data, list) else [data]
    for row in rows:
        for key, value in row.items():
            if isinstance(value, list):
                value = " ".join(value) or "-"
            click.echo(f"{key:30} {value if value is not None else '-'}")
        click.echo("")


@clients.command("create")
@click.option("--name", required=True, help="The portal's name, shown on the consent page.")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Registered redirect URI (repeatable; https, or http on localhost).",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Registered post-logout redirect URI (repeatable).",
)
@click.option(
    "--auth-method",
    default="client_secret_basic",
    show_default=True,
    type=click.Choice(registry.AUTH_METHODS),
    help="Token endpoint authentication; 'none' for public (native) clients.",
)
@click.option(
    "--scope",
    default="openid profile phone offline_access",
    show_default=True,
    help="Scopes the portal may ask for.",
)
@click.option("--first-party", is_flag=True, help="Run by the operator: skips the consent page.")
@click.option(
    "--jwks",
    "jwks_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file with the portal's public JWKS (private_key_jwt).",
)
@click.option("--sector-identifier", help="Pairwise sub sector host (default: redirect host).")
@click.option(
    "--id-token-alg",
    type=click.Choice(registry.ID_TOKEN_ALGS),
    help="ID token signing algorithm (default: IDP_DEFAULT_ID_TOKEN_ALG, ES256).",
)
@click.option("--department", help="Department running the portal.")
@click.option("--logo-uri", help="https URL of the portal's logo.")
@click.option(
    "--access-token-format",
    type=click.Choice(["opaque", "jwt"]),
    default="opaque",
    show_default=True,
    help="Opaque access tokens, or RFC 9068 JWTs a resource server can validate offline.",
)
@click.option("--default-acr", help=_DEFAULT_ACR_HELP)
@click.option("--minimum-acr", help=_MINIMUM_ACR_HELP)
@click.option(
    "--scope-policy", "scope_policy_file", type=click.Path(path_type=Path), help=_POLICY_HELP
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(registry.GRANT_TYPES),
    help=_GRANT_HELP,
)
@click.option("--backchannel-logout-uri", help=_BACKCHANNEL_URI_HELP)
@click.option(
    "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
    "backchannel_session_required",
    default=None,
    help=_BACKCHANNEL_SID_HELP,
)
@click.option("--frontchannel-logout-uri", help=_FRONTCHANNEL_URI_HELP)
@click.option(
    "--frontchannel-logout-session-required/--no-frontchannel-logout-session-required",
    "frontchannel_session_required",
    default=None,
    help=_FRONTCHANNEL_SID_HELP,
)
@click.option(
    "--native",
    is_flag=True,
    help="A native app (RFC 8252): public, PKCE, https or loopback redirect; e.g. the mobile app.",
)
@click.option(
    "--ciba-delivery-mode",
    type=click.Choice(registry.CIBA_MODES),
    help="CIBA clients (the hotline): backchannel_token_delivery_mode (default poll).",
)
@click.option(
    "--ciba-notification-endpoint",
    help="CIBA ping mode: backchannel_client_notification_endpoint (https).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def create(
    name: str,
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    auth_method: str,
    scope: str,
    first_party: bool,
    jwks_file: Path | None,
    sector_identifier: str | None,
    id_token_alg: str | None,
    department: str | None,
    logo_uri: str | None,
    access_token_format: str,
    default_acr: str | None,
    minimum_acr: str | None,
    scope_policy_file: Path | None,
    grant_types: tuple[str, ...],
    backchannel_logout_uri: str | None,
    backchannel_session_required: bool | None,
    frontchannel_logout_uri: str | None,
    frontchannel_session_required: bool | None,
    native: bool,
    ciba_delivery_mode: str | None,
    ciba_notification_endpoint: str | None,
    as_json: bool,
) -> None:
    """Register a portal and print its client_id (and secret, once)."""
    source = click.get_current_context().get_parameter_source("auth_method")
    if native and source == click.core.ParameterSource.DEFAULT:
        auth_method = "none"  # RFC 8252 section 8.5: native apps are public clients
    scope_policy = _read_policy(scope_policy_file) if scope_policy_file is not None else None
    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot read the JWKS file: {exc}") from None
    try:
        client, secret = registry.register_client(
            name=name,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            auth_method=auth_method,
            scope=scope,
            first_party=first_party,
            jwks=jwks,
            sector_identifier=sector_identifier,
            id_token_alg=id_token_alg,
            department=department,
            logo_uri=logo_uri,
            default_acr=default_acr,
            minimum_acr=minimum_acr,
            scope_policy=scope_policy,
            grant_types=grant_types or registry.DEFAULT_GRANT_TYPES,
            backchannel_logout_uri=backchannel_logout_uri,
            backchannel_logout_session_required=bool(backchannel_session_required),
            frontchannel_logout_uri=frontchannel_logout_uri,
            frontchannel_logout_session_required=bool(frontchannel_session_required),
            native=native,
            backchannel_token_delivery_mode=ciba_delivery_mode,
            backchannel_client_notification_endpoint=ciba_notification_endpoint,
            commit=False,  # committed with its audit record below, or not at all
        )
    except InvalidInput as exc:
        db.session.rollback()
        click.echo(f"error: {exc.field}: {exc.public}", err=True)
        raise SystemExit(2) from None
    if access_token_format != client.access_token_format:  # RFC 9068 (idp.oauth.jwt_access)
        client.access_token_format = access_token_format
    _audit(EventType.CLIENT_CREATE, client.client_id, before=None, after=registry.describe(client))
    data = {"client_id": client.client_id}
    if secret is not None:
        data["client_secret"] = secret
    data.update({k: v for k, v in registry.describe(client).items() if k != "client_id"})
    data.setdefault("access_token_format", client.access_token_format)
    _print(data, as_json)
    if secret is not None and not as_json:
        click.echo("The client secret is shown only now: store it safely.", err=True)


@clients.command("update")
@click.argument("client_id")
@click.option("--default-acr", help=_DEFAULT_ACR_HELP + " 'none' clears it.")
@click.option("--minimum-acr", help=_MINIMUM_ACR_HELP + " 'none' clears it.")
@click.option(
    "--scope-policy", "scope_policy_file", type=click.Path(path_type=Path), help=_POLICY_HELP
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=click.Choice(registry.GRANT_TYPES),
    help=_GRANT_HELP + " Replaces the allowed set.",
)
@click.option("--backchannel-logout-uri", help=_BACKCHANNEL_URI_HELP + " 'none' clears it.")
@click.option(
    "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
    "backchannel_session_required",
    default=None,
    help=_BACKCHANNEL_SID_HELP,
)
@click.option("--frontchannel-logout-uri", help=_FRONTCHANNEL_URI_HELP + " 'none' clears it.")
@click.option(
    "--frontchannel-logout-session-required/--no-frontchannel-logout-session-required",
    "frontchannel_session_required",
    default=None,
    help=_FRONTCHANNEL_SID_HELP,
)
@click.option(
    "--ciba-delivery-mode",
    type=click.Choice(registry.CIBA_MODES),
    help="CIBA clients: backchannel_token_delivery_mode (poll drops the notification endpoint).",
)
@click.option(
    "--ciba-notification-endpoint",
    help="CIBA ping mode: backchannel_client_notification_endpoint (https); 'none' clears it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def update(
    client_id: str,
    default_acr: str | None,
    minimum_acr: str | None,
    scope_policy_file: Path | None,
    grant_types: tuple[str, ...],
    backchannel_logout_uri: str | None,
    backchannel_session_required: bool | None,
    frontchannel_logout_uri: str | None,
    frontchannel_session_required: bool | None,
    ciba_delivery_mode: str | None,
    ciba_notification_endpoint: str | None,
    as_json: bool,
) -> None:
    """Change a portal's registration (options left out keep their value).

    All or nothing: every option is checked before anything is written, then the change
    and its one ``client.update`` audit record are committed together."""
    changes: dict[str, Any] = {}
    if default_acr is not None:
        changes["default_acr"] = default_acr
    if minimum_acr is not None:
        changes["minimum_acr"] = minimum_acr
    if scope_policy_file is not None:
        changes["scope_policy"] = _read_policy(scope_policy_file)
        if not isinstance(changes["scope_policy"], dict):
            _refuse("scope_policy", "The scope policy must be a JSON object.")
    if grant_types:
        changes["grant_types"] = list(grant_types)
    for channel, uri, required in (
        ("backchannel", backchannel_logout_uri, backchannel_session_required),
        ("frontchannel", frontchannel_logout_uri, frontchannel_session_required),
    ):
        if uri is not None:
            cleared = uri.strip().lower() in ("", "none")
            changes[f"{channel}_logout_uri"] = None if cleared else uri
            if cleared and required is None:
                changes[f"{channel}_logout_session_required"] = False  # goes with the URI
        if required is not None:
            changes[f"{channel}_logout_session_required"] = required
    if ciba_delivery_mode is not None:
        changes["backchannel_token_delivery_mode"] = ciba_delivery_mode
    if ciba_notification_endpoint is not None:
        cleared = ciba_notification_endpoint.strip().lower() in ("", "none")
        changes["backchannel_client_notification_endpoint"] = (
            None if cleared else ciba_notification_endpoint
        )
    if not changes:
        click.echo(
            "error: nothing to change (give --default-acr, --minimum-acr, --scope-policy, "
            "--grant-type, --backchannel-logout-uri, --[no-]backchannel-logout-session-required, "
            "--frontchannel-logout-uri, --[no-]frontchannel-logout-session-required, "
            "--ciba-delivery-mode or --ciba-notification-endpoint)",
            err=True,
        )
        raise SystemExit(2)
    client = registry.get_client(client_id) if _known(client_id) else None
    if client is None:
        click.echo(f"error: no client {client_id}", err=True)
        raise SystemExit(1)
    before = registry.describe(client)
    try:
        # One call checks every option (registry.update_client sets nothing until all
        # pass); commit=False so the audit record below commits with the change.
        client, _ = registry.update_client(client_id, changes, commit=False)
    except InvalidInput as exc:
        db.session.rollback()
        _refuse(exc.field, exc.public)
    after = registry.describe(client)
    _audit(EventType.CLIENT_UPDATE, client_id, before=before, after=after)
    _print(after, as_json)


# The ``update`` option that sets each registration field, for error messages.
_UPDATE_OPTIONS = {
    "default_acr": "--default-acr",
    "minimum_acr": "--minimum-acr",
    "scope_policy": "--scope-policy",
    "grant_types": "--grant-type",
    "backchannel_logout_uri": "--backchannel-logout-uri",
    "backchannel_logout_session_required": "--backchannel-logout-session-required",
    "frontchannel_logout_uri": "--frontchannel-logout-uri",
    "frontchannel_logout_session_required": "--frontchannel-logout-session-required",
    "backchannel_token_delivery_mode": "--ciba-delivery-mode",
    "backchannel_client_notification_endpoint": "--ciba-notification-endpoint",
}


def _refuse(field: str | None, message: str) -> NoReturn:
    """Exit 2 naming the field and the option that set it; nothing was written."""
    option = _UPDATE_OPTIONS.get(field or "")
    named = f"{field} ({option})" if option else str(field)
    click.echo(f"error: {named}: {message} Nothing was changed.", err=True)
    raise SystemExit(2)


@clients.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List registered portals."""
    rows = [registry.describe(c) for c in registry.list_clients()]
    if as_json:
        _print(rows, True)
        return
    for row in rows:
        state = "disabled" if row["disabled"] else "enabled"
        click.echo(
            f"{row['client_id']}  {state:8}  {row['token_endpoint_auth_method']:20}  {row['name']}"
        )


@clients.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(client_id: str, as_json: bool) -> None:
    """Show one portal's registration (never its secret)."""
    client = registry.get_client(client_id)
    if client is None:
        click.echo(f"error: no client {client_id}", err=True)
        raise SystemExit(1)
    _print(registry.describe(client), as_json)


@clients.command("disable")
@click.argument("client_id")
def disable(client_id: str) -> None:
    """Refuse the portal from now on and revoke its tokens."""
    client = registry.get_client(client_id) if _known(client_id) else None
    before = registry.describe(client) if client is not None else None
    # commit=False: the client and its tokens change only with the record below.
    if before is None or not registry.disable_client(client_id, commit=False):
        click.echo(f"error: no client {client_id}", err=True)
        raise SystemExit(1)
    after = registry.describe(registry.get_client(client_id))
    _audit(EventType.CLIENT_DISABLE, client_id, before=before, after=after)
    click.echo(f"disabled {client_id}")
