"""Kiosk registration: ``idp kiosks create|list|show|disable|enable`` and its rules."""

from __future__ import annotations

import json

from kiosk_simulator import KioskSimulator


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=["kiosks", *args])


def jwks_file(tmp_path, jwks):
    path = tmp_path / "kiosk.jwks.json"
    path.write_text(json.dumps(jwks), encoding="utf-8")
    return str(path)


def test_create_list_show_disable_enable(app, http, tmp_path):
    device = KioskSimulator(http)
    path = jwks_file(tmp_path, device.public_jwks())
    created = invoke(
        app, "create", "--name", "Kiosk 7", "--place", "Futian hall", "--jwks", path, "--json"
    )
    assert created.exit_code == 0, created.output
    data = json.loads(created.output)
    assert data["place"] == "Futian hall" and data["disabled"] is False
    assert data["sector_identifier"] == "kiosk.localhost"
    assert data["keys"] == [device.key.kid]
    client_id = data["client_id"]

    listed = invoke(app, "list")
    assert client_id in listed.output and "active" in listed.output
    assert json.loads(invoke(app, "show", client_id, "--json").output)["name"] == "Kiosk 7"

    assert invoke(app, "disable", client_id).exit_code == 0
    assert json.loads(invoke(app, "show", client_id, "--json").output)["disabled"] is True
    device.client_id = client_id
    assert device.device_authorization().get_json()["error"] == "invalid_client"

    assert invoke(app, "enable", client_id).exit_code == 0
    assert device.device_authorization().status_code == 200


def test_private_keys_are_refused(app, http, tmp_path):
    device = KioskSimulator(http)
    private = {"keys": [device.key.as_dict(private=True)]}
    result = invoke(
        app, "create", "--name", "K", "--place", "P", "--jwks", jwks_file(tmp_path, private)
    )
    assert result.exit_code == 2 and "public keys only" in result.output


def test_place_is_required_and_offline_access_refused(app, http, tmp_path):
    path = jwks_file(tmp_path, KioskSimulator(http).public_jwks())
    blank = invoke(app, "create", "--name", "K", "--place", " ", "--jwks", path)
    assert blank.exit_code == 2 and "place" in blank.output
    offline = invoke(
        app,
        "create",
        "--name",
        "K",
        "--place",
        "P",
        "--jwks",
        path,
        "--scope",
        "openid offline_access",
    )
    assert offline.exit_code == 2 and "offline_access" in offline.output


def test_unknown_kiosk_exits_1(app, rp):
    assert invoke(app, "show", "nosuchkiosk").exit_code == 1
    # A portal is not a kiosk.
    assert invoke(app, "disable", rp.client_id).exit_code == 1
