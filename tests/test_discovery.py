"""Provider metadata (OpenID Connect Discovery 1.0, RFC 8414, RFC 9207)."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_config():
    return {"IDP_ISSUER": "https://id.example.gov"}


def test_metadata_fields(http):
    meta = http.get("/.well-known/openid-configuration").get_json()
    base = "https://id.example.gov"
    assert meta["issuer"] == base
    assert meta["authorization_endpoint"] == base + "/authorize"
    assert meta["token_endpoint"] == base + "/token"
    assert meta["userinfo_endpoint"] == base + "/userinfo"
    assert meta["jwks_uri"] == base + "/jwks.json"
    assert meta["revocation_endpoint"] == base + "/revoke"
    assert meta["introspection_endpoint"] == base + "/introspect"
    assert meta["end_session_endpoint"] == base + "/logout"
    assert meta["response_types_supported"] == ["code"]
    assert meta["grant_types_supported"] == [
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:openid:params:grant-type:ciba",
    ]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert meta["id_token_signing_alg_values_supported"] == ["ES256", "RS256"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
        "none",
    }
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["scopes_supported"] == [
        "openid",
        "profile",
        "phone",
        "address",
        "id_number",
        "offline_access",
        "licence",
        "licence:driving_licence",
        "licence:business_licence",
        "licence:household_register",
        "licence:marriage_certificate",
    ]
    assert {
        "sub",
        "acr",
        "amr",
        "sid",
        "auth_time",
        "name",
        "birthdate",
        "gender",
        "phone_number",
        "phone_number_verified",
    } <= set(meta["claims_supported"])
    assert meta["acr_values_supported"] == [
        "urn:idp:acr:low",
        "urn:idp:acr:substantial",
        "urn:idp:acr:high",
    ]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["prompt_values_supported"] == ["none", "login", "consent"]
    assert meta["ui_locales_supported"] == ["zh-Hans-CN", "en"]
    assert meta["claims_parameter_supported"] is True  # OIDC Core 5.5 (acr)
    assert meta["request_parameter_supported"] is False


def test_metadata_validates_with_authlib(http):
    from authlib.oauth2 import rfc9207
    from authlib.oidc import discovery
    from authlib.oidc import rpinitiated

    meta = discovery.OpenIDProviderMetadata(
        http.get("/.well-known/openid-configuration").get_json()
    )
    meta.validate(
        metadata_classes=[rpinitiated.OpenIDProviderMetadata, rfc9207.AuthorizationServerMetadata]
    )


def test_urls_come_from_the_issuer_not_the_host_header(http):
    meta = http.get(
        "/.well-known/openid-configuration", headers={"Host": "evil.example"}
    ).get_json()
    assert meta["token_endpoint"].startswith("https://id.example.gov/")


def test_id_tokens_carry_the_configured_issuer(http, citizen, rp, login):
    from joserfc import jwt
    from joserfc.jwk import KeySet
    from oidc_helpers import grant_consent
    from oidc_helpers import sign_in

    grant_consent(citizen, rp)
    login()
    token = sign_in(http, rp)
    keys = KeySet.import_key_set(http.get("/jwks.json").get_json())
    assert jwt.decode(token["id_token"], keys).claims["iss"] == "https://id.example.gov"
