"""OpenID Connect Back-Channel Logout 1.0: registration, the logout token, delivery with
retries from the outbox, and every way an SSO session ends telling its portals.

The portal (``bc_portal.Portal``) is a real HTTP server on a loopback port that checks
each logout token against the published JWKS as section 2.6 says.
"""

from __future__ import annotations

import json
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from bc_portal import EVENT
from bc_portal import Portal
from conftest import make_app
from oidc_helpers import ISSUER
from oidc_helpers import authorize
from oidc_helpers import csrf_from
from oidc_helpers import decode_id_token
from oidc_helpers import fresh_requests
from oidc_helpers import grant_consent
from oidc_helpers import jwks
from oidc_helpers import redirected_to
from oidc_helpers import register
from oidc_helpers import sign_in

from idp.authn import sessions
from idp.errors import InvalidInput
from idp.oauth import backchannel
from idp.oauth import backchannel_delivery as delivery


@pytest.fixture
def app_config():
    # Retries due at once (the backoff itself is tested on its own), short timeouts.
    return {"IDP_BACKCHANNEL_RETRY_BASE": 0, "IDP_BACKCHANNEL_TIMEOUT": 2}


@pytest.fixture(autouse=True)
def _fresh(app):
    fresh_requests(app)


@pytest.fixture
def portal(app, http):
    served = Portal(issuer=ISSUER)
    yield served
    served.close()


def _portal_client(http, portal, **extra):
    rp = register(
        name="Tax portal",
        redirect_uris=["https://tax.example.gov/callback"],
        post_logout_redirect_uris=["https://tax.example.gov/bye"],
        scope="openid profile phone offline_access",
        backchannel_logout_uri=portal.url,
        **extra,
    )
    portal.client_id = rp.client_id
    portal.keyset = jwks(http)
    return rp


@pytest.fixture
def bc_rp(http, portal):
    return _portal_client(http, portal)


@pytest.fixture
def signed_in(http, citizen, bc_rp, login):
    """A session that signed in to the portal; (session, ID-token claims)."""
    grant_consent(citizen, bc_rp)
    session = login()
    tokens = sign_in(http, bc_rp, scope="openid profile offline_access")
    _, claims = decode_id_token(http, tokens["id_token"], client_id=bc_rp.client_id)
    return session, claims, tokens


def _pending():
    from idp.extensions import db
    from idp.models import BackchannelDelivery

    db.session.expire_all()
    return db.session.scalars(db.select(BackchannelDelivery)).all()


def _account_post(http, path, **fields):
    page = http.get("/account").get_data(as_text=True)
    return http.post(path, data={"csrf_token": csrf_from(page), **fields})


# -- discovery and registration --------------------------------------------------------------


def test_discovery_advertises_back_channel_logout(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    assert meta["backchannel_logout_supported"] is True
    assert meta["backchannel_logout_session_supported"] is True


def test_discovery_without_the_feature(app):
    from idp.oauth.discovery import metadata

    meta = metadata({**app.config, "IDP_FEATURE_BACKCHANNEL_LOGOUT": False})
    assert meta["backchannel_logout_supported"] is False
    assert "backchannel_logout_session_supported" not in meta


@pytest.mark.parametrize(
    "uri",
    [
        "https://tax.example.gov/bc",
        "https://tax.example.gov:8443/bc?x=1",
        "http://localhost:8000/bc",
        "http://127.0.0.1/bc",
    ],
)
def test_accepted_logout_uris(uri):
    assert backchannel.validate_logout_uri(uri, local_ok=True) == uri


@pytest.mark.parametrize(
    "uri",
    [
        "http://tax.example.gov/bc",  # http beyond loopback
        "https://tax.example.gov/bc#frag",  # section 2.2: no fragment
        "https://user:pw@tax.example.gov/bc",
        "ftp://tax.example.gov/bc",
        "/relative",
        "https://tax.example.gov/\x00",
        "https://" + "a" * 3000,
        "https://tax.example.gov:99999/",
    ],
)
def test_refused_logout_uris(uri):
    with pytest.raises(InvalidInput) as refused:
        backchannel.validate_logout_uri(uri, local_ok=True)
    assert refused.value.field == "backchannel_logout_uri"


def test_production_refuses_http_loopback_uris():
    with pytest.raises(InvalidInput):
        backchannel.validate_logout_uri("http://127.0.0.1/bc", local_ok=False)
    assert backchannel.allow_local({"IDP_ENV": "production"}) is False
    assert backchannel.allow_local({"IDP_ENV": "development"}) is True
    explicit = {"IDP_ENV": "development", "IDP_BACKCHANNEL_ALLOW_LOCAL": False}
    assert backchannel.allow_local(explicit) is False


def test_production_refuses_to_start_with_local_delivery(backend):
    from idp.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="IDP_BACKCHANNEL_ALLOW_LOCAL"):
        make_app(backend, IDP_ENV="production", IDP_BACKCHANNEL_ALLOW_LOCAL=True)


def test_session_required_needs_a_uri(app):
    with pytest.raises(InvalidInput) as refused:
        register(
            redirect_uris=["https://x.example.gov/cb"], backchannel_logout_session_required=True
        )
    assert refused.value.field == "backchannel_logout_session_required"


def test_cli_registers_and_updates_the_logout_uri(app):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=[
            "clients",
            "create",
            "--name",
            "Tax",
            "--redirect-uri",
            "https://tax.example.gov/cb",
            "--backchannel-logout-uri",
            "https://tax.example.gov/bc",
            "--backchannel-logout-session-required",
            "--json",
        ]
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["backchannel_logout_uri"] == "https://tax.example.gov/bc"
    assert data["backchannel_logout_session_required"] is True
    client_id = data["client_id"]

    bad = runner.invoke(
        args=["clients", "update", client_id, "--backchannel-logout-uri", "http://evil.example/"]
    )
    assert bad.exit_code == 2 and "backchannel_logout_uri" in bad.output

    cleared = runner.invoke(
        args=["clients", "update", client_id, "--backchannel-logout-uri", "none", "--json"]
    )
    assert cleared.exit_code == 0, cleared.output
    data = json.loads(cleared.output)
    assert data["backchannel_logout_uri"] is None
    assert data["backchannel_logout_session_required"] is False


# -- the logout token ------------------------------------------------------------------------


def test_sign_out_tells_the_portal_with_a_valid_logout_token(app, http, portal, bc_rp, signed_in):
    session, id_claims, _ = signed_in
    assert _account_post(http, "/account/logout").status_code == 200
    # The citizen's request only wrote the outbox: nothing was sent yet.
    assert portal.requests == 0 and len(_pending()) == 1

    assert delivery.deliver_due().delivered == 1
    (got,) = portal.received
    assert portal.refused == []
    assert got.content_type == "application/x-www-form-urlencoded"
    assert got.header["typ"] == "logout+jwt"
    assert got.header["alg"] == "ES256" and got.header["kid"]
    claims = got.claims
    assert claims["iss"] == ISSUER and claims["aud"] == bc_rp.client_id
    assert claims["sub"] == id_claims["sub"]  # the portal's pairwise sub
    assert claims["sid"] == id_claims["sid"] == session.sid
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims
    assert 0 < claims["exp"] - claims["iat"] <= 120
    (row,) = _pending()
    assert row.delivered_at is not None and row.attempts == 1


def test_logout_token_uses_the_portals_id_token_algorithm(app, http, portal, citizen, login):
    rp = _portal_client(http, portal, id_token_alg="RS256")
    grant_consent(citizen, rp)
    login()
    sign_in(http, rp)
    _account_post(http, "/account/logout")
    delivery.deliver_due()
    assert portal.received[0].header["alg"] == "RS256"


def test_after_sign_out_prompt_none_is_login_required(app, http, bc_rp, signed_in):
    _account_post(http, "/account/logout")
    response = authorize(http, bc_rp, prompt="none")
    assert redirected_to(response, bc_rp.redirect_uri)["error"] == "login_required"


def test_rp_initiated_logout_tells_every_portal_of_the_session(
    app, http, portal, bc_rp, citizen, signed_in
):
    other_portal = Portal(issuer=ISSUER)
    try:
        other = register(
            name="Housing",
            redirect_uris=["https://housing.example.gov/cb"],
            backchannel_logout_uri=other_portal.url,
        )
        other_portal.client_id, other_portal.keyset = other.client_id, jwks(http)
        grant_consent(citizen, other, "openid profile")
        sign_in(http, other)
        silent = register(name="No back-channel", redirect_uris=["https://x.example.gov/cb"])
        grant_consent(citizen, silent, "openid profile")
        sign_in(http, silent)

        session, _, tokens = signed_in
        query = urlencode(
            {
                "id_token_hint": tokens["id_token"],
                "post_logout_redirect_uri": "https://tax.example.gov/bye",
            }
        )
        assert http.get(f"/logout?{query}").status_code == 302
        assert delivery.deliver_due().delivered == 2
        assert portal.received[0].claims["sid"] == session.sid
        assert other_portal.received[0].claims["sid"] == session.sid
        assert other_portal.received[0].claims["aud"] == other.client_id
        # Pairwise: the two portals (two sectors) get different subs for one citizen.
        assert other_portal.received[0].claims["sub"] != portal.received[0].claims["sub"]
    finally:
        other_portal.close()


def test_ending_another_session_tells_its_portals(app, http, portal, bc_rp, citizen, login):
    grant_consent(citizen, bc_rp)
    elsewhere = app.test_client()
    planted = login()  # the session in "elsewhere"'s browser, signed in to the portal
    sign_in(http, bc_rp)
    elsewhere.set_cookie(
        app.config["IDP_SESSION_COOKIE"],
        http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost").value,
        domain="localhost",
    )
    login()  # this browser: a new session of the same citizen, no portal yet
    response = _account_post(http, "/account/sessions/end", sid=planted.sid)
    assert response.status_code == 303
    assert delivery.deliver_due().delivered == 1
    assert portal.received[0].claims["sid"] == planted.sid
    assert (
        authorize(elsewhere, bc_rp, prompt="none").headers["Location"].count("error=login_required")
    )


def test_sign_out_everywhere_tells_each_session(app, http, portal, bc_rp, citizen, login):
    grant_consent(citizen, bc_rp)
    first = login()
    sign_in(http, bc_rp)
    second = login()
    sign_in(http, bc_rp)
    assert _account_post(http, "/account/sessions/end-all").status_code == 200
    assert delivery.deliver_due().delivered == 2
    assert {r.claims["sid"] for r in portal.received} == {first.sid, second.sid}


def test_another_citizen_signing_in_on_the_browser_ends_the_first_session(
    app, http, portal, bc_rp, citizen, login
):
    from idp.authn.citizens import create_citizen

    grant_consent(citizen, bc_rp)
    first = login()
    sign_in(http, bc_rp)
    other = create_citizen(id_number="110101199003074530", name="王小明", password="x" * 16)
    # complete_login with the first session's cookie in the browser.
    from idp.authn import interaction as interactions
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel
    from idp.authn.service import complete_login

    store = app.extensions["idp.store"]
    parked = interactions.create(
        store, browser="b", prompt=interactions.Prompt.LOGIN, reasons=[], ttl=60
    )
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost").value
    complete_login(
        parked.uid,
        AuthResult(
            citizen_id=other.id,
            methods=(Amr.PWD,),
            acr=Acr.LOW,
            channel=Channel.WEBSITE,
            auth_time=datetime.now(UTC),
        ),
        browser="b",
        current_cookie=cookie,
    )
    assert delivery.deliver_due().delivered == 1
    assert portal.received[0].claims["sid"] == first.sid


def test_step_up_keeps_the_portal_and_names_the_sid_it_was_given(
    app, http, portal, bc_rp, citizen, login, store
):
    """The session id is renewed by a new sign-in of the same citizen (not a logout);
    the logout token names the sid the portal's ID token carried."""
    grant_consent(citizen, bc_rp)
    first = login()
    sign_in(http, bc_rp)
    cookie = http.get_cookie(app.config["IDP_SESSION_COOKIE"], domain="localhost").value
    from idp.authn.result import Acr
    from idp.authn.result import Amr
    from idp.authn.result import AuthResult
    from idp.authn.result import Channel

    renewed, new_cookie = sessions.start(
        store,
        result=AuthResult(
            citizen_id=citizen.id,
            methods=(Amr.PWD, Amr.OTP),
            acr=Acr.SUBSTANTIAL,
            channel=Channel.WEBSITE,
            auth_time=datetime.now(UTC),
        ),
        lifetime=3600,
        idle=3600,
        previous=sessions.load(store, cookie, idle=3600),
    )
    assert _pending() == []  # a renewal is not a logout
    http.set_cookie(app.config["IDP_SESSION_COOKIE"], new_cookie, domain="localhost")
    _account_post(http, "/account/logout")
    delivery.deliver_due()
    assert [r.claims["sid"] for r in portal.received] == [first.sid]
    assert renewed.sid != first.sid


# -- delivery: retries, giving up, refusals --------------------------------------------------


def test_a_portal_that_fails_first_gets_it_on_retry(app, http, portal, bc_rp, signed_in):
    portal.answers = [503]
    _account_post(http, "/account/logout")
    first = delivery.deliver_due()
    assert (first.delivered, first.retrying) == (0, 1)
    (row,) = _pending()
    assert row.attempts == 1 and row.delivered_at is None
    assert row.last_error == "the portal answered HTTP 503"
    # The CLI (cron) pass picks it up.
    result = app.test_cli_runner().invoke(args=["backchannel", "deliver", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"delivered": 1, "retrying": 0, "abandoned": 0}
    assert len(portal.received) == 1 and portal.received[0].claims["sub"]
    (row,) = _pending()
    assert row.attempts == 2 and row.delivered_at is not None and row.last_error is None


def test_a_400_is_retried_with_a_fresh_token(app, http, portal, bc_rp, signed_in):
    portal.answers = [400]
    _account_post(http, "/account/logout")
    delivery.deliver_due()
    delivery.deliver_due()
    assert len(portal.received) == 1


@pytest.mark.parametrize(
    "app_config", [{"IDP_BACKCHANNEL_MAX_ATTEMPTS": 2, "IDP_BACKCHANNEL_RETRY_BASE": 0}]
)
def test_gives_up_after_the_configured_attempts(app, http, portal, bc_rp, signed_in):
    portal.answers = [500, 500, 500]
    _account_post(http, "/account/logout")
    assert delivery.deliver_due().retrying == 1
    result = app.test_cli_runner().invoke(args=["backchannel", "deliver"])
    assert result.exit_code == 1 and "abandoned 1" in result.output
    (row,) = _pending()
    assert row.abandoned_at is not None and row.attempts == 2
    assert delivery.deliver_due().as_dict() == {"delivered": 0, "retrying": 0, "abandoned": 0}
    listed = app.test_cli_runner().invoke(args=["backchannel", "list", "--json"])
    (shown,) = json.loads(listed.output)
    assert shown["state"] == "abandoned" and shown["last_error"] == "the portal answered HTTP 500"
    assert "sub" not in shown and "sid" not in shown


@pytest.mark.parametrize(
    "app_config", [{"IDP_BACKCHANNEL_RETRY_BASE": 30, "IDP_BACKCHANNEL_RETRY_MAX": 100}]
)
def test_backoff_doubles_up_to_the_maximum(app):
    assert 30 <= delivery.backoff(1) <= 33
    assert 60 <= delivery.backoff(2) <= 66
    assert 100 <= delivery.backoff(9) <= 110


def test_a_portal_that_is_down_never_slows_the_sign_out(app, http, portal, bc_rp, signed_in):
    portal.close()
    started = time.monotonic()
    assert _account_post(http, "/account/logout").status_code == 200
    assert time.monotonic() - started < 2
    assert delivery.deliver_due().retrying == 1
    assert _pending()[0].last_error.startswith("connection failed")


def test_a_claimed_notice_is_not_claimed_twice(app, http, portal, bc_rp, signed_in):
    _account_post(http, "/account/logout")
    first = delivery.claim(10)
    assert len(first) == 1
    assert delivery.claim(10) == []  # leased to the first worker
    (row,) = _pending()
    assert row.attempts == 1 and row.next_attempt_at > datetime.now(UTC) + timedelta(seconds=5)


def test_a_disabled_portal_is_not_told(app, http, portal, bc_rp, signed_in):
    from idp.oauth.clients import disable_client

    _account_post(http, "/account/logout")
    disable_client(bc_rp.client_id)
    assert delivery.deliver_due().abandoned == 1
    assert portal.requests == 0


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
     "0.0.0.0", "::1", "fc00::1", "fe80::1", "::ffff:10.0.0.1", "224.0.0.1"],
)  # fmt: skip
def test_non_public_addresses_are_refused_in_production(address):
    assert delivery._address_allowed(address) is False
    with pytest.raises(delivery.DeliveryRefused, match="non-public"):
        delivery.resolve(address, 443, local_ok=False)


def test_public_addresses_are_allowed():
    assert delivery._address_allowed("93.184.216.34") is True
    assert delivery._address_allowed("2606:2800:220:1:248:1893:25c8:1946") is True


def test_production_never_posts_to_loopback(app, portal):
    with pytest.raises(delivery.DeliveryRefused):
        delivery.post_logout_token(portal.url, "x", timeout=1, local_ok=False)
    with pytest.raises(delivery.DeliveryRefused, match="non-public"):
        delivery.post_logout_token(
            portal.url.replace("http://", "https://"), "x", timeout=1, local_ok=False
        )
    assert portal.requests == 0


# -- the in-process worker -------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"IDP_BACKCHANNEL_WORKER": True}])
def test_the_serving_process_delivers_in_the_background(app, http, portal, bc_rp, signed_in):
    try:
        _account_post(http, "/account/logout")
        (got,) = portal.wait_for(1)
        assert got.claims["aud"] == bc_rp.client_id
    finally:
        delivery.stop_worker(app)


def test_no_worker_under_testing_by_default(app, http):
    http.get("/healthz")
    assert delivery.WORKER_KEY not in app.extensions


# -- TLS: the checked address is dialled, the certificate checked against the host name ------


def _tls_portal(tmp_path, name):
    """An https server on 127.0.0.1 whose certificate names ``name``; (port, ca file, stop)."""
    import ssl
    import threading

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    seen = []

    def wsgi(environ, start_response):
        seen.append(environ.get("HTTP_HOST"))
        return Response(status=204)(environ, start_response)

    server = make_server("127.0.0.1", 0, wsgi, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        server.server_close()

    return server.server_port, str(cert_file), seen, stop


def test_https_delivery_verifies_the_certificate_against_the_host(tmp_path):
    port, ca, seen, stop = _tls_portal(tmp_path, "localhost")
    try:
        url = f"https://localhost:{port}/backchannel-logout"
        assert delivery.post_logout_token(url, "t", timeout=2, local_ok=True, ca_certs=ca) == 204
        assert seen == [f"localhost:{port}"]
        # The system roots do not know this certificate: refused, never sent unverified.
        with pytest.raises(delivery.DeliveryRefused, match="connection failed"):
            delivery.post_logout_token(url, "t", timeout=2, local_ok=True)
    finally:
        stop()


def test_https_delivery_refuses_a_certificate_for_another_host(tmp_path):
    port, ca, seen, stop = _tls_portal(tmp_path, "portal.example.gov")
    try:
        with pytest.raises(delivery.DeliveryRefused, match="connection failed"):
            delivery.post_logout_token(
                f"https://localhost:{port}/bc", "t", timeout=2, local_ok=True, ca_certs=ca
            )
        assert seen == []
    finally:
        stop()
