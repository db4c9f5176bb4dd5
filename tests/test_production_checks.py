"""IDP_ENV=production refuses every development default, naming each problem."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TEST_MASTER_KEY

from idp.errors import ConfigurationError

SAFE: dict[str, Any] = {
    "IDP_ENV": "production",
    "IDP_MASTER_KEY": TEST_MASTER_KEY,
    "SQLALCHEMY_DATABASE_URI": "postgresql://idp@db/idp",
    "IDP_REDIS_URL": "redis://127.0.0.1:6379/0",
    "IDP_ISSUER": "https://id.example.gov",
    "IDP_COOKIE_SECURE": True,
    "IDP_FEATURE_SMS_LOGIN": False,
    "IDP_SMS_GATEWAY": "none",
}


def _start(**overrides: Any) -> None:
    from idp import create_app

    create_app({**SAFE, **overrides})


def test_a_safe_production_configuration_starts() -> None:
    _start()


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"IDP_MASTER_KEY": None}, "IDP_MASTER_KEY is not set"),
        ({"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db"}, "DATABASE_URL must point at PostgreSQL"),
        ({"IDP_REDIS_URL": None}, "REDIS_URL is not set"),
        ({"IDP_COOKIE_SECURE": False}, "IDP_COOKIE_SECURE cannot be off"),
        ({"IDP_ISSUER": "http://id.example.gov"}, "IDP_ISSUER must be an https URL"),
        ({"IDP_FEATURE_DEMO_PORTAL": True}, "IDP_FEATURE_DEMO_PORTAL must be off"),
        (
            {"IDP_WEBAUTHN_ORIGIN": "http://id.example.gov"},
            "IDP_WEBAUTHN_ORIGIN must be an https origin",
        ),
    ],
)
def test_each_development_default_is_refused(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        _start(**overrides)
