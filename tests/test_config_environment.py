"""Settings from the environment (``idp.config.from_environment``)."""

from __future__ import annotations

import pytest
from conftest import CITIZEN_ID_NUMBER
from conftest import CITIZEN_PASSWORD
from webforms import sign_in

from idp.config import from_environment


def test_values_are_json_when_they_parse_as_json():
    values = from_environment({"IDP_TTL_ACCESS_TOKEN": "300", "IDP_COOKIE_SECURE": "false"})
    assert values == {"IDP_TTL_ACCESS_TOKEN": 300, "IDP_COOKIE_SECURE": False}


def test_an_empty_variable_leaves_a_non_text_setting_at_its_default():
    values = from_environment(
        {"IDP_PASSWORD_HASH_QUEUE": "", "IDP_TTL_ACCESS_TOKEN": "  ", "IDP_REDIS_PREFIX": ""}
    )
    assert values == {"IDP_REDIS_PREFIX": ""}  # text settings keep what was given


@pytest.fixture
def app_config(monkeypatch):
    # Set before the app is built (the ``app`` fixture reads the environment).
    monkeypatch.setenv("IDP_PASSWORD_HASH_QUEUE", "")
    return {}


def test_a_password_sign_in_works_with_an_empty_hash_queue_variable(app, http, citizen):
    """``IDP_PASSWORD_HASH_QUEUE=`` used to reach the hashing pool as "" and turn every
    password sign-in into a 500."""
    assert sign_in(http, CITIZEN_ID_NUMBER, CITIZEN_PASSWORD).status_code == 303
