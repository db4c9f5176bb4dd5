"""Client registration: the rules of ``register_client`` and ``idp clients ...``."""

from __future__ import annotations

import json

import pytest


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["clients", *args])


def test_create_confidential_client_json(app):
    result = invoke(
        app,
        "create",
        "--name",
        "Tax portal",
        "--department",
        "Tax Bureau",
        "--redirect-uri",
        "https://tax.example.gov/cb",
        "--post-logout-redirect-uri",
        "https://tax.example.gov/bye",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["client_id"] and data["client_secret"]
    assert data["sector_identifier"] == "tax.example.gov"
    assert data["token_endpoint_auth_method"] == "client_secret_basic"
    assert data["first_party"] is False
    from idp.oauth.clients import query_client

    client = query_client(data["client_id"])
    assert client.check_client_secret(data["client_secret"])
    assert not client.check_client_secret(data["client_secret"] + "x")
    # The secret is never shown again.
    shown = invoke(app, "show", data["client_id"], "--json")
    assert shown.exit_code == 0
    assert data["client_secret"] not in shown.output
    assert "client_secret" not in json.loads(shown.output)


def test_create_public_client_has_no_secret(app):
    result = invoke(
        app,
        "create",
        "--name",
        "App",
        "--redirect-uri",
        "http://127.0.0.1:8000/cb",
        "--auth-method",
        "none",
        "--first-party",
        "--json",
    )
    data = json.loads(result.output)
    assert "client_secret" not in data and data["first_party"] is True


def test_create_private_key_jwt_client(app, tmp_path):
    from joserfc.jwk import ECKey

    key = ECKey.generate_key("P-256", private=True)
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    result = invoke(
        app,
        "create",
        "--name",
        "JWT",
        "--redirect-uri",
        "https://j.example.gov/cb",
        "--auth-method",
        "private_key_jwt",
        "--jwks",
        str(path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert "client_secret" not in json.loads(result.output)


def test_list_show_disable(app):
    created = json.loads(
        invoke(
            app,
            "create",
            "--name",
            "Housing",
            "--redirect-uri",
            "https://h.example.gov/cb",
            "--json",
        ).output
    )
    listing = json.loads(invoke(app, "list", "--json").output)
    assert [c["client_id"] for c in listing] == [created["client_id"]]
    assert invoke(app, "disable", created["client_id"]).exit_code == 0
    assert json.loads(invoke(app, "show", created["client_id"], "--json").output)["disabled"]
    from idp.oauth.clients import query_client

    assert query_client(created["client_id"]) is None
    assert invoke(app, "show", "nobody").exit_code == 1
    assert invoke(app, "disable", "nobody").exit_code == 1


def test_invalid_input_exits_2_naming_the_rule(app):
    result = invoke(app, "create", "--name", "Bad", "--redirect-uri", "http://bad.example/cb")
    assert result.exit_code == 2
    assert "https" in result.output


@pytest.mark.parametrize(
    "uri",
    [
        "http://portal.example.gov/cb",  # http off loopback
        "https://portal.example.gov/cb#frag",
        "/relative/cb",
        "https://user:pw@portal.example.gov/cb",
        "https://*.example.gov/cb",
        "javascript:alert(1)",
        "https://portal.example.gov:99999/cb",
        "",
    ],
)
def test_redirect_uri_rules(app, uri):
    from idp.errors import InvalidInput
    from idp.oauth.clients import register_client

    with pytest.raises(InvalidInput) as caught:
        register_client(name="X", redirect_uris=[uri])
    assert caught.value.field == "redirect_uris"


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:3000/cb",
        "http://127.0.0.1/cb",
        "http://[::1]:8080/cb",
        "https://portal.example.gov/cb?x=1",
    ],
)
def test_allowed_redirect_uris(app, uri):
    from idp.oauth.clients import register_client

    client, _ = register_client(name="X", redirect_uris=[uri])
    assert client.redirect_uris == [uri]


def test_sector_defaults_to_the_one_redirect_host_else_must_be_named(app):
    from idp.errors import InvalidInput
    from idp.oauth.clients import register_client

    two_hosts = ["https://a.example.gov/cb", "https://b.example.gov/cb"]
    with pytest.raises(InvalidInput) as caught:
        register_client(name="X", redirect_uris=two_hosts)
    assert caught.value.field == "sector_identifier"
    client, _ = register_client(name="X", redirect_uris=two_hosts, sector_identifier="Example.gov")
    assert client.sector_identifier == "example.gov"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"name": ""}, "name"),
        ({"auth_method": "client_secret_jwt"}, "auth_method"),
        ({"scope": "profile"}, "scope"),
        ({"scope": "openid email"}, "scope"),
        ({"id_token_alg": "HS256"}, "id_token_alg"),
        ({"auth_method": "private_key_jwt"}, "jwks"),
        (
            {"auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
            "jwks",
        ),
        ({"logo_uri": "http://logo.example/x.png"}, "logo_uri"),
        ({"sector_identifier": "not a host"}, "sector_identifier"),
        ({"post_logout_redirect_uris": ["http://x.example/bye"]}, "post_logout_redirect_uris"),
    ],
)
def test_registration_rules(app, kwargs, field):
    from idp.errors import InvalidInput
    from idp.oauth.clients import register_client

    args = {"name": "X", "redirect_uris": ["https://x.example.gov/cb"], **kwargs}
    with pytest.raises(InvalidInput) as caught:
        register_client(**args)
    assert caught.value.field == field


def test_private_jwk_is_refused(app):
    from joserfc.jwk import ECKey

    from idp.errors import InvalidInput
    from idp.oauth.clients import register_client

    key = ECKey.generate_key("P-256", private=True)
    with pytest.raises(InvalidInput):
        register_client(
            name="X",
            redirect_uris=["https://x.example.gov/cb"],
            auth_method="private_key_jwt",
            jwks={"keys": [key.as_dict(private=True)]},
        )


def test_show_reports_the_access_token_format(app):
    created = json.loads(
        invoke(
            app,
            "create",
            "--name",
            "Pensions",
            "--redirect-uri",
            "https://p.example.gov/cb",
            "--access-token-format",
            "jwt",
            "--json",
        ).output
    )
    shown = json.loads(invoke(app, "show", created["client_id"], "--json").output)
    assert shown["access_token_format"] == "jwt"


def test_client_ids_never_read_as_a_command_line_option(app):
    # A token_urlsafe id began with "-" one time in 64, and `idp clients update <id>`
    # then failed with "No such option" (seen in CI).
    from idp.oauth.clients import new_client_id

    ids = {new_client_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i.isalnum() and i.isascii() and len(i) == 22 for i in ids)
