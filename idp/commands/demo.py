"""`idp demo`: seed the demo citizen and the demo portal client, and say how to use them.

Idempotent: run it any number of times. The citizen is created once (and entered in the
registry table, as an imported population-registry row would be); the portal client keeps
its fixed ``client_id`` and gets its redirect URIs brought up to date. Its secret is not
stored anywhere: it is derived from the master key, so ``idp serve --demo`` can hand the
same secret to the demo portal on every start.

The password below is published demo data: ``idp demo`` refuses under IDP_ENV=production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

import click
from flask import current_app
from flask.cli import with_appcontext

DEMO_ID_NUMBER = "110101199003074530"  # GB 11643: Dongcheng, Beijing; 1990-03-07; male
DEMO_NAME = "王小明"
DEMO_PHONE = "+8613800138000"
DEMO_PASSWORD = "yiwang-tongban-demo"
# The demo citizen's address of household registration (OIDC Core 5.1.1 members),
# in Dongcheng like the number says.
DEMO_ADDRESS = {
    "formatted": "北京市东城区东华门街道南池子大街 1 号",
    "street_address": "东华门街道南池子大街 1 号",
    "locality": "东城区",
    "region": "北京市",
    "postal_code": "100006",
    "country": "中国",
}
DEMO_CLIENT_ID = "demo-portal"
DEMO_CLIENT_NAME = "Demo portal"
DEMO_SCOPE = "openid profile phone address"
DEFAULT_PORTAL_PORT = 5001


@dataclass(frozen=True)
class DemoInfo:
    id_number: str
    name: str
    password: str
    client_id: str
    client_secret: str
    portal_url: str
    citizen_created: bool
    client_created: bool


def demo_portal_url(port: int = DEFAULT_PORTAL_PORT) -> str:
    return f"http://localhost:{port}"


def demo_client_secret() -> str:
    """The demo client's secret: HMAC of a fixed label under a key derived from the master
    key, so it is stable across runs of one instance and differs between instances."""
    keyring = current_app.extensions["idp.keyring"]
    mac = hmac.new(keyring.token_hash, b"idp/demo-portal/client-secret", hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def seed_demo(*, portal_url: str) -> DemoInfo:
    """Create (or bring up to date) the demo citizen, registry row and portal client."""
    if current_app.config["IDP_ENV"] == "production":
        raise click.ClickException(
            "idp demo seeds a citizen with a published password; refusing under IDP_ENV=production"
        )
    citizen_created = _seed_citizen()
    client_created = _seed_client(portal_url.rstrip("/"))
    _seed_mobile_app()
    return DemoInfo(
        id_number=DEMO_ID_NUMBER,
        name=DEMO_NAME,
        password=DEMO_PASSWORD,
        client_id=DEMO_CLIENT_ID,
        client_secret=demo_client_secret(),
        portal_url=portal_url.rstrip("/"),
        citizen_created=citizen_created,
        client_created=client_created,
    )


def _seed_citizen() -> bool:
    from ..authn.citizens import create_citizen
    from ..authn.citizens import find_by_id_number
    from ..citizens_import import import_registry

    # The registry row first, as `idp citizens import` would load it (JSON lines, with
    # the address): self-registration and in-person checks find the demo citizen there
    # like anyone else, and an existing demo account gets the address from it.
    row = {
        "id_number": DEMO_ID_NUMBER,
        "name": DEMO_NAME,
        "phone": DEMO_PHONE,
        "address": DEMO_ADDRESS,
    }
    import_registry(data=json.dumps(row, ensure_ascii=False).encode(), fmt="jsonl")
    if find_by_id_number(DEMO_ID_NUMBER) is not None:
        return False
    create_citizen(
        id_number=DEMO_ID_NUMBER,
        name=DEMO_NAME,
        phone=DEMO_PHONE,
        password=DEMO_PASSWORD,
        address=DEMO_ADDRESS,
    )
    return True


def _seed_client(portal_url: str) -> bool:
    from ..extensions import db
    from ..oauth import hashing
    from ..oauth.clients import SECRET_PURPOSE
    from ..oauth.clients import get_client
    from ..oauth.clients import register_client
    from ..oauth.clients import validate_redirect_uri

    redirect_uri = validate_redirect_uri(f"{portal_url}/callback", field="redirect_uris")
    logout_uri = validate_redirect_uri(f"{portal_url}/", field="post_logout_redirect_uris")
    client = get_client(DEMO_CLIENT_ID)
    created = client is None
    if client is None:
        # register_client validates like `idp clients create`; the demo client then takes
        # its well-known id, so the printed instructions and the portal never change.
        client, _ = register_client(
            name=DEMO_CLIENT_NAME,
            department="Demo",
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=[logout_uri],
            auth_method="client_secret_basic",
            scope=DEMO_SCOPE,
            first_party=False,  # so the consent page shows
        )
        client.client_id = DEMO_CLIENT_ID
    # Brought up to date on every run: the portal port may have changed, and the secret
    # follows the master key.
    client.redirect_uris = _with(client.redirect_uris, redirect_uri)
    client.post_logout_redirect_uris = _with(client.post_logout_redirect_uris, logout_uri)
    # A portal seeded before a scope joined the demo may ask for it too.
    client.scope = " ".join(dict.fromkeys([*client.scope.split(), *DEMO_SCOPE.split()]))
    # OpenID Connect Back-Channel Logout: the demo portal drops its sign-in when told.
    client.backchannel_logout_uri = f"{portal_url}/backchannel-logout"
    client.client_secret_hash = hashing.keyed_hash(SECRET_PURPOSE, demo_client_secret())
    client.disabled_at = None
    db.session.commit()
    return created


DEMO_APP_CLIENT_ID = "mobile-app"
DEMO_APP_REDIRECT = "http://127.0.0.1/callback"  # RFC 8252 7.3: any port at request time


def _seed_mobile_app() -> None:
    """The government app as a first-party native client (``idp clients create
    --native``), for ``scripts/app_simulator.py``."""
    from ..extensions import db
    from ..oauth.clients import get_client
    from ..oauth.clients import register_client

    if get_client(DEMO_APP_CLIENT_ID) is not None:
        return
    client, _ = register_client(
        name="Government app",
        department="Demo",
        redirect_uris=[DEMO_APP_REDIRECT],
        auth_method="none",
        scope="openid",
        first_party=True,
        native=True,
    )
    client.client_id = DEMO_APP_CLIENT_ID
    db.session.commit()


def _with(uris: list[str] | None, uri: str) -> list[str]:
    return list(uris or []) if uri in (uris or []) else [*(uris or []), uri]


def print_demo(info: DemoInfo, *, issuer: str) -> None:
    issuer = issuer.rstrip("/")
    click.echo(
        f"""
Demo data (published; never use it in production):

  Demo portal        {info.portal_url}/
  Provider (issuer)  {issuer}
  Discovery          {issuer}/.well-known/openid-configuration

  Demo citizen       {info.name}
    ID number        {info.id_number}
    password         {info.password}

  Demo portal client (confidential, client_secret_basic, consent page shown)
    client_id        {info.client_id}
    client_secret    {info.client_secret}
    redirect_uri     {info.portal_url}/callback
    post-logout      {info.portal_url}/

Open the demo portal, click "Sign in", enter the ID number and password, approve the
consent page: the portal shows the ID token claims its OpenID Connect library verified.
"""
    )


@click.command("demo")
@click.option(
    "--portal-url",
    default=demo_portal_url(),
    show_default=True,
    help="Where the demo portal runs (its redirect URIs are registered under it).",
)
@with_appcontext
def demo(portal_url: str) -> None:
    """Seed the demo citizen and the demo portal client (idempotent)."""
    from .serve import upgrade_embedded

    upgrade_embedded(current_app._get_current_object())  # type: ignore[attr-defined]
    info = seed_demo(portal_url=portal_url)
    state = "created" if info.citizen_created or info.client_created else "already present"
    click.echo(f"Demo data {state}.")
    print_demo(info, issuer=current_app.config["IDP_ISSUER"])
    click.echo("Run `idp serve --demo` to start the provider and the demo portal together.")
    click.echo(
        f"Mobile app client: {DEMO_APP_CLIENT_ID} (native; try scripts/app_simulator.py sign-in)."
    )
